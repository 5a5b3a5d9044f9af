"""Read one file of any supported format into plain text segments.

Every failure on bad input (corrupt, empty, binary, oversized, encrypted, unsupported, unreadable) is
raised as :class:`LoadError` naming the file and the reason, so one bad file never stops an ingest run.
Optional heavy tools (OCR, LibreOffice) are only touched in the branch that needs them.
"""
from __future__ import annotations

import codecs
import os
import posixpath
import re
import shutil
import signal
import subprocess
import tempfile
import unicodedata
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable

from ingest.load_result import LoadedDocument, LoadError, Segment
from kb.settings import IngestSettings

MB = 1024 * 1024
SOFFICE_TIMEOUT_S = 180  # LibreOffice's first start (profile creation) alone can take tens of seconds

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".pdf", ".doc", ".wps", ".ofd",
     ".xlsx", ".xlsm", ".xls", ".et", ".csv"}
)
_FORMAT_BY_EXTENSION = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
    ".doc": "doc",
    ".wps": "wps",
    ".ofd": "ofd",
    # spreadsheets (ingest/spreadsheets.py): .xlsm is read as .xlsx (its macros are never run)
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".et": "et",
    ".csv": "csv",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office container (.doc/.wps, encrypted .docx)


# ----------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------


def load_file(path: Path, settings: IngestSettings) -> LoadedDocument:
    """Load ``path`` into text segments, or raise :class:`LoadError` naming the file and the reason."""
    path = Path(path)
    settings = getattr(settings, "ingest", settings)  # accept the whole Settings tree as well
    fmt = _check_file(path, settings)
    loader = _LOADERS[fmt]
    try:
        document = loader(path, settings)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError(path, f"document structure too deeply nested to read ({fmt})") from exc
    except MemoryError as exc:
        raise LoadError(path, f"document too large to read into memory ({fmt})") from exc
    except Exception as exc:  # any other parser failure on bad input is still the file's fault
        raise LoadError(path, f"could not read {fmt} file ({_describe(exc)})") from exc
    document.segments = [s for s in document.segments if s.text.strip()]
    if not document.segments:
        raise LoadError(path, "no text found")
    total = sum(len(s.text) for s in document.segments)
    if total > settings.max_chars:
        raise LoadError(path, f"extracted text too large ({total} characters > limit max_chars {settings.max_chars})")
    if document.title_hint is not None:
        document.title_hint = " ".join(document.title_hint.split()) or None
    return document


def _check_file(path: Path, settings: IngestSettings) -> str:
    try:
        if not path.exists():
            raise LoadError(path, "file not found")
        if path.is_dir():
            raise LoadError(path, "is a directory, not a file")
        if not path.is_file():
            raise LoadError(path, "not a regular file")
        size = path.stat().st_size
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise LoadError(path, f"cannot access file ({getattr(exc, 'strerror', None) or exc})") from exc
    extension = path.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        shown = f"'{extension}'" if extension else "(no file extension)"
        raise LoadError(path, f"unsupported file type {shown} (supported: {supported})")
    if size > settings.max_file_mb * MB:
        raise LoadError(path, f"file too large ({size / MB:.1f} MB > limit {settings.max_file_mb:g} MB)")
    fmt = _FORMAT_BY_EXTENSION[extension]
    if fmt in ("txt", "md", "html", "csv") and size > settings.max_text_mb * MB:
        raise LoadError(path, f"text file too large ({size / MB:.1f} MB > limit max_text_mb {settings.max_text_mb:g} MB); "
                              "split it into smaller files")
    if size == 0:
        raise LoadError(path, "empty file")
    if not os.access(path, os.R_OK):
        raise LoadError(path, "file is not readable (permission denied)")
    return _FORMAT_BY_EXTENSION[extension]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read file ({exc.strerror or exc})") from exc


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(message) > 200:
        message = message[:200] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ----------------------------------------------------------------------------------------------------
# Plain text and Markdown
# ----------------------------------------------------------------------------------------------------

_BINARY_REASON = "binary or undecodable content (not a text file)"
_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def _decode_text(data: bytes, path: Path, declared: str | None = None) -> tuple[str, str]:
    """Decode bytes of a text file: BOM, declared charset, UTF-8, GB18030, then charset-normalizer."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(path, f"{_BINARY_REASON}: invalid {encoding} after its byte-order mark") from exc
            if encoding in ("utf-16", "utf-32") and not _plausible_text(text):
                # any even number of bytes "decodes" as UTF-16: GB18030 text behind a stray BOM reads as
                # Hangul, Yi and rare ideographs, which must not be stored as if it were the document
                hint = " (the bytes read as GB18030: save the file as UTF-8)" if _decodes(data[len(bom):], "gb18030") else ""
                raise LoadError(path, f"text after the {encoding.upper()} byte-order mark is not {encoding.upper()}{hint}")
            return _checked_text(text.lstrip("\ufeff"), path), encoding
    if b"\x00" in data:
        raise LoadError(path, _BINARY_REASON)
    candidates = ([declared] if declared else []) + ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            return _checked_text(data.decode(encoding), path), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise LoadError(path, _BINARY_REASON)
    return _checked_text(str(best), path), best.encoding


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def _plausible_text(text: str) -> bool:
    """Most characters of real Chinese/Latin text are ASCII, common ideographs, CJK punctuation or
    full-width forms; bytes of another encoding decoded as UTF-16 scatter over the whole plane."""
    sample = text[:20_000]
    if not sample:
        return True
    common = sum(
        1 for ch in sample
        if ch < "\u0250" or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"
        or "\u2000" <= ch <= "\u206f" or ch == "\ufeff"
    )
    return common >= 0.9 * len(sample)


# control characters (Unicode category Cc = C0 and C1) other than the allowed ones, and U+FFFD
_BAD_CHARS = re.compile(
    "[\ufffd"
    + "".join(re.escape(chr(c)) for c in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)) if chr(c) not in _ALLOWED_CONTROLS)
    + "]"
)


def _checked_text(text: str, path: Path) -> str:
    """Reject decoded 'text' that is really binary: control characters or replacement characters."""
    sample = text[:200_000]
    if not sample:
        return text
    # one regex pass instead of a Python loop per character (this runs on every ingested file)
    bad = len(_BAD_CHARS.findall(sample))
    if bad > max(2, len(sample) // 200):
        raise LoadError(path, _BINARY_REASON)
    return text


def _load_text(path: Path, settings: IngestSettings) -> LoadedDocument:
    text, encoding = _decode_text(_read_bytes(path), path)
    text = _normalise_newlines(text)
    fmt = _FORMAT_BY_EXTENSION[path.suffix.lower()]
    title = None
    if fmt == "md":
        for line in text.split("\n"):
            if line.startswith("# "):
                title = line[2:].strip() or None
                break
    return LoadedDocument(path=path, format=fmt, segments=[Segment(text)], title_hint=title, encoding=encoding)


# ----------------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------------

# Elements that never hold article text.
_HTML_SKIP = frozenset(
    "head script style noscript nav header footer aside form iframe svg template select button object "
    "embed canvas map dialog".split()
)
_HTML_BLOCK = frozenset(
    "address article blockquote body center dd details dialog div dl dt fieldset figcaption figure h1 h2 h3 "
    "h4 h5 h6 hr html li main ol p pre section summary table tbody thead tfoot tr ul caption".split()
)
_HTML_VOID = frozenset("area base br col embed hr img input keygen link meta param source track wbr".split())
# class/id words of page chrome: navigation bars, breadcrumbs, share buttons, footers, sidebars
_CHROME_PREFIXES = ("nav", "breadcrumb", "crumb", "share", "bdshare", "footer", "sidebar", "copyright", "menu", "topbar")
_CHROME_EXACT = frozenset({"foot", "social", "pagination", "pager", "toolbar", "advert", "ads"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "menu", "menubar", "complementary", "search"})
_NEVER_CHROME = frozenset({"html", "body", "main", "article"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_GB_ALIASES = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936", "euc-cn"}  # GB18030 decodes them all


def _looks_like_chrome(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    values = dict(attrs)
    if "hidden" in values or (values.get("aria-hidden") or "").lower() == "true":
        return True
    if _HIDDEN_STYLE.search(values.get("style") or ""):
        return True
    if tag in _NEVER_CHROME:
        return False
    if (values.get("role") or "").lower() in _CHROME_ROLES:
        return True
    for name in ("class", "id"):
        for token in re.split(r"[\s_\-]+", (values.get(name) or "").lower()):
            if token and (token.startswith(_CHROME_PREFIXES) or token in _CHROME_EXACT):
                return True
    return False


class _HtmlTextExtractor(HTMLParser):
    """Streaming extraction of visible text: no tree is built, so nesting depth cannot overflow anything."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []
        self.skip_depth: int | None = None  # stack depth of the element whose subtree is being skipped
        self.title_parts: list[str] = []
        self.h1_parts: list[str] | None = None  # collecting the first visible <h1>
        self.h1_text: str | None = None
        self.pre_depth = 0
        self.cells_in_row: list[int] = []

    @property
    def skipping(self) -> bool:
        return self.skip_depth is not None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_VOID:
            if tag in ("br", "hr") and not self.skipping:
                self.parts.append("\n")
            return
        if tag == "body" and "head" in self.stack:
            self.handle_endtag("head")  # an unclosed <head> must not swallow the page
        self.stack.append(tag)
        if not self.skipping and (tag in _HTML_SKIP or _looks_like_chrome(tag, attrs)):
            self.skip_depth = len(self.stack)
        if self.skipping:
            return
        if tag in _HTML_BLOCK:
            self.parts.append("\n")
        if tag == "pre":
            self.pre_depth += 1
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.parts.append("#" * int(tag[1]) + " ")
            if tag == "h1" and self.h1_text is None and self.h1_parts is None:
                self.h1_parts = []
        elif tag == "tr":
            self.cells_in_row.append(0)
        elif tag in ("td", "th") and self.cells_in_row:
            if self.cells_in_row[-1]:
                self.parts.append(" | ")
            self.cells_in_row[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_VOID or tag not in self.stack:
            return  # stray end tag
        while self.stack:
            open_tag = self.stack.pop()
            self._close(open_tag)
            if open_tag == tag:
                break

    def _close(self, tag: str) -> None:
        if self.skipping:
            if len(self.stack) + 1 == self.skip_depth:
                self.skip_depth = None
            return
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        elif tag == "tr" and self.cells_in_row:
            self.cells_in_row.pop()
        elif tag == "h1" and self.h1_parts is not None:
            self.h1_text = " ".join("".join(self.h1_parts).split()) or None
            self.h1_parts = None
        if tag in _HTML_BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if "title" in self.stack:
            self.title_parts.append(data)
        if self.skipping:
            return
        if not self.pre_depth:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
        self.parts.append(data)
        if self.h1_parts is not None:
            self.h1_parts.append(data)

    def text(self) -> str:
        lines = []
        for line in "".join(self.parts).split("\n"):
            line = line.strip(" \t")
            if line.startswith("| ") or line.endswith(" |"):
                line = line.strip(" |")
            if line.strip() and not re.fullmatch(r"#+\s*", line):
                lines.append(line)
        return "\n".join(lines)


_FLAT_DROP = re.compile(
    r"<(script|style|noscript|nav|header|footer|aside|form|iframe|svg|template|head)\b.*?</\1\s*>|<!--.*?-->",
    re.IGNORECASE | re.DOTALL,
)
_FLAT_BLOCK = re.compile(r"</?(?:p|div|br|li|tr|h[1-6]|table|section|article|blockquote|pre|dd|dt|hr)\b[^>]*>", re.I)


def _html_to_text_flat(markup: str) -> str:
    """Last-resort extraction by tag stripping (never recursive), used if the streaming parser fails."""
    import html

    markup = _FLAT_DROP.sub(" ", markup)
    markup = _FLAT_BLOCK.sub("\n", markup)
    markup = re.sub(r"<[^>]*>", "", markup)
    text = html.unescape(markup)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _load_html(path: Path, settings: IngestSettings) -> LoadedDocument:
    data = _read_bytes(path)
    declared = None
    match = _META_CHARSET.search(data[:8192])
    if match:
        declared = match.group(1).decode("ascii", "ignore").lower()
        declared = "gb18030" if declared in _GB_ALIASES else declared
    markup, encoding = _decode_text(data, path, declared)
    markup = _normalise_newlines(markup)
    title: str | None = None
    try:
        extractor = _HtmlTextExtractor()
        extractor.feed(markup)
        extractor.close()
        text = extractor.text()
        title = extractor.h1_text or " ".join("".join(extractor.title_parts).split()) or None
    except Exception:  # html.parser is forgiving, but a parser bug must not lose the document
        text = _html_to_text_flat(markup)
        found = re.search(r"<title[^>]*>(.*?)</title>", markup, re.IGNORECASE | re.DOTALL)
        title = " ".join(found.group(1).split()) if found else None
    return LoadedDocument(path=path, format="html", segments=[Segment(text)], title_hint=title, encoding=encoding)


# ----------------------------------------------------------------------------------------------------
# Zip containers (.docx, .ofd)
# ----------------------------------------------------------------------------------------------------


def _open_zip(path: Path, settings: IngestSettings, kind: str) -> zipfile.ZipFile:
    """Open a zip container, refusing corrupt archives and archives that expand past max_unzipped_mb."""
    try:
        archive = zipfile.ZipFile(path)
        members = archive.infolist()
    except zipfile.BadZipFile as exc:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head == _OLE_MAGIC:
            raise LoadError(
                path,
                f"corrupt {kind} (this is a legacy Office file — an old .doc, or a password-protected "
                f"document — not a {kind}; remove the password or save it as .docx)",
            ) from exc
        raise LoadError(path, f"corrupt {kind} (not a valid zip archive: {exc})") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise LoadError(path, f"corrupt {kind} ({_describe(exc)})") from exc
    expanded = sum(member.file_size for member in members)
    limit = settings.max_unzipped_mb * MB
    if expanded > limit:
        archive.close()
        raise LoadError(
            path,
            f"{kind} expands to {expanded / MB:.1f} MB when unzipped, over the max_unzipped_mb limit "
            f"({settings.max_unzipped_mb:g} MB); refusing a possible zip bomb",
        )
    _check_ratio(archive, members, path, kind, settings.max_unzip_ratio)
    _check_unzipped(archive, path, kind, limit)
    return archive


RATIO_FLOOR = 10 * MB  # archives and members expanding to less are not judged by their ratio


def _check_ratio(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], path: Path, kind: str, ratio: float) -> None:
    """Refuse, from the zip's directory alone (nothing inflated), a member or an archive that expands
    past RATIO_FLOOR at more than ``ratio`` times its compressed size: Office XML compresses 5–30×, a zip
    bomb hundreds or thousands of times (its parse, not its inflation, is what costs gigabytes)."""
    def refuse(what: str, expanded: int, compressed: int) -> None:
        archive.close()
        raise LoadError(
            path,
            f"{kind} {what} expands {expanded / max(compressed, 1):.0f}× ({compressed / MB:.2f} MB → "
            f"{expanded / MB:.1f} MB), over the max_unzip_ratio limit ({ratio:g}×); refusing a possible zip bomb",
        )

    for member in members:
        if member.file_size > RATIO_FLOOR and member.file_size > ratio * max(member.compress_size, 1):
            refuse(f"member {member.filename}", member.file_size, member.compress_size)
    expanded = sum(m.file_size for m in members)
    compressed = sum(m.compress_size for m in members)
    if expanded > RATIO_FLOOR and expanded > ratio * max(compressed, 1):
        refuse("archive", expanded, compressed)


def _check_unzipped(archive: zipfile.ZipFile, path: Path, kind: str, limit: float) -> None:
    """Inflate every member once, counting the bytes that really come out: a header can lie about
    the sizes, and the XML parser would otherwise read whatever the deflate stream produces."""
    total = 0
    for member in archive.infolist():
        if member.is_dir():
            continue
        try:
            with archive.open(member) as fh:
                # read past the declared size: zipfile stops there, the raw stream may not
                fh._left = max(getattr(fh, "_left", 0), int(limit) + 1)  # type: ignore[attr-defined]
                while True:
                    block = fh.read(1 << 20)
                    if not block:
                        break
                    total += len(block)
                    if total > limit:
                        archive.close()
                        raise LoadError(
                            path,
                            f"{kind} inflates past {limit / MB:.0f} MB (its zip header states "
                            f"{sum(m.file_size for m in archive.infolist()) / MB:.1f} MB); refusing a possible zip bomb",
                        )
        except LoadError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            archive.close()
            raise LoadError(path, f"corrupt {kind} ({member.filename}: {_describe(exc)})") from exc


# ----------------------------------------------------------------------------------------------------
# DOCX (python-docx)
# ----------------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)


def _load_docx(path: Path, settings: IngestSettings) -> LoadedDocument:
    segments, title = _read_docx(path, settings)
    return LoadedDocument(path=path, format="docx", segments=segments, title_hint=title)


def _read_docx(path: Path, settings: IngestSettings) -> tuple[list[Segment], str | None]:
    _open_zip(path, settings, ".docx").close()
    try:
        import docx
        from docx.oxml.ns import qn
        from docx.text.paragraph import Paragraph

        document = docx.Document(str(path))
        body = document.element.body
    except ImportError:
        raise
    except Exception as exc:
        raise LoadError(path, f"corrupt .docx ({_describe(exc)})") from exc

    try:
        lines: list[str] = []
        tabbed: list[str] = []  # consecutive paragraphs with TAB-separated cells, not yet placed
        first_heading: str | None = None
        for kind, element in _docx_body_items(body, qn):
            if kind == "table":
                lines.extend(_docx_tab_table(tabbed, lines))
                tabbed = []
                lines.extend(_docx_table_rows(element, qn, lines[-1] if lines else None))
                continue
            paragraph = Paragraph(element, document)
            text = paragraph.text.strip()
            if not text:
                continue
            level = _docx_heading_level(paragraph, qn)
            if not level and "\t" in text:
                tabbed.append(text)
                continue
            lines.extend(_docx_tab_table(tabbed, lines))
            tabbed = []
            if level:
                if level == 1 and first_heading is None:
                    first_heading = text
                text = "#" * level + " " + " ".join(text.split())
            lines.append(text)
        lines.extend(_docx_tab_table(tabbed, lines))
        core_title = (document.core_properties.title or "").strip()
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(path, f"corrupt .docx ({_describe(exc)})") from exc
    if core_title.lower().startswith("microsoft word -"):
        core_title = ""  # printer-driver artefact, not a title
    text = _normalise_newlines("\n".join(lines))
    return [Segment(text)], core_title or first_heading


def _docx_body_items(body: Any, qn: Callable[[str], str]):
    """Paragraphs and tables in document order, descending into content controls (w:sdt)."""
    p_tag, tbl_tag, sdt_tag, content_tag = qn("w:p"), qn("w:tbl"), qn("w:sdt"), qn("w:sdtContent")
    pending = list(body.iterchildren())
    pending.reverse()
    while pending:
        element = pending.pop()
        if element.tag == p_tag:
            yield "paragraph", element
        elif element.tag == tbl_tag:
            yield "table", element
        elif element.tag == sdt_tag:
            for content in element.iterchildren(content_tag):
                pending.extend(reversed(list(content.iterchildren())))


def _docx_heading_level(paragraph: Any, qn: Callable[[str], str]) -> int:
    try:
        name = (paragraph.style.name or "").strip() if paragraph.style is not None else ""
    except Exception:  # a dangling style reference must not lose the paragraph
        name = ""
    if name.lower() == "title" or name == "标题":
        return 1
    match = _HEADING_STYLE.match(name)
    if match:
        return int(match.group(1))
    p_pr = paragraph._p.pPr
    if p_pr is not None:
        outline = p_pr.find(qn("w:outlineLvl"))
        if outline is not None:
            value = outline.get(qn("w:val"))
            if value and value.isdigit() and int(value) < 6:
                return int(value) + 1
    return 0


# A table laid out with TAB stops instead of a Word table: at least this many consecutive paragraphs
# (the header and two rows) with the same number of cells. Fewer is a line or two of aligned prose
# ("联系人：张三\t电话：…") that reads as it is.
_TAB_TABLE_MIN_ROWS = 3


def _tab_cells(text: str) -> list[str]:
    # a run of TABs is one cell boundary: with the default tab stops a writer presses TAB once or twice
    # to reach the next column, depending on how wide the cell before it is
    return [c.strip() for c in re.split(r"\t+", text.strip())]


def _docx_tab_table(paragraphs: list[str], lines: list[str]) -> list[str]:
    """Consecutive paragraphs whose cells are separated by TABs ("单位\t联络人\t联系电话", then a row
    per unit): a table when there are at least _TAB_TABLE_MIN_ROWS of them with the same number (≥2) of
    cells and the first is a header of short labels. Its rows become sentences as a Word table's do
    (_docx_table_rows), the caption taken from the line before it, so "…特种设备科的联络人是谁" finds
    the row that names the unit and the 联络人 together; read as prose, the TABs left three columns
    run into one line and a question about one unit was answered with another unit's phone number.
    Anything else stays as it was, one line per paragraph."""
    if not paragraphs:
        return []
    from ingest.tables import caption_of, looks_like_header, row_sentences

    rows = [_tab_cells(p) for p in paragraphs]
    width = len(rows[0])
    if (len(rows) >= _TAB_TABLE_MIN_ROWS and width >= 2 and all(len(r) == width for r in rows)
            and looks_like_header(rows[0])):
        return row_sentences(rows, caption_of(lines[-1] if lines else None))
    return list(paragraphs)


def _docx_table_rows(table: Any, qn: Callable[[str], str], before: str | None = None) -> list[str]:
    """One line per row, read from the XML so merged cells are not repeated: with a header row, each
    row is a sentence repeating the column headers ("姓名：欧阳明辉；职务：…；优秀率：61.3%。",
    ingest/tables.py); without one, the cells joined with ' | '."""
    from docx.text.paragraph import Paragraph

    from ingest.tables import caption_of, row_sentences

    rows = []
    for row in table.iter(qn("w:tr")):
        if row.getparent() is not table and row.getparent().getparent() is not table:
            continue  # rows of a nested table are flattened into their cell's text instead
        cells = []
        for cell in row.iterchildren(qn("w:tc")):
            texts = [Paragraph(p, None).text.strip() for p in cell.iter(qn("w:p"))]
            cells.append(" ".join(t for t in texts if t))
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            rows.append(cells)
    return row_sentences(rows, caption_of(before))


# ----------------------------------------------------------------------------------------------------
# PDF (pypdf, optional OCR)
# ----------------------------------------------------------------------------------------------------

def _load_pdf(path: Path, settings: IngestSettings) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(str(path), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise LoadError(path, f"corrupt PDF ({_describe(exc)})") from exc
    if encrypted:
        try:
            opened = bool(reader.decrypt(""))  # many PDFs only carry an owner password
        except DependencyError as exc:
            raise LoadError(path, f"encrypted PDF (cannot decrypt: {exc})") from exc
        except Exception:
            opened = False
        if not opened:
            raise LoadError(path, "encrypted PDF (a password is needed to open it)")
    try:
        page_count = len(reader.pages)
    except Exception as exc:
        raise LoadError(path, f"corrupt PDF ({_describe(exc)})") from exc

    if page_count > settings.max_pages:
        raise LoadError(path, f"too many pages ({page_count} > limit {settings.max_pages})")
    segments: list[Segment] = []
    failures: list[str] = []
    unread: dict[int, str] = {}  # page → why its text is missing
    chars = 0
    by_stream: dict[Any, str] = {}  # pages that share one content stream are extracted once
    for number in range(1, page_count + 1):
        try:
            page = reader.pages[number - 1]
            key = _content_key(page)
            if key is not None and key in by_stream:
                text = by_stream[key]
            else:
                with _time_limit(settings.page_timeout_s, path, number):
                    text = _page_text(page)
                if key is not None:
                    by_stream[key] = text
        except LoadError:
            raise
        except Exception as exc:  # one broken page must not lose the others
            failures.append(_describe(exc))
            unread[number] = f"text could not be read ({_describe(exc)})"
            continue
        text = "\n".join(line.rstrip() for line in _normalise_newlines(text).split("\n")).strip("\n")
        chars += len(text)
        if chars > settings.max_chars:
            raise LoadError(path, f"extracted text too large (over {settings.max_chars} characters by page {number} of {page_count})")
        if text:
            segments.append(Segment(text, page=number))
    if page_count and len(failures) == page_count:
        raise LoadError(path, f"corrupt PDF (no page could be read: {failures[0]})")
    from ingest.ocr import ocr_pages as run_ocr, page_has_images

    checks: dict[int, dict[str, Any]] = {}
    if not segments and page_count:
        segments, checks = run_ocr(reader, path, settings)
        if not segments:
            raise LoadError(path, "no text found (scanned PDF: OCR recognised no text)")
    else:
        # scanned pages inside a text PDF: read by OCR too, or listed when the ocr extra is missing —
        # never dropped without a word
        with_text = {s.page for s in segments}
        scanned = [n for n in range(1, page_count + 1)
                   if n not in with_text and n not in unread and page_has_images(reader.pages[n - 1])]
        if scanned:
            try:
                more, checks = run_ocr(reader, path, settings, scanned)
            except LoadError as exc:
                more = []
                unread.update({n: f"scanned page not read ({exc.reason})" for n in scanned})
            segments = sorted(segments + more, key=lambda s: s.page or 0)
    for number, reason in unread.items():
        checks[number] = {"confidence": None, "low_lines": [], "below": False, "missed": [], "low": True, "unread": reason}

    title = None
    try:
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
    except Exception:
        title = None
    return LoadedDocument(path=path, format="pdf", segments=segments, title_hint=title, ocr_pages=checks)


def _content_key(page: Any) -> Any:
    """The identity of a page's content stream(s), or None when it has none of its own."""
    try:
        ref = page.get_inherited("/Contents", None) if hasattr(page, "get_inherited") else page.raw_get("/Contents")
    except Exception:
        try:
            ref = page.raw_get("/Contents")
        except Exception:
            return None
    if ref is None:
        return None
    if hasattr(ref, "idnum"):
        return ("ref", ref.idnum, ref.generation)
    try:
        return ("refs", tuple((r.idnum, r.generation) for r in ref))
    except Exception:
        return None


class _PageTimeUp(BaseException):
    """Raised by the page timer. A BaseException, not an Exception: the extractors (pypdf, and our
    own fallback from layout to plain mode) catch Exception broadly, and a timeout caught there would
    only start the next slow attempt."""


class _time_limit:
    """Stop a page's text extraction after `seconds`. Signals need the main thread: worker processes
    of a parallel ingest run their jobs in their own main thread, and an ingest running in a worker
    thread (web app, HTTP API) reads its PDFs in a child process (ingest/child_reader.py)."""

    def __init__(self, seconds: float, path: Path, page: int):
        self.seconds, self.path, self.page = seconds, path, page
        self.armed = False

    def _expired(self, signum, frame):
        raise _PageTimeUp()

    def __enter__(self):
        import threading

        if self.seconds and self.seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGALRM, self._expired)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    def __exit__(self, kind, value, traceback):
        if self.armed:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
            except _PageTimeUp:  # it fired just as the page finished: the page is read, keep it
                pass
            signal.signal(signal.SIGALRM, self.previous)
        if kind is _PageTimeUp:
            raise LoadError(self.path, f"page {self.page}: text extraction took longer than {self.seconds:g} s (limit page_timeout_s)") from None
        return False


def _page_text(page: Any) -> str:
    """Layout-mode text: it keeps each line's indentation (a paragraph's first line is indented) and
    the columns of a table, which the line joiner and the table reader need; plain mode as a fallback."""
    try:
        text = page.extract_text(extraction_mode="layout") or ""
    except Exception:
        text = ""
    if not text.strip():
        text = page.extract_text() or ""
    return text


# ----------------------------------------------------------------------------------------------------
# DOC / WPS via LibreOffice
# ----------------------------------------------------------------------------------------------------


def _find_soffice(configured: str) -> str | None:
    if os.sep in configured or (os.altsep and os.altsep in configured):
        candidate = Path(configured).expanduser()
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which(configured)


def _load_legacy_word(path: Path, settings: IngestSettings) -> LoadedDocument:
    fmt = _FORMAT_BY_EXTENSION[path.suffix.lower()]
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK"):  # a .docx saved under an old name: no conversion needed
        segments, title = _read_docx(path, settings)
        return LoadedDocument(path=path, format=fmt, segments=segments, title_hint=title)
    looks_like_word = head == _OLE_MAGIC or head.startswith((b"{\\rtf", b"<", b"\xef\xbb\xbf<", b"MIME"))
    if not looks_like_word:
        raise LoadError(path, f"corrupt .{fmt} (not a Word/WPS document: unknown content)")
    segments, title = _soffice_convert(path, settings, "docx:MS Word 2007 XML", ".docx",
                                       lambda converted: _read_docx(converted, settings))
    if _looks_like_garbage("".join(segment.text for segment in segments)):
        # LibreOffice falls back to a plain-text import when it cannot parse the file and returns noise
        raise LoadError(path, f"corrupt .{fmt} (LibreOffice could not parse it; its content reads as garbage)")
    return LoadedDocument(path=path, format=fmt, segments=segments, title_hint=title)


def _soffice_convert(path: Path, settings: IngestSettings, convert_to: str, suffix: str, read: Callable[[Path], Any]) -> Any:
    """Convert ``path`` with LibreOffice (``convert_to`` = its target and filter) and return what ``read``
    makes of the converted file, which is removed afterwards. Used for .doc/.wps and .xls/.et."""
    fmt = path.suffix.lower().lstrip(".")
    soffice = _find_soffice(settings.soffice_path)
    if soffice is None:
        what = ".doc/.wps" if fmt in ("doc", "wps") else f".{fmt}"
        raise LoadError(path, f"{what} needs LibreOffice (soffice) which was not found" + ("" if fmt in ("doc", "wps") else f"; install it or save the file as {suffix}"))
    with tempfile.TemporaryDirectory(prefix="kb-soffice-") as tmp:
        work = Path(tmp)
        source = work / f"source{path.suffix.lower()}"  # plain ASCII name: soffice mangles some paths
        shutil.copyfile(path, source)
        outdir = work / "out"
        outdir.mkdir()
        command = [
            soffice,
            # a private profile: a user's running LibreOffice (or another worker) would block this one
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            convert_to,
            "--outdir",
            str(outdir),
            str(source),
        ]
        stderr = _run_soffice(command, path)
        converted = outdir / f"source{suffix}"
        if not converted.is_file():
            detail = f": {stderr}" if stderr else ""
            # Calc is a package of its own: a machine with only Writer fails every spreadsheet alike
            calc = "; spreadsheets need LibreOffice Calc (Debian: libreoffice-calc-nogui)" if suffix == ".xlsx" else ""
            raise LoadError(path, f"LibreOffice could not convert this .{fmt} file (corrupt, password-protected or unsupported){detail}{calc}")
        return read(converted)


def _load_spreadsheet(path: Path, settings: IngestSettings) -> LoadedDocument:
    from ingest.spreadsheets import SheetTools, load_spreadsheet

    tools = SheetTools(open_zip=_open_zip, decode_text=lambda data, where: _decode_text(data, where), convert=_soffice_convert)
    return load_spreadsheet(path, settings, _FORMAT_BY_EXTENSION[path.suffix.lower()], tools)


def _looks_like_garbage(text: str) -> bool:
    """Binary read as text: private-use, unassigned, surrogate, control or replacement characters."""
    sample = text[:100_000]
    if not sample:
        return False
    bad = sum(
        1
        for ch in sample
        if ch == "\ufffd"
        or unicodedata.category(ch) in ("Co", "Cn", "Cs")
        or (ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc")
    )
    return bad > max(2, len(sample) // 50)


def _run_soffice(command: list[str], path: Path) -> str:
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group, so a hung conversion can be killed entirely
        )
    except OSError as exc:
        raise LoadError(path, f"could not run LibreOffice ({exc.strerror or exc})") from exc
    try:
        _, err = process.communicate(timeout=SOFFICE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()
        process.communicate()
        raise LoadError(path, f"LibreOffice conversion timed out after {SOFFICE_TIMEOUT_S} s") from exc
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return " ".join(lines[-2:])[:300]


# ----------------------------------------------------------------------------------------------------
# OFD (GB/T 33190: a zip of XML)
# ----------------------------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    """An element's name without its namespace, lower-cased: converters write other namespaces and
    other cases than GB/T 33190's."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _load_ofd(path: Path, settings: IngestSettings) -> LoadedDocument:
    from lxml import etree

    archive = _open_zip(path, settings, ".ofd")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    names = {name.lstrip("/").lower(): name for name in archive.namelist()}

    def read_xml(member: str, required: bool) -> Any:
        name = names.get(posixpath.normpath(member.lstrip("/")).lower())
        if name is None:
            if required:
                raise LoadError(path, f"corrupt .ofd (missing {member})")
            return None
        try:
            return etree.fromstring(archive.read(name), parser)
        except (etree.XMLSyntaxError, zipfile.BadZipFile, ValueError, OSError) as exc:
            raise LoadError(path, f"corrupt .ofd ({member}: {_describe(exc)})") from exc

    with archive:
        root = read_xml("OFD.xml", required=True)
        title = None
        for element in root.iter():
            if _local(element.tag) == "title" and (element.text or "").strip():
                title = element.text.strip()
                break
        doc_roots = [(e.text or "").strip() for e in root.iter() if _local(e.tag) == "docroot"]
        if not any(doc_roots):
            raise LoadError(path, "corrupt .ofd (OFD.xml names no DocRoot)")
        segments: list[Segment] = []
        page_number = 0
        for doc_root in filter(None, doc_roots):
            document_path = _ofd_resolve("", doc_root)
            document = read_xml(document_path, required=True)
            for page in document.iter():
                parent = page.getparent()
                if _local(page.tag) != "page" or parent is None or _local(parent.tag) != "pages":
                    continue
                page_number += 1
                location = _ofd_attr(page, "BaseLoc")
                if not location:
                    continue
                content = read_xml(_ofd_resolve(posixpath.dirname(document_path), location), required=False)
                if content is None:
                    continue
                text = _ofd_page_text(content)
                if text:
                    segments.append(Segment(text, page=page_number))
    return LoadedDocument(path=path, format="ofd", segments=segments, title_hint=title)


def _ofd_resolve(base_dir: str, location: str) -> str:
    location = location.strip()
    if location.startswith("/"):
        return posixpath.normpath(location.lstrip("/"))
    return posixpath.normpath(posixpath.join(base_dir, location))


def _ofd_numbers(value: str | None, count: int) -> list[float]:
    try:
        numbers = [float(v) for v in (value or "").split()]
    except ValueError:
        numbers = []
    return (numbers + [0.0] * count)[:count]


def _ofd_attr(element: Any, name: str) -> str | None:
    """An attribute by name, whatever its case: converters write "size" for the standard's "Size"."""
    value = element.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, val in element.attrib.items():
        if _local(key).lower() == wanted:
            return val
    return None


def _ofd_page_text(content: Any) -> str:
    """Reading order: text codes sorted by Y then X; codes whose Y is within a fraction of the font size
    of the line's Y are joined into that line. Like PDF layout-mode text, a line keeps its indentation
    (in spaces of one font size from the page's left edge) and a gap of about a character or more between
    codes becomes a run of spaces, so paragraph starts and table columns stay visible to the line
    joiner and the table reader."""
    items: list[tuple[float, float, float, str]] = []
    widths: dict[int, float] = {}  # id(item) → printed width, from the Boundary of a one-code object
    for text_object in content.iter():
        if _local(text_object.tag) != "textobject":
            continue
        box_x, box_y, box_w = _ofd_numbers(_ofd_attr(text_object, "Boundary"), 3)
        size = _ofd_numbers(_ofd_attr(text_object, "Size"), 1)[0] or 3.5
        codes = [c for c in text_object if _local(c.tag) == "textcode" and c.text]
        for code in codes:
            x = box_x + _ofd_numbers(_ofd_attr(code, "X"), 1)[0]
            y = box_y + _ofd_numbers(_ofd_attr(code, "Y"), 1)[0]
            item = (y, x, size, code.text)
            items.append(item)
            if len(codes) == 1 and box_w > 0:
                widths[id(item)] = box_w
    items.sort(key=lambda item: (item[0], item[1]))
    lines: list[list[tuple[float, float, float, str]]] = []
    for item in items:
        if lines and item[0] - lines[-1][0][0] <= max(0.5, 0.4 * item[2]):
            lines[-1].append(item)
        else:
            lines.append([item])
    left = min((item[1] for item in items), default=0.0)
    rendered = []
    for line in lines:
        parts: list[str] = []
        end = None
        col = 0  # characters printed so far on this line
        for item in sorted(line, key=lambda item: item[1]):
            _, x, size, piece = item
            at = round((x - left) / size)
            if end is None:
                parts.append(" " * max(0, at))
                col = max(0, at)
            elif x - end >= 0.8 * size:
                # at the column of its own x, as the first code of a line is (a table's cells stand under
                # one another whatever the digits before them), at least two spaces after a gap
                gap = max(2, at - col)
                parts.append(" " * gap)
                col += gap
            parts.append(piece)
            col += len(piece)
            estimate = sum(size if unicodedata.east_asian_width(ch) in "WF" else size / 2 for ch in piece)
            box = widths.get(id(item))
            # the Boundary width when it fits the text (some writers give every object a page-wide box)
            end = x + (box if box is not None and box <= 1.5 * estimate else estimate)
        text = "".join(parts).rstrip()
        if text.strip():
            rendered.append(text)
    return "\n".join(rendered)


_LOADERS: dict[str, Callable[[Path, IngestSettings], LoadedDocument]] = {
    "txt": _load_text,
    "md": _load_text,
    "html": _load_html,
    "docx": _load_docx,
    "pdf": _load_pdf,
    "doc": _load_legacy_word,
    "wps": _load_legacy_word,
    "ofd": _load_ofd,
    "xlsx": _load_spreadsheet,
    "xls": _load_spreadsheet,
    "et": _load_spreadsheet,
    "csv": _load_spreadsheet,
}
