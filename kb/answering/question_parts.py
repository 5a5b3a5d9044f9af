"""A question that asks two things ("…组长是谁？他提出了什么要求？") is answered part by part.

Each part is searched, bound and decided on its own; a part that leans on the one before it (a pronoun,
"又", "还", or no subject of its own) gets that part's subject put in front of it. The answer is
"answered" only when every part is answered; the parts that are not say so in their own paragraph.
"""
from __future__ import annotations

import re

_SPLIT = re.compile(r"(?<=[？?])\s*")
# words a follow-up part opens with when it leans on the part before
_LEANING = re.compile(r"^(他|她|它|其|这|那|该|此|又|还|并且|以及|那么|另外|同时|两者|二者|分别|又是|那又)")
_QUESTION_CUE = re.compile(r"是谁|是什么|是多少|多少|几|哪|什么|怎么|怎样|如何|为什么|为何|有没有|是否|吗")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def split_question(question: str, analyse=None) -> list[str]:
    """The parts of a question that asks several things (two or more sentences each ending in a
    question mark, each with words of its own); [question] otherwise."""
    pieces = [p.strip() for p in _SPLIT.split(question.strip()) if p.strip()]
    pieces = [p for p in pieces if len(_CJK.findall(p)) >= 4]
    if len(pieces) < 2 or not all(_QUESTION_CUE.search(p) for p in pieces):
        return [question]
    parts = [pieces[0]]
    subject = _subject(pieces[0])
    for piece in pieces[1:]:
        if subject and (_LEANING.match(piece) or not _has_own_subject(piece)):
            piece = f"{subject}，{_LEANING.sub('', piece)}"
        parts.append(piece)
    return parts


def _subject(part: str) -> str:
    """The words of a part before its question word: what it asks about."""
    m = _QUESTION_CUE.search(part)
    head = part[: m.start()] if m else part
    # "山西这次专题民主生活会,全省有多少个市…": the subject is the opening clause
    clauses = [c for c in re.split(r"[，,]", head) if c.strip()]
    if len(clauses) > 1:
        head = "，".join(clauses[:-1])
    head = re.sub(r"[，,、的是在和与]+$", "", head).strip()
    return head if len(_CJK.findall(head)) >= 3 else ""


def _has_own_subject(part: str) -> bool:
    m = _QUESTION_CUE.search(part)
    return bool(m) and len(_CJK.findall(part[: m.start()])) >= 4
