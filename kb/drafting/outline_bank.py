"""The site's own question bank: numbered questions of the outlines in its knowledge base (documents of
doc type ``outline``: earlier 访谈提纲, 谈话提纲). Read from the stored chunks at drafting time and cached
per store version, so a question appears as soon as its outline is ingested and is gone once the
outline is removed. Each question keeps its own span as 依据 (the outline it comes from).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.drafting.evidence import Evidence
from kb.drafting.question_bank import BankQuestion
from kb.drafting.request import Dim, Plan
from kb.drafting.text import coverage, has_placeholder, norm
from kb.models import Hit

if TYPE_CHECKING:  # pragma: no cover
    from kb.drafting.parts import DraftParts

OUTLINE_DOC_TYPE = "outline"
MOST_PER_DIMENSION = 2
MIN_ASKED = 0.3
# "1、…？", "2. …?", "（三）…？", "一、…？": a numbered question of an outline, up to its question mark
_MARKER = re.compile(r"(?:\d{1,2}\s*[、．]|[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[)）])")
_NUMBERED = re.compile(
    r"(?:^|(?<=[\s。；;？?！!:：]))(?:\d{1,2}\s*[、.．]|[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[)）])"
    r"\s*([^。？?！!\n]{5,150}?[？?])"
)


@dataclass
class OutlineQuestion:
    text: str  # verbatim span of the chunk (number left out)
    hit: Hit = field(repr=False)

    @property
    def doc_id(self) -> str:
        return self.hit.chunk.doc_id


def outline_questions(parts: "DraftParts") -> list[OutlineQuestion]:
    """Every numbered question of the outline documents in the knowledge base (cached per store version)."""
    store = parts.services.store
    try:
        version = str(store.version())
    except Exception:
        version = ""
    # kept on the drafting parts: one per services object, so a user's scoped view has its own
    cached = getattr(parts, "_outline_questions", None)
    if cached is not None and version and cached[0] == version:
        return cached[1]
    out: list[OutlineQuestion] = []
    try:
        records = [r for r in store.list_documents() if r.doc_type == OUTLINE_DOC_TYPE]
    except Exception:
        records = []
    for record in records:
        try:
            chunks = store.document_chunks(record.doc_id)
        except Exception:
            continue
        for chunk in chunks:
            for m in _NUMBERED.finditer(chunk.text):
                text = m.group(1).strip()
                # a heading run before a numbered question ("…访谈提纲 一、您认为…？"): the question is
                # what follows the last number
                inner = list(_MARKER.finditer(text))
                if inner:
                    text = text[inner[-1].end():].strip()
                if len(text) < 6 or has_placeholder(text) or text not in chunk.text:
                    continue
                out.append(OutlineQuestion(text, Hit(rank=0, chunk=chunk, score=0.0)))
    parts._outline_questions = (version, out)
    return out


def relevance(question: str, dim: Dim, plan: Plan) -> float:
    """How much an outline question is about this dimension and this request: the dimension's names
    and keywords it uses, and the share of its words the request shares."""
    n = norm(question)
    named = sum(1 for t in dim.terms if norm(t) and norm(t) in n)
    keywords = sum(1 for k in dim.keywords if norm(k) and norm(k) in n)
    # share of the question's words the request uses: an outline's question is reused when the
    # request asks about what it asks, under a standard it names
    asked = coverage(plan.request, question) if plan.request else 0.0
    if not (named or keywords) or asked < MIN_ASKED:
        return 0.0
    terms = sum(1 for t in plan.request_terms if t and t in n)
    return 2.0 * named + 1.0 * min(keywords, 2) + 3.0 * asked + 0.5 * min(terms, 3)


def outline_entries(parts: "DraftParts", plan: Plan, dim: Dim) -> list[BankQuestion]:
    """The site's outline questions on this dimension and request, best first, as bank entries that
    carry their own outline span as 依据."""
    scored = []
    for q in outline_questions(parts):
        score = relevance(q.text, dim, plan)
        if score >= 2.0:
            scored.append((score, q))
    scored.sort(key=lambda x: -x[0])
    out = []
    for _, q in scored[:MOST_PER_DIMENSION]:
        title = q.hit.chunk.title or q.doc_id
        out.append(BankQuestion(
            id=f"提纲-{q.doc_id}-{q.hit.chunk.start}-{len(out)}", kind=plan.kind, dimension=dim.canonical,
            purpose=f"沿用本单位提纲《{title}》的问题，了解{dim.name}方面的情况",
            follow_ups=["能否举一个具体事例或用数据说明？", "这方面还存在哪些问题，原因是什么，下一步怎样改进？"],
            source=[q.doc_id], focus=[], texts={"default": q.text}, text=q.text, standard=dim.name,
            evidence=[Evidence(q.hit, q.text, 10.0, framework=False)],
        ))
    return out
