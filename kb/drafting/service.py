"""DraftService: interview outlines (深度访谈提纲) and talk outlines (谈话提纲) grounded in the
knowledge base.

1. the request is read (``request.py``): kind, target, who talks to whom, interviewee, dimensions;
2. evidence is gathered per dimension (``evidence.py``);
3. questions come from the question bank (``question_bank.py``), chosen and ordered by the
   request, each with the verified quotes that back it attached as 依据 (``interview_outline.py``,
   ``talk_outline.py``);
4. with a language model, the model adapts those questions to the evidence (``llm_drafting.py``);
5. edited questions are re-checked (``recheck.py``); regenerate never repeats a question.

Every citation goes through ``services.verifier.cite`` so ``verified`` is checked against the store.
A requested dimension is never dropped: without evidence it stays as an empty section with a warning.
"""
from __future__ import annotations

from dataclasses import replace

from kb.drafting import interview_outline, llm_drafting, talk_outline
from kb.drafting.citations import Citations, label_examples
from kb.drafting.evidence import speaks_of
from kb.drafting.outline_bank import outline_entries
from kb.drafting.parts import DraftParts
from kb.drafting.question_bank import BankQuestion
from kb.drafting.recheck import recheck_draft, recheck_question
from kb.drafting.request import KIND_LABELS, DraftError, Plan  # noqa: F401  (DraftError re-exported)
from kb.drafting.text import is_near_duplicate, norm
from kb.models import Draft, DraftQuestion, DraftRequest


def kind_title(plan: Plan) -> str:
    """谈心谈话提纲, 函询提纲 … for a kind the request names; 深度访谈提纲 / 谈话提纲 otherwise."""
    kind = plan.talk_kind
    if kind is None or kind.key in ("supervision", "interview") or plan.feedback:
        return KIND_LABELS[plan.kind]
    return f"{kind.label}提纲"


class DraftService(DraftParts):
    """The entry point; its parts (bank, finder, reader, framework, subject words) are ``parts.DraftParts``."""

    def request_entries(self, plan: Plan, evidence: dict) -> dict[str, list[BankQuestion]]:
        """Questions on what the request asks to concentrate on that no bank question of the
        requested dimensions covers, each under the dimension whose evidence speaks of it."""
        from kb.drafting.question_bank import request_entry
        from kb.drafting.request import focus_phrases

        out: dict[str, list[BankQuestion]] = {d.canonical: [] for d in plan.dims}
        focus = [norm(f) for d in plan.dims for e in self.bank_entries(plan.kind, d) for f in e.focus]
        # a question of the site's own outlines already asks about it
        focus += [norm(e.text) for d in plan.dims for e in outline_entries(self, plan, d)]
        terms = [norm(t) for d in plan.dims for t in [d.name, *d.terms]]
        for phrase in focus_phrases(plan.request, plan.target):
            p = norm(phrase)
            if any(f and (f in p or p in f) for f in focus + terms):
                continue
            if self.framework is not None and self.framework.find_dimensions(phrase, use_keywords=False):
                continue  # it names a standard: the bank's questions for it apply
            counts = {d.canonical: sum(1 for ev in evidence[d.canonical][:40] if not ev.framework and speaks_of(ev.quote, phrase))
                      for d in plan.dims}
            best = max(plan.dims, key=lambda d: counts[d.canonical])
            if counts[best.canonical] == 0:
                # not among the dimension's evidence: sentences of the knowledge base that name it
                found = self.finder.phrase_evidence(phrase, plan)
                if not found:
                    continue  # nothing in the knowledge base speaks of it: no question to back
                best = min(plan.dims, key=lambda d: len(out[d.canonical]))
                evidence[best.canonical] = found + evidence[best.canonical]
            out[best.canonical].append(request_entry(phrase, best.name, plan.kind))
        return out

    def material_choices(self) -> list[tuple[str, str]]:
        """(label, value) of the collections and documents (by title) this user may pick as the target's
        materials; see ``EvidenceFinder.material_choices``."""
        return self.finder.material_choices()

    # -- request inference (kept for callers of the old module) ----------------------------------------
    def infer_request(self, req: DraftRequest) -> tuple[DraftRequest, list[str]]:
        return self.reader.fill(req)

    # -- main entry ----------------------------------------------------------------------------
    def draft(self, req: DraftRequest, exclude: list[str] | None = None) -> Draft:
        from kb.access.limits import check_draft_request

        # bounded here, at the entry every caller (web app, API, `kb draft`) goes through: the cost
        # of a draft grows with the number and length of its dimensions
        check_draft_request(req, self.services.settings)
        plan = self.reader.plan(req, self.settings.max_count, self.settings.default_count)
        plan.exclude = list(exclude or [])
        draft = Draft(
            kind=plan.kind,
            title=f"{plan.target}{kind_title(plan)}",
            target=plan.target,
            interviewee=plan.interviewee if plan.kind == "interview" else "",
            speaker=plan.speaker,
            id=req.id,
        )
        draft.warnings.extend(plan.notes)
        cites = Citations(self.services.verifier)
        evidence = {}
        for d in plan.dims:
            focus = [f for e in self.bank_entries(plan.kind, d) if e.focus_hits(plan.request) for f in e.focus]
            evidence[d.canonical] = self.finder.for_dimension(d, plan, focus)
        for dim in plan.dims:
            ev = evidence[dim.canonical]
            if not ev:
                draft.warnings.append(f"知识库中没有找到“{dim.name}”方面的依据，本部分未生成问题。")
            elif all(e.framework for e in ev):
                draft.warnings.append(f"“{dim.name}”方面除内置评价框架外，知识库中没有找到其他依据，问题依据框架条文起草。")
        plan.extra_entries = self.request_entries(plan, evidence)
        if plan.kind == "talk":
            sections = talk_outline.build(self, plan, evidence, cites, draft)
        else:
            sections = interview_outline.build(self, plan, evidence, cites, draft)
            draft.opening = interview_outline.opening(plan, sections)
        if self.services.llm is not None:
            sections = llm_drafting.with_llm(self, plan, evidence, cites, draft, sections)
        for section in sections:
            for question in section.questions:
                label_examples(self, question, cites, plan.target)
        draft.sections = sections
        draft.coverage = {
            s.dimension: {
                "questions": len(s.questions),
                "sources": sorted({c.doc_id for q in s.questions for c in q.citations if c.verified}),
            }
            for s in sections
        }
        return draft

    def regenerate(self, request: DraftRequest, dimension: str, exclude: list[str] | None = None) -> list[DraftQuestion]:
        """Other questions for one dimension: none equal to, or a near duplicate of, ``exclude``
        (the questions the draft already holds, the one being replaced included)."""
        exclude = [t for t in (exclude or []) if t and t.strip()]
        sub = replace(request, dimensions=[dimension], count=self.settings.max_count)
        result = self.draft(sub, exclude=exclude)
        threshold = self.settings.near_duplicate_jaccard
        seen = {norm(t) for t in exclude}
        out = []
        wanted = self.reader.canonical(dimension)
        for q in (q for s in result.sections if self.reader.canonical(s.dimension) == wanted for q in s.questions):
            if norm(q.text) in seen or is_near_duplicate(q.text, exclude, threshold):
                continue
            out.append(q)
        return out

    def recheck(self, question: DraftQuestion | dict, target: str = "", replace: bool = False) -> DraftQuestion:
        """Re-verify an (edited) question's citations against its text; see ``recheck.py``."""
        if isinstance(question, dict):
            question = Draft.from_dict({"sections": [{"dimension": "", "questions": [question]}]}).sections[0].questions[0]
        return recheck_question(self, question, target, replace=replace)

    def recheck_draft(self, draft: Draft, replace: bool = False) -> Draft:
        return recheck_draft(self, draft, replace=replace)
