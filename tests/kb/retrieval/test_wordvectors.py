"""kb.retrieval.wordvectors: cnsyn's vectors converted once into a cache, memory-mapped, neighbours, back-off,
best match, synonyms; damaged caches rebuilt; a missing cnsyn is an ImportError naming it."""
from __future__ import annotations

import importlib.metadata
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from kb.retrieval import wordvectors as wvmod
from kb.retrieval.wordvectors import DIM, WordVectors, load_word_vectors, locate_source
from tests.conftest import make_settings


def shared_cache_dir(tmp_path_factory) -> Path:
    # one directory for the whole session (test_embedding uses it too): the conversion runs once
    return tmp_path_factory.getbasetemp() / "wordvectors-cache"


@pytest.fixture(scope="session")
def word_vectors(tmp_path_factory) -> WordVectors:
    pytest.importorskip("joblib")
    try:
        locate_source()
    except ImportError as exc:
        pytest.fail(f"cnsyn is a default dependency and must be installed: {exc}")
    wv = WordVectors(shared_cache_dir(tmp_path_factory))
    len(wv)  # load (and convert, the first time in this session)
    return wv


@pytest.fixture
def no_pickle(monkeypatch):
    """Any read of cnsyn's pickle fails the test."""

    def refuse(path):
        raise AssertionError(f"the pickle {path} was read although a cache exists")

    monkeypatch.setattr(wvmod, "_read_pickle", refuse)


def copy_cache(word_vectors: WordVectors, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the session cache: (cache_dir, the fingerprint directory inside it)."""
    cache_dir = tmp_path / "cache"
    target = cache_dir / word_vectors.directory.name
    shutil.copytree(word_vectors.directory, target)
    return cache_dir, target


# -- conversion and cache -----------------------------------------------------------------------

def test_conversion_writes_the_cache_files(word_vectors):
    directory = word_vectors.directory
    assert directory is not None and directory.parent == word_vectors.cache_dir
    assert {p.name for p in directory.iterdir()} == {"vectors.npy", "words.txt", "synonyms.txt", "meta.json"}
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    source = locate_source()
    assert meta["source"] == str(source.tree)
    assert meta["source_size"] == source.tree.stat().st_size
    assert meta["source_mtime_ns"] == source.tree.stat().st_mtime_ns
    assert meta["count"] == len(word_vectors) == 129_691
    assert meta["dim"] == word_vectors.dim == DIM
    vectors = np.load(directory / "vectors.npy", mmap_mode="r")
    assert vectors.dtype == np.float32 and vectors.shape == (129_691, DIM)
    norms = np.linalg.norm(np.asarray(vectors[:1000]), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert len((directory / "words.txt").read_text(encoding="utf-8").split("\n")) == 129_691 + 1
    assert not [p for p in word_vectors.cache_dir.iterdir() if p.name.startswith(".")]  # no temp dir left


def test_second_load_reads_the_cache_not_the_pickle(word_vectors, no_pickle):
    again = WordVectors(word_vectors.cache_dir)
    assert len(again) == len(word_vectors)
    assert again.converted is False
    assert isinstance(again._data.vectors, np.memmap)  # memory-mapped, not read into memory
    assert again.similarity("关心", "关怀") == pytest.approx(word_vectors.similarity("关心", "关怀"))


@pytest.mark.parametrize(
    "damage",
    ["truncate vectors", "garble words", "drop meta", "bad meta json", "wrong count"],
)
def test_damaged_cache_is_detected_and_rebuilt(word_vectors, tmp_path, damage):
    cache_dir, target = copy_cache(word_vectors, tmp_path)
    if damage == "truncate vectors":
        with open(target / "vectors.npy", "r+b") as fh:
            fh.truncate(1_000_000)
    elif damage == "garble words":  # same size: only the checksum notices
        data = bytearray((target / "words.txt").read_bytes())
        data[100:103] = "错".encode("utf-8")
        (target / "words.txt").write_bytes(bytes(data))
    elif damage == "drop meta":  # what a converter killed before its last write would leave
        (target / "meta.json").unlink()
    elif damage == "bad meta json":
        (target / "meta.json").write_text("{not json", encoding="utf-8")
    elif damage == "wrong count":
        meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
        meta["count"] += 1
        (target / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    rebuilt = WordVectors(cache_dir)
    assert len(rebuilt) == 129_691
    assert rebuilt.converted is True
    assert rebuilt.directory == target
    assert rebuilt.similarity("谈话", "交谈") == pytest.approx(word_vectors.similarity("谈话", "交谈"), abs=1e-6)
    assert WordVectors(cache_dir).converted is False  # the rebuilt cache is sound


def test_changed_source_is_converted_again_and_the_old_cache_pruned(word_vectors, tmp_path):
    real = locate_source()
    synonyms = tmp_path / "sim_words.txt"
    shutil.copyfile(real.synonyms, synonyms)
    source = wvmod.Source(tree=real.tree, synonyms=synonyms, version=real.version)
    cache_dir = tmp_path / "cache"
    first = WordVectors(cache_dir, source=source)
    assert len(first) == 129_691 and first.converted
    with open(synonyms, "a", encoding="utf-8") as fh:
        fh.write("甲乙丙 丁戊己\n")  # the source changes size and mtime
    second = WordVectors(cache_dir, source=source)
    assert second.synonyms("甲乙丙") == {"丁戊己"}
    assert second.converted and second.directory != first.directory
    assert [p.name for p in cache_dir.iterdir()] == [second.directory.name]  # the stale copy is gone


def test_a_converter_that_loses_the_race_keeps_the_winners_cache(word_vectors, tmp_path, monkeypatch):
    """Two processes converting at once: the second rename finds the first one's complete cache."""
    cache_dir, target = copy_cache(word_vectors, tmp_path)
    before = (target / "meta.json").read_bytes()
    source = locate_source()
    wvmod._convert(source, source.stamp(), target)  # target already exists: this one loses
    assert (target / "meta.json").read_bytes() == before
    assert sorted(p.name for p in cache_dir.iterdir()) == [target.name]  # its temp dir is removed
    assert WordVectors(cache_dir).converted is False


def test_concurrent_first_use_loads_once(word_vectors, monkeypatch):
    fresh = WordVectors(word_vectors.cache_dir)
    calls = []
    original = fresh._load

    def counting():
        calls.append(threading.get_ident())
        return original()

    monkeypatch.setattr(fresh, "_load", counting)
    barrier = threading.Barrier(6)
    results = []

    def use():
        barrier.wait(timeout=30)
        results.append(fresh.similarity("关心", "关怀"))

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(calls) == 1 and len(results) == 6 and len(set(results)) == 1


def test_an_unwritable_cache_dir_falls_back_to_memory(tmp_path, monkeypatch):
    def read_only(*args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "cache"))

    monkeypatch.setattr(wvmod, "_convert", read_only)
    wv = WordVectors(tmp_path / "cache")
    assert wv.best_match("关心", ["关怀", "预算"])[0] == "关怀"
    assert wv.directory is None and wv.converted is False
    assert "关怀" in wv.synonyms("关心")


def test_without_a_cache_dir_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wv = WordVectors(None)
    assert wv.similarity("关心", "关怀") > 0.6
    assert wv.directory is None
    assert list(tmp_path.iterdir()) == []


# -- a missing package ----------------------------------------------------------------------------

def test_missing_cnsyn_is_an_import_error_naming_it(monkeypatch, tmp_path):
    real = importlib.metadata.distribution

    def distribution(name):
        if name == "cnsyn":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    with pytest.raises(ImportError, match=r"cnsyn.*pip install cnsyn"):
        locate_source()
    with pytest.raises(ImportError, match="pip install cnsyn"):
        load_word_vectors(make_settings(tmp_path / "kb"))
    with pytest.raises(ImportError, match="pip install cnsyn"):
        len(WordVectors(tmp_path / "cache"))  # lazily, at first use
    # mode none needs no package at all
    assert load_word_vectors(make_settings(tmp_path / "kb", semantic__mode="none")) is None


# -- settings and container ---------------------------------------------------------------------

def test_settings_cache_location_and_container(tmp_path):
    from kb.container import build_services

    settings = make_settings(tmp_path / "kb", semantic__cache_dir=None)  # not the suite's shared cache
    assert settings.semantic.mode == "cnsyn"
    assert settings.wordvectors_dir == settings.home / "cache" / "wordvectors"
    elsewhere = make_settings(tmp_path / "kb", semantic__cache_dir=str(tmp_path / "vec"))
    assert elsewhere.wordvectors_dir == tmp_path / "vec"
    services = build_services(settings)
    wv = services.wordvectors
    assert isinstance(wv, WordVectors) and wv.cache_dir == settings.wordvectors_dir
    assert wv._loaded is None  # building the graph loads nothing
    assert services.wordvectors is wv
    assert build_services(make_settings(tmp_path / "kb2", semantic__mode="none")).wordvectors is None


def test_semantic_mode_from_the_environment(tmp_path):
    from kb.settings import load_settings

    settings = load_settings("/nonexistent/kb-test-settings.yaml", env={"KB_SEMANTIC_MODE": "none", "KB_HOME": str(tmp_path)})
    assert settings.semantic.mode == "none"
    with pytest.raises(Exception, match="semantic"):
        make_settings(tmp_path, semantic__mode="word2vec")


# -- what the vectors say -----------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b"), [("一把手", "领导干部"), ("关心", "关怀"), ("谈话", "交谈"), ("数落", "责骂")])
def test_known_neighbours(word_vectors, a, b):
    assert word_vectors.exact(a) and word_vectors.exact(b)
    assert word_vectors.similarity(a, b) > 0.6
    assert b in [w for w, _ in word_vectors.most_similar(a, 10)]


def test_unrelated_words_are_far(word_vectors):
    assert word_vectors.similarity("关心", "预算") < 0.4
    assert word_vectors.similarity("谈话", "树木") < 0.4


def test_places_of_the_same_kind_are_close(word_vectors):
    """Documented limitation: vectors say "same kind", so two provinces are closer than a province
    and its capital — callers must not treat named places as matches."""
    assert word_vectors.similarity("安徽", "江苏") > word_vectors.similarity("安徽", "合肥")
    assert word_vectors.similarity("省委", "县委") > 0.8


def test_most_similar_is_sorted_and_leaves_the_word_out(word_vectors):
    top = word_vectors.most_similar("关心", 10)
    assert len(top) == 10
    sims = [s for _, s in top]
    assert sims == sorted(sims, reverse=True)
    assert "关心" not in [w for w, _ in top]
    assert top[0][0] == "关怀"
    assert word_vectors.most_similar("qqqzzzxxy", 5) == []


def test_back_off_for_unknown_compounds(word_vectors):
    assert not word_vectors.exact("政治担当")
    assert "政治担当" in word_vectors  # it has a vector, by back-off
    assert word_vectors.pieces("政治担当") == ["政治", "担当"]
    vec = word_vectors.vector("政治担当")
    assert vec is not None and vec.dtype == np.float32 and vec.shape == (DIM,)
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    expected = word_vectors.vector("政治") + word_vectors.vector("担当")
    assert np.allclose(vec, expected / np.linalg.norm(expected), atol=1e-6)
    assert word_vectors.similarity("政治担当", "担当") > 0.6
    assert not word_vectors.exact("时长") and word_vectors.pieces("时长") == ["时", "长"]  # single characters last


def test_unknown_words_have_no_vector(word_vectors):
    for word in ("qqqzzzxxy", "", "，。"):
        assert word_vectors.vector(word) is None
        assert word not in word_vectors
        assert word_vectors.similarity(word, "关心") == 0.0
    assert word_vectors.similarity("关心", "关心") == 1.0


def test_vectors_are_read_only(word_vectors):
    vec = word_vectors.vector("关心")
    with pytest.raises(ValueError):
        vec[0] = 1.0


def test_normalised_words_are_found(word_vectors):
    assert word_vectors.exact("SEU") and word_vectors.exact("seu")  # queries arrive lower-cased
    assert np.array_equal(word_vectors.vector("seu"), word_vectors.vector("SEU"))


def test_best_match(word_vectors):
    word, sim = word_vectors.best_match("关心", ["关怀", "预算", "树木"])
    assert word == "关怀" and sim == pytest.approx(word_vectors.similarity("关心", "关怀"))
    assert word_vectors.best_match("谈心", ["树木", "交谈", "预算"])[0] == "交谈"
    assert word_vectors.best_match("关心", ["预算", "关心"]) == ("关心", 1.0)
    assert word_vectors.best_match("关心", []) == ("", 0.0)
    assert word_vectors.best_match("关心", ["qqqzzzxxy"]) == ("", 0.0)
    assert word_vectors.best_match("qqqzzzxxy", ["关怀"]) == ("", 0.0)
    # candidates with no vector are skipped, not matched
    assert word_vectors.best_match("关心", ["qqqzzzxxy", "树木"])[0] == "树木"


def test_sentence_vector(word_vectors):
    a = word_vectors.sentence_vector(["干部", "经常", "谈心"])
    b = word_vectors.sentence_vector(["领导干部", "同事", "交谈"])
    c = word_vectors.sentence_vector(["黄河", "流域", "禁渔期"])
    for v in (a, b, c):
        assert v.dtype == np.float32 and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    assert a @ b > a @ c + 0.3
    assert not word_vectors.sentence_vector(["qqqzzzxxy"]).any()
    assert word_vectors.sentence_vector([]).shape == (DIM,)
    weighted = word_vectors.sentence_vector(["关心", "树木"], [1.0, 0.0])
    assert np.allclose(weighted, word_vectors.vector("关心"), atol=1e-6)
    with pytest.raises(ValueError):
        word_vectors.sentence_vector(["关心"], [1.0, 2.0])


def test_synonyms_are_chinese_group_mates(word_vectors):
    found = word_vectors.synonyms("关心")
    assert "关怀" in found and "关心" not in found
    assert all(wvmod._CHINESE_WORD.fullmatch(w) for w in found)
    assert all(wvmod._CHINESE_WORD.fullmatch(w) for w in word_vectors.synonyms("物理"))  # its group mixes in "Nature"
    assert word_vectors.synonyms("qqqzzzxxy") == set()
