"""The calibrated decision: the model file, the three states, the fitting and the generators."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from kb.answering.answerability import (
    ANSWER_FEATURES,
    RELEVANCE_FEATURES,
    AnswerabilityModel,
    AnswerabilityPolicy,
    LogisticModel,
)
from kb.answering.calibration import CalibrationItem, Example, fit, fit_logistic, predict_status
from kb.answering.generators import cloze_questions, perturbations
from kb.answering.lexicon import AnswerLexicon
from kb.models import Answer
from kb.retrieval.tokenizer import ChineseTokenizer


def test_the_shipped_model_loads_and_names_its_fit():
    model = AnswerabilityModel.load()
    assert set(model.relevance.features) <= set(RELEVANCE_FEATURES)
    assert set(model.answer.features) <= set(ANSWER_FEATURES)
    assert 0 < model.relevance.threshold < 1 and 0 < model.answer.threshold < 1
    assert model.info.get("command") == "python -m eval.calibrate"  # how to refit it
    assert model.info.get("fitted_on")


def test_a_saved_model_reloads_with_the_same_decisions(tmp_path):
    model = AnswerabilityModel.load()
    path = tmp_path / "m.json"
    model.save(path, note="copy")
    again = AnswerabilityModel.load(path)
    rng = np.random.default_rng(0)
    for _ in range(20):
        features = {f: float(rng.random()) for f in ANSWER_FEATURES}
        assert abs(again.relevance.probability(features) - model.relevance.probability(features)) < 1e-4
        assert abs(again.answer.probability(features) - model.answer.probability(features)) < 1e-4
    assert again.info["note"] == "copy"


@pytest.mark.parametrize(
    "content, reason",
    [("{", "not valid JSON"), ('{"relevance": {}}', "needs 'relevance' and 'answer'"),
     (json.dumps({"relevance": {"features": ["nope"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0, "threshold": 0.5},
                  "answer": {"features": [], "mean": [], "scale": [], "coef": [], "intercept": 0, "threshold": 0.5}}), "unknown features")],
)
def test_a_bad_model_file_names_the_file_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        AnswerabilityModel.load(path)
    assert str(path) in str(err.value) and reason in str(err.value)
    with pytest.raises(FileNotFoundError, match="kb calibrate"):
        AnswerabilityModel.load(tmp_path / "missing.json")


def _model(rel_threshold=0.5, ans_threshold=0.5) -> AnswerabilityModel:
    one = lambda name, t: LogisticModel((name,), np.zeros(1), np.ones(1), np.array([10.0]), -5.0, t)  # p = σ(10x − 5)
    return AnswerabilityModel(one("chunk_coverage", rel_threshold), one("sentence_coverage", ans_threshold))


def test_three_states_from_the_two_models():
    policy = AnswerabilityPolicy(_model())
    assert policy.decide({"chunk_coverage": 0.1, "sentence_coverage": 0.9}).status == "refused"
    assert policy.decide({"chunk_coverage": 0.9, "sentence_coverage": 0.1}).status == "related"
    assert policy.decide({"chunk_coverage": 0.9, "sentence_coverage": 0.9}).status == "answered"
    # binding failed: related whatever the model says, and marked so no LLM may upgrade it
    blocked = policy.decide({"chunk_coverage": 0.9, "sentence_coverage": 0.9}, blocked="not about 江苏")
    assert blocked.status == "related" and blocked.blocked
    # a question naming what only one document speaks of is never "nothing relevant"
    assert policy.decide({"chunk_coverage": 0.1, "sentence_coverage": 0.1, "specific_anchor": 1.0}).status == "related"
    assert policy.decide({}, no_evidence=True).status == "refused"


def test_refused_is_true_exactly_when_the_status_is_refused():
    for status in ("answered", "related", "refused"):
        answer = Answer(question="q", answer="a", refused=False, mode="extractive", status=status)
        assert answer.refused == (status == "refused") and answer.to_dict()["status"] == status
    assert Answer(question="q", answer="a", refused=True, mode="extractive").status == "refused"
    with pytest.raises(ValueError):
        Answer(question="q", answer="a", refused=False, mode="extractive", status="maybe")


def test_logistic_fit_recovers_a_known_model():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(2.0 * X[:, 0] - 1.0 * X[:, 1] + 0.5)))).astype(float)
    coef, intercept = fit_logistic(X, y, np.ones(len(y)), l2=1e-3)
    assert np.allclose(coef, [2.0, -1.0], atol=0.2) and abs(intercept - 0.5) < 0.2


def _examples(n=200, seed=2):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        present = i % 2 == 0
        cov = rng.uniform(0.5, 1.0) if present else rng.uniform(0.0, 0.6)
        correct = present and rng.random() < 0.8
        f = {name: 0.0 for name in ANSWER_FEATURES}
        f.update(chunk_coverage=cov, sentence_coverage=(rng.uniform(0.6, 1) if correct else rng.uniform(0, 0.7)))
        out.append(Example(CalibrationItem(f"q{i}", "present" if present else "absent", present, ["g"] if present else []), f, False, correct))
    return out


def test_thresholds_meet_the_bounds_they_are_fitted_for():
    examples = _examples()
    model = fit(examples, max_false_refusal=0.02, max_false_answer=0.05)
    present = [e for e in examples if e.item.relevant]
    absent = [e for e in examples if not e.item.relevant]
    assert sum(predict_status(model, e) == "refused" for e in present) / len(present) <= 0.02
    assert sum(predict_status(model, e) == "answered" for e in absent) / len(absent) <= 0.05
    # keeping the prior's relevance model refits only the answer side
    kept = fit(examples, prior=model, keep_relevance=True)
    assert kept.relevance is model.relevance


def test_a_filled_slot_needs_the_filled_threshold_fitted_on_hard_negatives():
    from kb.answering.calibration import fit_filled_threshold

    model = _model(rel_threshold=0.5, ans_threshold=0.5)
    f = lambda p_answer_x: {"chunk_coverage": 0.9, "sentence_coverage": p_answer_x}
    # filled answers of answerable questions at every answer probability; filled hard negatives
    # (a deleted filler that something else filled) only at low probabilities (sentence_coverage 0.2
    # → p ≈ 0.05)
    good = [Example(CalibrationItem(f"g{i}", "control", True, ["x"]), f(0.2 + 0.005 * i), False, True, filled=True) for i in range(60)]
    bad = [Example(CalibrationItem(f"b{i}", "evidence-filler_deleted", True, []), f(0.2), False, False, filled=True) for i in range(60)]
    assert predict_status(model, bad[0]) == "answered"  # filled_threshold 0: every filled slot is answered
    model.filled_threshold = fit_filled_threshold(model, good + bad, max_false_answer=0.05)
    assert 0.0 < model.filled_threshold <= model.answer.threshold
    assert not any(predict_status(model, e) == "answered" for e in bad)
    # still below the overlap model's own bar: a filled slot at p 0.4 is answered, an unfilled one not
    mid = f(0.45)
    assert predict_status(model, Example(CalibrationItem("m", "control", True, ["x"]), mid, False, True, filled=True)) == "answered"
    assert predict_status(model, Example(CalibrationItem("m", "control", True, ["x"]), mid, False, True)) == "related"
    # the policy the answerer runs decides the same way
    policy = AnswerabilityPolicy(model)
    assert policy.decide(mid, filled=True).status == "answered" and policy.decide(f(0.2), filled=True).status == "related"


def test_generators_make_questions_their_source_answers_and_ones_it_does_not():
    lex, tok = AnswerLexicon.load(), ChineseTokenizer()
    text = "2020年，安徽省市县三级党委共谈话4861人次。谈话内容包括贯彻落实、管党治党、作风建设等方面。"
    made = cloze_questions(text, lex, random.Random(0), limit=5)
    assert made and all(gold.replace(" ", "") in text for _, gold in made)
    assert any("多少人次" in q for q, _ in made)
    variants = dict(perturbations("2020年安徽省市县三级党委共谈话多少人次？", text, lex, tok, random.Random(0)))
    assert "安徽" not in variants["place"] and variants["place"] != "2020年安徽省市县三级党委共谈话多少人次？"
    assert "2020" not in variants["year"]
    assert "facet" in variants


def test_evidence_negatives_unmake_the_answer_and_keep_the_topic():
    from kb.answering.generators import evidence_negatives

    passage = "2019年，东岭县城镇新增就业1,200人，全县共有企业300家。"
    kinds = dict(evidence_negatives(passage, ["1,200人"], question_years=["2019"], slot="quantity"))
    assert set(kinds) == {"filler_deleted", "forecast", "year_moved"}
    assert "1,200人" not in kinds["filler_deleted"] and "城镇新增就业" in kinds["filler_deleted"]
    assert "预计" in kinds["forecast"] and kinds["forecast"].index("预计") < kinds["forecast"].index("1,200人")
    assert "2019" not in kinds["year_moved"] and "1,200人" in kinds["year_moved"]
    # a kind that cannot be made is left out: no gold in the passage, no year asked, a person asked
    assert evidence_negatives(passage, ["500人"]) == []
    assert [k for k, _ in evidence_negatives(passage, ["1,200人"], slot="person")] == ["filler_deleted"]
