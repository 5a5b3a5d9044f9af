"""Tables as data: every row becomes a sentence that repeats the column headers.

"姓名：欧阳明辉，职务：市委常委、常务副市长，优秀率：61.3%。" — a question about one row is answered
from that row (the header words are in it), and a header row is never mistaken for a section label.
Used by the .docx loader (cells from the XML) and for PDF text (columns read from the layout-mode
text, where a row's cells may wrap over several printed lines).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.line_joins import normalise_line

MIN_TABLE_LINES = 3


class TableLine(str):
    """A line made from a table row: never joined to its neighbours."""


def _cell(text: str) -> str:
    return " ".join(text.split())


def looks_like_header(cells: list[str]) -> bool:
    return len(cells) >= 2 and all(0 < len(c) <= 16 and not re.search(r"\d{3,}|[。；]", c) for c in cells)


MAX_CAPTION = 30
_CAPTION_TAIL = re.compile(r"(?:如下|见下表|如表)?[:：]$")


def caption_of(line: str | None) -> str:
    """The table's caption from the line before it ("民主测评主要结果如下：" → "民主测评主要结果"): a short
    line that announces the table. Each row sentence repeats it, so a row holds the words a question
    about the table uses."""
    if not line:
        return ""
    line = line.strip().lstrip("#").strip()
    if len(line) > MAX_CAPTION or not (_CAPTION_TAIL.search(line) or line.endswith("表")):
        return ""
    return normalise_line(_CAPTION_TAIL.sub("", line))


def row_sentences(rows: list[list[str]], caption: str = "") -> list[str]:
    """Rows of cells → lines: one sentence per row when the first row is a header, else cells
    joined with ' | ' (a layout table or a one-row table has no headers to repeat)."""
    rows = [[_cell(c) for c in row] for row in rows if any(_cell(c) for c in row)]
    if len(rows) < 2 or not looks_like_header(rows[0]):
        return [" | ".join(c for c in row if c) for row in rows]
    header = rows[0]
    lead = f"{caption}，" if caption else ""
    out = []
    for row in rows[1:]:
        pairs = []
        for i, value in enumerate(row):
            if not value:
                continue
            name = header[i] if i < len(header) else ""
            pairs.append(f"{name}：{value}" if name and name != value else value)
        if pairs:
            # "，" between the cells, not "；": the answerer reads a sentence up to "；", and a row must stay
            # one sentence so the value is read with its row's name
            out.append(lead + "，".join(pairs) + "。")
    return out


@dataclass
class _Cells:
    starts: list[int]
    texts: list[str]


def _split_cells(line: str) -> _Cells:
    starts, texts = [], []
    for m in re.finditer(r"(?:\S| (?! ))+", line):
        piece = m.group(0).strip()
        if piece:
            starts.append(m.start() + (len(m.group(0)) - len(m.group(0).lstrip())))
            texts.append(piece)
    return _Cells(starts, texts)


@dataclass
class TableContext:
    """The last table of the pages read so far: a table that goes on over a page break (its header
    repeated, or not) keeps its columns and its caption."""

    head: _Cells | None = None
    caption: str = ""
    open_at_end: bool = False  # the previous page ended inside the table


def pdf_tables(lines: list[str], context: TableContext | None = None) -> list[str]:
    """Replace table blocks in layout-mode PDF lines by row sentences (TableLine); other lines unchanged.

    A table block is a run of at least MIN_TABLE_LINES lines of two or more cells (cells are separated
    by two or more spaces) that starts with a header line of short cells. A line that only continues
    cells of the row above (a wrapped cell) joins that row. With a ``context`` (one per document, pages
    in order), a table continued on the next page keeps its caption, and rows at the top of a page
    under no header of their own take the previous page's header."""
    out: list[str] = []
    i = 0
    n = len(lines)
    context = context if context is not None else TableContext()
    first = next((k for k, line in enumerate(lines) if line.strip()), n)
    if context.open_at_end and context.head is not None and first < n:
        head = context.head
        here = _split_cells(lines[first])
        if not (len(here.texts) >= 2 and looks_like_header(here.texts) and here.texts == head.texts):
            j = first
            while j < n and lines[j].strip() and _is_table_line(lines[j], head):
                j += 1
            if j > first and len(_split_cells(lines[first]).texts) >= 2:
                out.extend(lines[:first])
                out.extend(TableLine(s) for s in _rows(lines[first:j], head, context.caption))
                i = j
    context.open_at_end = False
    while i < n:
        head = _split_cells(lines[i])
        if len(head.texts) >= 2 and looks_like_header(head.texts):
            j = i + 1
            while j < n and len(_split_cells(lines[j]).texts) >= 1 and _is_table_line(lines[j], head):
                j += 1
            if j - i >= MIN_TABLE_LINES or (j - i >= 2 and j == n):
                before_lines = [x.strip() for x in out[-3:] if x.strip() and not isinstance(x, TableLine)]
                before = before_lines[-1] if before_lines else None
                if before and len(before) < 8 and len(before_lines) > 1:
                    before = before_lines[-2] + before  # "…分批次开" + "展：": the caption wrapped
                caption = caption_of(before)
                if not caption and context.head is not None and context.head.texts == head.texts:
                    caption = context.caption  # the header repeated on the next page
                out.extend(TableLine(s) for s in _rows(lines[i + 1 : j], head, caption))
                context.head, context.caption = head, caption
                context.open_at_end = all(not x.strip() for x in lines[j:])
                i = j
                continue
        out.append(lines[i])
        i += 1
    return out


def _column(start: int, end: int, head: _Cells) -> int:
    """The column whose header is nearest the cell (by position in the layout text)."""
    centre = (start + end) / 2
    best, best_d = 0, float("inf")
    for k, s in enumerate(head.starts):
        e = s + len(head.texts[k])
        d = 0 if s <= centre <= e else min(abs(centre - s), abs(centre - e))
        if d < best_d:
            best, best_d = k, d
    return best


def _is_table_line(line: str, head: _Cells) -> bool:
    cells = _split_cells(line)
    if len(cells.texts) >= 2:
        return True
    # one cell: a wrapped cell of a column other than the first, indented under its header
    return len(cells.texts) == 1 and cells.starts[0] > head.starts[0] + 4 and len(cells.texts[0]) <= 16


def _width(text: str) -> int:
    """Printed width in half-em units: a CJK character is twice as wide as a digit or Latin letter."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _rows(lines: list[str], head: _Cells, caption: str = "") -> list[str]:
    placed_lines: list[list[str]] = []
    for line in lines:
        cells = _split_cells(line)
        placed = [""] * len(head.texts)
        for start, text in zip(cells.starts, cells.texts):
            k = _column(start, start + len(text), head)
            placed[k] = placed[k] + text if placed[k] else text
        placed_lines.append(placed)
    # a column's full width: its widest cell on one printed line (a cell that long may wrap). A column
    # whose cells are all as wide (names, fixed formats) shows nothing wraps in it: no full width.
    full = []
    for k in range(len(head.texts)):
        widths = [_width(p[k]) for p in placed_lines if p[k]]
        full.append(max(widths) if widths and min(widths) < 0.8 * max(widths) else 10**6)
    rows: list[list[str]] = []
    row_filled = 0
    previous: list[str] = []
    for placed in placed_lines:
        filled = sum(1 for c in placed if c)
        if rows and (not placed[0] or _continues(placed, previous, full, filled, row_filled)):
            rows[-1] = [a + b for a, b in zip(rows[-1], placed)]
        else:
            rows.append(placed)
            row_filled = filled
        previous = placed
    rows = [[normalise_line(c) for c in row] for row in rows]
    return row_sentences([head.texts] + rows, caption)


def _continues(placed: list[str], previous: list[str], full: list[int], filled: int, row_filled: int) -> bool:
    """A printed line goes on with the row above when it fills fewer cells than the row's first line
    did and every cell it fills continues a cell of the line above that reached its column's full
    width (a wrapped cell). A short row of its own (an empty 备注) does not: the cells above it are
    not full, or its column has no full width."""
    if filled >= row_filled:
        return False
    return all(not cell or (previous[k] and _width(previous[k]) >= 0.8 * full[k]) for k, cell in enumerate(placed))
