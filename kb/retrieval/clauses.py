"""ClauseLocator: find "《某条例》第十二条", "某法第12条", "第三章" in a question and resolve them.

Titles are resolved against the titles of ingested documents: exact containment first, then
without the "中华人民共和国" prefix, then fuzzy (character-bigram overlap). When several documents
share a title (versions of one law), all are returned, newest version first.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUMERAL = r"[零〇一二两三四五六七八九十百千万0-9０-９]+"
_ARTICLE_Q = re.compile(rf"第\s*({_NUMERAL})\s*条")
_CHAPTER_Q = re.compile(rf"第\s*({_NUMERAL})\s*章")
_BOOK = re.compile(r"《([^《》]{2,80})》")
_PREFIX = "中华人民共和国"
_DATE_SUFFIX = re.compile(r"[(（]\d{4}-\d{2}-\d{2}[)）]$")


def chinese_to_int(text: str) -> int | None:
    """'一百九十九' → 199, '二十三' → 23, '十' → 10, '12' → 12. None if it is not a numeral."""
    text = unicodedata.normalize("NFKC", text.strip())
    if not text:
        return None
    if text.isdigit():
        return int(text)
    total, section, number = 0, 0, 0
    for ch in text:
        if ch in _DIGITS:
            number = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit == 10000:
                section = (section + number) * unit
                total += section
                section = 0
            else:
                section += (number or 1) * unit
            number = 0
        else:
            return None
    return total + section + number


def int_to_chinese(n: int) -> str:
    """199 → '一百九十九' (the form laws use for article numbers)."""
    digits = "零一二三四五六七八九"
    if n < 0:
        raise ValueError(n)
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n - 10] if n > 10 else "")
    parts = []
    for value, name in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, value)
        if q:
            parts.append(digits[q] + name)
        elif parts and n:
            if not parts[-1].endswith("零"):
                parts.append("零")
    if n:
        parts.append(digits[n])
    return "".join(parts)


def article_number(label: str) -> int | None:
    m = re.match(rf"第({_NUMERAL})条", label or "")
    return chinese_to_int(m.group(1)) if m else None


def _norm_title(title: str) -> str:
    title = unicodedata.normalize("NFKC", title)
    title = _DATE_SUFFIX.sub("", title)
    return re.sub(r"[\s《》“”\"'()（）]", "", title)


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


@dataclass
class ClauseQuery:
    article: int | None = None  # 第N条 as an int
    chapter: int | None = None
    title_text: str | None = None  # the words naming the document, as written in the question
    doc_ids: list[str] = field(default_factory=list)  # resolved documents, best first
    exact: bool = False  # the title (or a shortening without 中华人民共和国) matched, not only a near title

    @property
    def found(self) -> bool:
        return bool(self.doc_ids)


class ClauseLocator:
    def __init__(self, titles: dict[str, str], dates: dict[str, str] | None = None):
        """`titles`: doc_id → title. `dates`: doc_id → version date (orders versions, newest first)."""
        self.titles = titles
        self.dates = dates or {}
        self._by_norm: dict[str, list[str]] = {}
        for doc_id, title in titles.items():
            # "中华人民共和国" is dropped anywhere, not only in front: questions write
            # 广东省实施《消防法》办法 for 广东省实施《中华人民共和国消防法》办法.
            for key in {_norm_title(title), _norm_title(title).removeprefix(_PREFIX), _norm_title(title).replace(_PREFIX, "")}:
                if len(key) >= 2:
                    self._by_norm.setdefault(key, []).append(doc_id)
        # longest titles first: "山东省实施《道路交通安全法》办法" must win over "道路交通安全法"
        self._keys = sorted(self._by_norm, key=len, reverse=True)

    def _order(self, doc_ids: list[str]) -> list[str]:
        unique = list(dict.fromkeys(doc_ids))
        return sorted(unique, key=lambda d: self.dates.get(d, ""), reverse=True)

    def parse(self, question: str) -> ClauseQuery:
        q = unicodedata.normalize("NFKC", question)
        result = ClauseQuery()
        m = _ARTICLE_Q.search(q)
        if m:
            result.article = chinese_to_int(m.group(1))
        c = _CHAPTER_Q.search(q)
        if c:
            result.chapter = chinese_to_int(c.group(1))
        book = _BOOK.search(q)
        candidates: list[str] = []
        if m:
            candidates.append(q[: m.start()])
        if book:
            candidates.append(book.group(1))
        # Exact matches on every candidate before any fuzzy one, and the words before 第N条 before
        # the first 《》: in 广东省实施《中华人民共和国消防法》办法第三条 the 《》 names another law.
        passes = [(text, True) for text in candidates + [q]] + [(text, False) for text in candidates]
        for text, exact_only in passes:
            doc_ids = self.resolve(text, exact_only=exact_only)
            if doc_ids:
                result.title_text = text
                result.doc_ids = doc_ids
                result.exact = exact_only
                break
        return result

    def named_exactly(self, query: ClauseQuery) -> list[str]:
        """The resolved documents whose title is the one the question writes — itself, or shortened
        at the front (劳动合同法 for 中华人民共和国劳动合同法). Resolution also finds near titles (a
        national 劳动保障监察条例 inside 浙江省劳动保障监察条例, 济宁 for 济南, 计量法实施细则 for
        计量法), which point retrieval the right way but name another document: no answer may be
        taken from them as if they were the one asked for."""
        if not query.title_text:
            return []
        asked = _norm_title(query.title_text).replace(_PREFIX, "")
        asked = re.sub(r"^(请给出|请问|根据|按照|依照|依据)", "", asked)
        asked = re.sub(r"(中|的|里|里面|内|关于)+$", "", asked)
        if len(asked) < 2:
            return []
        out = []
        for doc_id in query.doc_ids:
            title = _norm_title(self.titles.get(doc_id, "")).replace(_PREFIX, "")
            if title == asked or (title.endswith(asked) and len(asked) >= 4):
                out.append(doc_id)
        return out

    def resolve(self, text: str, exact_only: bool = False) -> list[str]:
        norm = _norm_title(text)
        if not norm:
            return []
        stripped = re.sub(r"(中|的|里|里面|内|规定|关于)+$", "", norm)
        stripped = re.sub(r"^(请给出|请问|根据|按照|依照|依据)", "", stripped)
        # 0. the text is a title: short ones too (公司法, 刑法), which step 1 skips as too loose
        for exact in (norm, stripped):
            if exact in self._by_norm:
                return self._order(self._by_norm[exact])
        # 1. a known title contained in the text (longest first)
        for key in self._keys:
            if len(key) >= 4 and key in norm:
                return self._order(self._by_norm[key])
        if exact_only:
            return []
        # 2. fuzzy: the text before 第N条 minus trailing particles, against titles by bigram overlap
        grams = _bigrams(stripped)
        if len(grams) < 3:
            return []
        best: list[tuple[float, str]] = []
        for key in self._keys:
            kg = _bigrams(key)
            if not kg:
                continue
            score = len(grams & kg) / len(grams | kg)
            if score >= 0.6:
                best.append((score, key))
        if not best:
            return []
        best.sort(reverse=True)
        top = best[0][0]
        doc_ids = [d for score, key in best if score >= top - 1e-9 for d in self._by_norm[key]]
        return self._order(doc_ids)
