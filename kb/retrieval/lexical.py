"""Chinese lexical index: bm25s over token ids, persisted under KB_HOME and loaded memory-mapped.

bm25s cannot add documents incrementally, so every change rebuilds the index. What makes that
cheap: each snapshot also stores the raw term counts of its chunks (a sparse chunk × token matrix
over its vocabulary). A rebuild keeps the rows of unchanged documents, adds rows for the chunks an
ingest just tokenised (`TermRows`), and recomputes BM25 weights with numpy in one pass — nothing is
re-read or re-tokenised. Only a snapshot-less rebuild (a fresh instance on a shared Chroma server,
`kb doctor --repair`) tokenises the store's chunks again, on every core.

A built index is an immutable *snapshot* (directory + the store version it reflects). A rebuild
writes a new directory and switches the ``CURRENT`` pointer atomically; readers keep using the
snapshot object they hold, so a question sees either the old or the new state, never a mix.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.models import Chunk, Filters
from kb.retrieval.tokenizer import TOKENIZER_VERSION, ChineseTokenizer

log = logging.getLogger(__name__)

_CHUNK_FIELDS = ("chunk_id", "doc_id", "title", "section", "article", "page", "start", "end", "doc_type", "collection")
BM25_K1 = 1.2
BM25_B = 0.75


class TermRows:
    """Raw term counts of chunks over a growing vocabulary, one row per chunk, in insertion order.

    Token strings are turned into ids batch by batch (pandas' C hash table instead of a Python
    dict lookup per token), so an ingest of 20 M characters never holds its ~30 M token strings."""

    def __init__(self, vocab: dict[str, int] | None = None, base: Path | None = None):
        self.vocab: dict[str, int] = dict(vocab) if vocab else {"": 0}
        self.base = base  # the snapshot whose vocabulary this extends (its rows can be combined)
        self.chunk_ids: list[str] = []
        self._rows: list[np.ndarray] = []  # per batch: row index (global)
        self._cols: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def add(self, chunk_ids: Sequence[str], token_lists: Sequence[Sequence[str]]) -> None:
        import pandas as pd

        offset = len(self.chunk_ids)
        self.chunk_ids.extend(chunk_ids)
        lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
        if not lengths.sum():
            return
        flat = list(itertools.chain.from_iterable(token_lists))
        codes, uniques = pd.factorize(pd.Series(flat, dtype=object), sort=False)
        vocab = self.vocab
        to_global = np.fromiter((vocab.setdefault(u, len(vocab)) for u in uniques), dtype=np.int64, count=len(uniques))
        tokens = to_global[codes]
        rows = np.repeat(np.arange(offset, offset + len(token_lists), dtype=np.int64), lengths)
        width = np.int64(len(vocab))
        pairs, counts = np.unique(rows * width + tokens, return_counts=True)
        self._rows.append(pairs // width)
        self._cols.append(pairs % width)
        self._counts.append(counts.astype(np.int32))

    def matrix(self):
        """CSR (rows × vocabulary) of term counts."""
        import scipy.sparse as sp

        n, v = len(self.chunk_ids), len(self.vocab)
        if not self._rows:
            return sp.csr_matrix((n, v), dtype=np.int32)
        return sp.csr_matrix(
            (np.concatenate(self._counts), (np.concatenate(self._rows), np.concatenate(self._cols))),
            shape=(n, v),
            dtype=np.int32,
        )


def bm25_scores(tf, k1: float = BM25_K1, b: float = BM25_B, dtype="float32"):
    """bm25s' "lucene" weights for a CSR term-count matrix, as the CSC arrays bm25s serves from:
    idf = ln(1 + (N - df + 0.5) / (df + 0.5)); tf part = tf / (k1·(1 - b + b·dl/avgdl) + tf)."""
    n_docs, n_vocab = tf.shape
    dl = np.asarray(tf.sum(axis=1)).ravel().astype(np.float64)
    avgdl = float(dl.mean()) if n_docs else 1.0
    df = np.bincount(tf.indices, minlength=n_vocab)
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    counts = tf.data.astype(np.float64)
    rows = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
    weights = idf[tf.indices] * counts / (k1 * ((1 - b) + b * dl[rows] / max(avgdl, 1e-9)) + counts)
    scored = tf.copy().astype(np.float64)
    scored.data = weights
    csc = scored.tocsc()
    csc.sort_indices()
    return {
        "data": csc.data.astype(dtype),
        "indices": csc.indices.astype(np.int32),
        "indptr": csc.indptr.astype(np.int64),
        "num_docs": n_docs,
    }


@dataclass
class LexicalSnapshot:
    directory: Path
    store_version: str
    chunk_ids: list[str]
    meta: dict[str, list]  # field → per-row values (see _CHUNK_FIELDS)
    texts: list[str]
    bm25: object | None  # bm25s.BM25, None when the index is empty
    doc_type_codes: np.ndarray
    collection_codes: np.ndarray
    doc_codes: np.ndarray
    doc_type_vocab: dict[str, int]
    collection_vocab: dict[str, int]
    doc_vocab: dict[str, int]

    def term_counts(self):
        """The stored chunk × token count matrix (CSR) and its vocabulary."""
        import scipy.sparse as sp

        if "_term_counts" in self.__dict__ and self.__dict__["_term_counts"] is not None:
            return self.__dict__["_term_counts"]  # a scoped view: the counts of its own rows
        tf = sp.load_npz(self.directory / "tf.npz").tocsr()
        vocab = self.bm25.vocab_dict if self.bm25 is not None else {"": 0}
        return tf, vocab

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def chunk(self, row: int) -> Chunk:
        m = self.meta
        page = m["page"][row]
        return Chunk(
            chunk_id=self.chunk_ids[row],
            doc_id=m["doc_id"][row],
            title=m["title"][row],
            section=m["section"][row],
            article=m["article"][row],
            page=None if page is None or page < 0 else int(page),
            start=int(m["start"][row]),
            end=int(m["end"][row]),
            text=self.texts[row],
            doc_type=m["doc_type"][row],
            collection=m["collection"][row],
            page_starts=m["page_starts"][row] if "page_starts" in m else [],
            doc_number=m["doc_number"][row] if "doc_number" in m else "",
        )

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Boolean row mask for the filters (None = all rows)."""
        if filters is None or filters.is_empty():
            return None
        mask = np.ones(len(self), dtype=bool)
        for values, vocab, codes in (
            (filters.doc_types, self.doc_type_vocab, self.doc_type_codes),
            (filters.collections, self.collection_vocab, self.collection_codes),
            (filters.doc_ids, self.doc_vocab, self.doc_codes),
        ):
            if values:
                wanted = [vocab[v] for v in values if v in vocab]
                mask &= np.isin(codes, np.asarray(wanted, dtype=codes.dtype))
        if filters.exclude_collections:
            # the access filter: rows of collections the reader may not see are never candidates
            denied = [self.collection_vocab[c] for c in filters.exclude_collections if c in self.collection_vocab]
            if denied:
                mask &= ~np.isin(self.collection_codes, np.asarray(denied, dtype=self.collection_codes.dtype))
        return None if mask.all() and not (filters.doc_types or filters.collections or filters.doc_ids) else mask

    # -- access scopes -------------------------------------------------------------------------
    @property
    def excluded(self) -> frozenset[str]:
        """The collections this snapshot leaves out (a scoped view; empty for a built snapshot)."""
        return self.__dict__.get("_excluded", frozenset())

    def scoped(self, denied) -> "LexicalSnapshot":
        """This snapshot as a reader who may not see the `denied` collections sees it: a snapshot of
        the other rows only, with BM25 weights, vocabulary, titles and document codes computed over
        those rows alone — so a restricted chunk changes no score, idf, title match or count the
        reader gets (exactly as if the collections were not in the knowledge base). Returns self
        when no row is denied. Built once per (snapshot, denied set) and cached."""
        denied = frozenset(c for c in (denied or ()) if c in self.collection_vocab)
        if not denied:
            return self
        cache = self.__dict__.setdefault("_scoped", {})
        lock = self.__dict__.setdefault("_scoped_lock", threading.Lock())
        with lock:
            view = cache.get(denied)
            if view is None:
                view = self._build_scoped(denied)
                cache[denied] = view
            return view

    def _build_scoped(self, denied: frozenset[str]) -> "LexicalSnapshot":
        import hashlib

        codes = np.asarray([self.collection_vocab[c] for c in denied], dtype=self.collection_codes.dtype)
        rows = np.nonzero(~np.isin(self.collection_codes, codes))[0]
        take = rows.tolist()
        meta = {name: [values[r] for r in take] for name, values in self.meta.items()}
        texts = [self.texts[r] for r in take]
        bm25 = None
        tf_sub = None
        vocab_sub: dict[str, int] = {"": 0}
        if self.bm25 is not None and take:
            import bm25s

            tf, vocab = self.term_counts()
            sub = tf[rows]
            df = np.bincount(sub.indices, minlength=sub.shape[1])
            keep = np.nonzero(df > 0)[0]
            if len(keep) == 0 or keep[0] != 0:
                keep = np.concatenate([[0], keep])  # id 0 is the empty token in every vocabulary
            new_id = np.full(sub.shape[1], -1, dtype=np.int64)
            new_id[keep] = np.arange(len(keep))
            tf_sub = sub[:, keep].tocsr()
            vocab_sub = {tok: int(new_id[tid]) for tok, tid in vocab.items() if tid < len(new_id) and new_id[tid] >= 0}
            model = bm25s.BM25(k1=BM25_K1, b=BM25_B)
            model.scores = bm25_scores(tf_sub)
            model.vocab_dict = vocab_sub
            model.nonoccurrence_array = None
            model.unique_token_ids_set = set(vocab_sub.values())
            bm25 = model
        dt_codes, dt_vocab = _codes(meta["doc_type"])
        col_codes, col_vocab = _codes(meta["collection"])
        doc_codes, doc_vocab = _codes(meta["doc_id"])
        tag = hashlib.sha1("\n".join(sorted(denied)).encode("utf-8")).hexdigest()[:12]
        view = LexicalSnapshot(
            directory=self.directory,
            store_version=f"{self.store_version}~{tag}",
            chunk_ids=[self.chunk_ids[r] for r in take],
            meta=meta,
            texts=texts,
            bm25=bm25,
            doc_type_codes=dt_codes,
            collection_codes=col_codes,
            doc_codes=doc_codes,
            doc_type_vocab=dt_vocab,
            collection_vocab=col_vocab,
            doc_vocab=doc_vocab,
        )
        view.__dict__["_excluded"] = denied
        view.__dict__["_term_counts"] = (tf_sub, vocab_sub) if tf_sub is not None else None
        view.__dict__["_base"] = self
        return view

    def search(self, query_tokens: list[str], k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        if self.bm25 is None or not query_tokens:
            return []
        ids = self.bm25.get_tokens_ids(query_tokens)
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        mask = self.mask(filters)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        if k < len(scores):
            # take everything tied with the k-th score so the final order does not depend on
            # argpartition's arbitrary choice among ties
            kth = -np.partition(-scores, k - 1)[k - 1]
            top = np.nonzero(scores >= kth)[0] if kth > 0 else np.nonzero(scores > 0)[0]
        else:
            top = np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")][:k]
        return [(int(r), float(scores[r])) for r in top if scores[r] > 0]

    def titles(self) -> dict[str, str]:
        """doc_id → title of every document in the snapshot (computed once per snapshot)."""
        cached = self.__dict__.get("_titles")
        if cached is None:
            cached = dict(zip(self.meta["doc_id"], self.meta["title"]))
            self.__dict__["_titles"] = cached
        return cached

    def rows_of_doc(self, doc_id: str) -> np.ndarray:
        code = self.doc_vocab.get(doc_id)
        if code is None:
            return np.zeros(0, dtype=np.int64)
        return np.nonzero(self.doc_codes == code)[0]


def _codes(values: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    vocab: dict[str, int] = {}
    codes = np.fromiter((vocab.setdefault(v, len(vocab)) for v in values), dtype=np.int32, count=len(values))
    return codes, vocab


class LexicalIndex:
    """Owns the on-disk snapshots; builds new ones and hands out the current one."""

    def __init__(self, directory: Path, tokenizer: ChineseTokenizer):
        self.directory = Path(directory)
        self.tokenizer = tokenizer
        self._lock = threading.RLock()
        self._snapshot: LexicalSnapshot | None = None

    # -- building -------------------------------------------------------------------------------
    def tokenize_many(self, texts: Sequence[str], workers: int = 1) -> list[list[str]]:
        if workers > 1 and len(texts) > 2000:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            from kb.retrieval.tokenizer import tokenize_batch

            batches = [list(texts[i : i + 1000]) for i in range(0, len(texts), 1000)]
            out: list[list[str]] = []
            # spawn, not fork: a forked worker would inherit the ingest lock's descriptor
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                for part in pool.map(tokenize_batch, batches, [self.tokenizer.segmenter_kind] * len(batches)):
                    out.extend(part)
            return out
        return [self.tokenizer.tokenize(t) for t in texts]

    def new_term_rows(self) -> TermRows:
        """A TermRows over the current snapshot's vocabulary (so its rows combine with the snapshot's)."""
        snap = self.snapshot
        if snap is None or snap.bm25 is None:
            return TermRows()
        return TermRows(snap.bm25.vocab_dict, base=snap.directory)

    def build(
        self,
        chunks: list[Chunk],
        store_version: str,
        workers: int = 1,
        rows: TermRows | None = None,
        reuse: "LexicalSnapshot | None" = None,
    ) -> LexicalSnapshot:
        """Build a snapshot of `chunks` (in document order). Term counts come from `rows` (chunks an
        ingest just tokenised), then from `reuse` (the previous snapshot, for unchanged chunks);
        the rest is tokenised here."""
        import scipy.sparse as sp

        with self._lock:
            if reuse is not None and (reuse.bm25 is None or (rows is not None and rows.base != reuse.directory)):
                reuse = None  # token ids of that snapshot do not match these rows' vocabulary
            if rows is None:
                rows = TermRows(reuse.bm25.vocab_dict, base=reuse.directory) if reuse is not None else TermRows()
            have = {cid: i for i, cid in enumerate(rows.chunk_ids)}
            old_row: dict[str, int] = {}
            old_tf = None
            if reuse is not None and reuse.bm25 is not None and (reuse.directory / "tf.npz").is_file():
                old_tf, _ = reuse.term_counts()
                old_row = {cid: i for i, cid in enumerate(reuse.chunk_ids)}
            missing = [c for c in chunks if c.chunk_id not in have and c.chunk_id not in old_row]
            if missing:
                rows.add([c.chunk_id for c in missing], self.tokenize_many([c.text for c in missing], workers=workers))
                have = {cid: i for i, cid in enumerate(rows.chunk_ids)}
            n_vocab = len(rows.vocab)
            new_tf = rows.matrix()
            new_tf.resize((new_tf.shape[0], n_vocab))
            parts, order_new, order_old = [], [], []
            for i, c in enumerate(chunks):
                if c.chunk_id in have:
                    order_new.append((i, have[c.chunk_id]))
                else:
                    order_old.append((i, old_row[c.chunk_id]))
            # stack [rows from the new counts; rows from the old snapshot] then put them in chunk order
            stacked = [new_tf[[j for _, j in order_new]]]
            if order_old:
                old_part = old_tf[[j for _, j in order_old]]
                old_part.resize((old_part.shape[0], n_vocab))
                stacked.append(old_part)
            tf = sp.vstack(stacked, format="csr") if chunks else sp.csr_matrix((0, n_vocab), dtype=np.int32)
            position = np.empty(len(chunks), dtype=np.int64)
            position[[i for i, _ in order_new] + [i for i, _ in order_old]] = np.arange(len(chunks))
            tf = tf[position].tocsr() if chunks else tf
            build_dir = self.directory / f"snap-{uuid.uuid4().hex[:12]}"
            build_dir.mkdir(parents=True, exist_ok=True)
            if chunks:
                import bm25s

                model = bm25s.BM25(k1=BM25_K1, b=BM25_B)
                model.scores = bm25_scores(tf)
                model.vocab_dict = rows.vocab
                model.nonoccurrence_array = None
                model.unique_token_ids_set = set(rows.vocab.values())
                model.save(str(build_dir / "bm25"), show_progress=False)
                sp.save_npz(build_dir / "tf.npz", tf.astype(np.int32), compressed=False)
            meta = {name: [getattr(c, name) for c in chunks] for name in _CHUNK_FIELDS}
            meta["page"] = [-1 if p is None else int(p) for p in meta["page"]]
            meta["page_starts"] = [c.page_starts for c in chunks]
            meta["doc_number"] = [c.doc_number for c in chunks]
            with open(build_dir / "chunks.json", "w", encoding="utf-8") as fh:
                json.dump({"store_version": store_version, "tokenizer": TOKENIZER_VERSION, "meta": meta,
                           "texts": [c.text for c in chunks]}, fh, ensure_ascii=False)
            self._switch(build_dir)
            snap = self._load_dir(build_dir)
            self._snapshot = snap
            return snap

    def _switch(self, build_dir: Path) -> None:
        pointer = self.directory / "CURRENT"
        tmp = self.directory / f"CURRENT.{uuid.uuid4().hex[:8]}"
        tmp.write_text(build_dir.name, encoding="utf-8")
        os.replace(tmp, pointer)
        for old in self.directory.glob("snap-*"):
            if old.name != build_dir.name and old.is_dir():
                # a reader in another process may still have it mapped; on POSIX unlinking is safe
                shutil.rmtree(old, ignore_errors=True)

    # -- loading --------------------------------------------------------------------------------
    def _load_dir(self, directory: Path) -> LexicalSnapshot:
        import bm25s

        with open(directory / "chunks.json", encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("tokenizer") != TOKENIZER_VERSION:
            # its term counts were made by another tokenizer: the snapshot is rebuilt from the store
            raise ValueError(f"tokenized by tokenizer version {data.get('tokenizer')!r}, this one is {TOKENIZER_VERSION!r}")
        meta = data["meta"]
        bm25 = None
        if (directory / "bm25").is_dir():
            bm25 = bm25s.BM25.load(str(directory / "bm25"), mmap=True, show_progress=False)
        dt_codes, dt_vocab = _codes(meta["doc_type"])
        col_codes, col_vocab = _codes(meta["collection"])
        doc_codes, doc_vocab = _codes(meta["doc_id"])
        return LexicalSnapshot(
            directory=directory,
            store_version=data["store_version"],
            chunk_ids=meta["chunk_id"],
            meta=meta,
            texts=data["texts"],
            bm25=bm25,
            doc_type_codes=dt_codes,
            collection_codes=col_codes,
            doc_codes=doc_codes,
            doc_type_vocab=dt_vocab,
            collection_vocab=col_vocab,
            doc_vocab=doc_vocab,
        )

    def load(self) -> LexicalSnapshot | None:
        """Load the snapshot CURRENT points at (None if there is none)."""
        with self._lock:
            pointer = self.directory / "CURRENT"
            if not pointer.is_file():
                return None
            directory = self.directory / pointer.read_text(encoding="utf-8").strip()
            if self._snapshot is not None and self._snapshot.directory == directory:
                return self._snapshot
            try:
                self._snapshot = self._load_dir(directory)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("lexical index at %s unreadable (%s); it will be rebuilt", directory, exc)
                return None
            return self._snapshot

    @property
    def snapshot(self) -> LexicalSnapshot | None:
        return self._snapshot if self._snapshot is not None else self.load()


class ScopedLexical:
    """The lexical index as one reader sees it: `snapshot` is the current snapshot without the
    collections the reader may not see (LexicalSnapshot.scoped). Everything that reads index
    statistics through it — answerability's idf and anchor counts, known words, titles a question
    may name — sees only what the reader may read. Read-only: building goes through the index."""

    def __init__(self, base: LexicalIndex, denied):
        self.base = base
        self.denied = frozenset(denied)

    def __getattr__(self, name: str):
        return getattr(self.base, name)

    @property
    def snapshot(self) -> LexicalSnapshot | None:
        snap = self.base.snapshot
        return snap.scoped(self.denied) if snap is not None else None

    def load(self) -> LexicalSnapshot | None:
        snap = self.base.load()
        return snap.scoped(self.denied) if snap is not None else None
