"""Where a quote stands in its document: character offsets in the stored document text, and pages.

The store keeps one cleaned text per document version (kb/storage/store.py, ``<prefix>_texts``) and
every chunk of that version is ``text[chunk.start:chunk.end]``. A citation's quote is taken from a
chunk, so its offsets are the chunk's start plus the quote's place in the chunk — but they are only
given after checking them against the document text itself: ``text[start:end] == quote``, or no
offsets at all (a quote that is not a verbatim span of its document has none; never a wrong one).

Used by the verifier when a citation is made (kb/citations/verify.py ``CitationVerifier.cite``), so
``kb ask --json``, the OpenAI-compatible API, MCP and the web app all carry the same offsets.
"""
from __future__ import annotations

from dataclasses import dataclass

from kb.models import Chunk


@dataclass(frozen=True)
class QuoteSpan:
    """A quote's place: ``document_text[start:end] == quote``; `page` the page it starts on and
    `pages` [first page, last page] of the quote (None for a document without pages)."""

    start: int
    end: int
    page: int | None
    pages: list[int] | None


def _occurrence(document_text: str, quote: str, chunk: Chunk, at: int | None) -> int:
    """The offset in the document of the occurrence of `quote` this chunk's quote is, or -1."""
    n = len(quote)
    candidates = []
    if at is not None and at >= 0:
        candidates.append(chunk.start + at)  # where the caller took it from
    found = chunk.text.find(quote)
    if found >= 0:
        candidates.append(chunk.start + found)
    for start in candidates:
        if 0 <= start and document_text[start : start + n] == quote:
            return start
    # not where the chunk says (a chunk that does not match its stored text): the nearest occurrence
    # of the quote in the document, if there is one
    after = document_text.find(quote, max(0, chunk.start - n + 1))
    before = document_text.rfind(quote, 0, max(0, chunk.start))
    if after < 0:
        return before
    if before < 0:
        return after
    return after if after - chunk.start <= chunk.start - before else before


def page_span(chunk: Chunk, start: int, end: int) -> tuple[int | None, list[int] | None]:
    """(page the span starts on, [first page, last page]) for a span of the document inside `chunk`;
    (None, None) for a document without pages. A span outside the chunk gets the chunk's pages
    only for what the chunk knows: its page, and no span."""
    if chunk.page is None:
        return None, None
    if not chunk.start <= start < max(chunk.end, chunk.start + 1):
        return chunk.page, None
    first = chunk.page_at(start)
    last = chunk.page_at(max(start, end - 1))
    return first, [first, max(first, last)]


def locate_quote(quote: str, chunk: Chunk, document_text: str | None, at: int | None = None) -> QuoteSpan | None:
    """The quote's offsets and pages in `document_text` (the stored text of the chunk's document
    version), or None when the quote is empty or not a verbatim span of that text. `at`: the quote's
    offset in the chunk's text when the caller knows it (a sentence said twice in one chunk)."""
    if not quote or not quote.strip() or document_text is None:
        return None
    start = _occurrence(document_text, quote, chunk, at)
    if start < 0:
        return None
    end = start + len(quote)
    if document_text[start:end] != quote:  # never a wrong offset
        return None
    page, pages = page_span(chunk, start, end)
    return QuoteSpan(start=start, end=end, page=page, pages=pages)


def offsets_hold(document_text: str | None, start: int | None, end: int | None, quote: str) -> bool:
    """Do the offsets reproduce the quote exactly?"""
    return (document_text is not None and isinstance(start, int) and isinstance(end, int)
            and 0 <= start <= end and document_text[start:end] == quote)
