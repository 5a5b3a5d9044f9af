"""公文 (GB/T 9704): the 版头, the title, the body, the closing parts and the 版记, told apart.

- 版头: 份号, 密级/保密期限, 紧急程度, 发文机关标志 ("XX文件"), 发文字号 (X发〔2024〕12号 — [ ] ( )
  variants normalised to 〔 〕), then the 标题 (one to three lines) and the 主送机关 line ending in "：".
- closing: 附件说明 ("附件：1．…"), 发文机关署名 and 成文日期 (落款), 附注 "（此件…）", and the 版记
  (抄送, 印发机关和印发日期). They become parts of their own, so they are never the body of the last
  section, and give the document fields doc_number, issuer, issued_on (ISO) and the real title.
"""
from __future__ import annotations

import re

from ingest.parsers.base import ParsedDocument
from ingest.rules import any_match, rules

HEAD_LINES = 15  # the 版头 is within the first lines of page 1
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_OPEN, _CLOSE = "[［(（【", "]］)）】"


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append((pos, raw.strip()))
        pos += len(raw) + 1
    return out


def find_doc_number(line: str) -> str | None:
    found = _doc_number(line)
    return found[0] if found else None


def _doc_number(line: str) -> tuple[str, str] | None:
    """(normalised 发文字号, as printed) of a line, or None."""
    m = rules().doc_number.search(line)
    if not m:
        return None
    printed = re.sub(r"\s+", "", m.group(0))
    return f"{m.group('org')}〔{m.group('year')}〕{m.group('seq')}号", printed


def detect(text: str) -> bool:
    head = [line for _, line in _lines(text[:3000]) if line][:HEAD_LINES]
    has_number = any(find_doc_number(line) and len(line) <= 40 for line in head)
    has_mark = any(rules().issuer_mark.match(line) for line in head)
    return has_number and (has_mark or any(_title_type(line) for line in head))


def _cn_number(value: str) -> int:
    if value.isdigit():
        return int(value)
    if all(c in _CN_DIGITS for c in value):  # 二〇二四
        return int("".join(str(_CN_DIGITS[c]) for c in value))
    total = 0  # 十五, 二十, 三十一
    if "十" in value:
        tens, _, ones = value.partition("十")
        total = (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
        return total
    return _CN_DIGITS.get(value, 0)


def iso_date(line: str) -> str | None:
    m = rules().date_line.match(line.replace(" ", ""))
    if not m:
        return None
    y, mo, d = _cn_number(m.group("y")), _cn_number(m.group("m")), _cn_number(m.group("d"))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _title_type(title: str) -> str | None:
    for pattern, doc_type in rules().doc_types:
        if pattern.search(title):
            return doc_type
    return None


def parse(doc: ParsedDocument) -> None:
    """Fill doc.meta, doc.title, doc.doc_type and doc.parts from the 公文 layout of doc.text."""
    r = rules()
    lines = _lines(doc.text)
    nonempty = [(i, off, line) for i, (off, line) in enumerate(lines) if line]
    # --- 版头 ---
    number_at = None
    for n, (i, off, line) in enumerate(nonempty[:HEAD_LINES]):
        if doc.meta.get("issuer") is None and r.issuer_mark.match(line):
            doc.meta["issuer"] = r.issuer_mark.match(line).group("issuer")
        number = _doc_number(line) if len(line) <= 40 else None
        if number:
            doc.meta["doc_number"], doc.meta["doc_number_printed"] = number
            number_at = n
            break
    body_from = 0
    if number_at is not None:
        title_lines: list[str] = []
        k = number_at + 1
        while k < len(nonempty) and len(title_lines) < 3:
            line = nonempty[k][2]
            if line.endswith(("：", ":")) or re.match(r"^签发人", line):
                break
            if len(line) > 40 or line[-1] in "。；":
                break
            title_lines.append(line)
            k += 1
            if _title_type(line):
                break
        if title_lines and not _title_type("".join(title_lines)):
            # no 文种 at the end: these lines are no title (a 印发 header straight into the text)
            title_lines, k = [], number_at + 1
        if title_lines:
            doc.title = "".join(title_lines)
            doc.doc_type = _title_type(doc.title)
        if k < len(nonempty) and nonempty[k][2].endswith(("：", ":")):
            k += 1  # 主送机关
        body_from = nonempty[k][1] if k < len(nonempty) else len(doc.text)
    footer_at, attach_at, closing_at = closing_parts(doc, nonempty, body_from)
    parts: list[tuple[int, str]] = []
    if body_from:
        parts.append((0, "版头"))
        parts.append((body_from, ""))
    if attach_at is not None:
        parts.append((attach_at, "附件说明"))
    if closing_at is not None:
        parts.append((closing_at, "落款"))
    if footer_at is not None:
        parts.append((footer_at, "版记"))
    doc.parts = parts
    doc.meta = {k: v for k, v in doc.meta.items() if v}
    _prepend_record(doc)
    doc.meta = {k: v for k, v in doc.meta.items() if not k.endswith("_printed")}  # said in the record


def closing_parts(doc: ParsedDocument, nonempty=None, body_from: int = 0) -> tuple[int | None, int | None, int | None]:
    """Offsets of the 版记 (抄送, 印发), the 附件说明 and the 落款 (署名 + 成文日期) at the end of a
    document; the 成文日期 becomes ``issued_on`` and the 署名 ``issuer`` unless one is known."""
    r = rules()
    if nonempty is None:
        nonempty = [(i, off, line) for i, (off, line) in enumerate(_lines(doc.text)) if line]
    footer_at = next((off for _, off, line in nonempty if any_match(r.footer_start, line)), None)
    date_idx = None
    for n in range(len(nonempty) - 1, -1, -1):
        _, off, line = nonempty[n]
        if footer_at is not None and off >= footer_at:
            continue
        if iso_date(line):
            date_idx = n
            break
        if len(nonempty) - n > 8:
            break
    closing_at = None
    if date_idx is not None:
        doc.meta["issued_on"] = iso_date(nonempty[date_idx][2]) or ""
        doc.meta["issued_on_printed"] = nonempty[date_idx][2].replace(" ", "")
        sign_idx = date_idx
        prev = nonempty[date_idx - 1][2] if date_idx > 0 else ""
        if prev and len(prev) <= 30 and prev[-1] not in "。；：:，,":
            sign_idx = date_idx - 1
            doc.meta.setdefault("issuer", prev)
        closing_at = nonempty[sign_idx][1]
    attach_at = next(
        (off for _, off, line in nonempty if off >= body_from and any_match(r.closing_start, line)
         and (closing_at is None or off < closing_at)),
        None,
    )
    return footer_at, attach_at, closing_at


# The fields as sentences a question can be answered from ("这份通知的发文字号是什么？"): the 版头 prints
# the number without saying what it is. They open the stored text as a part of their own ("文件信息"),
# so every quote stays a verbatim part of what is stored; the printed text follows unchanged.
_RECORD_FIELDS = (("doc_number", "发文字号"), ("issuer", "发文机关"), ("issued_on", "成文日期"))


def _prepend_record(doc: ParsedDocument) -> None:
    if not doc.meta.get("doc_number"):
        return
    name = f"《{doc.title}》" if doc.title else "本文件"
    lines = []
    for key, label in _RECORD_FIELDS:
        value = doc.meta.get(key)
        if not value:
            continue
        if key == "issued_on":
            y, m, d = value.split("-")
            value = f"{int(y)}年{int(m)}月{int(d)}日"
        printed = doc.meta.get(f"{key}_printed")
        if printed and printed != value:
            # the document's own form as well ([ ] brackets, 二〇二三年十一月八日): an inspector may
            # quote either, and the record must not hide what the paper says
            value = f"{value}（原文作“{printed}”）"
        lines.append(f"{name}的{label}：{value}。")
    prefix = "\n".join(lines) + "\n"
    shift = len(prefix)
    doc.text = prefix + doc.text
    doc.pages = [(page, 0 if i == 0 else start + shift, end + shift) for i, (page, start, end) in enumerate(doc.pages)]
    body = [(off + shift, label) for off, label in doc.parts] or [(shift, "")]
    doc.parts = [(0, "文件信息")] + body
