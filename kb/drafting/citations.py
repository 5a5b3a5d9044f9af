"""Numbering citations across one draft; every citation goes through the verifier."""
from __future__ import annotations

from kb.models import Citation, Hit


class Citations:
    """Numbers citations across the draft; the same quote from the same chunk keeps its number."""

    def __init__(self, verifier, start: int = 0):
        self.verifier = verifier
        self._numbers: dict[tuple[str, str], int] = {}
        self._start = start

    def cite(self, hit: Hit, quote: str) -> Citation:
        key = (hit.chunk.chunk_id, quote)
        n = self._numbers.setdefault(key, self._start + len(self._numbers) + 1)
        return self.verifier.cite(n, hit, quote)


def label_examples(parts, question, cites: Citations, target: str = "") -> None:
    """Mark the citations that narrate another place's case (a finding: "考察组发现该县…") as 参考事例;
    a question left with no other 依据 gets the framework line that best backs it, when one does."""
    from kb.citations.verify import plain
    from kb.drafting.evidence import FRAMEWORK_DOC_ID, support
    from kb.drafting.text import finding_score

    types = _doc_types(parts)
    question.examples = [
        i for i, c in enumerate(question.citations)
        if c.doc_id != FRAMEWORK_DOC_ID and types.get(c.doc_id) != "outline" and finding_score(c.quote) >= 1.0
    ]
    if not question.citations or len(question.examples) < len(question.citations):
        return
    generic = parts.generic(target)
    threshold = parts.settings.recheck_support
    have = {plain(c.quote) for c in question.citations}
    lines = [ev for ev in parts.finder.for_text(question.text, generic) if ev.framework and plain(ev.quote) not in have]
    best = max(lines, key=lambda ev: support(question.text, ev.quote, generic), default=None)
    if best is not None and support(question.text, best.quote, generic) >= threshold:
        question.citations.append(cites.cite(best.hit, best.quote))


def _doc_types(parts) -> dict[str, str]:
    try:
        return {r.doc_id: r.doc_type for r in parts.services.store.list_documents()}
    except Exception:
        return {}
