"""Document ids: how a file's path becomes the ``doc_id`` it is stored under.

Ingest (``ingest/pipeline.py``) names what it stores with these, and the web app (``kb/webapp_service.py``)
names an upload the same way before it is ingested.
"""
from __future__ import annotations

from pathlib import Path


def doc_id_for(path: Path, root: Path | None) -> str:
    """doc_id = path relative to the ingested directory without extension; a file given directly: its stem."""
    if root is None:
        return path.stem
    rel = path.relative_to(root).with_suffix("")
    return rel.as_posix()


def safe_doc_id(doc_id: str) -> str:
    """``doc_id`` kept inside the knowledge base's namespace: no empty, ``.`` or ``..`` parts, ``/`` only."""
    # Names with '../' cannot come out of relative_to, but text ids can: keep ids inside the KB namespace.
    parts = [p for p in doc_id.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "untitled"
