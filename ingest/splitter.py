"""Structure-aware Chinese splitting.

A document is read line by line. Headings and numbering (Markdown ``#``, 第X编/章/节, 一、, （一）,
1. / 1、, 一是) open sections; ``第N条`` opens an article. Each section or article is a *unit*;
a unit never shares a chunk with another article, and long units are cut only at sentence ends
(。！？；!?; and line ends). Every chunk is a span ``text[start:end]`` of the stored document text,
so a quote taken from a chunk is, by construction, a verbatim part of the document.

Consecutive chunks of one unit overlap by one short sentence: a quote that straddles a cut is then
still whole in one chunk (inspectors' quotes are one or two sentences long).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CN_NUM = "零〇一二三四五六七八九十百千万两"
_NUM = f"[{CN_NUM}0-9０-９]+"

ARTICLE_RE = re.compile(rf"^\s*(第{_NUM}条)(?:之[{CN_NUM}]+)?[\s　:：]*")
# (pattern, level, group holding the label) — lower level = higher in the hierarchy.
HEADING_PATTERNS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(rf"^\s*第{_NUM}编[\s　]*"), 1),
    (re.compile(rf"^\s*第{_NUM}章[\s　]*"), 2),
    (re.compile(rf"^\s*第{_NUM}节[\s　]*"), 3),
    (re.compile(rf"^\s*[{CN_NUM}]+\s*[、.．]\s*"), 4),
    (re.compile(rf"^\s*[（(][{CN_NUM}]+[)）]\s*"), 5),
    (re.compile(r"^\s*[0-9]{1,2}\s*[、.．](?![0-9])\s*"), 6),
    (re.compile(r"^\s*[（(][0-9]{1,2}[)）]\s*"), 7),
    (re.compile(rf"^\s*[{CN_NUM}]是[，,:：\s]*"), 8),
    (re.compile(r"^\s*(?:首先|其次|再次|最后)[，,：:]\s*"), 8),
]
MARKDOWN_RE = re.compile(r"^\s*(#{1,6})\s+(.*\S)\s*$")
SENTENCE_END = "。！？；!?;"
_SENTENCE_RE = re.compile(rf"[^{SENTENCE_END}\n]*(?:[{SENTENCE_END}]+[”’」』\"')）]*|\n+|$)")
_LABEL_END = re.compile(r"[。！？；!?;：:]")
MAX_LABEL = 40
SHORT_LABEL = 24
LEAD_LEVEL = 9
ITEM_LEVELS = (5, 6, 7)  # （一） 1. （1）: numbered items
SUBTITLE_LEVEL = 4


@dataclass
class ChunkSpan:
    start: int
    end: int
    section: str
    article: str
    page: int | None
    page_starts: list[list[int]] | None = None  # [offset, page] of pages beginning inside the span


@dataclass
class _Line:
    start: int
    end: int  # exclusive, without the newline
    text: str


@dataclass
class _Unit:
    start: int
    end: int
    section: str
    article: str
    heading_only: bool = False
    level: int = 0  # heading level of the unit's own heading (0: none)
    sibling_path: str | None = None  # the parent's section path, for items merged with their siblings


def _label(rest: str) -> str:
    """The title of a numbered item: its text up to the first sentence end, shortened at a comma."""
    m = _LABEL_END.search(rest)
    label = rest[: m.start()] if m else rest
    label = label.strip(" 　\t,，")
    if len(label) > SHORT_LABEL:
        comma = re.search(r"[,，]", label[6:])
        if comma:
            label = label[: 6 + comma.start()]
    if len(label) > MAX_LABEL:
        label = label[:MAX_LABEL] + "…"
    return label


def _is_subtitle(stripped: str) -> bool:
    """A short stand-alone line with no sentence end, e.g. "突出问题导向,找准麻筋直击要害"."""
    return 6 <= len(stripped) <= 30 and stripped[-1] not in SENTENCE_END + "，,、：:”\"" and not re.search(r"\d{4}年|\d{1,2}:\d{2}|来源|>>|>", stripped)


def lead_sentence(line: str) -> str | None:
    """Policy paragraphs often open with a short title sentence: "完善保障“两个维护”制度机制。引导……"."""
    stripped = line.strip()
    m = re.match(r"^([^。！？；!?;，,：:“”\"「」]{4,%d})。" % SHORT_LABEL, stripped)
    if m and len(stripped) > 2 * len(m.group(0)):
        return m.group(1)
    return None


def classify_heading(line: str, prev_ends_sentence: bool) -> tuple[int, str] | None:
    """(level, label) if the line opens a section, else None."""
    m = MARKDOWN_RE.match(line)
    if m:
        return len(m.group(1)), _label(m.group(2))
    stripped = line.strip()
    for pattern, level in HEADING_PATTERNS:
        pm = pattern.match(stripped)
        if not pm:
            continue
        # A number at the start of a line that continues a sentence is a page marker or a wrapped
        # line, not a heading (scraped document viewers print "2、" before each page).
        if level >= 4 and not prev_ends_sentence:
            return None
        rest = stripped[pm.end():]
        if level <= 3:
            # 第X章 总则 — the whole short line is the label.
            return level, _label(stripped)
        label = _label(rest)
        if not label:
            return None
        prefix = stripped[: pm.end()].strip()
        return level, f"{prefix}{label}" if level <= 5 or level == 8 else label
    return None


def _split_lines(text: str) -> list[_Line]:
    lines = []
    pos = 0
    for raw in text.split("\n"):
        lines.append(_Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return lines


def _units(text: str, title: str | None, nest_items: bool = False) -> list[_Unit]:
    stack: list[tuple[int, str]] = []
    units: list[_Unit] = []
    current: _Unit | None = None
    article = ""
    prev_ends_sentence = True
    title_pending = True
    seen_body = False  # stand-alone subtitles count only after the page header lines

    def section_path() -> str:
        return " > ".join(label for _, label in stack)

    def close(end: int) -> None:
        nonlocal current
        if current is not None:
            current.end = end
            units.append(current)
        current = None

    for line in _split_lines(text):
        stripped = line.text.strip()
        if not stripped:
            continue
        title_line = False
        art = ARTICLE_RE.match(line.text)
        markdown = MARKDOWN_RE.match(line.text)
        heading = None if art else classify_heading(line.text, prev_ends_sentence)
        # Inside an article, （一）/1./一是 are the article's items, not new sections: only a
        # chapter-level heading (第X章/节/编 or Markdown) ends an article.
        if heading is not None and article and heading[0] >= 4 and not markdown:
            heading = None
        if heading is None and not art and not article and prev_ends_sentence:
            lead = lead_sentence(line.text)
            if lead:
                heading = (LEAD_LEVEL, lead)
            elif seen_body and _is_subtitle(stripped):
                heading = (SUBTITLE_LEVEL, stripped)
        if art:
            close(line.start)
            article = art.group(1)
            current = _Unit(line.start, line.end, section_path(), article)
        elif heading is not None:
            level, label = heading
            close(line.start)
            is_title = title_pending and not units and (
                (markdown is not None and level == 1) or (title is not None and stripped == title.strip())
            )
            title_pending = False
            if is_title:
                current = _Unit(line.start, line.end, "", "", heading_only=True)
            else:
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, label))
                article = ""
                body_on_line = len(stripped) > len(label) + 8
                parent = " > ".join(label for _, label in stack[:-1])
                current = _Unit(line.start, line.end, section_path(), "", heading_only=not body_on_line, level=level,
                                sibling_path=parent if level in ITEM_LEVELS else None)
        else:
            if current is None:
                is_title = title_pending and not units and title is not None and stripped == title.strip()
                title_line = bool(is_title)
                current = _Unit(line.start, line.end, section_path(), article, heading_only=bool(is_title))
            else:
                current.end = line.end
                current.heading_only = False
            title_pending = False
        if current is not None:
            current.end = line.end
        ends = stripped[-1] in SENTENCE_END + "”\"」』:：)）?？"
        # the document's title line closes like a heading: "一、…" right after it opens a section
        prev_ends_sentence = ends or title_line or (heading is not None and len(stripped) <= len(heading[1]) + 8)
        seen_body = seen_body or len(stripped) >= 100
    close(len(text))
    return _merge_heading_only(units, nest_items)


def _merge_heading_only(units: list[_Unit], nest_items: bool = False) -> list[_Unit]:
    """A heading with no body of its own joins the unit that follows it (its child or sibling).

    With `nest_items`, numbered items stay under their parent: a merged run of items ("（1）…；（2）…；")
    is filed under the heading they belong to, not under the last item's label, and a whole item
    before a higher heading ("（4）…问题。" then "4.政治能力") is not filed under that heading. Off for
    plain-text inputs (scraped pages, the laws Markdown), whose chunks the answerer was calibrated on."""
    merged: list[_Unit] = []
    pending: _Unit | None = None
    for unit in units:
        if nest_items and pending is not None and pending.level in ITEM_LEVELS and 4 <= unit.level < pending.level:
            merged.append(pending)
            pending = None
        if pending is not None:
            # never merge into an article from outside it: the heading stays its own chunk then
            section = unit.section or pending.section
            sibling_path = None
            if nest_items:
                if unit.level > pending.level > 0:
                    sibling_path = pending.section  # a heading and its first item: the heading's path
                elif unit.level == pending.level:
                    sibling_path = pending.sibling_path
                if pending.level in ITEM_LEVELS and unit.level == pending.level and pending.sibling_path is not None:
                    section = pending.sibling_path
            unit = _Unit(pending.start, unit.end, section, unit.article, unit.heading_only, unit.level, sibling_path=sibling_path)
            pending = None
        if unit.heading_only:
            pending = unit
            continue
        merged.append(unit)
    if pending is not None:
        merged.append(pending)
    return merged


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    for m in _SENTENCE_RE.finditer(text, start, end):
        if m.end() > m.start():
            spans.append((m.start(), m.end()))
    return spans


def _pack(text: str, unit: _Unit, target: int, max_len: int) -> list[tuple[int, int]]:
    """Cut a unit into spans of about `target` characters at sentence ends, overlapping by one sentence."""
    length = unit.end - unit.start
    if length <= max_len:
        return [(unit.start, unit.end)]
    sentences = _sentences(text, unit.start, unit.end)
    # A sentence longer than the hard cap is cut at commas/line ends so no chunk is absurd.
    hard_cap = max_len * 3
    refined: list[tuple[int, int]] = []
    for s, e in sentences:
        if e - s <= hard_cap:
            refined.append((s, e))
            continue
        pos = s
        for m in re.finditer(r"[，,、：:\n]", text[s:e]):
            cut = s + m.end()
            if cut - pos >= target:
                refined.append((pos, cut))
                pos = cut
        while e - pos > hard_cap:
            refined.append((pos, pos + max_len))
            pos += max_len
        if pos < e:
            refined.append((pos, e))
    spans: list[tuple[int, int]] = []
    i = 0
    n = len(refined)
    while i < n:
        s0 = refined[i][0]
        j = i
        e = refined[i][1]
        while j + 1 < n and refined[j + 1][1] - s0 <= max_len and e - s0 < target:
            j += 1
            e = refined[j][1]
        spans.append((s0, e))
        if j + 1 >= n:
            break
        # overlap: start the next chunk with the last sentence of this one when it is short
        last_len = refined[j][1] - refined[j][0]
        i = j if (j > i and last_len <= max_len // 3) else j + 1
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _page_at(pages: list[tuple[int, int, int]], offset: int) -> int | None:
    for page, s, e in pages:
        if s <= offset < e:
            return page
    return pages[-1][0] if pages and offset >= pages[-1][2] else None


def split_document(
    text: str,
    *,
    title: str | None = None,
    pages: list[tuple[int, int, int]] | None = None,
    target: int = 400,
    max_len: int = 500,
    parts: list[tuple[int, str]] | None = None,
    nest_items: bool = False,
) -> list[ChunkSpan]:
    """Split `text` into chunk spans. `pages` = [(page_no, start, end)] offsets for paged formats.

    Chunks may run across pages (a sentence continued on the next page stays whole): a span names
    the page it starts on and lists the pages that begin inside it. `parts` = [(offset, label)]
    marks where a document part that is not body text begins (a 公文's 落款 or 版记): no unit runs
    across such an offset, and the part's units are filed under its label, not the last section."""
    pages = pages or []
    spans: list[ChunkSpan] = []
    bounds = sorted(parts or [])
    for unit in _units_with_parts(text, title, bounds, nest_items):
        for s, e in _pack(text, unit, target, max_len):
            s, e = _trim(text, s, e)
            if e <= s:
                continue
            starts = [[ps, page] for page, ps, _ in pages if s < ps < e] if pages else []
            spans.append(ChunkSpan(s, e, unit.section, unit.article, _page_at(pages, s) if pages else None, starts))
    return spans


def _units_with_parts(text: str, title: str | None, bounds: list[tuple[int, str]], nest_items: bool = False) -> list[_Unit]:
    if not bounds:
        return _units(text, title, nest_items)
    units: list[_Unit] = []
    edges = [(o, label) for o, label in bounds if 0 <= o < len(text)]
    if not edges or edges[0][0] != 0:
        edges.insert(0, (0, ""))
    edges.append((len(text), ""))
    for (start, label), (end, _) in zip(edges, edges[1:]):
        if end <= start:
            continue
        if not label:
            # body: split as usual, offsets shifted back into the document
            for u in _units(text[start:end], title if start == 0 else None, nest_items):
                units.append(_Unit(u.start + start, u.end + start, u.section, u.article, u.heading_only))
        else:
            units.append(_Unit(start, end, label, ""))
    return units


def detect_title(text: str, fallback: str) -> str:
    """First Markdown heading, else the first non-empty short line, else the file name."""
    for line in text.split("\n"):
        m = MARKDOWN_RE.match(line)
        if m:
            return m.group(2).strip()
        stripped = line.strip()
        if stripped:
            if len(stripped) <= 60:
                return stripped
            break
    return fallback
