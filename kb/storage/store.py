"""The Chroma store: the source of truth for documents and chunks.

Four collections per knowledge base (prefix = settings.chroma.collection):
  ``<prefix>_docs``    the registry: one record per document — DocumentRecord fields and the
                       visible version.
  ``<prefix>_texts``   per document version ("doc_id#version"): the cleaned full text (what quotes
                       are checked against) and the chunk layout (offsets, section, article, page). The previous version is kept so a reader still holding
                       the previous snapshot verifies against the exact text its chunks came from.
  ``<prefix>_chunks_<embedder>``  one vector per chunk (id "doc_id#version#ordinal") with the
                       metadata dense search filters on. Chunk text is not stored twice: it is
                       ``text[start:end]`` of its document version.
  ``<prefix>_meta``    a single version record, bumped after every change, so other instances
                       sharing a `chroma run` server notice changes cheaply.

Writes are batched across documents (Chroma's per-call cost dominates: ~20x faster than one
document at a time). Order per batch: vectors → texts → registry → removal of superseded chunks.
A document becomes visible only when its registry record names the new version; a crash leaves at
most invisible vectors/texts, which `kb doctor` (and the next ingest) remove. A crash can also leave
a collection's vector segment files unloadable: every call on it then raises VectorIndexDamaged
(one clear line naming `kb doctor --repair`), and kb/storage/store_recovery.py rebuilds it.
Chroma's default embedding function would download a model: collections are always opened with
``embedding_function=None`` and every add/query passes our own vectors.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import json
import zlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from kb.models import Chunk, DocumentRecord
from kb.settings import Settings

_DOC_FIELDS = (
    "doc_id", "title", "doc_type", "collection", "source", "sha256", "chars", "chunks", "ingested_at",
    "doc_number", "issuer", "issued_on", "page_checks", "formats", "validity", "superseded_by", "validity_note",
    "version_date",
)
TEXT_BATCH_CHARS = 4_000_000
# Index parameters: a smaller construction beam and graph degree, and syncing the index to disk
# in large batches, make writes ~35% faster (measured: 0.36 → 0.24 ms per 64-d vector) for a
# recall loss that does not matter at this collection size.
_HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 40, "hnsw:M": 12, "hnsw:batch_size": 5000, "hnsw:sync_threshold": 50000}  # texts per upsert call, by size


# What Chroma's core says when a collection's vector (HNSW) segment on disk cannot be loaded or
# brought up to date (issue #30: a SIGKILL during a large ingest). Local Chroma brings the vector
# segment up to date before every call on the collection, so count/get/query/upsert all fail alike.
_DAMAGE_SIGNS = ("hnsw index", "hnsw segment", "deserializing pickle", "apply logs")


def is_vector_damage(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says a vector segment cannot be loaded."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, VectorIndexDamaged):
            return True
        text = str(exc).lower()
        if any(sign in text for sign in _DAMAGE_SIGNS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class VectorIndexDamaged(OSError):
    """A collection's vector segment cannot be loaded. An OSError with EIO, so every command (and
    the web app) says it in the one-line storage message of kb/storage/errors.py, with the fix,
    instead of a traceback."""

    def __init__(self, collection: str, detail: str, where: str):
        self.collection = collection
        self.detail = str(detail).splitlines()[0][:300] if str(detail) else type(detail).__name__
        super().__init__(
            errno.EIO,
            f"集合 {collection} 的向量索引无法加载，请运行 `kb doctor --repair` 从保存的全文重建 "
            f"(the vector index of {collection} cannot be loaded: {self.detail}; "
            f"run `kb doctor --repair` to rebuild it from the stored texts)",
            where,
        )


class _Guarded:
    """A Chroma collection whose calls report a damaged vector segment as VectorIndexDamaged."""

    def __init__(self, collection, where: str):
        self._collection = collection
        self._where = where

    def __getattr__(self, name: str):
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except VectorIndexDamaged:
                raise
            except Exception as exc:
                if is_vector_damage(exc):
                    raise VectorIndexDamaged(self._collection.name, str(exc), self._where) from exc
                raise

        return call


def _pack_version(text: str, layout: str) -> dict[str, str]:
    """A document version's text and chunk layout, zlib-compressed into one metadata field rather
    than stored as a Chroma "document": Chroma indexes documents and metadata strings for search,
    which made storing the laws corpus many times slower (measured), and nothing searches these
    inside Chroma (the lexical index does that)."""
    blob = json.dumps({"text": text, "layout": layout}, ensure_ascii=False).encode("utf-8")
    return {"z": base64.b64encode(zlib.compress(blob, 1)).decode("ascii")}


def _unpack_version(meta: dict[str, Any]) -> dict[str, Any]:
    return json.loads(zlib.decompress(base64.b64decode(meta["z"])).decode("utf-8"))


def chunk_id_for(doc_id: str, version: str, ordinal: int) -> str:
    return f"{doc_id}#{version}#{ordinal:04d}"


@dataclass
class DocumentWrite:
    """One document to store: its record, text, version, and chunks with their vectors."""

    record: DocumentRecord
    text: str
    version: str
    signature: str
    chunks: list[Chunk]
    embeddings: np.ndarray
    extra: dict | None = None  # further registry fields (validity facts read at ingest)


@dataclass
class ChunkRef:
    chunk_id: str
    doc_id: str
    version: str


def _layout(chunks: list[Chunk]) -> str:
    # a sixth element only for a chunk that runs across pages or was OCR'd: other layouts stay as before
    return json.dumps(
        [[c.start, c.end, c.section, c.article, -1 if c.page is None else c.page] + _layout_extra(c) for c in chunks],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _layout_extra(c: Chunk) -> list[dict[str, Any]]:
    extra: dict[str, Any] = {}
    if c.page_starts:
        extra["ps"] = c.page_starts
    if c.ocr_confidence is not None:
        extra["ocr"] = c.ocr_confidence
    return [extra] if extra else []


def chunks_from_layout(doc_id: str, meta: dict[str, Any], text: str, layout: str) -> list[Chunk]:
    """Rebuild a document's chunks from its registry record, its text and its layout."""
    version = meta.get("version", "")
    out = []
    for i, row in enumerate(json.loads(layout or "[]")):
        start, end, section, article, page = row[:5]
        out.append(
            Chunk(
                chunk_id=chunk_id_for(doc_id, version, i),
                doc_id=doc_id,
                title=meta.get("title", ""),
                section=section,
                article=article,
                page=None if page is None or page < 0 else int(page),
                start=int(start),
                end=int(end),
                text=text[start:end],
                doc_type=meta.get("doc_type", "other"),
                collection=meta.get("collection", "default"),
                page_starts=row[5].get("ps", []) if len(row) > 5 else [],
                ocr_confidence=row[5].get("ocr") if len(row) > 5 else None,
                doc_number=meta.get("doc_number", "") or "",
            )
        )
    return out


class ChromaStore:
    def __init__(self, settings: Settings, embedder_signature: str | None = None):
        self.settings = settings
        self._lock = threading.RLock()
        self._client = None
        self._embedder_signature = embedder_signature
        self._collections: dict[str, Any] = {}

    # -- connection ----------------------------------------------------------------------------
    @property
    def client(self):
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings as ChromaClientSettings

                client_settings = ChromaClientSettings(anonymized_telemetry=False, allow_reset=False)
                url = self.settings.chroma.url
                if url:
                    from urllib.parse import urlparse

                    parsed = urlparse(url)
                    if not parsed.hostname:
                        raise ValueError(f"chroma.url {url!r} is not an http://host:port address")
                    self._client = chromadb.HttpClient(
                        host=parsed.hostname,
                        port=parsed.port or 8000,
                        ssl=parsed.scheme == "https",
                        settings=client_settings,
                    )
                else:
                    self.settings.chroma_dir.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=str(self.settings.chroma_dir), settings=client_settings)
            return self._client

    def _collection(self, suffix: str, space: str = "cosine"):
        with self._lock:
            col = self._collections.get(suffix)
            if col is None:
                name = self.collection_name(suffix)
                col = self.client.get_or_create_collection(name=name, metadata=_HNSW, embedding_function=None)
                col = _Guarded(col, self.settings.chroma.url or str(self.settings.chroma_dir))
                self._collections[suffix] = col
            return col

    @property
    def chunks_suffix(self) -> str:
        if not self._embedder_signature:
            raise RuntimeError("ChromaStore: embedder signature not set")
        return f"chunks_{hashlib.sha1(self._embedder_signature.encode()).hexdigest()[:8]}"

    @property
    def chunks(self):
        return self._collection(self.chunks_suffix)

    def collection_name(self, suffix: str) -> str:
        return f"{self.settings.chroma.collection}_{suffix}"

    def collection_suffixes(self) -> tuple[str, ...]:
        """The collections this knowledge base owns (the chunks one for the configured embedder)."""
        return ("docs", "texts", "meta", self.chunks_suffix)

    def collection(self, suffix: str):
        return self._collection(suffix)

    def forget_collection(self, suffix: str) -> None:
        """Drop the cached handle, e.g. after the collection was deleted and made again."""
        with self._lock:
            self._collections.pop(suffix, None)

    @property
    def docs(self):
        return self._collection("docs")

    @property
    def texts(self):
        return self._collection("texts")

    @property
    def meta(self):
        return self._collection("meta")

    def max_batch(self) -> int:
        try:
            return max(1, min(5000, int(self.client.get_max_batch_size())))
        except Exception:
            return 1000

    def close(self) -> None:
        """Release Chroma's files and threads (tests and the eval open many knowledge bases)."""
        with self._lock:
            self._collections.clear()
            client, self._client = self._client, None
            if client is not None and hasattr(client, "close"):
                try:
                    client.close()
                except Exception as exc:  # closing must never mask the caller's own error
                    import logging

                    logging.getLogger(__name__).debug("closing Chroma client: %s", exc)

    # -- version record --------------------------------------------------------------------------
    def version(self) -> str:
        got = self.meta.get(ids=["version"], include=["metadatas"])
        if got["ids"]:
            return str(got["metadatas"][0].get("version", ""))
        return ""

    def bump_version(self) -> str:
        version = uuid.uuid4().hex
        self.meta.upsert(
            ids=["version"],
            embeddings=[[1.0]],
            documents=[""],
            metadatas=[{"version": version, "updated_at": time.time()}],
        )
        return version

    # -- registry --------------------------------------------------------------------------------
    def registry(self) -> dict[str, dict[str, Any]]:
        """doc_id → registry metadata (record fields, version, signature)."""
        out = {}
        for ids, metas, _ in self._paged(self.docs, include=["metadatas"]):
            for doc_id, meta in zip(ids, metas):
                out[doc_id] = meta
        return out

    def list_documents(self) -> list[DocumentRecord]:
        return [self._doc_record(d, m) for d, m in sorted(self.registry().items())]

    def doc_versions(self) -> dict[str, str]:
        """doc_id → visible version (the sha prefix its chunks carry)."""
        return {d: m.get("version", "") for d, m in self.registry().items()}

    def doc_signatures(self) -> dict[str, str]:
        return {d: m.get("signature", "") for d, m in self.registry().items()}

    def _registry_entry(self, doc_id: str) -> dict[str, Any] | None:
        got = self.docs.get(ids=[doc_id], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else None

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        meta = self._registry_entry(doc_id)
        return None if meta is None else self._doc_record(doc_id, meta)

    def get_document_text(self, doc_id: str, version: str | None = None) -> str | None:
        """The stored cleaned text of a document: the visible version, or a given version."""
        if version is None:
            meta = self._registry_entry(doc_id)
            if meta is None:
                return None
            version = meta.get("version", "")
        found = self._versions_of([f"{doc_id}#{version}"]).get(f"{doc_id}#{version}")
        return None if found is None else found["text"]

    def _versions_of(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """"doc_id#version" → {"text", "layout"} of stored document versions."""
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 200):
            got = self.texts.get(ids=keys[i : i + 200], include=["metadatas"])
            out.update((k, _unpack_version(m)) for k, m in zip(got["ids"], got["metadatas"]))
        return out

    @staticmethod
    def _doc_record(doc_id: str, meta: dict[str, Any]) -> DocumentRecord:
        values = {name: meta.get(name) for name in _DOC_FIELDS}
        values["doc_id"] = doc_id
        values["chars"] = int(values.get("chars") or 0)
        values["chunks"] = int(values.get("chunks") or 0)
        for name in _DOC_FIELDS[1:]:
            if name in ("chars", "chunks"):
                continue
            values[name] = values.get(name) or ""
        return DocumentRecord(**values)

    # -- writing (single writer: callers hold the ingest lock) --------------------------------
    def write_documents(self, writes: list[DocumentWrite]) -> None:
        """Store a batch of documents: vectors, then texts, then registry records (the moment they
        become visible), then the superseded versions' chunks and texts are removed."""
        if not writes:
            return
        previous = {}
        ids = [w.record.doc_id for w in writes]
        for i in range(0, len(ids), 500):
            got = self.docs.get(ids=ids[i : i + 500], include=["metadatas"])
            previous.update(zip(got["ids"], got["metadatas"]))
        batch = self.max_batch()
        # 1. vectors — ids and embeddings only: per-row metadata more than doubles Chroma's write
        # cost (measured on the laws corpus: 35 s → 84 s for 153k vectors). Document, version and
        # ordinal are in the id; filters are applied through the lexical snapshot (see query()).
        pending_ids: list[str] = []
        pending_vecs: list[np.ndarray] = []
        for w in writes:
            pending_ids.extend(chunk_id_for(w.record.doc_id, w.version, i) for i in range(len(w.chunks)))
            if len(w.chunks):
                pending_vecs.append(np.asarray(w.embeddings, dtype=np.float32))
        if pending_ids:
            vectors = np.concatenate(pending_vecs)
            for i in range(0, len(pending_ids), batch):
                self.chunks.upsert(ids=pending_ids[i : i + batch], embeddings=vectors[i : i + batch])
        # 2. texts, in calls of bounded size
        group: list[DocumentWrite] = []
        size = 0
        for w in writes + [None]:  # type: ignore[list-item]
            if w is None or (group and size + len(w.text) > TEXT_BATCH_CHARS):
                if group:
                    self.texts.upsert(
                        ids=[f"{g.record.doc_id}#{g.version}" for g in group],
                        embeddings=[[1.0]] * len(group),
                        metadatas=[
                            {"doc_id": g.record.doc_id, "version": g.version, **_pack_version(g.text, _layout(g.chunks))}
                            for g in group
                        ],
                    )
                group, size = [], 0
            if w is not None:
                group.append(w)
                size += len(w.text)
        # 3. registry: from here on the new versions are what readers see
        metas = []
        for w in writes:
            meta: dict[str, Any] = w.record.to_dict()
            meta.pop("doc_id")
            meta.update(w.extra or {})
            prev = previous.get(w.record.doc_id) or {}
            meta.update(
                {
                    "version": w.version,
                    "signature": w.signature,
                    "prev_version": prev.get("version", "") if prev.get("version") != w.version else prev.get("prev_version", ""),
                }
            )
            metas.append(meta)
        for i in range(0, len(writes), 500):
            self.docs.upsert(
                ids=ids[i : i + 500], embeddings=[[1.0]] * len(ids[i : i + 500]), metadatas=metas[i : i + 500]
            )
        # 4. superseded chunks (known ids: no scan) and texts older than the previous version
        stale_chunks: list[str] = []
        stale_texts: list[str] = []
        for w in writes:
            prev = previous.get(w.record.doc_id)
            if not prev or prev.get("version") == w.version:
                continue
            stale_chunks.extend(
                chunk_id_for(w.record.doc_id, prev["version"], i) for i in range(int(prev.get("chunks") or 0))
            )
            if prev.get("prev_version") and prev["prev_version"] != w.version:
                stale_texts.append(f"{w.record.doc_id}#{prev['prev_version']}")
        self.delete_chunks(stale_chunks)
        if stale_texts:
            self.texts.delete(ids=stale_texts)

    def update_records(self, updates: dict[str, dict[str, Any]]) -> None:
        """Rewrite registry fields of stored documents (formats, validity) without a new version."""
        ids = sorted(updates)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            got = self.docs.get(ids=part, include=["metadatas"])
            found = dict(zip(got["ids"], got["metadatas"]))
            keep = [d for d in part if d in found]
            if keep:
                self.docs.upsert(ids=keep, embeddings=[[1.0]] * len(keep),
                                 metadatas=[{**found[d], **updates[d]} for d in keep])

    def delete_chunks(self, chunk_ids: list[str]) -> None:
        for i in range(0, len(chunk_ids), 5000):
            self.chunks.delete(ids=chunk_ids[i : i + 5000])

    def remove_document(self, doc_id: str) -> bool:
        meta = self._registry_entry(doc_id)
        if meta is None:
            return False
        # registry first: the document disappears for readers before its chunks go
        self.docs.delete(ids=[doc_id])
        self.delete_chunks([chunk_id_for(doc_id, meta.get("version", ""), i) for i in range(int(meta.get("chunks") or 0))])
        self.texts.delete(where={"doc_id": doc_id})
        return True

    # -- reading ---------------------------------------------------------------------------------
    def chunk_refs(self) -> Iterator[ChunkRef]:
        """Every stored vector's id, document and version (visible or not) — for consistency checks."""
        for ids, _, _ in self._paged(self.chunks, include=[]):
            for chunk_id in ids:
                parts = chunk_id.rsplit("#", 2)
                if len(parts) == 3:
                    yield ChunkRef(chunk_id, parts[0], parts[1])
                else:
                    yield ChunkRef(chunk_id, "", "")

    def text_keys(self) -> list[str]:
        return [i for ids, _, _ in self._paged(self.texts, include=[]) for i in ids]

    def visible_chunks(self, doc_ids: list[str] | None = None) -> list[Chunk]:
        """The chunks readers see (registry versions), in document order."""
        if doc_ids is None:
            registry = self.registry()
        else:
            registry = {}
            for i in range(0, len(doc_ids), 500):
                got = self.docs.get(ids=list(doc_ids[i : i + 500]), include=["metadatas"])
                registry.update(zip(got["ids"], got["metadatas"]))
        keys = [f"{d}#{m.get('version', '')}" for d, m in sorted(registry.items())]
        versions = self._versions_of(keys)
        out: list[Chunk] = []
        for doc_id, meta in sorted(registry.items()):
            stored = versions.get(f"{doc_id}#{meta.get('version', '')}")
            if stored is None:
                continue  # registry without text: `kb doctor` reports it
            out.extend(chunks_from_layout(doc_id, meta, stored["text"], stored["layout"]))
        return out

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        return self.visible_chunks([doc_id])

    def chunk_count(self) -> int:
        return self.chunks.count()

    def query(self, embedding: np.ndarray, n: int, ids: list[str] | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the nearest vectors, optionally among `ids` only."""
        count = self.chunks.count()
        if count == 0 or (ids is not None and not ids):
            return []
        got = self.chunks.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
            n_results=min(n, count, len(ids) if ids is not None else count),
            ids=ids,
            include=["distances"],
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0])]

    def _paged(self, collection, include: list[str], page: int = 5000):
        offset = 0
        while True:
            got = collection.get(include=include, limit=page, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            yield ids, got.get("metadatas") or [{}] * len(ids), got.get("documents")
            if len(ids) < page:
                return
            offset += page
