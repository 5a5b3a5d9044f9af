"""Document ids: how a file's path becomes the ``doc_id`` it is stored under, and the content hash that
tells one version of a file from another.

Ingest (``ingest/pipeline.py``) names what it stores with these, and the web app (``kb/web/service.py``)
names an upload the same way before it is ingested; ``kb backup`` records the same hash of every file it
copies.
"""
from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MB blocks (a file may be far larger than memory allows)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
