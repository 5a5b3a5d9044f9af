"""Re-checking an edited question: its citations are re-verified against the new text.

A citation stays when its quote is still verbatim in the stored document and backs the question
(``evidence.support`` at least ``draft.recheck_support`` — character bigrams, like the answer
verifier). Otherwise its position goes into ``DraftQuestion.to_check`` and the table, the Markdown
and the .docx show it as 待核实. On request (``replace=True``) unsupported citations are replaced by
evidence re-retrieved for the new text; a citation is never kept or added without support.
"""
from __future__ import annotations

from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING

from kb.drafting.citations import Citations
from kb.drafting.evidence import support
from kb.models import Draft, DraftQuestion, DraftSection
from kb.citations.verify import chunk_version, plain

if TYPE_CHECKING:  # pragma: no cover
    from kb.drafting.parts import DraftParts


def recheck_question(parts: "DraftParts", question: DraftQuestion, target: str = "",
                     replace: bool = False, start: int | None = None) -> DraftQuestion:
    """The question with its citations re-verified (and, with ``replace``, unsupported ones replaced)."""
    generic = parts.generic(target)
    threshold = parts.settings.recheck_support
    verifier = parts.services.verifier
    checked = []
    to_check: list[int] = []
    for i, c in enumerate(question.citations):
        verified = verifier.quote_is_verbatim(c.doc_id, c.quote, chunk_version(c.chunk_id))
        # offsets are only for a verbatim quote
        c = dc_replace(c, verified=verified) if verified else dc_replace(c, verified=False, start=None, end=None)
        checked.append(c)
        if not verified or support(question.text, c.quote, generic) < threshold:
            to_check.append(i)
    if replace and (to_check or not checked):
        keep = [c for i, c in enumerate(checked) if i not in to_check]
        exclude = {plain(c.quote) for c in keep}
        # evidence found for the words alone must back them clearly (a wrong citation is worse than none)
        fresh = [ev for ev in parts.finder.for_text(question.text, generic, exclude=exclude)
                 if support(question.text, ev.quote, generic) >= 1.5 * threshold][:2]
        numbers = Citations(verifier, start=start if start is not None else max([c.n for c in checked] + [0]))
        new = [numbers.cite(ev.hit, ev.quote) for ev in fresh]
        new = [c for c in new if c.verified]
        if new or keep:
            return dc_replace(question, citations=keep + new, to_check=[])
    return dc_replace(question, citations=checked, to_check=to_check)


def recheck_draft(parts: "DraftParts", draft: Draft, replace: bool = False) -> Draft:
    """Every question of the draft re-checked; ``replace`` re-retrieves for the unsupported ones."""
    top = max([c.n for s in draft.sections for q in s.questions for c in q.citations] + [0])
    sections = []
    for s in draft.sections:
        questions = []
        for q in s.questions:
            checked = recheck_question(parts, q, draft.target, replace=replace, start=top)
            top = max([top] + [c.n for c in checked.citations])
            questions.append(checked)
        sections.append(DraftSection(dimension=s.dimension, questions=questions))
    return dc_replace(draft, sections=sections)
