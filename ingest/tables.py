"""Tables as data: every row becomes a sentence that repeats the column headers.

"姓名：欧阳明辉，职务：市委常委、常务副市长，优秀率：61.3%。" — a question about one row is answered
from that row (the header words are in it), and a header row is never mistaken for a section label.
Used by the .docx loader (cells from the XML) and for PDF, OFD and OCR text (columns read from the
layout-mode text, where a row's cells may wrap over several printed lines). Two readers of layout text:
a table whose first column numbers the rows (序号) starts a row exactly at each number and takes every
other line as wrapped cells of the line above, or the table has ended; any other table joins a line to
the row above when it only continues cells that reached their column's width.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.line_joins import TableLine, normalise_line

MIN_TABLE_LINES = 3


def _cell(text: str) -> str:
    return " ".join(text.split())


# a header cell names a column; a value cell holds a number. "2024年基数" is a header (a year), "1234" and
# "61.3%" are values
_VALUE_IN_CELL = re.compile(r"\d{3,}(?![\d.]*年)|[。；]|^[\d.,%％]+$")


def looks_like_header(cells: list[str]) -> bool:
    return len(cells) >= 2 and all(0 < len(c) <= 16 and not _VALUE_IN_CELL.search(c) for c in cells)


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
    header_keys: tuple[str, ...] = ()  # the header's printed lines without spaces: a repeat is known by them
    numbered: bool = False  # the first column numbers the rows (序号)
    full: list[int] | None = None  # each column's widest printed cell, for telling a wrapped cell
    # the last row read of a numbered table open at the page's end: (the page's output lines, the row's
    # index there, its cells, the last printed cell of each column), so a row the page break cut is completed
    tail: tuple[list, int, list[str], list[str]] | None = None


# a row number in a 序号 column: 1, 12, 一, ①
_ROW_NUMBER = re.compile(r"^(?:\d{1,3}|[一二三四五六七八九十]{1,3}|[\u2460-\u2473])[.、．]?$")
# a single space the layout text put where two cells meet: after a row number ("9 建立…"), or between two
# CJK characters or punctuation marks ("收录案例 收录案例不", "山洪危险 （市、县）") — Chinese text in one
# cell has no space between two characters
_CJK = "\u4e00-\u9fff\u3000-\u303f\uff01-\uff60"  # characters and full-width punctuation
_CELL_GAP = re.compile(rf"(?<=^\d) (?=\S)|(?<=^\d\d) (?=\S)|(?<=[{_CJK}]) (?=[{_CJK}])")
_MAX_HEADER_WRAP = 6  # the most characters a wrapped header line holds under one column ("号", "数")


def _key(line: str) -> str:
    return "".join(line.split())


def _table_cells(line: str) -> _Cells:
    """Cells of a line inside a table: the layout text's cell gaps, and the single spaces of _CELL_GAP."""
    cells = _split_cells(line)
    starts, texts = [], []
    for start, text in zip(cells.starts, cells.texts):
        offset = 0
        for piece in _CELL_GAP.split(text):
            starts.append(start + offset)
            texts.append(piece)
            offset += len(piece) + 1
    return _Cells(starts, texts)


def _header_wraps(lines: list[str], i: int, head: _Cells) -> int:
    """How many lines after the header line ``i`` are its wrapped header cells ("序/号", "2024年基/数"):
    lines of fewer, short cells with no value in them, up to a numbered table's first row; in a table
    without numbers, under at most half the header's cells (a first row with an empty cell fills
    more) and followed by a line that fills more columns."""
    def wrapped(cells: _Cells) -> bool:
        return 1 <= len(cells.texts) < len(head.texts) and all(
            len(c) <= _MAX_HEADER_WRAP and not _VALUE_IN_CELL.search(c) and not _ROW_NUMBER.match(c)
            for c in cells.texts)

    j = i + 1
    while j < len(lines) and j - i <= 3 and wrapped(_split_cells(lines[j])):
        j += 1
    if j > i + 1 and j < len(lines) and _starts_numbered_row(lines[j], len(head.texts)):
        return j - i - 1
    j = i + 1
    while j + 1 < len(lines):
        cells = _split_cells(lines[j])
        nxt = _split_cells(lines[j + 1])
        if not (wrapped(cells) and len(cells.texts) <= len(head.texts) / 2 and len(nxt.texts) > len(cells.texts)):
            break
        j += 1
    return j - i - 1


def _merged_header(lines: list[str], head: _Cells) -> _Cells:
    texts = list(head.texts)
    for line in lines:
        cells = _split_cells(line)
        for start, text in zip(cells.starts, cells.texts):
            k = max((k for k, s in enumerate(head.starts) if s <= start + 2), default=0)
            texts[k] += text
    return _Cells(list(head.starts), texts)


def pdf_tables(lines: list[str], context: TableContext | None = None) -> list[str]:
    """Replace table blocks in layout-mode PDF lines by row sentences (TableLine); other lines unchanged.

    A table block is a run of at least MIN_TABLE_LINES lines of two or more cells (cells are separated
    by two or more spaces) that starts with a header line of short cells; header cells wrapped onto a
    second printed line are joined ("序" + "号"). A line that only continues cells of the row above (a
    wrapped cell) joins that row. With a ``context`` (one per document, pages in order), a table
    continued on the next page keeps its caption and its header; a header repeated at the top of the
    next page is known as the same header and read as no row."""
    out: list[str] = []
    i = 0
    n = len(lines)
    context = context if context is not None else TableContext()
    first = next((k for k, line in enumerate(lines) if line.strip()), n)
    if context.open_at_end and context.head is not None and first < n:
        head = context.head
        start = first
        keys = context.header_keys
        if keys and _key(lines[first]) == keys[0]:
            start = first + 1  # the header repeated on this page: skip it and its wrapped lines
            for key in keys[1:]:
                if start < n and _key(lines[start]) == key:
                    start += 1
        if context.numbered:
            above = context.tail[3] if context.tail else None
            j = _numbered_end(lines, start, len(head.texts), context.full or [], above, lines[first:start])
            if j > start:
                out.extend(lines[:first])
                _numbered_rows(lines[start:j], head, context, out, lines[first:start])
                i = j
        elif start == first:
            j = first
            while j < n and lines[j].strip() and _is_table_line(lines[j], head):
                j += 1
            if j > first and len(_split_cells(lines[first]).texts) >= 2:
                out.extend(lines[:first])
                out.extend(TableLine(s) for s in _rows(lines[first:j], head, context.caption))
                i = j
    # a table read on from the previous page that fills this page too goes on to the next one
    still_open = i > 0 and all(not x.strip() for x in lines[i:])
    context.open_at_end = still_open
    if not (still_open and context.numbered):
        context.tail = None
    while i < n:
        head = _split_cells(lines[i])
        if len(head.texts) >= 2 and looks_like_header(head.texts):
            wraps = _header_wraps(lines, i, head)
            body = i + 1 + wraps
            merged = _merged_header(lines[i + 1 : body], head)
            numbered = _numbered_start(lines, body, len(head.texts))
            if numbered:
                j = _numbered_end(lines, body, len(head.texts), None, header_above=True)
            else:
                j = body
                while j < n and len(_split_cells(lines[j]).texts) >= 1 and (
                        _is_table_line(lines[j], head) or _first_cell_wraps(lines, body, j)):
                    j += 1
            if j - i >= MIN_TABLE_LINES or (j - body >= 1 and j == n):
                before_lines = [x.strip() for x in out[-3:] if x.strip() and not isinstance(x, TableLine)]
                before = before_lines[-1] if before_lines else None
                if before and len(before) < 8 and len(before_lines) > 1:
                    before = before_lines[-2] + before  # "…分批次开" + "展：": the caption wrapped
                caption = caption_of(before)
                if not caption and context.head is not None and context.head.texts == merged.texts:
                    caption = context.caption  # the header repeated on the next page
                context.head, context.caption, context.numbered = merged, caption, numbered
                context.header_keys = tuple(_key(x) for x in lines[i:body])
                context.full = None
                if numbered:
                    _numbered_rows(lines[body:j], merged, context, out, header_above=True)
                else:
                    out.extend(TableLine(s) for s in _rows(lines[body:j], merged, caption))
                context.open_at_end = all(not x.strip() for x in lines[j:])
                if not context.open_at_end:
                    context.tail = None
                i = j
                continue
        out.append(lines[i])
        i += 1
    return out


# --- tables whose first column numbers the rows (序号) ------------------------------------------------
# A row starts exactly where a number stands in the first column; every other line of the block must
# continue a wrapped cell of the line above. The columns are placed by where the rows' cells start
# (left-aligned), not by the header's (often centred) words.


def _numbered_start(lines: list[str], body: int, columns: int) -> bool:
    """Does the table whose rows begin at ``body`` number its rows? Its first number stands within
    the first lines (below the first lines of long cells when the cells are centred vertically)."""
    seen = 0
    for line in lines[body:]:
        if not line.strip():
            continue
        if _starts_numbered_row(line, columns):
            # further down only as the second row's number (2, 二): the first row's was lost by OCR
            return seen <= _NUMBER_BELOW or _number_value(_table_cells(line).texts[0]) == 2
        seen += 1
        if seen > 3 * _NUMBER_BELOW or len(_table_cells(line).texts) > columns:
            return False
    return False


def _starts_numbered_row(line: str, columns: int) -> bool:
    """A line with a row number in the first column: with the row's other cells, or alone (a centred
    number printed on a baseline of its own, between the lines of the row's long cells)."""
    cells = _table_cells(line)
    return (1 <= len(cells.texts) <= columns + 1 and bool(_ROW_NUMBER.match(cells.texts[0]))
            and (len(cells.texts) >= 2 or cells.starts[0] <= 2))


def _column_starts(lines: list[str], columns: int) -> list[int] | None:
    """Where each column's cells start: the leftmost start over the lines that fill every column. When
    no line does (cells centred vertically print the number on a baseline of its own), the numbers
    give the first column and the lines filling all the other columns give the rest."""
    cells = list(map(_table_cells, lines))
    starts = [c.starts for c in cells if len(c.texts) == columns]
    if starts:
        return [min(s[k] for s in starts) for k in range(columns)]
    numbers = [c.starts[0] for c in cells if c.texts and _ROW_NUMBER.match(c.texts[0])]
    others = [c.starts for c in cells if len(c.texts) == columns - 1 and not _ROW_NUMBER.match(c.texts[0])]
    if columns < 3 or not numbers or not others:
        return None
    return [min(numbers)] + [min(s[k] for s in others) for k in range(columns - 1)]


def _place(line: str, starts: list[int], full: list[int] | None = None) -> list[str]:
    """A printed line's cells by column: a cell belongs to the column whose rows start nearest to it
    (converters and OCR place a cell a character or two off; a wrapped cell's last word may be
    centred). A cell running past the next column's start while that column is empty on this line held
    two cells the layout text printed as one ("占比 21.4%占比达到"): it is cut where the column's widest
    cell (``full``, from the table's earlier pages) would end, else at a space near the next start, or
    there."""
    cells = _table_cells(line)
    placed = [""] * len(starts)

    def nearest(start: int) -> int:
        return min(range(len(starts)), key=lambda k: (abs(start - starts[k]), k))

    pieces = list(zip(cells.starts, cells.texts))
    while pieces:
        start, text = pieces.pop(0)
        k = nearest(start)
        if placed[k] and k + 1 < len(starts) and not placed[k + 1] and start >= (starts[k] + starts[k + 1]) / 2:
            k += 1  # a second cell in a column, past its middle, with the next column empty
        nxt = starts[k + 1] if k + 1 < len(starts) else None
        taken = nxt is None or placed[k + 1] or any(nearest(s) == k + 1 for s, _ in pieces)
        # a cell no wider than its column's widest is one cell, wherever its layout position puts its end
        fits_column = bool(full) and 0 < full[k] and _width(text.replace(" ", "")) <= full[k]
        if not taken and not fits_column and start + len(text) > nxt + 1:
            cut = nxt - start
            spaces = [m.start() for m in re.finditer(" ", text) if abs(m.start() - cut) <= 3]
            fits = [c for c in range(1, len(text)) if _width(text[:c].replace(" ", "")) <= (full[k] if full else 0)]
            if fits:
                cut = max(fits)  # a wrapped cell's line is as wide as its column allows
            elif spaces:
                cut = min(spaces, key=lambda x: abs(x - cut))
            if 0 < cut < len(text):
                head_part, rest = text[:cut].rstrip(), text[cut:].lstrip()
                pieces.insert(0, (start + len(text) - len(rest), rest))
                text = head_part
        placed[k] = placed[k] + text if placed[k] else text
    return placed


_FIRST_TOKEN = re.compile(r"^(?:[0-9A-Za-z.%％‰]+|.)")


def _wrapped_from(above: str, cell: str, full: int) -> bool:
    """``cell`` goes on with ``above`` when ``above`` was cut at its column's width: it and the first
    word of ``cell`` (a number does not break) would not have fitted on one line."""
    token = _FIRST_TOKEN.match(cell)
    return bool(above) and _width(above) + _width(token.group(0) if token else cell) >= 0.8 * full


_MAX_BLANKS_IN_TABLE = 2  # blank lines a converter prints between two rows of one table (cell padding)
_NUMBER_BELOW = 3  # lines a vertically centred row prints above its number


def _numbered_block(lines: list[str], start: int, columns: int) -> list[int]:
    """Indices of the candidate lines of a numbered table from ``start``: lines of at most ``columns``
    cells, blank lines between them allowed (padding between rows); the rows decide where it ends."""
    block: list[int] = []
    j, blanks = start, 0
    while j < len(lines):
        if not lines[j].strip():
            blanks += 1
            if blanks > _MAX_BLANKS_IN_TABLE:
                break
            j += 1
            continue
        cells = _table_cells(lines[j])
        if not (_starts_numbered_row(lines[j], columns) or len(cells.texts) <= columns):
            break
        block.append(j)
        blanks = 0
        j += 1
    return block


_CN_DIGITS = "零一二三四五六七八九"


def _number_value(text: str) -> int | None:
    """1, 一, 十二, ⑤ → their value (None for anything else)."""
    text = text.rstrip(".、．")
    if text.isdigit():
        return int(text)
    if len(text) == 1 and "\u2460" <= text <= "\u2473":
        return ord(text) - 0x2460 + 1
    if text and all(ch in _CN_DIGITS + "十" for ch in text):
        if "十" not in text:
            return _CN_DIGITS.index(text) if len(text) == 1 else None
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.index(tens) if tens else 1) * 10 + (_CN_DIGITS.index(ones) if ones else 0)
    return None


def _number_text(value: int, like: str) -> str:
    """``value`` written as ``like`` is (一 for 二, 1 for 2, ① for ②)."""
    if like.isdigit():
        return str(value)
    if "\u2460" <= like[:1] <= "\u2473":
        return chr(0x2460 + value - 1)
    if value < 10:
        return _CN_DIGITS[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def _is_number(cells: list[str]) -> bool:
    return bool(cells[0]) and bool(_ROW_NUMBER.match(cells[0]))


def _segment(placed: list[list[str] | None], widths: list[int], above: list[str] | None,
             header_above: bool = False) -> tuple[list[tuple[list[int], str]], int]:
    """A numbered table's printed lines (None: a blank line) → its rows as lists of line indices, and
    the number of lines the table takes (the text after it is no row).

    Each row holds one number in the first column. A line goes on with the row above when every cell
    it fills either opens that column in the row or continues that column's last printed cell in the
    row, which reached its column's width (a wrapped cell; cells centred vertically print their lines
    on baselines of their own, so the line just above may hold other columns). A number starts a new
    row — unless the row above has no number yet: centred cells print the number in the middle of its
    row, below the first lines of the row's long cells. A line that goes on with nothing starts a row
    only when its number follows within _NUMBER_BELOW lines; otherwise the table has ended. ``above``:
    the last printed cell of each column of the previous page's last row (row index 0 of the result
    then collects the lines that go on with it)."""
    columns = len(widths)
    rows: list[list[int]] = []
    numbered: list[bool] = []
    lasts: list[list[str]] = []  # per row: the last printed cell of each column
    above_number: list[int] = []  # per row: lines printed above its number (centred cells)
    below_number: list[int] = []
    if above is not None:
        rows.append([])
        numbered.append(True)
        lasts.append(list(above))
        above_number.append(0)
        below_number.append(0)
    end = 0
    blank = False
    first_line = next((m for m, p in enumerate(placed) if p is not None), 0)

    def goes_on(cells: list[str], last: list[str], after_blank: bool = False) -> bool:
        if after_blank:
            return False  # a cell does not wrap over a blank line: padding parts two rows
        return all(not c or not last[k] or _wrapped_from(last[k], c, widths[k])
                   for k, c in enumerate(cells) if k or not _is_number(cells))

    def take(last: list[str], cells: list[str]) -> None:
        for k, c in enumerate(cells):
            if c:
                last[k] = c

    def number_follows(m: int) -> str | None:
        """The number of the row line ``m`` would open, when it follows within _NUMBER_BELOW lines."""
        last = [""] * columns
        take(last, placed[m])
        for n in range(m + 1, min(len(placed), m + 1 + _NUMBER_BELOW)):
            cells = placed[n]
            if cells is None or not goes_on(cells, last):
                return None
            if _is_number(cells):
                return cells[0]
            take(last, cells)
        return None

    def lost_number(current: int | None, following: str | None) -> str | None:
        """The number OCR lost of the unnumbered row ``current``, when the row that follows it has the
        number after the one before it (一 … 三 with 二 missing; a table's first row before 二)."""
        if current is None or numbered[current] or following is None:
            return None
        value = _number_value(following)
        before = [_number_value(numbers[r]) for r in range(current) if numbers[r]]
        expected = (before[-1] + 1) if before and before[-1] is not None else (1 if above is None else None)
        if value is None or expected is None or value != expected + 1:
            return None
        return _number_text(expected, following)

    numbers: list[str] = [""] * len(rows)  # per row: its number, read or inferred
    inferred: dict[int, str] = {}

    def new_row(m: int, has_number: bool) -> None:
        rows.append([m])
        numbers.append(placed[m][0] if has_number else "")
        numbered.append(has_number)
        lasts.append([""] * columns)
        above_number.append(0 if has_number else 1)
        below_number.append(0)

    for m, cells in enumerate(placed):
        if cells is None:
            blank = True
            continue
        current = len(rows) - 1 if rows else None
        on = current is not None and goes_on(cells, lasts[current], blank)
        # a centred row has printed as many lines below its number as above it: a line that could wrap
        # its last cell but opens a row whose number follows opens that row
        centred_done = (current is not None and numbered[current] and above_number[current] > 0
                        and below_number[current] >= above_number[current])
        if _is_number(cells) and current is not None and not numbered[current] and on:
            numbered[current] = True  # the number of a row centred around it
            numbers[current] = cells[0]
            rows[current].append(m)
        elif _is_number(cells):
            new_row(m, True)
        elif on and not cells[0] and not (centred_done and number_follows(m)):
            rows[current].append(m)
            if numbered[current]:
                below_number[current] += 1
            else:
                above_number[current] += 1
        elif not cells[0] and (current is None or numbered[current]) and number_follows(m):
            new_row(m, False)
        elif not cells[0] and (lost := lost_number(current, number_follows(m))):
            numbered[current], numbers[current] = True, lost  # the row before had its number lost
            inferred[current] = lost
            end = m
            new_row(m, False)
        elif not cells[0] and current is None and m == first_line and header_above:
            new_row(m, False)  # a first row right under the header whose number may be lost
        else:
            break
        take(lasts[-1], cells)
        blank = False
        if numbered[-1]:
            end = m + 1
    complete = [(r, inferred.get(i, "")) for i, (r, ok) in enumerate(zip(rows, numbered)) if ok]
    return complete, end


def _last_cells(placed: list[list[str] | None], row: list[int], columns: int) -> list[str]:
    last = [""] * columns
    for m in row:
        for k, c in enumerate(placed[m] or []):
            if c:
                last[k] = c
    return last


def _numbered_end(lines: list[str], start: int, columns: int, full: list[int] | None,
                  above: list[str] | None = None, header: list[str] = (), header_above: bool = False) -> int:
    """Where a numbered table's block ends (see _segment). ``above``: the cells of the last printed
    line of the previous page's last row, which lines at the top of this page may go on with (the page
    break cut the row); ``header``: this page's repeated header lines, where the columns start when no
    full row does."""
    block = _numbered_block(lines, start, columns)
    texts = [lines[j] for j in block]
    starts = _column_starts(texts, columns) or _column_starts(list(header), columns)
    if starts is None:
        return start
    placed = _placed_lines(lines, block, starts, full)
    _, end = _segment(placed, _full_widths([p for p in placed if p], full), above, header_above)
    return block[0] + end if end else start  # placed[0] is the block's first line


def _placed_lines(lines: list[str], block: list[int], starts: list[int], full: list[int] | None
                  ) -> list[list[str] | None]:
    if not block:
        return []
    span = range(block[0], block[-1] + 1)
    # twice: the first placing measures each column's widest cell, which the second uses to tell a
    # cell that fits its column from two cells printed as one
    first = [_place(lines[j], starts, full) if lines[j].strip() else None for j in span]
    widths = _full_widths([p for p in first if p], full)
    return [_place(lines[j], starts, widths) if lines[j].strip() else None for j in span]


def _full_widths(placed: list[list[str]], known: list[int] | None) -> list[int]:
    """Each column's widest printed cell: over the table's earlier pages (``known``) and the lines that
    fill every column (a row's first line; a line of text after the table never does)."""
    columns = len(placed[0]) if placed else len(known or [])
    # no line fills every column where cells are centred vertically: then the lines filling all but one
    filled = [p for p in placed if all(p)] or [p for p in placed if sum(1 for c in p if c) >= columns - 1]
    widths = []
    for k in range(columns):
        seen = [_width(p[k]) for p in filled if p[k]]
        if known and k < len(known):
            seen.append(known[k])
        widths.append(max(seen, default=0))
    return widths


def _numbered_rows(lines: list[str], head: _Cells, context: TableContext, out: list[str],
                   header: list[str] = (), header_above: bool = False) -> None:
    """The block's rows as sentences appended to ``out``. Lines before its first numbered row go on
    with the previous page's last row (``context.tail``), whose sentence is rewritten where it stands:
    the row is cited at the page it starts on."""
    columns = len(head.texts)
    texts = [line for line in lines if line.strip()]
    starts = _column_starts(texts, columns) or _column_starts(list(header), columns) or list(head.starts)
    first = [_place(line, starts, context.full) if line.strip() else None for line in lines]
    widths = _full_widths([p for p in first if p], context.full)
    placed = [_place(line, starts, widths) if line.strip() else None for line in lines]
    context.full = _full_widths([p for p in placed if p], context.full)
    above = context.tail[3] if context.tail is not None else None
    segmented, _ = _segment(placed, context.full, above, header_above)
    if context.tail is not None:
        page_out, index, cells, _ = context.tail
        if segmented:
            for m in segmented.pop(0)[0]:
                cells = [a + b for a, b in zip(cells, placed[m])]
            page_out[index] = TableLine(_row_sentence(head, cells, context.caption))
    merged: list[list[str]] = []
    for row, lost in segmented:
        cells = [lost] + [""] * (columns - 1)  # a number OCR lost, told by the numbers around it
        for m in row:
            cells = [a + b for a, b in zip(cells, placed[m])]
        merged.append(cells)
        out.append(TableLine(_row_sentence(head, cells, context.caption)))
    last_row = segmented[-1][0] if segmented else None
    context.tail = (out, len(out) - 1, merged[-1], _last_cells(placed, last_row, columns)) if segmented else None


def _row_sentence(head: _Cells, cells: list[str], caption: str) -> str:
    return row_sentences([head.texts, [normalise_line(c) for c in cells]], caption)[0]


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


def _first_cell_wraps(lines: list[str], body: int, j: int) -> bool:
    """A line of one short cell under the first cell of the row line above it, which was as wide as
    the widest first cell of the table so far: that cell wrapped ("市防汛抗旱指挥部办公室" / "值班室").
    A line of text after the table follows a wrapped line, or a first cell that is not full."""
    if j == body:
        return False
    here, above = _split_cells(lines[j]), _split_cells(lines[j - 1])
    if len(here.texts) != 1 or len(above.texts) < 2 or len(here.texts[0]) > 16:
        return False
    if abs(here.starts[0] - above.starts[0]) > 3:
        return False
    firsts = [c.texts[0] for c in map(_split_cells, lines[body:j]) if len(c.texts) >= 2]
    return _width(above.texts[0]) >= 0.8 * max(_width(t) for t in firsts)


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
