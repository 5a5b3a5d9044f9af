"""The parsed cells of a document's tables, one small JSON file per document under KB_HOME/tables.

Whole-table questions (kb/answering/table_questions.py) compute over every row of a table, so the rows'
cells must be at hand without reading every chunk: ingest writes them here (ingest/pipeline.py) before
the document's registry record, naming the version of its chunks; a reader uses a file only when that
version is the document's registered one, so a crash between the two or a later update never serves
stale rows. Removing a document removes its file; `kb doctor --repair` and every ingest drop files of
documents the registry no longer holds. Being under KB_HOME, the files go with `kb backup`/`kb restore`.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any


class TableStore:
    def __init__(self, home: Path):
        self.folder = Path(home) / "tables"
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, dict[str, Any]]] = {}  # file name → (mtime_ns, record)

    def _file(self, doc_id: str) -> Path:
        # a doc id holds "/" and any character a file name may not: the file is named by its hash
        return self.folder / (hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:32] + ".json")

    def write(self, doc_id: str, version: str, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._file(doc_id)
        tmp = path.with_suffix(".tmp")
        data = dict(record, doc_id=doc_id, version=version)
        tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)  # a reader never sees half a file

    def remove(self, doc_id: str) -> None:
        self._file(doc_id).unlink(missing_ok=True)

    def prune(self, registry: dict[str, dict[str, Any]]) -> int:
        """Drop the files of documents the registry no longer holds (or holds in another version)."""
        removed = 0
        for doc_id, version, path in self._entries():
            meta = registry.get(doc_id)
            if meta is None or meta.get("version") != version:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def doc_ids(self) -> list[str]:
        """The documents that have a table file (whatever its version)."""
        return sorted({doc_id for doc_id, _, _ in self._entries() if doc_id})

    def _entries(self):
        try:
            paths = sorted(p for p in self.folder.iterdir() if p.suffix == ".json")
        except OSError:
            return
        for path in paths:
            record = self._read(path)
            if record is not None:
                yield record.get("doc_id", ""), record.get("version", ""), path

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            cached = self._cache.get(path.name)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        with self._lock:
            self._cache[path.name] = (stamp, record)
        return record

    def documents(self, registry: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """The table records of the registered documents, in their registered version."""
        out = []
        for doc_id, version, path in self._entries():
            meta = registry.get(doc_id)
            if meta is not None and meta.get("version") == version:
                record = self._read(path)
                if record is not None:
                    out.append(record)
        return out
