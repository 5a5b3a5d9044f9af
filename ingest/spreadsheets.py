"""Spreadsheets (.xlsx/.xlsm, .xls/.et through LibreOffice, .csv): every sheet a table of records.

民主测评 results, 考察对象名册, 问题清单 and 整改台账 are kept in Excel/WPS sheets. Each sheet is read as a
table: title rows above the header are its caption, the header may span two or three rows (a merged
group cell "测评票数" over 优秀/称职/基本称职/不称职), and every data row becomes one record whose text
repeats the column names ("测评结果汇总，姓名：张三，优秀：20，…，优秀率：80.0%。") and is cited as
《file》sheet > 第N行 (N as the spreadsheet shows it). The parsed cells go with the document
(``LoadedDocument.tables``) so whole-table questions (最高/最低/合计/多少人…) are computed over every row
(kb/answering/table_questions.py), not over the rows retrieval happens to return.

This module does not import ingest/loaders.py (loaders dispatches to it): the zip checks, the text
decoder and the LibreOffice runner it needs are handed in as :class:`SheetTools`.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ingest.load_result import LoadedDocument, LoadError, Segment

SPREADSHEET_FORMATS = ("xlsx", "xls", "et", "csv")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# an encrypted OOXML file is an OLE container holding these streams (MS-OFFCRYPTO)
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
MAX_CELLS = 2_000_000  # a sheet formatted down to row 1,048,576 is read only as far as it holds data
MAX_HEADER_ROWS = 4
WORDS_FILE = Path(__file__).resolve().parent.parent / "kb" / "data" / "table_questions.yaml"


@dataclass
class SheetTools:
    """What the spreadsheet reader borrows from ingest/loaders.py (which imports this module)."""

    open_zip: Callable[[Path, Any, str], Any]  # checked zip container (zip bombs refused)
    decode_text: Callable[[bytes, Path], tuple[str, str]]  # text and encoding of a text file
    # (path, settings, LibreOffice filter, suffix of the converted file, reader of the converted file)
    convert: Callable[[Path, Any, str, str, Callable[[Path], Any]], Any]


@dataclass
class SheetTable:
    """One sheet read as a table. ``rows`` hold the cells as displayed; ``notes`` are lines of the sheet
    that are not records (a sheet of prose, a 注： under the table), each (row number, text)."""

    sheet: str
    caption: str = ""
    columns: list[list[str]] = field(default_factory=list)  # each column's header path, top to bottom
    names: list[str] = field(default_factory=list)  # each column's name as the records say it
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    summary: list[bool] = field(default_factory=list)  # the row is a 合计/平均 row, not a record
    label: int | None = None  # the column that names a row (姓名, 单位 …)
    notes: list[tuple[int, str]] = field(default_factory=list)

    def lead(self) -> str:
        return self.caption or self.sheet

    def record_text(self, i: int) -> str:
        """Row i as a sentence: its lead, then "name：value" for each filled cell, "，" between them (one
        sentence, so the answerer reads a value with its row's name — as ingest/tables.py writes rows)."""
        _, cells = self.rows[i]
        pairs = []
        for name, value in zip(self.names, cells):
            if value:
                pairs.append(f"{name}：{value}" if name and name != value else value)
        return f"{self.lead()}，" + "，".join(pairs) + "。"

    def to_record(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "caption": self.caption, "columns": self.columns, "names": self.names,
                "label": self.label, "rows": [{"row": n, "cells": cells, "summary": s}
                                              for (n, cells), s in zip(self.rows, self.summary)]}


_WORDS: dict[str, Any] | None = None


def words() -> dict[str, Any]:
    """The word lists of kb/data/table_questions.yaml (label columns, 合计 rows, note lines)."""
    global _WORDS
    if _WORDS is None:
        _WORDS = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8"))
    return _WORDS


# ----------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------


def load_spreadsheet(path: Path, settings, fmt: str, tools: SheetTools) -> LoadedDocument:
    if fmt == "csv":
        tables = [_csv_table(path, tools)]
    else:
        tables = _workbook_tables(path, settings, fmt, tools)
    tables = [t for t in tables if t.rows or t.notes]
    if not tables:
        raise LoadError(path, "the workbook holds no cells with data (every sheet is empty)")
    lines = [text for table in tables for text in _lines(table)]
    return LoadedDocument(path=path, format=fmt, segments=[Segment("\n".join(lines))], tables=tables)


def _lines(table: SheetTable) -> list[str]:
    return [table.record_text(i) for i in range(len(table.rows))] + [text for _, text in table.notes]


def _workbook_tables(path: Path, settings, fmt: str, tools: SheetTools) -> list[SheetTable]:
    with open(path, "rb") as fh:
        head = fh.read(8)
        if head == _OLE_MAGIC:
            fh.seek(0)
            encrypted = _ENCRYPTION_STREAM in fh.read(1 << 20)
        else:
            encrypted = False
    if encrypted:
        raise LoadError(path, "password-protected (encrypted) workbook: remove the password in Excel/WPS and ingest it again")
    if head.startswith(b"PK"):  # .xlsx, or a .xls/.et that is really one (WPS saves so)
        return _read_xlsx(path, settings, tools)
    if fmt == "xlsx":
        if head == _OLE_MAGIC:  # a legacy .xls under a new name: LibreOffice reads it
            return _converted(path, settings, fmt, tools)
        raise LoadError(path, "corrupt .xlsx (not a zip archive, not an Excel workbook)")
    if head != _OLE_MAGIC and not head.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):  # HTML/XML "xls" exports
        raise LoadError(path, f"corrupt .{fmt} (not an Excel/WPS workbook: unknown content)")
    return _converted(path, settings, fmt, tools)


def _converted(path: Path, settings, fmt: str, tools: SheetTools) -> list[SheetTable]:
    return tools.convert(path, settings, "xlsx:Calc MS Excel 2007 XML", ".xlsx",
                         lambda converted: _read_xlsx(converted, settings, tools, shown=path))


def _read_xlsx(path: Path, settings, tools: SheetTools, shown: Path | None = None) -> list[SheetTable]:
    shown = shown or path
    tools.open_zip(path, settings, ".xlsx").close()  # corrupt archives and zip bombs, before openpyxl
    try:
        import openpyxl
    except ImportError as exc:
        raise ImportError("spreadsheets need openpyxl: pip install -e . (it is a default dependency)") from exc
    try:
        # data_only: the values Excel/WPS computed and saved for formulas, not the formulas
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise LoadError(shown, f"corrupt workbook ({type(exc).__name__}{': ' + message if message else ''})") from exc
    try:
        return [_sheet_table(ws.title, *_grid(ws, shown)) for ws in book.worksheets]
    finally:
        book.close()


def _grid(ws, path: Path) -> tuple[list[list[str]], list[tuple[int, int, int, int]]]:
    """The sheet's cells as displayed, trimmed to the data, merged ranges filled with their value;
    and the merged ranges (0-based first row, first column, last row, last column)."""
    rows: list[list[str]] = []
    count = 0
    for row in ws.iter_rows():
        count += len(row)
        if count > MAX_CELLS:
            raise LoadError(path, f"sheet {ws.title} has more than {MAX_CELLS} cells")
        rows.append([display(cell.value, cell.number_format) for cell in row])
    while rows and not any(rows[-1]):
        rows.pop()
    width = max((max((i + 1 for i, v in enumerate(r) if v), default=0) for r in rows), default=0)
    rows = [(r + [""] * width)[:width] for r in rows]
    merges = []
    for rng in ws.merged_cells.ranges:
        r1, c1, r2, c2 = rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1
        if r1 >= len(rows) or c1 >= width:
            continue
        merges.append((r1, c1, min(r2, len(rows) - 1), min(c2, width - 1)))
        value = rows[r1][c1]
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            for c in range(c1, min(c2, width - 1) + 1):
                rows[r][c] = value
    return rows, merges


def display(value: Any, number_format: str = "General") -> str:
    """A cell's value as Excel shows it: 0.853 formatted "0.0%" is "85.3%", a date is 2024-03-15."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time() else value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        fmt = (number_format or "General").split(";")[0]
        decimals = re.search(r"\.(0+)", fmt)
        places = len(decimals.group(1)) if decimals else 0
        if "%" in fmt:
            return f"{value * 100:.{places}f}%"
        if decimals or re.fullmatch(r"[#,]*0", fmt):
            return f"{value:,.{places}f}" if "," in fmt else f"{value:.{places}f}"
        if isinstance(value, float):
            text = f"{value:.10g}"
            return text if "e" not in text else f"{value:f}".rstrip("0").rstrip(".")
        return str(value)
    return clean_cell(str(value))


_CJK = "\u4e00-\u9fff\u3000-\u303f\uff01-\uff60"


def clean_cell(text: str) -> str:
    """One line: a line break inside a cell ("优秀\\n票数") joins without a space between CJK characters."""
    text = re.sub(rf"(?<=[{_CJK}])\s*\n\s*(?=[{_CJK}])", "", text.strip())
    return " ".join(text.split())


def _csv_table(path: Path, tools: SheetTools) -> SheetTable:
    text, _ = tools.decode_text(path.read_bytes(), path)
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|，")
    except csv.Error:
        dialect = csv.excel
    rows = [[clean_cell(c) for c in row] for row in csv.reader(io.StringIO(text), dialect)]
    width = max((len(r) for r in rows), default=0)
    rows = [(r + [""] * width)[:width] for r in rows]
    while rows and not any(rows[-1]):
        rows.pop()
    return _sheet_table(path.stem, rows, [])


# ----------------------------------------------------------------------------------------------------
# A sheet's table: caption, header rows, records, notes
# ----------------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")


_UNIT_TAIL: re.Pattern[str] | None = None


def number(text: str) -> float | None:
    """The number a cell holds: "85.3%" → 85.3, "1,234" → 1234, "20票" → 20; None for text."""
    global _UNIT_TAIL
    if _UNIT_TAIL is None:
        _UNIT_TAIL = re.compile(r"(?:%|‰|" + "|".join(map(re.escape, words()["cell_units"])) + r")$")
    value = unicodedata.normalize("NFKC", text or "").replace(",", "").strip()
    value = _UNIT_TAIL.sub("", value).strip()
    return float(value) if _NUMBER.match(value) else None


def _distinct(row: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in row if v))


def _header_like(row: list[str]) -> bool:
    """Names, not values: "2024年" and "得票" name columns, "85.3%" and "12" are values."""
    values = [v for v in row if v]
    plain = re.compile(r"[-+]?\d+(?:\.\d+)?%?")
    return len(values) >= 1 and all(not plain.fullmatch(unicodedata.normalize("NFKC", v).replace(",", "")) and len(v) <= 30
                                    for v in values)


def _sheet_table(name: str, grid: list[list[str]], merges: list[tuple[int, int, int, int]]) -> SheetTable:
    table = SheetTable(sheet=name)
    width = len(grid[0]) if grid else 0
    r, captions = 0, []
    while r < len(grid):
        values = _distinct(grid[r])
        if not values:
            r += 1
            continue
        # a title row (one text, merged across or alone) or a line of 填报单位：… above the header
        if width > 1 and (len(values) == 1 or all(re.search(r"[:：]", v) for v in values)) and r + 1 < len(grid):
            captions.append(" ".join(values))
            r += 1
            continue
        break
    table.caption = "；".join(c for c in captions if not _is_note(c))[:80]
    if r >= len(grid) or len(_distinct(grid[r])) < 2 or not _header_like(grid[r]):
        # no header: the sheet is prose or a list, each line of it a note
        table.notes = [(i + 1, " ".join(_distinct(row))) for i, row in enumerate(grid) if _distinct(row)]
        return table
    top, end = r, _header_end(grid, merges, r, width)
    paths = []
    for c in range(width):
        path = list(dict.fromkeys(grid[i][c] for i in range(top, end + 1) if grid[i][c]))
        paths.append(path or [f"第{_column_letter(c)}列"])
    table.columns = paths
    table.names = _column_names(paths)
    header_keys = [tuple(grid[i]) for i in range(top, end + 1)]
    label_words = words()["summary_rows"]
    for i in range(end + 1, len(grid)):
        row = grid[i]
        values = _distinct(row)
        if not values or tuple(row) in header_keys:  # an empty row, a header repeated for printing
            continue
        if len(values) == 1 and (_is_note(values[0]) or sum(1 for v in row if v) > max(2, width // 2)):
            table.notes.append((i + 1, values[0]))  # 注：…, or a line merged across the table
            continue
        table.rows.append((i + 1, row))
        first_text = next((v for v in row if v and number(v) is None), "")
        table.summary.append(re.sub(r"\s+", "", first_text) in label_words)
    table.label = _label_column(table)
    return table


def _is_note(text: str) -> bool:
    return text.startswith(tuple(words()["note_lines"]))


def _header_end(grid: list[list[str]], merges, top: int, width: int) -> int:
    """The last header row: merged header cells reaching further down, and the row under a group cell
    (a merge across several, not all, columns) that names its sub-columns."""
    end = top
    for _ in range(MAX_HEADER_ROWS):
        grown = end
        for r1, c1, r2, c2 in merges:
            if top <= r1 <= end and r2 > grown:
                grown = min(r2, top + MAX_HEADER_ROWS - 1)
        grouped = any(r1 == grown and r2 == grown and 0 < c2 - c1 < width - 1 for r1, c1, r2, c2 in merges)
        if grouped and grown + 1 < len(grid) and grown + 1 < top + MAX_HEADER_ROWS and _header_like(grid[grown + 1]):
            grown += 1
        if grown == end:
            break
        end = grown
    return end


def _column_names(paths: list[list[str]]) -> list[str]:
    """A column's own name, or its group's and its own ("优秀"+"票数" → 优秀票数) when another column
    has the same own name."""
    leaves = [p[-1] for p in paths]
    names = []
    for path in paths:
        leaf = path[-1]
        if leaves.count(leaf) > 1 and len(path) > 1:
            parent = path[-2]
            names.append(parent + leaf if len(parent + leaf) <= 10 else f"{parent}（{leaf}）")
        else:
            names.append(leaf)
    return names


def _column_letter(c: int) -> str:
    letters = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _label_column(table: SheetTable) -> int | None:
    """The column naming a row: one whose header says so (姓名, 单位 …), else the first column of
    text that is not a row number."""
    data = [cells for (_, cells), s in zip(table.rows, table.summary) if not s]
    if not data:
        return None
    label_words = words()["label_columns"]
    for c, name in enumerate(table.names):
        if any(w in name for w in label_words):
            return c
    skip = tuple(words()["number_columns"])
    for c, name in enumerate(table.names):
        values = [cells[c] for cells in data if cells[c]]
        if values and not name.startswith(skip) and sum(number(v) is None for v in values) >= 0.6 * len(values):
            return c
    return None


def tables_of(loaded: LoadedDocument) -> list[SheetTable]:
    return list(getattr(loaded, "tables", None) or [])


def layout(tables: list[SheetTable], mask: Callable[[str], str] | None = None) -> tuple[str, list[tuple[int, int, str, str]], list[dict]]:
    """The document text (a line per record and note), a span (start, end, sheet, 第N行) per line —
    one chunk each — and the tables' records with each row's chunk ordinal. ``mask`` (name masking)
    is applied to every cell, so the stored cells say what the text says."""
    lines: list[str] = []
    spans: list[tuple[int, int, str, str]] = []
    records = []
    pos = 0

    def add(text: str, sheet: str, row: int) -> int:
        nonlocal pos
        if lines:
            pos += 1
        lines.append(text)
        spans.append((pos, pos + len(text), sheet, f"第{row}行"))
        pos += len(text)
        return len(spans) - 1

    for table in tables:
        if mask is not None:
            table.rows = [(n, [mask(c) if c else c for c in cells]) for n, cells in table.rows]
            table.notes = [(n, mask(t)) for n, t in table.notes]
            table.caption = mask(table.caption)
        record = table.to_record()
        for i, (n, _) in enumerate(table.rows):
            record["rows"][i]["chunk"] = add(table.record_text(i), table.sheet, n)
        for n, text in table.notes:
            add(text, table.sheet, n)
        if table.rows:
            records.append(record)
    return "\n".join(lines), spans, records


def sheet_text(tables: list[SheetTable]) -> str:
    """The records and notes of every table, as the document will read (before masking)."""
    return "\n".join(text for table in tables for text in _lines(table))


# ----------------------------------------------------------------------------------------------------
# Tables inside documents (.docx, PDF, OFD): their rows are already sentences repeating the headers
# ----------------------------------------------------------------------------------------------------

MAX_KEY = 16  # a header longer than this is prose with a colon, not a column name


def _row_pairs(line: str) -> tuple[str, list[list[str]]] | None:
    """"民主测评主要结果，姓名：张青山，职务：市委书记，优秀率：88.5%。" → (caption, [[key, value], …]) as
    ingest/tables.py wrote it; a "，" inside a cell stays in its cell (the piece has no key of its own)."""
    body = line.strip()
    if not body.endswith("。") or "：" not in body:
        return None
    pieces = body[:-1].split("，")
    caption = pieces.pop(0) if pieces and "：" not in pieces[0] else ""
    pairs: list[list[str]] = []
    for piece in pieces:
        key, sep, value = piece.partition("：")
        if sep and 0 < len(key) <= MAX_KEY and value:
            pairs.append([key, value])
        elif pairs:
            pairs[-1][1] += "，" + piece
        else:
            return None
    return (caption, pairs) if len(pairs) >= 2 else None


def document_tables(text: str, spans: list[tuple[int, int]]) -> list[dict]:
    """The tables of a document's text (runs of at least two row sentences with one caption and shared
    column names), as table records whose rows name the chunk holding them and quote their line. A
    table any of whose rows a chunk boundary cuts is left out: a computation needs every row."""
    runs: list[list[tuple[int, str, str, list[list[str]]]]] = []
    pos = 0
    for line in text.split("\n"):
        parsed = _row_pairs(line)
        if parsed is None:
            runs.append([])
        else:
            caption, pairs = parsed
            run = runs[-1] if runs else None
            keys = {k for k, _ in pairs}
            if run and run[-1][2] == caption and len(keys & {k for r in run for k, _ in r[3]}) * 2 >= len(keys):
                run.append((pos, line, caption, pairs))
            else:
                runs.append([(pos, line, caption, pairs)])
        pos += len(line) + 1
    out = []
    for n, run in enumerate(r for r in runs if len(r) >= 2):
        names = list(dict.fromkeys(k for _, _, _, pairs in run for k, _ in pairs))
        caption = run[0][2]
        table = SheetTable(sheet=caption or f"表格{n + 1}", caption=caption, columns=[[k] for k in names], names=names)
        places = []
        for i, (at, line, _, pairs) in enumerate(run):
            values = dict(pairs)
            table.rows.append((i + 1, [values.get(k, "") for k in names]))
            first_text = next((v for k, v in pairs if number(v) is None), "")
            table.summary.append(re.sub(r"\s+", "", first_text) in words()["summary_rows"])
            start = at + len(line) - len(line.lstrip())
            chunk = next((j for j, (s, e) in enumerate(spans) if s <= start and start + len(line.strip()) <= e), None)
            places.append((chunk, line.strip()))
        if any(chunk is None for chunk, _ in places):
            continue
        table.label = _label_column(table)
        record = table.to_record()
        for row, (chunk, quote) in zip(record["rows"], places):
            row["chunk"], row["quote"] = chunk, quote
        out.append(record)
    return out
