"""DraftParts: what every outline builder drafts with — the question bank, the evidence finder, the
request reader, the criteria framework and the subject words of support scores.

The builders (``interview_outline.py``, ``talk_outline.py``, ``llm_drafting.py``, ``recheck.py``) take a
``DraftParts``; ``DraftService`` (``service.py``) is one and hands itself to them. This module sits
below both, so no builder imports the service that calls it.
"""
from __future__ import annotations

import logging
from typing import Any

from kb.drafting.evidence import EvidenceFinder, Subject
from kb.drafting.question_bank import BankQuestion, QuestionBank
from kb.drafting.request import Plan, RequestReader
from kb.citations.verify import bigrams

log = logging.getLogger(__name__)


class DraftParts:
    def __init__(self, services):
        self.services = services
        self.settings = services.settings.draft
        self._framework: Any = None
        self._framework_loaded = False
        self._bank: QuestionBank | None = None
        self._finder: EvidenceFinder | None = None
        self._generic: frozenset[str] | None = None
        self._subjects: dict[str, Any] = {}
        self._kinds: Any = None
        self._kinds_loaded = False

    @property
    def framework(self):
        """The shipped criteria framework, or None when it cannot be loaded (drafting still works
        from the knowledge base alone)."""
        if not self._framework_loaded:
            self._framework_loaded = True
            try:
                from kb.drafting.criteria import CriteriaFramework

                self._framework = CriteriaFramework.load()
            except Exception as exc:  # the framework is an aid; a broken file must not stop drafting
                log.warning("criteria framework unavailable: %s", exc)
                self._framework = None
        return self._framework

    @property
    def bank(self) -> QuestionBank:
        if self._bank is None:
            self._bank = QuestionBank.load(self.settings.question_bank or None)
        return self._bank

    @property
    def finder(self) -> EvidenceFinder:
        if self._finder is None:
            self._finder = EvidenceFinder(self.services, self.framework)
        return self._finder

    @property
    def kinds(self):
        """The taxonomy of 谈话/访谈 kinds (kb/data/talk_kinds.yaml), or None when it cannot be loaded."""
        if not self._kinds_loaded:
            self._kinds_loaded = True
            try:
                from kb.drafting.talk_kinds import TalkKinds

                self._kinds = TalkKinds.load(self.settings.talk_kinds or None)
            except Exception as exc:  # an aid like the framework: drafting goes on without it
                log.warning("talk kinds unavailable: %s", exc)
                self._kinds = None
        return self._kinds

    @property
    def reader(self) -> RequestReader:
        return RequestReader(self.framework, getattr(self.services, "tokenizer", None), self.kinds)

    def bank_entries(self, kind: str, dim) -> list[BankQuestion]:
        return self.bank.entries(kind, dim.canonical, self.reader.canonical)

    def generic(self, target: str = ""):
        """What a question's subject is made of, for support scores: generic question words and
        the target's post left out (see ``evidence.Subject``)."""
        key = target or ""
        cached = self._subjects.get(key)
        if cached is not None:
            return cached
        if self._generic is None:
            import yaml

            from kb.drafting.question_bank import DEFAULT_PATH

            path = self.settings.question_bank or DEFAULT_PATH
            try:
                with open(path, encoding="utf-8") as fh:
                    words = yaml.safe_load(fh).get("generic_words", []) or []
            except Exception:
                words = []
            self._generic = frozenset(str(w) for w in words)
        grams: set[str] = set()
        for w in self._generic:
            grams |= bigrams(w)
        words = set(self._generic)
        if target:
            grams |= bigrams(target)
            words.add(target)
        subject = Subject(frozenset(words), frozenset(grams), getattr(self.services, "tokenizer", None))
        self._subjects[key] = subject
        return subject

    def generic_for(self, plan: Plan) -> frozenset[str]:
        return self.generic(plan.target)
