"""Offline Chinese word vectors (75 dimensions, 129,691 words) and synonym groups from the cnsyn package.

Why cnsyn: it is the only installable (Apache-2.0, pip) source of Chinese word vectors that needs no
download at run time. Its Python code is never imported — `import cnsyn` builds a Windows path at
import time and drags in scikit-learn and Whoosh — only its data files are read, located through
the installed distribution's metadata:

- ``cnsyn/query/words_tree_mini.m``: a joblib pickle {'model': sklearn BallTree, 'words': [...]}; the
  tree's first state item is the (words × 75) float64 matrix. It is unpickled with stub classes in
  place of scikit-learn's, so scikit-learn is never imported either.
- ``cnsyn/chinese_dictionary/sim_words.txt``: one space-separated synonym group per line (noisy,
  some groups mix English; only Chinese entries are kept).

Conversion happens once: the pickle is read, the rows L2-normalised and written as float32 to
``<cache_dir>/<fingerprint>/vectors.npy`` with ``words.txt``, ``synonyms.txt`` and ``meta.json``.
Later loads memory-map ``vectors.npy`` (pages are shared between processes) and read the word list.
float32, not float16: float16 made `most_similar` ~20× slower (numpy has no float16 BLAS: 22 ms vs
1.2 ms per query over the whole vocabulary) for a saving of 19 MB.

The fingerprint names the source (path, size, mtime of both files, format version), so a changed or
upgraded cnsyn gets a fresh directory and the old one is pruned. A directory is built under a
temporary name and renamed into place, so a reader never sees half a cache and two processes
converting at once both end up with one complete copy. A cache that fails its checks (sizes,
shape, word count, checksum) is moved aside and rebuilt.
"""
from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from kb.retrieval.tokenizer import normalize as _normalize  # queries arrive in this form

if TYPE_CHECKING:  # only for annotations: kb.settings is light, but callers need not import it
    from kb.settings import Settings

DISTRIBUTION = "cnsyn"
TREE_FILE = "cnsyn/query/words_tree_mini.m"
SYNONYMS_FILE = "cnsyn/chinese_dictionary/sim_words.txt"
DIM = 75  # cnsyn's vector size, known without loading (the embedder reports it before first use)
FORMAT = 1  # bump when the cache layout or the conversion changes: old caches are then rebuilt
INSTALL_HINT = "needs the package cnsyn: pip install cnsyn"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CHINESE_WORD = re.compile(f"[{_CJK}]+(?:·[{_CJK}]+)*")  # 费迪南德·马科斯: transliterated names keep their dot
_ALL_CJK = re.compile(f"[{_CJK}]+")
_MAX_PIECE = 8  # longest piece tried by the back-off (longer vocabulary entries are names and titles)
_STALE_TMP_S = 3600  # a temporary directory this old belongs to a process that died converting


class CacheError(Exception):
    """The cache directory is incomplete or inconsistent (it is rebuilt)."""


@dataclass(frozen=True)
class Source:
    """The two cnsyn data files and the installed version."""

    tree: Path
    synonyms: Path
    version: str

    def stamp(self) -> dict:
        """Size and mtime of both files: when either changes, the cache is rebuilt."""
        out = {"format": FORMAT, "cnsyn_version": self.version}
        for name, path in (("source", self.tree), ("synonyms_source", self.synonyms)):
            st = path.stat()
            out.update({name: str(path), f"{name}_size": st.st_size, f"{name}_mtime_ns": st.st_mtime_ns})
        return out

    def fingerprint(self, stamp: dict) -> str:
        digest = zlib.crc32(json.dumps(stamp, sort_keys=True).encode("utf-8"))
        return f"cnsyn-{self.version}-{digest:08x}"


def locate_source() -> Source:
    """The installed cnsyn's data files; ImportError with the install hint when cnsyn is missing."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ImportError(f"Chinese word vectors (semantic.mode 'cnsyn') {INSTALL_HINT}") from exc
    tree = Path(dist.locate_file(TREE_FILE))
    synonyms = Path(dist.locate_file(SYNONYMS_FILE))
    for path in (tree, synonyms):
        if not path.is_file():
            raise ImportError(f"{path} is missing from the installed cnsyn: reinstall it (pip install --force-reinstall cnsyn)")
    return Source(tree=tree, synonyms=synonyms, version=dist.version)


def load_word_vectors(settings: "Settings") -> "WordVectors | None":
    """The word vectors `settings.semantic` asks for: None for mode none. Finding cnsyn happens now
    (a missing package is an ImportError here, not at the first question); loading is lazy."""
    if settings.semantic.mode == "none":
        return None
    if settings.semantic.mode == "cnsyn":
        return WordVectors(settings.wordvectors_dir, source=locate_source())
    raise ValueError(f"unknown semantic mode {settings.semantic.mode!r}")


def _chinese_entries(line: str) -> list[str]:
    return list(dict.fromkeys(w for w in line.split() if _CHINESE_WORD.fullmatch(w)))


# ------------------------------------------------------------------------------------------------
# conversion
# ------------------------------------------------------------------------------------------------

def _read_pickle(path: Path) -> tuple[np.ndarray, list[str]]:
    """(float64 matrix, words) from cnsyn's BallTree pickle, without scikit-learn."""
    from joblib import numpy_pickle

    class _Stub:
        # stands in for every scikit-learn class: keeps what the pickle hands it, does nothing else
        def __init__(self, *args, **kwargs):
            self.args = args

        def __setstate__(self, state):
            self.state = state

    class _Unpickler(numpy_pickle.NumpyUnpickler):
        def find_class(self, module, name):
            if module == "sklearn" or module.startswith("sklearn."):
                return type(name, (_Stub,), {"__module__": module})
            return super().find_class(module, name)

    with open(path, "rb") as fh:
        obj = _Unpickler(str(path), fh, ensure_native_byte_order=True).load()
    try:
        matrix, words = obj["model"].state[0], obj["words"]
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        raise RuntimeError(f"{path}: not the expected cnsyn word-tree pickle ({exc!r})") from exc
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2 or len(matrix) != len(words):
        raise RuntimeError(f"{path}: unexpected vector matrix {getattr(matrix, 'shape', type(matrix))} for {len(words)} words")
    return matrix, [str(w) for w in words]


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    out = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


def _synonym_lines(path: Path) -> str:
    groups = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        entries = _chinese_entries(line)
        if len(entries) >= 2:
            groups.append(" ".join(entries))
    return "\n".join(groups) + "\n"


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _convert(source: Source, stamp: dict, target: Path) -> None:
    """Build the cache in a temporary sibling of `target`, then rename it into place."""
    t0 = time.perf_counter()
    matrix, words = _read_pickle(source.tree)
    vectors = _unit_rows(matrix)
    del matrix
    # a newline inside a word would shift every later line of words.txt
    words = [w.replace("\n", " ").replace("\r", " ") for w in words]
    words_bytes = ("\n".join(words) + "\n").encode("utf-8")
    synonyms_bytes = _synonym_lines(source.synonyms).encode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        with open(tmp / "vectors.npy", "wb") as fh:
            np.save(fh, vectors)
            fh.flush()
            os.fsync(fh.fileno())
        _write(tmp / "words.txt", words_bytes)
        _write(tmp / "synonyms.txt", synonyms_bytes)
        files = {name: (tmp / name).stat().st_size for name in ("vectors.npy", "words.txt", "synonyms.txt")}
        meta = {
            **stamp,
            "count": len(words),
            "dim": int(vectors.shape[1]),
            "dtype": "float32",
            "files": files,
            "words_crc32": zlib.crc32(words_bytes),
            "synonyms_crc32": zlib.crc32(synonyms_bytes),
            "converted_s": round(time.perf_counter() - t0, 3),
        }
        # meta.json last: a directory without it is never taken for a cache
        _write(tmp / "meta.json", json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        try:
            os.rename(tmp, target)
        except OSError:
            # another process renamed its copy in first (the target exists and is not empty): keep
            # that one if it is sound, otherwise move it aside and put ours in its place
            try:
                _check(target, stamp)
                return
            except CacheError:
                _move_aside(target)
                try:
                    os.rename(tmp, target)
                except OSError:
                    pass  # yet another process won: the caller checks what is there
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _move_aside(path: Path) -> None:
    """Rename a bad cache away (atomic, so no reader sees it half deleted), then delete it."""
    trash = path.parent / f".old-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _prune(cache_dir: Path, keep: str, stamp: dict) -> None:
    """Best effort: remove caches of an earlier cnsyn at the same path and leftovers of dead converters."""
    now = time.time()
    for child in cache_dir.iterdir() if cache_dir.is_dir() else ():
        try:
            if child.name.startswith((".tmp-", ".old-")):
                if now - child.stat().st_mtime > _STALE_TMP_S:
                    shutil.rmtree(child, ignore_errors=True)
            elif child.name.startswith("cnsyn-") and child.name != keep:
                meta = json.loads((child / "meta.json").read_text(encoding="utf-8"))
                # another install (another venv) may share this cache dir: leave its copy alone
                if meta.get("source") == stamp["source"]:
                    _move_aside(child)
        except (OSError, ValueError):
            continue


# ------------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------------

@dataclass
class _Loaded:
    vectors: np.ndarray  # (count, dim) float32, unit rows; memory-mapped from the cache
    words: list[str]
    index: dict[str, int]
    directory: Path | None  # the cache directory; None in memory mode
    synonyms_path: Path  # the cache's filtered synonyms.txt, or in memory mode cnsyn's own file


def _check(directory: Path, stamp: dict) -> tuple[dict, np.ndarray, list[str]]:
    """Open a cache directory, or raise CacheError saying what is wrong with it."""
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        for key, value in stamp.items():
            if meta.get(key) != value:
                raise CacheError(f"{directory}: {key} is {meta.get(key)!r}, the source has {value!r}")
        for name, size in meta["files"].items():
            if (directory / name).stat().st_size != size:
                raise CacheError(f"{directory / name}: size differs from meta.json (truncated?)")
        vectors = np.load(directory / "vectors.npy", mmap_mode="r", allow_pickle=False)
        if vectors.shape != (meta["count"], meta["dim"]) or vectors.dtype != np.float32:
            raise CacheError(f"{directory}: vectors.npy is {vectors.shape} {vectors.dtype}")
        data = (directory / "words.txt").read_bytes()
        if zlib.crc32(data) != meta["words_crc32"]:
            raise CacheError(f"{directory}: words.txt checksum differs from meta.json")
        words = data.decode("utf-8").split("\n")[:-1]
        if len(words) != meta["count"]:
            raise CacheError(f"{directory}: {len(words)} words for {meta['count']} vectors")
    except CacheError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:  # missing file, bad JSON, bad .npy header
        raise CacheError(f"{directory}: {exc}") from exc
    return meta, vectors, words


def _build_index(words: list[str]) -> dict[str, int]:
    index = dict(zip(words, range(len(words))))
    # queries arrive NFKC-normalised and lower-cased (kb.retrieval.tokenizer): let "seu" find "SEU"; an exact
    # entry always wins over an alias
    for i, word in enumerate(words):
        if not word.isascii() or not word.islower():
            key = _normalize(word)
            if key != word:
                index.setdefault(key, i)
    return index


class WordVectors:
    """Chinese word vectors with cosine similarity, a back-off for unknown compounds, and synonyms.

    What the vectors mean: cosine says "used in the same kind of context". That finds paraphrases
    (关心 ~ 关怀 0.80, 谈话 ~ 交谈 0.88, 数落 ~ 责骂 0.79, 一把手 ~ 领导干部 0.64), but it also puts
    co-hyponyms close together: 省委 ~ 县委 0.87, 安徽 ~ 江苏 0.90 (higher than 安徽 ~ 合肥 0.74).
    So a high similarity is never evidence that two named places, organisations, people or numbers
    are the same: callers must match those exactly and use the vectors for the other words only.

    Lookup: ``word in wv`` is True when the word has a vector, exact or backed off; ``exact(word)``
    says whether the word itself is in the vocabulary. An unknown all-Chinese word (政治担当, 时长)
    backs off to the mean of its greedy longest in-vocabulary pieces (政治 + 担当; single characters
    only where no longer piece fits). Words arrive as given or normalised (NFKC, lower case), both
    are found.

    Every vector returned is float32, unit length and read-only. Loading is lazy (first call) and
    thread-safe; with ``cache_dir=None`` (or a cache directory that cannot be written) nothing is
    written and the pickle is converted in memory at each process's first use (0.4 s, +85 MB, not
    shared between processes).
    """

    def __init__(self, cache_dir: Path | None, source: Source | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._source = source
        self._lock = threading.Lock()
        self._synonyms_lock = threading.Lock()  # separate: building the index needs the loaded data
        self._loaded: _Loaded | None = None
        self._synonym_groups: tuple[list[tuple[str, ...]], dict[str, list[int]]] | None = None
        self.load_s: float | None = None  # seconds the first load took (conversion included)
        self.converted = False  # whether this instance had to (re)build the cache
        # per instance, so the caches go with the object (an lru_cache on the method would keep it alive)
        self._vector = lru_cache(maxsize=65536)(self._compute_vector)
        self._candidates = lru_cache(maxsize=512)(self._candidate_matrix)

    # -- loading ----------------------------------------------------------------------------------
    @property
    def _data(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None:
            with self._lock:
                if self._loaded is None:
                    t0 = time.perf_counter()
                    self._loaded = self._load()
                    self.load_s = time.perf_counter() - t0
                loaded = self._loaded
        return loaded

    def _load(self) -> _Loaded:
        source = self._source or locate_source()
        if self.cache_dir is None:
            return self._load_in_memory(source)
        stamp = source.stamp()
        directory = self.cache_dir / source.fingerprint(stamp)
        try:
            _, vectors, words = _check(directory, stamp)
        except CacheError:
            try:
                if directory.exists():
                    _move_aside(directory)  # incomplete or damaged: rebuilt below
                _convert(source, stamp, directory)
            except OSError as exc:
                # a read-only or full disk must not take the vectors away: they still work, unshared
                logging.getLogger(__name__).warning("word vectors: cannot write the cache in %s (%s); converting in memory", directory, exc)
                return self._load_in_memory(source)
            self.converted = True
            _, vectors, words = _check(directory, stamp)
            _prune(self.cache_dir, directory.name, stamp)
        return _Loaded(vectors, words, _build_index(words), directory, directory / "synonyms.txt")

    @staticmethod
    def _load_in_memory(source: Source) -> _Loaded:
        matrix, words = _read_pickle(source.tree)
        words = [w.replace("\n", " ").replace("\r", " ") for w in words]
        return _Loaded(_unit_rows(matrix), words, _build_index(words), None, source.synonyms)

    @property
    def directory(self) -> Path | None:
        """The cache directory in use (after loading), None in memory mode."""
        return self._data.directory

    @property
    def dim(self) -> int:
        return int(self._data.vectors.shape[1])

    def __len__(self) -> int:
        return len(self._data.words)

    # -- words and vectors ------------------------------------------------------------------------
    def _row(self, word: str) -> int | None:
        index = self._data.index
        row = index.get(word)
        if row is None:
            row = index.get(_normalize(word))
        return row

    def exact(self, word: str) -> bool:
        """Whether `word` itself has a vector (not a back-off)."""
        return self._row(word) is not None

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._vector(word) is not None

    def pieces(self, word: str) -> list[str]:
        """The vocabulary words an unknown word backs off to ([] when none, [word] when exact)."""
        if self._row(word) is not None:
            return [word]
        text = _normalize(word)
        if not _ALL_CJK.fullmatch(text):
            return []  # splitting Latin words or numbers into characters means nothing
        index = self._data.index
        out, i, n = [], 0, len(text)
        while i < n:
            for j in range(min(n, i + _MAX_PIECE), i + 1, -1):  # longest piece of 2+ characters first
                if text[i:j] in index:
                    out.append(text[i:j])
                    i = j
                    break
            else:
                if text[i] in index:
                    out.append(text[i])
                i += 1
        return out

    def _compute_vector(self, word: str) -> np.ndarray | None:
        data = self._data
        row = self._row(word)
        if row is not None:
            vec = np.array(data.vectors[row], dtype=np.float32)
        else:
            parts = self.pieces(word)
            if not parts:
                return None
            vec = np.asarray(data.vectors[[data.index[p] for p in parts]], dtype=np.float32).mean(axis=0)
            norm = float(np.linalg.norm(vec))
            if norm == 0.0:
                return None
            vec /= norm
        vec.setflags(write=False)  # shared through the cache: nobody may change it
        return vec

    def vector(self, word: str) -> np.ndarray | None:
        """Unit float32 vector of `word`, the back-off mean for an unknown compound, or None."""
        return self._vector(word)

    def similarity(self, a: str, b: str) -> float:
        """Cosine of the two words' vectors; 0.0 when either has none. Identical words give 1.0."""
        if a == b:
            return 1.0 if self._vector(a) is not None else 0.0
        va, vb = self._vector(a), self._vector(b)
        if va is None or vb is None:
            return 0.0
        return float(va @ vb)

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The k vocabulary words closest to `word` (itself left out), best first; [] if it has no vector.
        A backed-off word's own pieces come first."""
        vec = self._vector(word)
        if vec is None or k <= 0:
            return []
        data = self._data
        sims = np.asarray(data.vectors @ vec)
        skip = self._row(word)
        if skip is not None:
            sims[skip] = -np.inf
        k = min(k, len(sims) - 1)
        top = np.argpartition(-sims, k)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(data.words[i], float(sims[i])) for i in top]

    def _candidate_matrix(self, candidates: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
        known = [(c, v) for c in dict.fromkeys(candidates) if (v := self._vector(c)) is not None]
        if not known:
            return (), np.zeros((0, DIM), dtype=np.float32)
        return tuple(c for c, _ in known), np.stack([v for _, v in known])

    def best_match(self, word: str, candidates: Iterable[str]) -> tuple[str, float]:
        """The candidate most similar to `word` and its cosine; ("", 0.0) when nothing compares.

        A candidate equal to `word` wins with 1.0. The candidates' matrix is cached (512 recent
        candidate lists), so asking for every word of a question against one sentence's words
        costs one matrix-vector product per word.
        """
        cands = tuple(candidates)
        if word in cands:
            return word, 1.0
        vec = self._vector(word)
        if vec is None or not cands:
            return "", 0.0
        names, matrix = self._candidates(cands)
        if not names:
            return "", 0.0
        sims = matrix @ vec
        best = int(np.argmax(sims))
        return names[best], float(sims[best])

    def sentence_vector(self, words: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """Weighted mean of the words' vectors (back-offs included, unknown words skipped), unit length;
        zeros when no word has a vector."""
        if weights is not None and len(weights) != len(words):
            raise ValueError(f"{len(words)} words but {len(weights)} weights")
        data = self._data
        rows, row_w, extra, extra_w = [], [], [], []
        for i, word in enumerate(words):
            w = 1.0 if weights is None else float(weights[i])
            if w == 0.0:
                continue
            row = self._row(word)
            if row is not None:
                rows.append(row)
                row_w.append(w)
            elif (vec := self._vector(word)) is not None:
                extra.append(vec)
                extra_w.append(w)
        out = np.zeros(data.vectors.shape[1], dtype=np.float32)
        if rows:  # one gather from the memory map for all exact words
            out += np.asarray(row_w, dtype=np.float32) @ np.asarray(data.vectors[rows], dtype=np.float32)
        if extra:
            out += np.asarray(extra_w, dtype=np.float32) @ np.stack(extra)
        norm = float(np.linalg.norm(out))
        return out / norm if norm > 0 else out

    # -- synonyms ---------------------------------------------------------------------------------
    def synonyms(self, word: str) -> set[str]:
        """Other Chinese words sharing a group with `word` in cnsyn's sim_words.txt (noisy: the groups
        are broad, e.g. 花 sits with 被子植物); an empty set when it is in none."""
        loaded = self._synonym_groups
        if loaded is None:
            with self._synonyms_lock:
                if self._synonym_groups is None:
                    self._synonym_groups = self._load_synonyms()
                loaded = self._synonym_groups
        groups, member_of = loaded
        ids = member_of.get(word)
        if ids is None:
            ids = member_of.get(_normalize(word), ())
        found = {w for i in ids for w in groups[i]}
        found.discard(word)
        return found

    def _load_synonyms(self) -> tuple[list[tuple[str, ...]], dict[str, list[int]]]:
        # groups and word → group numbers, not word → all its mates: a broad word (花) sits in
        # dozens of groups, and expanding every word's mates up front took 330 MB
        data = self._data
        if data.directory is None:
            text = _synonym_lines(data.synonyms_path)  # memory mode: filter cnsyn's file now
        else:
            text = data.synonyms_path.read_text(encoding="utf-8")
        groups = [tuple(line.split()) for line in text.splitlines()]
        member_of: dict[str, list[int]] = {}
        for i, group in enumerate(groups):
            for w in group:
                member_of.setdefault(w, []).append(i)
        return groups, member_of
