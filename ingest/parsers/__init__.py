"""One parser per document kind, all built on the shared loaders, line joiner and splitter.

    web      scraped web pages (.html, and the text of saved pages): junk-line cleaning
    law      laws and regulations (第X条 articles)
    gongwen  公文 (GB/T 9704): 版头 metadata, title, 落款 and 版记 kept out of the body
    report   reports and 通报
    generic  anything else

The kind is detected from the text (or follows ``--type``: a 公文 layout is still read as a 公文);
every parser starts from :func:`ingest.parsers.base.assemble`, so a rule for one kind (the 公文
版记) cannot change how another kind (the seeds' junk cleaning, the laws' article labels) is read.
"""
from __future__ import annotations

from ingest.parsers import gongwen, law, report, web  # noqa: F401  (web: a kind with no rules of its own yet)
from ingest.parsers.base import ParsedDocument, assemble

__all__ = ["KINDS", "DOCUMENT_FORMATS", "ParsedDocument", "detect_kind", "parse"]

KINDS = ("web", "law", "gongwen", "report", "generic")
DOCUMENT_FORMATS = ("docx", "doc", "wps", "pdf", "ofd")


def detect_kind(fmt: str, text: str, title: str, doc_type: str | None) -> str:
    # Markdown is the laws corpus' format (a law's 印发通知 header is no 公文 layout to rebuild)
    if fmt not in ("md", "markdown", "html") and gongwen.detect(text):
        return "gongwen"
    if fmt == "html":
        return "web"
    if law.detect(text, title):
        return "law"
    if doc_type == "report" or report.detect(title):
        return "report"
    return "generic"


def parse(segments, fmt: str, doc_id: str, title_hint: str | None, doc_type: str | None, ingest_settings,
          ocr_pages: dict | None = None) -> ParsedDocument:
    """Assemble the loaded segments and give them to the parser of their kind."""
    parsed = assemble(segments, fmt, ingest_settings)
    # a misread page number ("-3一") is removed as page furniture: it is no line a person must check
    gone = {"".join(line.split()) for line in parsed.furniture}
    parsed.ocr_pages = {}
    for page, info in (ocr_pages or {}).items():
        low = [line for line in info.get("low_lines", []) if "".join(line.split()) not in gone]
        parsed.ocr_pages[page] = dict(info, low_lines=low, low=bool(low) or bool(info.get("below")) or bool(info.get("missed")) or bool(info.get("unread")))
    kind = detect_kind(fmt, parsed.text, title_hint or "", doc_type)
    parsed.kind = kind
    # documents as users have them nest their numbered items; plain text (the seeds' scraped pages,
    # the laws Markdown) keeps the splitting the answerer's calibration was fitted on
    parsed.nest_items = fmt in DOCUMENT_FORMATS
    if kind == "gongwen":
        gongwen.parse(parsed)
    elif kind == "report" and fmt in DOCUMENT_FORMATS:
        report.parse(parsed)
    return parsed
