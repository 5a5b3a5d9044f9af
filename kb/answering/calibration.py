"""Fitting the answerability models on generated sets (never on hand-picked items).

An item is a question with what is known of it: whether the knowledge base holds the passage it is
about (`relevant`; None when unknown, e.g. a perturbed question whose topic is present), and the
strings a correct answer contains (`gold`; empty for a question nothing in the knowledge base
answers). `collect` runs the real answerer on each item and records its features, whether binding
blocked it, and whether the answer it would give contains a gold string. `fit` fits two weighted
logistic regressions (Newton's method, L2 towards a prior — the shipped model when a site refits on a
small corpus) and chooses their thresholds on the same data:

  relevance threshold   the highest at which each generator's present questions are refused at most
                        `max_false_refusal` of the time;
  answer threshold      the lowest at which each generator's questions with no correct answer are
                        answered at most `max_false_answer` of the time (among those passing relevance).

Item groups are weighted equally, so 1,000 CMRC questions do not drown 60 domain ones.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from kb.answering.answerability import ANSWER_FEATURES, RELEVANCE_FEATURES, AnswerabilityModel, LogisticModel


@dataclass
class CalibrationItem:
    question: str
    group: str  # the generator that made it (cmrc-present, law-absent, domain-swap-place …)
    relevant: bool | None
    gold: list[str] = field(default_factory=list)


@dataclass
class Example:
    item: CalibrationItem
    features: dict[str, float]
    blocked: bool
    correct: bool  # the answer the chosen sentences make contains a gold string
    status: str = ""  # the state the answerer gave (with the model it ran with)
    filled: bool = False  # a bound filler fills the question's typed slot (fillers.py)


def norm(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text or "")).lower()


def collect(answers, items: Iterable[CalibrationItem], progress: Callable[[int], None] | None = None) -> list[Example]:
    """Run the answerer's decision on every item (answers: an AnswerService over the item's KB)."""
    out: list[Example] = []
    for n, item in enumerate(items, 1):
        analysis, hits = answers.evidence(item.question)
        decision, chosen, _, _ = answers.decide(item.question, analysis, hits)
        text = norm(" ".join(c.text for c in chosen))
        correct = bool(item.gold) and bool(chosen) and any(norm(g) and norm(g) in text for g in item.gold)
        filled = decision.fill is not None and not decision.blocked
        out.append(Example(item, decision.features, decision.blocked, correct, decision.status, filled))
        if progress is not None:
            progress(n)
    return out


def _group_weights(groups: list[str]) -> np.ndarray:
    counts = defaultdict(int)
    for g in groups:
        counts[g] += 1
    return np.array([1.0 / counts[g] for g in groups]) * len(counts)


def fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1.0, prior: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression by Newton's method; the intercept is not penalised.
    `prior`: coefficients (d + intercept) the penalty pulls towards (zeros when None)."""
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    target = np.zeros(d + 1) if prior is None else np.asarray(prior, dtype=float)
    beta = target.copy()
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(Xb @ beta, -40, 40)))
        grad = Xb.T @ (w * (p - y)) + penalty * (beta - target)
        hess = (Xb * (w * p * (1 - p))[:, None]).T @ Xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def _standardise(X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = (X * w[:, None]).sum(0) / w.sum()
    var = ((X - mean) ** 2 * w[:, None]).sum(0) / w.sum()
    scale = np.sqrt(var)
    return mean, np.where(scale < 1e-6, 1.0, scale)


def _matrix(examples: list[Example], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[e.features.get(f, 0.0) for f in names] for e in examples], dtype=float)


def _fit_one(examples, labels, names, l2, prior: LogisticModel | None) -> LogisticModel:
    X = _matrix(examples, names)
    y = np.asarray(labels, dtype=float)
    w = _group_weights([e.item.group for e in examples])
    if prior is not None and tuple(prior.features) == tuple(names):
        mean, scale = prior.mean, prior.scale
        start = np.append(prior.coef, prior.intercept)
    else:
        mean, scale = _standardise(X, w)
        start = None
    coef, intercept = fit_logistic((X - mean) / scale, y, w, l2=l2, prior=start)
    return LogisticModel(tuple(names), mean, scale, coef, intercept, 0.5)


def _probabilities(model: LogisticModel, examples: list[Example]) -> np.ndarray:
    return np.array([model.probability(e.features) for e in examples])


# A group of at least this many items must meet twice the pooled bound on its own (a smaller group's
# rate is too noisy to bind the threshold by itself; it still counts in the pooled rate).
GROUP_MIN = 50


def _rate_ok(flags: dict[str, list[bool]], bound: float) -> bool:
    """Pooled (each group weighing the same) rate of True ≤ bound, and every group of GROUP_MIN
    items or more ≤ 2 × bound."""
    if not flags:
        return True
    rates = {g: sum(v) / len(v) for g, v in flags.items() if v}
    if sum(rates.values()) / len(rates) > bound:
        return False
    return all(rates[g] <= 2 * bound for g, v in flags.items() if len(v) >= GROUP_MIN)


def _relevance_threshold(p: np.ndarray, examples: list[Example], max_false_refusal: float) -> float:
    """Highest threshold at which the questions whose passage is present are refused at most
    max_false_refusal of the time (pooled over groups; see _rate_ok)."""
    relevant = [(prob, e.item.group, bool(e.features.get("specific_anchor"))) for prob, e in zip(p, examples) if e.item.relevant]
    best = 0.0
    for t in sorted({0.0} | {float(prob) for prob, _, _ in relevant}):
        flags: dict[str, list[bool]] = defaultdict(list)
        for prob, g, net in relevant:
            flags[g].append(prob < t and not net)
        if not _rate_ok(flags, max_false_refusal):
            break
        best = t
    return best


def _answer_threshold(p: np.ndarray, examples: list[Example], passing: np.ndarray, max_false_answer: float) -> float:
    """Lowest threshold at which questions nothing answers (no gold: absent passages, perturbed
    questions) are given as answered at most max_false_answer of the time — blocked and refused
    ones count as not answered (pooled over groups; see _rate_ok)."""
    negatives = [(prob, e.item.group, bool(ok) and not e.blocked) for prob, e, ok in zip(p, examples, passing) if not e.item.gold]
    for t in sorted({1.0} | {float(prob) + 1e-9 for prob, _, open_ in negatives if open_}):
        flags: dict[str, list[bool]] = defaultdict(list)
        for prob, g, open_ in negatives:
            flags[g].append(open_ and prob >= t)
        if _rate_ok(flags, max_false_answer):
            return t
    return 1.0


def fit(
    examples: list[Example],
    l2: float = 1.0,
    max_false_refusal: float = 0.02,
    max_false_answer: float = 0.05,
    prior: AnswerabilityModel | None = None,
    keep_relevance: bool = False,
) -> AnswerabilityModel:
    """`prior`: the model the fit is pulled towards (coefficients and feature scaling). With
    `keep_relevance` the prior's relevance model is kept as it is and only the answer model is fitted."""
    if keep_relevance:
        if prior is None:
            raise ValueError("keep_relevance needs a prior model")
        relevance = prior.relevance
    else:
        rel_examples = [e for e in examples if e.item.relevant is not None]
        if not rel_examples or len({e.item.relevant for e in rel_examples}) < 2:
            raise ValueError("calibration needs questions whose passage is present and questions whose passage is absent")
        relevance = _fit_one(rel_examples, [bool(e.item.relevant) for e in rel_examples], RELEVANCE_FEATURES, l2, prior.relevance if prior else None)
        relevance.threshold = _relevance_threshold(_probabilities(relevance, rel_examples), rel_examples, max_false_refusal)
    ans_examples = [e for e in examples if not e.blocked]
    if len({e.correct for e in ans_examples}) < 2:
        raise ValueError("calibration needs both correct and wrong answers among the generated questions")
    answer = _fit_one(ans_examples, [e.correct for e in ans_examples], ANSWER_FEATURES, l2, prior.answer if prior else None)
    passing = np.array([not refused(AnswerabilityModel(relevance, relevance), e.features) for e in examples])
    answer.threshold = _answer_threshold(_probabilities(answer, examples), examples, passing, max_false_answer)
    # filled_threshold is fitted on its own (`python -m eval.calibrate --filled-only`): kept from the prior
    return AnswerabilityModel(relevance, answer, filled_threshold=prior.filled_threshold if prior else 0.0)


def refused(model: AnswerabilityModel, features: dict[str, float]) -> bool:
    """As AnswerabilityPolicy decides it."""
    return model.relevance.probability(features) < model.relevance.threshold and not features.get("specific_anchor")


def predict_status(model: AnswerabilityModel, e: Example) -> str:
    """As AnswerabilityPolicy.decide: a filled typed slot needs only filled_threshold."""
    if refused(model, e.features):
        return "refused"
    if e.blocked:
        return "related"
    p = model.answer.probability(e.features)
    if e.filled and p >= model.filled_threshold:
        return "answered"
    return "related" if p < model.answer.threshold else "answered"


FILLED_GRID = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2)


def fit_filled_threshold(model: AnswerabilityModel, examples: list[Example], max_false_answer: float = 0.05) -> float:
    """The lowest answer probability a filled typed slot needs (from FILLED_GRID, never above the answer
    threshold) at which, in every generated set of unanswerable questions, at most `max_false_answer`
    of the questions are given as answered — the sets of hard negatives (a filler deleted, made a
    forecast, a year moved) included. Questions are weighted per set, as in the other thresholds."""
    negatives = [e for e in examples if not e.item.gold]
    for t in FILLED_GRID:
        if t > model.answer.threshold:
            break
        trial = AnswerabilityModel(model.relevance, model.answer, filled_threshold=t)
        flags: dict[str, list[bool]] = {}
        for e in negatives:
            flags.setdefault(e.item.group, []).append(predict_status(trial, e) == "answered")
        if _rate_ok(flags, max_false_answer):
            return t
    return float(model.answer.threshold)


def outcome_table(model: AnswerabilityModel, examples: list[Example]) -> list[dict]:
    """Per group: how often the model refuses / relates / answers, and how often an answered one is
    correct — the figures `make eval` reports for calibration."""
    rows: dict[str, dict] = {}
    for e in examples:
        r = rows.setdefault(e.item.group, {"group": e.item.group, "n": 0, "refused": 0, "related": 0, "answered": 0, "answered_correct": 0, "answerable": 0})
        r["n"] += 1
        r["answerable"] += int(bool(e.item.gold))
        status = predict_status(model, e)
        r[status] += 1
        r["answered_correct"] += int(status == "answered" and e.correct)
    return [rows[g] for g in sorted(rows)]


def reliability_table(model: AnswerabilityModel, examples: list[Example], bins: int = 10) -> list[dict]:
    """Predicted answer probability against the observed share of correct answers, per bin
    (examples not blocked and passing relevance)."""
    pairs = [
        (model.answer.probability(e.features), e.correct)
        for e in examples
        if not e.blocked and not refused(model, e.features)
    ]
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [c for p, c in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            mean_p = float(np.mean([p for p, _ in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]))
            out.append({"bin": f"{lo:.1f}–{hi:.1f}", "n": len(inside), "predicted": round(mean_p, 3), "observed": round(float(np.mean(inside)), 3)})
    return out


def auc(scores: list[float], labels: list[bool]) -> float | None:
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    if not pos or not neg:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
