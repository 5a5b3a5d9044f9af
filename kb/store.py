"""The Chroma store: the source of truth for documents and chunks.

Three collections per knowledge base (prefix = settings.chroma.collection):
  ``<prefix>_docs``    one record per document: the cleaned full text (what quotes are checked
                       against) and the DocumentRecord fields. This is the registry.
  ``<prefix>_chunks_<embedder>``  one record per chunk with its embedding and metadata; chunk ids
                       carry the document version, so old and new versions never collide.
  ``<prefix>_meta``    a single version record, bumped after every change, so other instances
                       sharing a `chroma run` server notice changes cheaply.

A document becomes visible only when its record in ``_docs`` names the version of its chunks; chunks
of any other version are invisible to readers and removed by the next ingest or `kb doctor`.
Chroma's default embedding function would download a model: collections are always opened with
``embedding_function=None`` and every add/query passes our own vectors.
"""
from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from kb.models import Chunk, DocumentRecord, Filters
from kb.settings import Settings

_DOC_FIELDS = ("doc_id", "title", "doc_type", "collection", "source", "sha256", "chars", "chunks", "ingested_at")


@dataclass
class StoredChunk:
    chunk: Chunk
    version: str
    ordinal: int


def _chunk_metadata(chunk: Chunk, version: str, ordinal: int) -> dict[str, Any]:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "article": chunk.article,
        "page": -1 if chunk.page is None else int(chunk.page),
        "start": int(chunk.start),
        "end": int(chunk.end),
        "doc_type": chunk.doc_type,
        "collection": chunk.collection,
        "version": version,
        "ordinal": ordinal,
    }


def _chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> StoredChunk:
    page = meta.get("page", -1)
    chunk = Chunk(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        title=meta.get("title", ""),
        section=meta.get("section", ""),
        article=meta.get("article", ""),
        page=None if page is None or page < 0 else int(page),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        text=text,
        doc_type=meta.get("doc_type", "other"),
        collection=meta.get("collection", "default"),
    )
    return StoredChunk(chunk, meta.get("version", ""), int(meta.get("ordinal", 0)))


def chroma_where(filters: Filters | None) -> dict[str, Any] | None:
    """Translate Filters into a Chroma `where` clause."""
    if filters is None or filters.is_empty():
        return None
    clauses = []
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": list(filters.doc_types)}})
    if filters.collections:
        clauses.append({"collection": {"$in": list(filters.collections)}})
    if filters.doc_ids:
        clauses.append({"doc_id": {"$in": list(filters.doc_ids)}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


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
                name = f"{self.settings.chroma.collection}_{suffix}"
                col = self.client.get_or_create_collection(
                    name=name, metadata={"hnsw:space": space}, embedding_function=None
                )
                self._collections[suffix] = col
            return col

    def set_embedder_signature(self, signature: str) -> None:
        self._embedder_signature = signature

    @property
    def chunks(self):
        if not self._embedder_signature:
            raise RuntimeError("ChromaStore: embedder signature not set")
        digest = hashlib.sha1(self._embedder_signature.encode()).hexdigest()[:8]
        return self._collection(f"chunks_{digest}")

    @property
    def docs(self):
        return self._collection("docs")

    @property
    def meta(self):
        return self._collection("meta")

    @property
    def texts(self):
        """Document texts per version ("doc_id#version"): a reader still holding the previous
        snapshot can verify its quotes against the exact text its chunks came from."""
        return self._collection("texts")

    def max_batch(self) -> int:
        try:
            return max(1, min(5000, int(self.client.get_max_batch_size())))
        except Exception:
            return 1000

    def close(self) -> None:
        with self._lock:
            self._collections.clear()
            self._client = None

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

    # -- documents -------------------------------------------------------------------------------
    def list_documents(self) -> list[DocumentRecord]:
        records = []
        for ids, metas in self._paged(self.docs, include=["metadatas"]):
            for doc_id, meta in zip(ids, metas):
                records.append(self._doc_record(doc_id, meta))
        records.sort(key=lambda r: r.doc_id)
        return records

    def doc_versions(self) -> dict[str, str]:
        """doc_id → visible version (the sha prefix its chunks carry)."""
        out = {}
        for ids, metas in self._paged(self.docs, include=["metadatas"]):
            for doc_id, meta in zip(ids, metas):
                out[doc_id] = meta.get("version", "")
        return out

    def doc_signatures(self) -> dict[str, str]:
        out = {}
        for ids, metas in self._paged(self.docs, include=["metadatas"]):
            for doc_id, meta in zip(ids, metas):
                out[doc_id] = meta.get("signature", "")
        return out

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        got = self.docs.get(ids=[doc_id], include=["metadatas"])
        if not got["ids"]:
            return None
        return self._doc_record(doc_id, got["metadatas"][0])

    def get_document_text(self, doc_id: str, version: str | None = None) -> str | None:
        """The stored cleaned text of a document: the visible version, or a given version."""
        if version:
            got = self.texts.get(ids=[f"{doc_id}#{version}"], include=["documents"])
            if got["ids"]:
                return got["documents"][0]
        got = self.docs.get(ids=[doc_id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        if version and got["metadatas"][0].get("version") != version:
            return None
        return got["documents"][0]

    @staticmethod
    def _doc_record(doc_id: str, meta: dict[str, Any]) -> DocumentRecord:
        values = {name: meta.get(name) for name in _DOC_FIELDS}
        values["doc_id"] = doc_id
        values["chars"] = int(values.get("chars") or 0)
        values["chunks"] = int(values.get("chunks") or 0)
        for name in ("title", "doc_type", "collection", "source", "sha256", "ingested_at"):
            values[name] = values.get(name) or ""
        return DocumentRecord(**values)

    # -- writing (single writer: callers hold the ingest lock) --------------------------------
    def put_chunks(self, chunks: list[Chunk], embeddings: np.ndarray, version: str) -> None:
        batch = self.max_batch()
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self.chunks.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=embeddings[i : i + batch].tolist(),
                documents=[c.text for c in part],
                metadatas=[_chunk_metadata(c, version, i + j) for j, c in enumerate(part)],
            )

    def publish_document(self, record: DocumentRecord, text: str, version: str, signature: str = "") -> None:
        """Make a document (and exactly the chunks of `version`) visible."""
        meta = record.to_dict()
        meta.pop("doc_id")
        meta["version"] = version
        meta["signature"] = signature  # the processing settings it was ingested with
        previous = self.docs.get(ids=[record.doc_id], include=["metadatas"])
        previous_version = previous["metadatas"][0].get("version") if previous["ids"] else None
        self.texts.upsert(
            ids=[f"{record.doc_id}#{version}"],
            embeddings=[[1.0]],
            documents=[text],
            metadatas=[{"doc_id": record.doc_id, "version": version}],
        )
        self.docs.upsert(ids=[record.doc_id], embeddings=[[1.0]], documents=[text], metadatas=[meta])
        # keep the version readers may still hold (the previous one); older ones go
        keep = [version] + ([previous_version] if previous_version and previous_version != version else [])
        self.texts.delete(where={"$and": [{"doc_id": record.doc_id}, {"version": {"$nin": keep}}]})

    def delete_stale_chunks(self, doc_id: str, keep_version: str | None) -> None:
        if keep_version is None:
            self.chunks.delete(where={"doc_id": doc_id})
        else:
            self.chunks.delete(where={"$and": [{"doc_id": doc_id}, {"version": {"$ne": keep_version}}]})

    def remove_document(self, doc_id: str) -> bool:
        existed = bool(self.docs.get(ids=[doc_id], include=[])["ids"])
        # registry first: the document disappears for readers before its chunks go
        self.docs.delete(ids=[doc_id])
        self.delete_stale_chunks(doc_id, None)
        self.texts.delete(where={"doc_id": doc_id})
        return existed

    # -- reading ---------------------------------------------------------------------------------
    def iter_chunks(self, include_embeddings: bool = False) -> Iterator[StoredChunk]:
        include = ["documents", "metadatas"] + (["embeddings"] if include_embeddings else [])
        for ids, metas, docs in self._paged(self.chunks, include=include, with_documents=True):
            for chunk_id, meta, text in zip(ids, metas, docs):
                yield _chunk_from(chunk_id, text, meta)

    def visible_chunks(self) -> list[StoredChunk]:
        """Chunks whose document record names their version, in document order."""
        versions = self.doc_versions()
        out = [sc for sc in self.iter_chunks() if versions.get(sc.chunk.doc_id) == sc.version]
        out.sort(key=lambda sc: (sc.chunk.doc_id, sc.ordinal))
        return out

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        versions = self.doc_versions()
        version = versions.get(doc_id)
        if version is None:
            return []
        got = self.chunks.get(where={"$and": [{"doc_id": doc_id}, {"version": version}]}, include=["documents", "metadatas"])
        stored = [_chunk_from(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        stored.sort(key=lambda sc: sc.ordinal)
        return [sc.chunk for sc in stored]

    def chunk_count(self) -> int:
        return self.chunks.count()

    def query(self, embedding: np.ndarray, n: int, filters: Filters | None = None) -> list[tuple[StoredChunk, float]]:
        count = self.chunks.count()
        if count == 0:
            return []
        got = self.chunks.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
            n_results=min(n, count),
            where=chroma_where(filters),
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for chunk_id, text, meta, dist in zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]):
            out.append((_chunk_from(chunk_id, text, meta), 1.0 - float(dist)))
        return out

    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, StoredChunk]:
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        got = self.chunks.get(ids=ids, include=["documents", "metadatas"])
        return {i: _chunk_from(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def _paged(self, collection, include: list[str], with_documents: bool = False, page: int = 5000):
        offset = 0
        while True:
            got = collection.get(include=include, limit=page, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            if with_documents:
                yield ids, got["metadatas"], got["documents"]
            else:
                yield ids, got["metadatas"]
            if len(ids) < page:
                return
            offset += page
