"""Chinese lexical index: bm25s over token ids, persisted under KB_HOME and loaded memory-mapped.

bm25s cannot add documents incrementally, so every change rebuilds the index from the store's
visible chunks. Tokenising is the expensive part of a rebuild, so tokens are cached per chunk id
(chunk ids carry the document version, so a cached entry can never be stale) in a SQLite file;
a rebuild then tokenises only new chunks.

A built index is an immutable *snapshot* (directory + the store version it reflects). A rebuild
writes a new directory and switches the ``CURRENT`` pointer atomically; readers keep using the
snapshot object they hold, so a question sees either the old or the new state, never a mix.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kb.models import Chunk, Filters
from kb.tokenizer import ChineseTokenizer

log = logging.getLogger(__name__)

_CHUNK_FIELDS = ("chunk_id", "doc_id", "title", "section", "article", "page", "start", "end", "doc_type", "collection")


class TokenCache:
    """chunk_id → space-joined tokens, in SQLite (safe across processes and threads)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS tokens (chunk_id TEXT PRIMARY KEY, tokens TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def get_many(self, chunk_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        with self._connect() as con:
            for i in range(0, len(chunk_ids), 900):
                part = chunk_ids[i : i + 900]
                marks = ",".join("?" * len(part))
                for cid, toks in con.execute(f"SELECT chunk_id, tokens FROM tokens WHERE chunk_id IN ({marks})", part):
                    out[cid] = toks.split(" ") if toks else []
        return out

    def put_many(self, items: Iterable[tuple[str, list[str]]]) -> None:
        with self._connect() as con:
            con.executemany(
                "INSERT OR REPLACE INTO tokens (chunk_id, tokens) VALUES (?, ?)",
                ((cid, " ".join(toks)) for cid, toks in items),
            )

    def retain(self, chunk_ids: set[str]) -> None:
        """Drop entries of chunks that no longer exist."""
        with self._connect() as con:
            existing = [row[0] for row in con.execute("SELECT chunk_id FROM tokens")]
            stale = [cid for cid in existing if cid not in chunk_ids]
            for i in range(0, len(stale), 900):
                part = stale[i : i + 900]
                con.execute(f"DELETE FROM tokens WHERE chunk_id IN ({','.join('?' * len(part))})", part)


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
        return mask

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
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(r), float(scores[r])) for r in top if scores[r] > 0]

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
    """Owns the on-disk snapshots and the token cache; hands out the current snapshot."""

    def __init__(self, directory: Path, tokenizer: ChineseTokenizer):
        self.directory = Path(directory)
        self.tokenizer = tokenizer
        self._lock = threading.RLock()
        self._snapshot: LexicalSnapshot | None = None
        self._cache: TokenCache | None = None

    @property
    def cache(self) -> TokenCache:
        if self._cache is None:
            self._cache = TokenCache(self.directory / "tokens.sqlite3")
        return self._cache

    # -- building -------------------------------------------------------------------------------
    def tokenize_many(self, texts: Sequence[str], workers: int = 1) -> list[list[str]]:
        if workers > 1 and len(texts) > 2000:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            from kb.tokenizer import tokenize_batch

            batches = [list(texts[i : i + 1000]) for i in range(0, len(texts), 1000)]
            out: list[list[str]] = []
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                for part in pool.map(tokenize_batch, batches, [self.tokenizer.segmenter_kind] * len(batches)):
                    out.extend(part)
            return out
        return [self.tokenizer.tokenize(t) for t in texts]

    def build(self, chunks: list[Chunk], store_version: str, workers: int = 1) -> LexicalSnapshot:
        """Rebuild from the complete list of visible chunks (in document order)."""
        import bm25s

        with self._lock:
            ids = [c.chunk_id for c in chunks]
            cached = self.cache.get_many(ids)
            missing = [c for c in chunks if c.chunk_id not in cached]
            if missing:
                new_tokens = self.tokenize_many([c.text for c in missing], workers=workers)
                fresh = list(zip((c.chunk_id for c in missing), new_tokens))
                self.cache.put_many(fresh)
                cached.update(fresh)
            build_dir = self.directory / f"snap-{uuid.uuid4().hex[:12]}"
            build_dir.mkdir(parents=True, exist_ok=True)
            if chunks:
                vocab: dict[str, int] = {}
                corpus_ids = []
                for cid in ids:
                    corpus_ids.append([vocab.setdefault(tok, len(vocab)) for tok in cached[cid]])
                # bm25s needs every document to hold at least one token
                empty = vocab.setdefault("", len(vocab))
                corpus_ids = [doc or [empty] for doc in corpus_ids]
                model = bm25s.BM25(k1=1.2, b=0.75)
                model.index(bm25s.tokenization.Tokenized(ids=corpus_ids, vocab=vocab), show_progress=False)
                model.save(str(build_dir / "bm25"), show_progress=False)
            meta = {name: [getattr(c, name) for c in chunks] for name in _CHUNK_FIELDS}
            meta["page"] = [-1 if p is None else int(p) for p in meta["page"]]
            with open(build_dir / "chunks.json", "w", encoding="utf-8") as fh:
                json.dump({"store_version": store_version, "meta": meta, "texts": [c.text for c in chunks]}, fh, ensure_ascii=False)
            self._switch(build_dir)
            self.cache.retain(set(ids)) if len(cached) > len(ids) * 1.5 else None
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

    def on_disk_version(self) -> str | None:
        """The store version of the snapshot CURRENT points at, read cheaply (no index load)."""
        pointer = self.directory / "CURRENT"
        if not pointer.is_file():
            return None
        snap = self._snapshot
        name = pointer.read_text(encoding="utf-8").strip()
        if snap is not None and snap.directory.name == name:
            return snap.store_version
        return None
