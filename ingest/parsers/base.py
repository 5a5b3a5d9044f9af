"""What every parser starts from: loaded segments → cleaned (masked) text with page offsets.

Unpaged text (txt, md, html, docx) is cleaned per segment and joined with blank lines — exactly as
it always was, so the seeds and the laws corpus give the same chunks. Paged text (PDF, OFD, OCR) also
loses its page furniture and has its printed line ends joined (ingest/page_furniture.py,
ingest/line_joins.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ingest.cleaning import clean_text
from ingest.line_joins import join_pages
from ingest.page_furniture import remove_furniture
from ingest.tables import TableContext, pdf_tables

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n?", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
PAGED_FORMATS = ("pdf", "ofd")


@dataclass
class ParsedDocument:
    text: str
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (page, start, end)
    removed_lines: int = 0  # junk lines (cleaning.py)
    furniture: list[str] = field(default_factory=list)  # running headers/footers, page numbers
    line_joins: int = 0
    kind: str = "generic"
    title: str | None = None  # a title the parser read from the layout (公文 标题)
    doc_type: str | None = None  # from the 文种 of that title
    parts: list[tuple[int, str]] = field(default_factory=list)  # non-body parts (splitter `parts`)
    meta: dict[str, str] = field(default_factory=dict)  # doc_number, issuer, issued_on
    ocr_pages: dict[int, Any] = field(default_factory=dict)
    nest_items: bool = False  # splitter: numbered items stay under their parent (documents, not plain text)


def _masker(ingest_settings):
    if not ingest_settings.mask_person_names:
        return None
    from ingest.masking import NameMasker

    return NameMasker(ingest_settings.mask_placeholder, consistent=ingest_settings.mask_consistent,
                      finder_mode=ingest_settings.mask_ner)


def assemble(segments: list[tuple[str, int | None]], fmt: str, ingest_settings) -> ParsedDocument:
    masker = _masker(ingest_settings)
    if fmt in PAGED_FORMATS and any(page is not None for _, page in segments):
        return _assemble_paged(segments, masker, fmt)
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    removed = 0
    pos = 0
    cleaned_segments: list[tuple[str, int | None]] = []
    for seg_text, page in segments:
        if fmt in ("md", "markdown"):
            seg_text = _FRONT_MATTER.sub("", seg_text)
            seg_text = _HTML_COMMENT.sub("", seg_text)
        cleaned = clean_text(seg_text)
        removed += cleaned.removed_lines
        cleaned_segments.append((cleaned.text.strip("\n"), page))
    if masker is not None:
        masker.learn("\n".join(t for t, _ in cleaned_segments))  # names of the whole document first
    for text, page in cleaned_segments:
        if masker is not None:
            # masked per segment, before offsets are taken, so page numbers stay exact
            text = masker.mask(text)
        if not text.strip():
            continue
        if parts:
            pos += 2  # the "\n\n" joining segments
        if page is not None:
            pages.append((page, pos, pos + len(text)))
        parts.append(text)
        pos += len(text)
    return ParsedDocument(text="\n\n".join(parts), pages=pages, removed_lines=removed)


def _assemble_paged(segments: list[tuple[str, int | None]], masker, fmt: str) -> ParsedDocument:
    numbers: list[int | None] = []
    pages_lines: list[list[str]] = []
    removed = 0
    for seg_text, page in segments:
        # furniture first, on the raw lines: the junk cleaner would drop "— 3 —" but not the header
        numbers.append(page)
        pages_lines.append(seg_text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    furniture = remove_furniture(pages_lines)
    cleaned_pages: list[tuple[int | None, list[str]]] = []
    tables = TableContext()  # a table may go on over a page break
    for page, lines in zip(numbers, furniture.pages):
        cleaned = clean_text("\n".join(lines))
        removed += cleaned.removed_lines
        page_lines = cleaned.text.split("\n")
        if fmt in ("pdf", "ofd"):
            page_lines = pdf_tables(page_lines, tables)  # layout text: table columns are still visible
        cleaned_pages.append((page, page_lines))
    if masker is not None:
        # names are learnt from the joined text too: a name wrapped at a line end is whole there
        masker.learn(join_pages(cleaned_pages).text)
        cleaned_pages = [(page, [masker.mask_line(line) for line in lines]) for page, lines in cleaned_pages]
    joined = join_pages(cleaned_pages)
    return ParsedDocument(
        text=joined.text, pages=joined.page_ranges(), removed_lines=removed, furniture=furniture.removed,
        line_joins=joined.joins,
    )
