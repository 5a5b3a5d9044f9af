"""What one user may read: the access scope (collections denied by kb/access/grants.py) and the
read-only store view that applies it.

Retrieval applies the scope itself (kb/retrieval/hybrid.py ScopedRetriever → Filters.exclude_collections
→ kb/retrieval/lexical.py LexicalSnapshot.scoped): a restricted chunk is not filtered out of results
afterwards, it is never in the index the reader searches, so it changes no score, idf, title
match, neighbour, enumeration or draft evidence. `kb/container.py` builds one set of scoped
services per scope (Services.for_user).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from kb.models import Chunk, DocumentRecord


def denied_collections(users, grants, name: str | None, today: date | None = None) -> frozenset[str]:
    """The collections `name` may not read: none for an admin (or without any accounts: the local
    single user); for anyone else the restricted collections their groups hold no unexpired grant
    for. An unknown name gets the scope of a user without groups."""
    if not users.has_users():
        return frozenset()
    role = users.role(name) if name else None
    if role == "admin":
        return frozenset()
    return grants.denied_for(users.groups(name) if role else [], today)


class ScopedStore:
    """The Chroma store's readers, without the denied collections' documents. Writers (ingest,
    removal) never go through a scoped view; every other attribute is the store's own."""

    def __init__(self, base, denied):
        self.base = base
        self.denied = frozenset(denied)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def _visible(self, meta: dict[str, Any] | None) -> bool:
        return meta is not None and (meta.get("collection") or "default") not in self.denied

    def registry(self) -> dict[str, dict[str, Any]]:
        return {d: m for d, m in self.base.registry().items() if self._visible(m)}

    def list_documents(self) -> list[DocumentRecord]:
        return [r for r in self.base.list_documents() if r.collection not in self.denied]

    def doc_versions(self) -> dict[str, str]:
        return {d: m.get("version", "") for d, m in self.registry().items()}

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        record = self.base.get_document(doc_id)
        return record if record is not None and record.collection not in self.denied else None

    def get_document_text(self, doc_id: str, version: str | None = None) -> str | None:
        if self.get_document(doc_id) is None:
            return None
        return self.base.get_document_text(doc_id, version)

    def visible_chunks(self, doc_ids: list[str] | None = None) -> list[Chunk]:
        return [c for c in self.base.visible_chunks(doc_ids) if c.collection not in self.denied]

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        return self.visible_chunks([doc_id])
