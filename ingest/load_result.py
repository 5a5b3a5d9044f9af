"""What reading one file gives: a :class:`LoadedDocument` of text :class:`Segment` s, or a :class:`LoadError`.

The loaders (``ingest/loaders.py``) and the OCR reader (``ingest/ocr.py``) both make these; they live
below both so neither imports the other's module for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Segment:
    text: str
    page: int | None = None  # 1-based page number for paged formats (PDF, OFD), else None


@dataclass
class LoadedDocument:
    path: Path
    format: str  # "txt" | "md" | "html" | "docx" | "pdf" | "doc" | "wps" | "ofd" | "xlsx" | "xls" | "et" | "csv"
    segments: list[Segment] = field(default_factory=list)  # in reading order
    title_hint: str | None = None
    encoding: str | None = None  # for text formats
    # pages to check (ingest/ocr.py): page → {"confidence", "low_lines", "missed", "low", and "unread"
    # for a page whose text is missing}
    ocr_pages: dict[int, dict[str, Any]] = field(default_factory=dict)
    # spreadsheets: each sheet's table (ingest/spreadsheets.SheetTable) — one chunk per record, and the
    # cells kept for questions over the whole table
    tables: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(segment.text for segment in self.segments)


class LoadError(Exception):
    """A file that cannot be turned into text; ``str(e) == f"{path}: {reason}"``."""

    def __init__(self, path: Any, reason: str):
        # Both values go to Exception.args so the error survives pickling between worker processes.
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"
