"""Embedding component with a mode: ``hash`` (default) | ``sentence-transformers`` | ``word-vectors`` | ``mock``.

``hash`` needs no model: character unigrams and bigrams are hashed into a fixed dimension and
L2-normalised. It gives Chroma a real vector index on any machine and finds near-verbatim text;
it is not semantic, which is why its weight in fusion is small (see RetrievalSettings).
``sentence-transformers`` loads a local model directory (e.g. a copied bge-small-zh-v1.5) — never a
hub name: loading is forced offline. ``word-vectors`` averages the cnsyn Chinese word vectors
(kb/retrieval/wordvectors.py) of a text's content words: no model, semantic at the word level (谈心 ~ 交谈), blind
to word order. ``mock`` returns deterministic noise, for tests.
"""
from __future__ import annotations

import hashlib
import unicodedata
from typing import Protocol, Sequence

import numpy as np

from kb.settings import EmbedderSettings


class Embedder(Protocol):
    mode: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


_P1 = np.uint64(0x9E3779B1)
_P2 = np.uint64(0x85EBCA77)
_P3 = np.uint64(0xC2B2AE3D)


class _TextVectorEmbedder:
    """Embedders that compute one vector per text with `_vector` (documents and queries alike)."""

    dim: int

    def _vector(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


class HashEmbedder(_TextVectorEmbedder):
    """Character n-gram feature hashing (unigrams + bigrams), vectorised with numpy over a whole
    batch at once (one bincount for all texts: the laws corpus embeds in about a second)."""

    mode = "hash"

    def __init__(self, dim: int = 64):
        self.dim = int(dim)

    @staticmethod
    def _codes(text: str) -> np.ndarray:
        text = unicodedata.normalize("NFKC", text).lower()
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        # keep letters, digits and CJK; punctuation and spaces say nothing about the topic
        keep = (codes >= 0x4E00) & (codes <= 0x9FFF) | (codes >= 0x30) & (codes <= 0x39) | (codes >= 0x61) & (codes <= 0x7A)
        return codes[keep]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        n, dim = len(texts), np.uint64(self.dim)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # one normalisation and one encoding for the whole batch; "\x00" separates the texts
        joined = unicodedata.normalize("NFKC", "\x00".join(t.replace("\x00", " ") for t in texts)).lower()
        allc = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        row_all = np.concatenate([[0], np.cumsum(allc == 0)[:-1]]) if allc.size else np.zeros(0, dtype=np.int64)
        keep = (allc >= 0x4E00) & (allc <= 0x9FFF) | (allc >= 0x30) & (allc <= 0x39) | (allc >= 0x61) & (allc <= 0x7A)
        codes = allc[keep]
        row = row_all[keep].astype(np.int64)
        uni = (codes * _P1) % dim
        # a bigram never spans two texts: drop pairs whose ends belong to different rows
        same = row[:-1] == row[1:]
        bi = ((codes[:-1] * _P2 + codes[1:] * _P3) % dim)[same]
        flat = np.concatenate([row * self.dim + uni.astype(np.int64), row[:-1][same] * self.dim + bi.astype(np.int64)])
        weights = np.concatenate([np.full(len(uni), 0.5), np.ones(len(bi))])
        mat = np.bincount(flat, weights=weights, minlength=n * self.dim).reshape(n, self.dim)
        mat = np.sqrt(mat)  # dampen frequent n-grams
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (mat / norms).astype(np.float32)

    def _vector(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


class MockEmbedder(_TextVectorEmbedder):
    """Deterministic pseudo-random unit vectors: noise with a fixed seed per text (for tests)."""

    mode = "mock"

    def __init__(self, dim: int = 32):
        self.dim = int(dim)

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vec = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return vec / np.linalg.norm(vec)



class SentenceTransformerEmbedder:
    """A local sentence-transformers model directory; the query gets the configured instruction prefix."""

    mode = "sentence-transformers"

    def __init__(self, model_path: str, query_instruction: str = "", batch_size: int = 64, device: str = "cpu"):
        import os
        from pathlib import Path

        if not model_path:
            raise ValueError("embedder.model_path must name a local model directory for mode sentence-transformers")
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"embedder.model_path {path} is not a directory: copy the model there (no download is attempted)"
            )
        # Loading must never reach a model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "embedder mode 'sentence-transformers' needs the semantic extra: pip install -e '.[semantic]'"
            ) from exc
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.query_instruction = query_instruction
        self.batch_size = batch_size
        self.dim = int(self.model.get_sentence_embedding_dimension())
        self.model_path = str(path)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(
            self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False),
            dtype=np.float32,
        )

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([self.query_instruction + text])[0]


class WordVectorEmbedder:
    """Sentence vector = mean of the word vectors of the tokenizer's content words, unit length.

    Content words are `ChineseTokenizer.content_terms` (search-mode segmentation without question and
    function words, so a compound comes with its parts: 领导干部 also gives 领导 and 干部 — the compound
    and its parts pull the same way). Unknown compounds back off to their pieces (kb/retrieval/wordvectors.py).
    A text with no known word gets the zero vector, as the hash embedder does for punctuation.
    Nothing is loaded until the first text is embedded.
    """

    mode = "word-vectors"

    def __init__(self, wordvectors=None, segmenter: str = "rjieba"):
        from kb.retrieval.tokenizer import ChineseTokenizer
        from kb.retrieval.wordvectors import DIM, WordVectors

        # Without a shared instance (build_embedder gets only EmbedderSettings, which name no cache
        # directory) the vectors are converted in memory: 0.4 s at first use, nothing written.
        self.wordvectors = wordvectors if wordvectors is not None else WordVectors(None)
        self.tokenizer = ChineseTokenizer(segmenter=segmenter)
        self.dim = DIM

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        wv = self.wordvectors
        return np.stack([wv.sentence_vector(self.tokenizer.content_terms(t)) for t in texts]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def build_embedder(settings: EmbedderSettings, wordvectors=None) -> Embedder:
    """`wordvectors`: a loaded kb.retrieval.wordvectors.WordVectors to share (mode word-vectors only)."""
    if settings.mode == "hash":
        return HashEmbedder(settings.dim)
    if settings.mode == "mock":
        return MockEmbedder(settings.dim)
    if settings.mode == "word-vectors":
        return WordVectorEmbedder(wordvectors)
    if settings.mode == "sentence-transformers":
        return SentenceTransformerEmbedder(
            settings.model_path or "", settings.query_instruction, settings.batch_size, settings.device
        )
    raise ValueError(f"unknown embedder mode {settings.mode!r}")


def embedder_key(settings: EmbedderSettings) -> str:
    """Identifies the vector space from settings alone (no model load): chunks embedded with another
    embedder live in another Chroma collection and are rebuilt by `kb doctor --reembed`."""
    if settings.mode == "sentence-transformers":
        return f"{settings.mode}:{settings.model_path}"
    if settings.mode == "word-vectors":
        # embedder.dim does not apply (cnsyn's vectors have 75 dimensions); "v1" names the recipe
        # (content terms, uniform mean): change it when the recipe changes, so chunks are re-embedded
        return "word-vectors:cnsyn:75:v1"
    return f"{settings.mode}:{settings.dim}"
