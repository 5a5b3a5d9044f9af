"""Recovery of a collection whose vector (HNSW) segment cannot be loaded (issue #30).

What a wedged segment looks like (embedded Chroma 1.5): a SIGKILL while Chroma writes a persisted
HNSW segment (``<KB_HOME>/chroma/<segment uuid>/header.bin, data_level0.bin, link_lists.bin,
length.bin, index_metadata.pickle``) leaves files it cannot read back. Local Chroma brings a
collection's vector segment up to date before *every* call on that collection, so count, get,
query and upsert all fail alike ("Error loading hnsw index", "Error deserializing pickle file",
"Failed to apply logs to the hnsw segment writer"); other collections are unaffected. A segment is
only written to disk once ``hnsw:sync_threshold`` records have gone through it, so in practice
this is the chunks collection of a large knowledge base.

What survives, in chroma.sqlite3 (one SQLite transaction per write, so a kill cannot tear it):
  - every collection's *metadata segment*: ``embeddings`` (one row per record: segment_id,
    embedding_id = our id) and ``embedding_metadata`` (one row per key: string/int/float/bool
    value), plus the not yet applied tail of the write-ahead log (``embeddings_queue``, rows whose
    seq_id is above the segment's ``max_seq_id``; topic ends with the collection id);
  - for ``_docs``, ``_texts`` and ``_meta`` that is *all* their content: their vectors are
    constant placeholders;
  - for the chunks collection only the ids: once a segment is persisted, the log that held its
    vectors is purged, so the vectors exist only in the damaged files.

So the chunks are always rebuilt from what the store keeps as truth — the registry (``_docs``) and
each visible version's text and layout (``_texts``) — with the configured embedder, into a fresh
collection. ``_docs``/``_texts``/``_meta`` themselves are read through Chroma when it can, and
otherwise straight from the metadata segment rows above (embedded mode only), saved to
``KB_HOME/recovery/<collection>.json`` before their collection is dropped and made again, so a
repair killed half-way loses nothing and the next repair starts from that file.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from kb.storage.store import ChromaStore, chunks_from_layout, is_vector_damage

log = logging.getLogger(__name__)

REBUILD_MARKER = "vectors.rebuild"  # under KB_HOME: a chunks rebuild started and has not finished
RECOVERY_DIR = "recovery"  # under KB_HOME: rows of a truth collection saved before it is made again
_EMBED_BATCH = 2000
_ROW_BATCH = 500
# embeddings_queue.operation (chromadb/db/mixins/embeddings_queue.py)
_ADD, _UPDATE, _UPSERT, _DELETE = 0, 1, 2, 3


# -- detection ---------------------------------------------------------------------------------
def damaged_collections(store: ChromaStore) -> dict[str, str]:
    """suffix → what is wrong, for every collection of this knowledge base that cannot be loaded,
    queried or written, or whose earlier recovery did not finish. Empty when all are sound.
    Errors that are not damage (the Chroma server down, a full disk) are raised as they are."""
    home = store.settings.home
    damaged: dict[str, str] = {}
    if (home / REBUILD_MARKER).exists():
        damaged[store.chunks_suffix] = f"an earlier rebuild of the vectors did not finish ({REBUILD_MARKER})"
    for suffix in ("docs", "texts", "meta"):
        saved = home / RECOVERY_DIR / f"{suffix}.json"
        if saved.is_file():
            damaged[suffix] = f"an earlier recovery did not finish (rows kept in {saved})"
    missing = _missing_segment_dirs(store)
    for suffix in store.collection_suffixes():
        if suffix in damaged:
            continue
        if suffix in missing:
            damaged[suffix] = missing[suffix]
            continue
        problem = _probe(store, suffix)
        if problem:
            damaged[suffix] = problem
    return damaged


def _probe(store: ChromaStore, suffix: str) -> str | None:
    """Count, read one record with its vector, and search with that vector: the three paths a
    damaged segment breaks (a truncated data file still counts, but fails the search)."""
    try:
        col = store.collection(suffix)
        count = col.count()
        if count:
            got = col.get(limit=1, include=["embeddings"])
            vectors = got.get("embeddings")
            if vectors is not None and len(vectors):
                col.query(query_embeddings=[np.asarray(vectors[0], dtype=np.float32).tolist()], n_results=1, include=["distances"])
    except Exception as exc:
        # "Error finding id" is also what a healthy collection says for a filter naming an absent
        # id, so it means damage only here, where the vector searched for was just read from it
        if is_vector_damage(exc) or "error finding id" in str(exc).lower():
            return str(getattr(exc, "detail", None) or exc).splitlines()[0][:300]
        raise
    return None


def _sqlite_path(store: ChromaStore) -> Path | None:
    if store.settings.chroma.url:
        return None  # a `chroma run` server keeps its files on its own host
    path = store.settings.chroma_dir / "chroma.sqlite3"
    return path if path.is_file() else None


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)


def _vector_segments(store: ChromaStore) -> dict[str, tuple[str, bool]]:
    """suffix → (vector segment id, whether Chroma records it as written to disk)."""
    path = _sqlite_path(store)
    if path is None:
        return {}
    names = {store.collection_name(s): s for s in store.collection_suffixes()}
    out: dict[str, tuple[str, bool]] = {}
    with _connect_ro(path) as con:
        rows = con.execute(
            "SELECT c.name, s.id, m.seq_id FROM segments s JOIN collections c ON c.id = s.collection "
            "LEFT JOIN max_seq_id m ON m.segment_id = s.id WHERE s.scope = 'VECTOR'"
        ).fetchall()
    for name, segment_id, seq in rows:
        if name in names:
            out[names[name]] = (segment_id, seq is not None)
    return out


def _missing_segment_dirs(store: ChromaStore) -> dict[str, str]:
    """A persisted vector segment whose directory is gone: Chroma then starts an empty index and
    searches silently find (almost) nothing, so this is told from the files, not from an error."""
    out = {}
    try:
        segments = _vector_segments(store)
    except sqlite3.Error as exc:
        log.warning("cannot read the Chroma catalogue: %s", exc)
        return {}
    for suffix, (segment_id, persisted) in segments.items():
        folder = store.settings.chroma_dir / segment_id
        if persisted and not (folder / "header.bin").is_file():
            out[suffix] = f"the vector segment's files are missing ({folder})"
    return out


# -- reading what survives -------------------------------------------------------------------------
def _seq(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(value, "big")
    return int(value or 0)


def read_rows_from_sqlite(chroma_sqlite: Path, collection_name: str) -> dict[str, dict[str, Any]]:
    """id → metadata of a collection, read from its metadata segment in chroma.sqlite3 plus the
    write-ahead log rows not applied to it yet — without Chroma, for a collection Chroma cannot load."""
    with _connect_ro(chroma_sqlite) as con:
        if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'collections'").fetchone() is None:
            # an ingest killed while Chroma was still creating its schema: the file is there, nothing in it
            return {}
        found = con.execute("SELECT id FROM collections WHERE name = ?", (collection_name,)).fetchone()
        if found is None:
            return {}
        collection_id = found[0]
        segment = con.execute(
            "SELECT id FROM segments WHERE collection = ? AND scope = 'METADATA'", (collection_id,)
        ).fetchone()
        rows: dict[str, dict[str, Any]] = {}
        applied = -1
        if segment is not None:
            keys = dict(con.execute("SELECT id, embedding_id FROM embeddings WHERE segment_id = ?", (segment[0],)).fetchall())
            for rid in keys.values():
                rows.setdefault(rid, {})
            for row_id, key, s, i, f, b in con.execute(
                "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value "
                "FROM embedding_metadata m JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ?",
                (segment[0],),
            ):
                if key.startswith("chroma:"):
                    continue  # Chroma's own keys (the stored document), not ours
                value = s if s is not None else i if i is not None else f if f is not None else (bool(b) if b is not None else None)
                rows[keys[row_id]][key] = value
            seq = con.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment[0],)).fetchone()
            applied = _seq(seq[0]) if seq else -1
        for seq_id, operation, rid, metadata in con.execute(
            "SELECT seq_id, operation, id, metadata FROM embeddings_queue WHERE topic LIKE ? ORDER BY seq_id",
            (f"%/{collection_id}",),
        ):
            if _seq(seq_id) <= applied:
                continue
            meta = {k: v for k, v in json.loads(metadata or "{}").items() if not k.startswith("chroma:")}
            if operation == _DELETE:
                rows.pop(rid, None)
            elif operation == _ADD:
                rows.setdefault(rid, {k: v for k, v in meta.items() if v is not None})
            elif operation in (_UPDATE, _UPSERT):
                if rid not in rows and operation == _UPDATE:
                    continue
                merged = rows.setdefault(rid, {})
                for k, v in meta.items():
                    if v is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = v
    return rows


def _read_rows(store: ChromaStore, suffix: str, damaged: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A truth collection's rows: a saved recovery file, else Chroma, else chroma.sqlite3."""
    saved = store.settings.home / RECOVERY_DIR / f"{suffix}.json"
    if saved.is_file():
        return json.loads(saved.read_text(encoding="utf-8"))
    if suffix not in damaged:
        col = store.collection(suffix)
        return {i: m or {} for ids, metas, _ in store._paged(col, include=["metadatas"]) for i, m in zip(ids, metas)}
    path = _sqlite_path(store)
    if path is None:
        raise RuntimeError(
            f"{store.collection_name(suffix)} cannot be loaded and lives on a Chroma server "
            f"({store.settings.chroma.url}): rebuild it on the server host"
        )
    return read_rows_from_sqlite(path, store.collection_name(suffix))


# -- rebuilding ------------------------------------------------------------------------------------
def _write_json_atomic(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _drop_collection(store: ChromaStore, suffix: str) -> None:
    """Delete a collection (Chroma deletes a damaged one too) and its vector segment's folder,
    which Chroma leaves behind."""
    segment = _vector_segments(store).get(suffix)
    name = store.collection_name(suffix)
    store.forget_collection(suffix)
    try:
        store.client.delete_collection(name)
    except Exception as exc:  # already gone (an interrupted earlier repair): nothing to delete
        if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
            raise
    if segment is not None:
        folder = store.settings.chroma_dir / segment[0]
        if folder.is_dir() and folder.parent == store.settings.chroma_dir:
            shutil.rmtree(folder, ignore_errors=True)


def _restore_rows(store: ChromaStore, suffix: str, rows: dict[str, dict[str, Any]]) -> None:
    col = store.collection(suffix)
    ids = sorted(rows)
    for i in range(0, len(ids), _ROW_BATCH):
        part = ids[i : i + _ROW_BATCH]
        col.upsert(ids=part, embeddings=[[1.0]] * len(part), metadatas=[rows[k] for k in part])


def recover(services, damaged: dict[str, str]) -> dict[str, Any]:
    """Rebuild every damaged collection of `services.store`; the caller holds the ingest lock and
    publishes afterwards (lexical index, version). Returns what was rebuilt."""
    store: ChromaStore = services.store
    home = store.settings.home
    report: dict[str, Any] = {"rebuilt": sorted(store.collection_name(s) for s in damaged), "from_sqlite": []}
    # 1. the truth collections: read everything first, save it, then drop and refill
    truth: dict[str, dict[str, dict[str, Any]]] = {}
    for suffix in ("docs", "texts", "meta"):
        if suffix in damaged:
            if not (home / RECOVERY_DIR / f"{suffix}.json").is_file() and _sqlite_path(store) is not None:
                report["from_sqlite"].append(store.collection_name(suffix))
            truth[suffix] = _read_rows(store, suffix, damaged)
            _write_json_atomic(home / RECOVERY_DIR / f"{suffix}.json", truth[suffix])
    for suffix, rows in truth.items():
        _drop_collection(store, suffix)
        _restore_rows(store, suffix, rows)
        (home / RECOVERY_DIR / f"{suffix}.json").unlink()
    # 2. the chunks: derived data, rebuilt from the registry and the stored texts
    if store.chunks_suffix in damaged:
        marker = home / REBUILD_MARKER
        marker.write_text(store.collection_name(store.chunks_suffix), encoding="utf-8")
        _drop_collection(store, store.chunks_suffix)
        report["chunks"] = _reembed(services)
        marker.unlink(missing_ok=True)
    try:
        (home / RECOVERY_DIR).rmdir()
    except OSError:
        pass  # absent, or holds a file an operator put there: leave it
    report["documents"] = len(store.registry())
    return report


def document_count(store: ChromaStore, damaged: dict[str, str]) -> int | None:
    """How many documents the registry holds, also when Chroma cannot load it (None: unknown)."""
    try:
        return len(_read_rows(store, "docs", damaged))
    except Exception as exc:  # a report must not fail for a number
        log.warning("registry unreadable: %s", exc)
        return None


def _reembed(services) -> int:
    """Embed and store every visible chunk (registry version, its text and layout)."""
    store: ChromaStore = services.store
    registry = store.registry()
    keys = [f"{d}#{m.get('version', '')}" for d, m in sorted(registry.items())]
    batch = store.max_batch()
    pending: list = []
    written = 0

    def flush() -> int:
        if not pending:
            return 0
        vectors = np.asarray(services.embedder.embed_documents([c.text for c in pending]), dtype=np.float32)
        ids = [c.chunk_id for c in pending]
        for i in range(0, len(ids), batch):
            store.chunks.upsert(ids=ids[i : i + batch], embeddings=vectors[i : i + batch])
        n = len(pending)
        pending.clear()
        return n

    for i in range(0, len(keys), 200):
        versions = store._versions_of(keys[i : i + 200])
        for key in keys[i : i + 200]:
            doc_id = key.rsplit("#", 1)[0]
            stored = versions.get(key)
            if stored is None:
                continue  # a record without its text: the repair drops it as incomplete
            pending.extend(chunks_from_layout(doc_id, registry[doc_id], stored["text"], stored["layout"]))
            if len(pending) >= _EMBED_BATCH:
                written += flush()
    written += flush()
    return written

