"""Numbers in evidence: which written quantities a sentence states, and of which unit family.

A number is digits ("4861人次", "15稿", "82.7%"), or a run of Chinese numerals followed by a unit or
classifier ("三轮", "两个小时", "一次"). A Chinese numeral inside a word is not a number: 一把手,
一票否决, 统一, 两个维护 count nothing, and neither does a numbered slogan in quotation marks (“三个着力”),
so "多少" is never answered by them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kb.answering.lexicon import AnswerLexicon


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    text: str
    unit: str  # "" when the number carries no unit
    family: str | None


def answer_units(lex: AnswerLexicon, unit_class: str | None, asked: str | None) -> tuple[str, ...]:
    """The units a number answering the question may carry ("几个月" → days…years)."""
    if unit_class is None:
        return ()
    if unit_class in lex.strict_unit_families and asked and asked != "个":
        # "多少条意见" wants 条, not "五个进一步"; "分几批" wants 批, not "一次"
        return (asked,)
    if unit_class == "duration" and asked:
        for scale in lex.duration_scales:
            if asked in scale:
                return scale
    if not asked and unit_class in lex.relative_families:
        return lex.units[unit_class] + tuple(u for family in lex.relative_families[unit_class] for u in lex.units[family])
    return lex.units[unit_class]


def _blocked(lex: AnswerLexicon, text: str) -> list[tuple[int, int]]:
    """Spans of dates ("2020年" is a date, not a duration) and of words that merely contain a numeral."""
    spans = [m.span() for m in lex.date.finditer(text)]
    spans += [m.span() for m in lex.numeral_word.finditer(text)]
    return spans


def _starts_inside(spans: list[tuple[int, int]], start: int) -> bool:
    return any(s <= start < e for s, e in spans)


def quantities(lex: AnswerLexicon, text: str, units: tuple[str, ...] | None = None) -> list[Quantity]:
    """Every number in `text` with its unit. With `units`, only numbers carrying one of them."""
    wanted = tuple(sorted(units or lex.all_units, key=len, reverse=True))
    unit_alt = "|".join(map(re.escape, wanted))
    # "一个小时", "3个百分点": 个 stands before a unit of another family, never before an item's
    # classifier ("80个项目" is 80个, not 80个项)
    measure_alt = "|".join(map(re.escape, [u for u in wanted if lex.unit_family.get(u) != "items"])) or "(?!)"
    cn = lex.chinese_numerals
    # "一个小时", "半个月", "3个多小时": the classifier 个 may stand between number and unit; "1300多万人",
    # "136.8万人": a magnitude (万, 亿) may stand before it
    pattern = re.compile(
        rf"(?P<num>\d{{1,3}}(?:,\d{{3}})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|[{cn}]+|几|数|半)\s*(?:多|余|来)?\s*(?:[万亿千百](?:多|余)?(?=\s*(?:个\s*)?(?:多|余)?(?:{unit_alt})))?"
        rf"\s*(?:个(?=\s*(?:多|余)?(?:{measure_alt})))?\s*(?:多|余)?(?P<unit>{unit_alt})"
    )
    blocked = _blocked(lex, text)
    out: list[Quantity] = []
    for m in pattern.finditer(text):
        num = m.group("num")
        if num in ("几", "数") or not num.strip("万亿千百"):
            continue  # "几次" in the evidence is no count, nor is a bare "万人" ("1300多万人" is read whole)
        if m.start() > 0 and text[m.start() - 1] == "第":
            continue  # "第十个成员国" is an ordinal, not a count
        if _starts_inside(blocked, m.start()):
            continue
        if m.start() > 0 and text[m.start() - 1] in "“\"「『‘":
            continue  # “三个着力”, “五个进一步”: a numbered slogan is a name, not a count
        unit = m.group("unit")
        if unit == "分" and text[m.end() : m.end() + 1] in lex.score_unit_blockers:
            continue
        # "一把手" cannot be read here (把 is no unit); "两个维护" is blocked above; "一个" before a noun
        # ("做了一个总体评价") is an article, not a count, unless the question asks for 个
        if unit == "个" and num == "一" and units is None:
            continue
        out.append(Quantity(m.start(), m.end(), m.group(0), unit, lex.unit_family.get(unit)))
    if units is None or "%" in wanted:
        # "百分之六十", "千分之五": a percentage written out, as laws write them
        for m in re.finditer(rf"[百千]分之(?:\d+(?:\.\d+)?|[{cn}点]+)", text):
            if not _starts_inside(blocked, m.start()) and not any(q.start <= m.start() < q.end for q in out):
                out.append(Quantity(m.start(), m.end(), m.group(0), "%", "percent"))
        out.sort(key=lambda q: q.start)
    if units is None:
        # bare digits and percentages ("82.7%", "第3", "2024") also state a number
        for m in re.finditer(r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?\s*[%％]?|\d+(?:\.\d+)?\s*[%％]?", text):
            if _starts_inside(blocked, m.start()) or any(q.start <= m.start() < q.end for q in out):
                continue
            out.append(Quantity(m.start(), m.end(), m.group(0), "", "percent" if m.group(0).rstrip().endswith(("%", "％")) else None))
        out.sort(key=lambda q: q.start)
    return out


def has_quantity(lex: AnswerLexicon, sentence: str, unit_class: str | None, units: tuple[str, ...] = ()) -> bool:
    """Does the sentence state a number of the asked kind? With no unit asked, any real number."""
    if unit_class is None:
        return bool(quantities(lex, sentence))
    return bool(quantities(lex, sentence, units or lex.units[unit_class]))
