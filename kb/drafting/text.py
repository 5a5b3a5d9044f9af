"""Small text helpers shared by the drafting modules: normalising, bigram similarity, question
punctuation, and telling a finding ("有的……不到位") from a norm ("要……")."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from kb.models import DraftQuestion
from kb.citations.verify import bigrams

# Words that mark a sentence as stating a problem or shortfall.
PROBLEM_MARKERS = (
    "问题", "不足", "不够", "不力", "不到位", "不健全", "不完善", "不严", "不畅", "不愿", "不敢", "不佳",
    "缺乏", "缺少", "没有", "薄弱", "短板", "少数", "个别", "有的", "部分", "存在", "流于形式", "偏少",
    "过于", "较少", "较多", "不高", "不强", "不紧", "不深", "难以", "隐患", "反弹", "亲清不分", "有待",
    "不宽", "不多", "不优", "偏重", "片面", "单一", "倦怠",
)
# Words that mark a sentence as a finding about what happened (not a rule about what should happen).
FINDING_MARKERS = ("发现", "有的", "少数", "个别", "部分", "一些", "存在", "暴露", "反映", "表明", "一是", "二是", "三是", "四是", "五是")
NORMATIVE = re.compile(r"(?:^|[,，;；])(?:要|必须|应当|坚持|及时|严格|健全|完善|建立|加强|强化|推动|确保|探索)")
# A sentence that prescribes what to do about a failing ("对……不力的班子，及时……谈话提醒") is a
# disposal measure, not a problem found: it never stands as a finding.
DISPOSAL = re.compile(r"^(?:[一二三四五六七八九十]+是)?对[^，,。]{2,30}的(?:班子|干部|单位|同志|地方)[,，]")

LEADING_JUNK = re.compile(r"^(?:\s|\d{1,3}、(?=\S)|[,，。；;:：、”’」』)）\]】]|[-—*·•])+")
_FULLWIDTH = str.maketrans({",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "?": "？", "!": "！"})
_QUOTE_MARKS = re.compile(r"[“”‘’\"'「」『』]")
DIGITS = re.compile(r"\d")


def norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


@lru_cache(maxsize=16384)
def grams(text: str) -> frozenset[str]:
    # scoring compares the same sentences many times over
    return frozenset(bigrams(text))


def jaccard(a: str, b: str) -> float:
    """Character-bigram Jaccard similarity (punctuation and spaces ignored)."""
    ga, gb = grams(a), grams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


@lru_cache(maxsize=16384)
def raw_grams(text: str) -> frozenset[str]:
    n = norm(text)
    return frozenset(n[i : i + 2] for i in range(len(n) - 1)) if len(n) > 1 else frozenset([n] if n else [])


def raw_jaccard(a: str, b: str) -> float:
    """Bigram Jaccard with punctuation kept (how a reader — and the eval — compares questions)."""
    ga, gb = raw_grams(a), raw_grams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def similarity(a: str, b: str) -> float:
    return max(jaccard(a, b), raw_jaccard(a, b))


def is_near_duplicate(text: str, others: list[str], threshold: float) -> bool:
    return any(similarity(text, other) >= threshold for other in others)


def remove_near_duplicates(questions: list[DraftQuestion], threshold: float) -> tuple[list[DraftQuestion], int]:
    """Keep the first of every group of near-duplicate questions; return (kept, number dropped)."""
    kept: list[DraftQuestion] = []
    for q in questions:
        if not is_near_duplicate(q.text, [k.text for k in kept], threshold):
            kept.append(q)
    return kept, len(questions) - len(kept)


def coverage(text: str, target: str) -> float:
    """Share of ``target``'s bigrams found in ``text``."""
    gt = grams(target)
    if not gt:
        return 0.0
    return len(gt & grams(text)) / len(gt)


def display(text: str) -> str:
    """A phrase cut from a source, made fit to sit inside a sentence: full-width punctuation, no
    inner quote marks, no stray spaces."""
    text = _QUOTE_MARKS.sub("", text.translate(_FULLWIDTH))
    text = re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text).strip()
    return text.strip("，、；：。 ")


def fullwidth(text: str) -> str:
    """ASCII punctuation inside Chinese text made full width, stray spaces between CJK removed;
    quote marks kept (a quotation stays recognisable)."""
    text = (text or "").translate(_FULLWIDTH)
    return re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text).strip()


def question_mark(text: str) -> str:
    text = text.strip().rstrip("。．.；;，,！!")
    if text.endswith("?"):
        text = text[:-1]
    return text if text.endswith("？") else text + "？"


def is_problem(text: str) -> bool:
    return any(m in text for m in PROBLEM_MARKERS)


def is_disposal(text: str) -> bool:
    return bool(DISPOSAL.search(clean_quote(text)))


def finding_score(text: str) -> float:
    """How much a sentence reads as a finding (a problem found, with who/what), not a norm."""
    if is_disposal(text):
        return -1.5
    found = any(m in text for m in FINDING_MARKERS)
    problem = is_problem(text)
    score = 1.0 * found + 1.0 * problem
    if NORMATIVE.search(text) and not (found and problem):
        score -= 1.5
    return score


def clean_quote(quote: str) -> str:
    """Drop page markers ("10、") and punctuation a sentence split leaves at the start; still a
    substring of the original, so still verbatim."""
    return LEADING_JUNK.sub("", quote).strip()


def fill(template: str, **values: str) -> str:
    """``{name}`` placeholders filled; unknown ones left as they are (a bank typo must not crash)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


# A source's blanked-out name ("以xxx同志为核心", "xx书记") or a form's example ("某某"): text that must never
# reach a question, a follow-up or a 依据 as if the knowledge base said it.
SOURCE_PLACEHOLDER = re.compile(r"[xX×Ｘｘ]{2,}|某某")


def has_placeholder(text: str) -> bool:
    return bool(SOURCE_PLACEHOLDER.search(text or ""))
