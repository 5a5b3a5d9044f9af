"""`kb calibrate`: refit answerability on the site's own documents, with the shipped generators.

The documents of the knowledge base are split in two halves (by a hash of their ids, so a rerun makes
the same split). A temporary knowledge base holds one half. Questions are generated from the site's
own sentences (generators.cloze_questions): those from the held half are answerable there, those from
the other half are not; perturbations of the answerable ones (a place, year, number or person swapped;
an unstated facet asked) are not either. The real answerer runs on each (calibration.collect) and the
models are refitted, pulled towards the shipped model (an L2 prior) so that a small site moves them
only as far as its evidence goes. Questions from the other half are about documents the temporary
knowledge base lacks; whether the rest of a site's collection speaks of the same things cannot be told
from here, so they train the answer model (they must not be *answered*), not relevance, which keeps
the shipped coefficients unless the site's documents give reason otherwise.

The model is written to KB_HOME/answerability.json, where the answerer looks first.
"""
from __future__ import annotations

import hashlib
import random
import shutil
from dataclasses import dataclass, field
from typing import Callable

from kb.answering.answerability import AnswerabilityModel
from kb.answering.calibration import CalibrationItem, Example, collect, fit, outcome_table, predict_status
from kb.answering.generators import cloze_questions, perturbations


class CalibrationError(ValueError):
    """The knowledge base cannot be calibrated (too few documents or questions); the message says why."""


@dataclass
class CalibrationReport:
    path: str
    documents: int
    questions: int
    changed: int  # generated questions whose state the new model decides differently
    relevance_threshold: float
    answer_threshold: float
    outcomes: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _half(doc_id: str) -> int:
    return hashlib.sha256(doc_id.encode("utf-8")).digest()[0] % 2


def calibrate_site(services, questions_per_document: int = 15, log: Callable[[str], None] = lambda m: None) -> CalibrationReport:
    from kb.container import build_services

    settings = services.settings
    docs = [d for d in services.store.list_documents() if d.collection != "builtin"]
    if len(docs) < 2:
        raise CalibrationError(f"calibration needs at least 2 documents of your own; the knowledge base has {len(docs)}")
    texts = {d.doc_id: (d.title, services.store.get_document_text(d.doc_id) or "") for d in docs}
    held = [d for d in texts if _half(d) == 0] or list(texts)[:1]
    other = [d for d in texts if d not in held] or list(texts)[-1:]
    work = settings.home / "calibration-tmp"
    shutil.rmtree(work, ignore_errors=True)
    temp_settings = settings.model_copy(update={"home": work, "chroma": settings.chroma.model_copy(update={"url": None})})
    temp = build_services(temp_settings)
    try:
        log(f"temporary knowledge base with {len(held)} of {len(texts)} documents")
        temp.ingest.ingest_texts([(d, texts[d][0], texts[d][1]) for d in held])
        answers = temp.answers
        rng = random.Random("kb-calibrate")
        items: list[CalibrationItem] = []
        for d in held:
            for question, gold in cloze_questions(texts[d][1], answers.lex, rng, limit=questions_per_document):
                items.append(CalibrationItem(question, "site-present", True, [gold]))
                for kind, variant in perturbations(question, texts[d][1], answers.lex, temp.tokenizer, rng):
                    items.append(CalibrationItem(variant, f"site-perturb-{kind}", None, []))
        for d in other:
            for question, _gold in cloze_questions(texts[d][1], answers.lex, rng, limit=questions_per_document):
                items.append(CalibrationItem(question, "site-absent", None, []))
        if sum(1 for i in items if i.group == "site-present") < 10:
            raise CalibrationError("your documents gave fewer than 10 questions to calibrate on (too little text with numbers, years or lists)")
        log(f"asking {len(items)} generated questions")
        examples = collect(answers, items)
    finally:
        temp.close()
        shutil.rmtree(work, ignore_errors=True)
    shipped = AnswerabilityModel.load()
    model = _refit(examples, shipped)
    path = settings.home / "answerability.json"
    changed = sum(predict_status(model, e) != predict_status(shipped, e) for e in examples)
    model.save(path, version=1, command="kb calibrate", site_documents=len(texts), site_questions=len(examples),
               prior=str(shipped.source))
    return CalibrationReport(
        path=str(path),
        documents=len(texts),
        questions=len(examples),
        changed=changed,
        relevance_threshold=round(model.relevance.threshold, 4),
        answer_threshold=round(model.answer.threshold, 4),
        outcomes=outcome_table(model, examples),
    )


def _refit(examples: list[Example], shipped: AnswerabilityModel) -> AnswerabilityModel:
    """Refit towards the shipped model. Relevance needs questions whose passage is absent, which a
    site's own documents cannot provide with certainty: without them the shipped relevance model stays."""
    keep = not any(e.item.relevant is False for e in examples)
    return fit(examples, l2=5.0, prior=shipped, keep_relevance=keep)
