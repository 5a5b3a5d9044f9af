"""Printed lines back into paragraphs, for text that keeps its line ends (PDF, OFD, OCR).

A PDF line end is where the paper ran out, not where a sentence ends. A line is joined to the next
when it is *full* (reaches the typical width of the document's full lines: the text ran on) and the
next line does not open a heading, article or list item. A short line — a paragraph's last line,
a title, a table cell, a signature — keeps its line end. Pages are joined the same way, so a
sentence that runs onto the next page becomes one sentence; the result records where each page
starts, so a chunk and a quote can name the page they start on.

Chinese needs no space at a join; two Latin letters/digits get one. Spaces that PDF text extraction
puts between a digit and a Chinese character ("2024 年3 月") are removed: Chinese print has none.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ingest.rules import any_match, rules

SENTENCE_END = "。！？；!?;：:"
_CJK = "\u4e00-\u9fff\u3000-\u303f\uff00-\uffef"
_DIGIT_SPACE = re.compile(rf"(?<=[0-9])[ \t]+(?=[{_CJK}])|(?<=[{_CJK}])[ \t]+(?=[0-9])")


class TableLine(str):
    """A line made from a table row (ingest/tables.py): never joined to its neighbours."""


@dataclass
class PagedText:
    text: str
    page_starts: list[tuple[int, int]] = field(default_factory=list)  # (offset, page), ascending
    joins: int = 0  # line ends removed

    def page_ranges(self) -> list[tuple[int, int, int]]:
        """[(page, start, end)] as the splitter takes them."""
        out = []
        for i, (offset, page) in enumerate(self.page_starts):
            end = self.page_starts[i + 1][0] if i + 1 < len(self.page_starts) else len(self.text)
            out.append((page, offset, end))
        return out


def display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def normalise_line(line: str) -> str:
    return _DIGIT_SPACE.sub("", line.strip())


def _full_width(lines: list[str]) -> float:
    """The width of a full line: a high percentile of the widths of the document's longer lines."""
    widths = sorted(display_width(line) for line in lines if len(line) >= 8)
    if len(widths) < 3:
        return float("inf")  # too little text to tell full lines from short ones: join nothing
    return widths[int(0.8 * (len(widths) - 1))]


_CLOSED = SENTENCE_END + "，,、”’\"')）》」』】"


def _runs_on(line: str, full: float, open_full: float) -> bool:
    width = display_width(line)
    return width >= full or (width >= open_full and line[-1] not in _CLOSED)


def _separator(prev: str, nxt: str) -> str:
    if prev and nxt and prev[-1].isascii() and prev[-1].isalnum() and nxt[0].isascii() and nxt[0].isalnum():
        return " "
    return ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _squeezed(line: str) -> str:
    # layout-mode text pads justified lines with runs of spaces; width is measured without them
    return re.sub(r" {2,}", " ", line.strip())


def join_pages(pages: list[tuple[int | None, list[str]]]) -> PagedText:
    """Join the lines of `pages` ([(page number, lines)]) into paragraphs separated by "\n".

    Lines may keep their leading spaces (PDF layout-mode text): a line indented past the page's left
    margin opens a paragraph (the first-line indent of Chinese print), as does a centred title.
    A table row (a TableLine, made by ingest/tables.py) is never joined to a neighbour."""
    r = rules()
    raw = [_squeezed(line) for _, lines in pages for line in lines if line.strip() and not isinstance(line, TableLine)]
    typical = _full_width(raw)
    full, open_full = typical * r.full_width_share, typical * r.open_width_share
    text_parts: list[str] = []
    page_starts: list[tuple[int, int]] = []
    pos = 0
    prev_raw: str | None = None
    prev_table = False
    joins = 0
    for page, lines in pages:
        body = [_indent(line) for line in lines if line.strip() and not isinstance(line, TableLine)]
        margin = min(body) if body else 0
        first = True
        for raw_line in lines:
            if not raw_line.strip():
                continue
            table = isinstance(raw_line, TableLine)
            line = normalise_line(raw_line)
            indented = not table and _indent(raw_line) - margin >= 2
            if prev_raw is None:
                sep = ""
            elif (
                not table and not prev_table and not indented
                and _runs_on(prev_raw, full, open_full) and not any_match(r.break_before, line)
            ):
                sep = _separator(text_parts[-1], line)
                joins += 1
            else:
                sep = "\n"
            text_parts.append(sep)
            pos += len(sep)
            if first and page is not None:
                page_starts.append((pos, page))
                first = False
            text_parts.append(line)
            pos += len(line)
            prev_raw = _squeezed(raw_line)
            prev_table = table
    return PagedText("".join(text_parts), page_starts, joins)
