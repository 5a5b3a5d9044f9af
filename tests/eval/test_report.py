"""Thresholds, gate messages and the Markdown / JSON renderings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.metrics import METRIC_DEFINITIONS, definitions_markdown
from eval.report import (
    CI_THRESHOLDS,
    DEFAULT_THRESHOLDS,
    ThresholdsError,
    check_thresholds,
    failures,
    load_thresholds,
    render_json,
    render_markdown,
    worst_items,
)


def item(i: int, score: float, why=()):
    return {
        "id": f"qa-{i:03d}",
        "type": "factoid" if i % 2 else "list",
        "question": f"问题{i}？",
        "expected": f"参考答案{i}",
        "got": f"回答{i}",
        "metrics": {},
        "score": score,
        "why": list(why),
    }


def sample_report():
    items = [item(i, score=i / 20, why=[f"reason {i}"]) for i in range(15)] + [item(99, 1.0)]
    return {
        "settings": {"embedder": "hash"},
        "datasets": {
            "domain_qa_dev": {
                "kind": "domain_qa",
                "n_items": len(items),
                "metrics": {"source_hit@5": 0.95, "key_point_recall": 0.71, "false_refusal_rate": 0.0,
                            "citation_verbatim_rate": None},
                "by_type": {"factoid": {"n": 8, "source_hit@5": 1.0, "key_point_recall": 0.9},
                            "list": {"n": 8, "source_hit@5": 0.9, "key_point_recall": 0.5}},
                "items": items,
            }
        },
    }


GATE = {"domain_qa": {"min": {"source_hit@5": 0.92, "key_point_recall": 0.80, "citation_verbatim_rate": 1.0},
                      "max": {"false_refusal_rate": 0.05}}}


def test_failing_metric_is_named_with_value_and_bound():
    results = check_thresholds(sample_report(), GATE)
    failing = failures(results)
    assert [r.metric for r in failing] == ["key_point_recall"]
    assert failing[0].message() == "FAIL domain_qa_dev: key_point_recall 0.71 < 0.80"
    # a metric without a value is not a failure
    na = [r for r in results if r.metric == "citation_verbatim_rate"][0]
    assert na.passed is None


def test_max_gate_and_close_values_are_distinguishable():
    report = sample_report()
    report["datasets"]["domain_qa_dev"]["metrics"].update(false_refusal_rate=0.1, key_point_recall=0.7999)
    messages = [r.message() for r in failures(check_thresholds(report, GATE))]
    assert "FAIL domain_qa_dev: false_refusal_rate 0.10 > 0.05" in messages
    assert "FAIL domain_qa_dev: key_point_recall 0.7999 < 0.8000" in messages


def test_exact_bound_passes_and_dataset_name_overrides_kind():
    report = sample_report()
    report["datasets"]["domain_qa_dev"]["metrics"]["key_point_recall"] = 0.8
    assert failures(check_thresholds(report, GATE)) == []
    by_name = {**GATE, "domain_qa_dev": {"min": {"source_hit@5": 0.99}}}
    assert [r.metric for r in failures(check_thresholds(report, by_name))] == ["source_hit@5"]


def test_markdown_has_summary_table_breakdown_worst_items_and_definitions():
    md = render_markdown(sample_report(), GATE)
    assert "| Dataset | Kind | Items | Metric | Value | Gate | Result |" in md
    assert "| domain_qa_dev | domain_qa | 16 | key_point_recall | 0.710 | ≥ 0.80 | **FAIL** |" in md
    assert "| domain_qa_dev | domain_qa | 16 | source_hit@5 | 0.950 | ≥ 0.92 | PASS |" in md
    assert "| domain_qa_dev | domain_qa | 16 | citation_verbatim_rate | n/a | ≥ 1.00 | n/a |" in md
    assert "FAIL domain_qa_dev: key_point_recall 0.71 < 0.80" in md
    assert "## Per-type breakdown" in md and "| factoid | 8 |" in md
    # ten worst, worst first, each with question / expected / got / why
    worst = md.split("## Worst items")[1].split("## Metric definitions")[0]
    assert worst.count("   - question:") == 10
    assert worst.index("qa-000") < worst.index("qa-001") < worst.index("qa-009")
    assert "qa-010" not in worst and "qa-099" not in worst
    assert "   - expected: 参考答案0" in worst and "   - got: 回答0" in worst and "   - why: reason 0" in worst
    assert METRIC_DEFINITIONS["key_point_recall"] in md
    assert METRIC_DEFINITIONS["f1"] not in md  # only metrics the report contains


def test_markdown_without_failures_says_pass():
    report = sample_report()
    report["datasets"]["domain_qa_dev"]["metrics"]["key_point_recall"] = 0.9
    assert "**Gate: PASS**" in render_markdown(report, GATE)


def test_markdown_escapes_pipes_and_newlines_in_items():
    report = sample_report()
    report["datasets"]["domain_qa_dev"]["items"][0]["got"] = "甲|乙\n丙"
    assert "got: 甲\\|乙 丙" in render_markdown(report, GATE)


def test_worst_items_skip_perfect_ones():
    assert worst_items({"items": [item(1, 1.0), item(2, 0.5)]}) == [item(2, 0.5)]


def test_json_round_trips():
    report = sample_report()
    assert json.loads(render_json(report)) == report


def test_shipped_threshold_files_hold_the_product_targets():
    release = load_thresholds(DEFAULT_THRESHOLDS)
    assert release["domain_qa"]["min"] == {"source_hit@5": 0.92, "key_point_recall": 0.80, "not_answered_rate": 0.90,
                                           "answered_rate": 0.70, "standalone_unchanged_rate": 0.95,
                                           "citation_verbatim_rate": 1.0}
    assert release["domain_qa"]["max"] == {"false_refusal_rate": 0.05}
    assert release["law_clause"]["min"] == {"source_hit@1": 0.95}
    assert release["cmrc"]["min"] == {"source_hit@5": 0.97, "mrr@10": 0.90, "answer_contains_gold": 0.80}
    assert release["drafts"]["min"] == {"topic_coverage": 0.80, "cited_question_rate": 1.0,
                                        "dimension_coverage": 1.0, "format_ok_rate": 1.0,
                                        "distinct_follow_up_min": 0.9, "role_mention_rate": 1.0}
    assert release["drafts"]["max"] == {"near_duplicate_rate": 0.0}
    ci = load_thresholds(CI_THRESHOLDS)
    assert set(ci) == {"domain_qa", "drafts", "seeds_probe", "conversation"}
    kind_of = {"seeds_probe": "domain_qa"}  # a dataset name gated like its kind
    assert release["conversation"]["min"] == {"pair_success_rate": 0.85}
    for name, gate in ci.items():  # looser or equal, never stricter
        kind = kind_of.get(name, name)
        for metric, bound in gate.get("min", {}).items():
            assert bound <= release[kind]["min"][metric]
        for metric, bound in gate.get("max", {}).items():
            assert bound >= release[kind]["max"][metric]
    assert ci["domain_qa"]["min"]["citation_verbatim_rate"] == 1.0


@pytest.mark.parametrize(
    "content, reason",
    [
        ("domain_qa:\n  min:\n    no_such_metric: 1\n", "unknown metric 'no_such_metric'"),
        ("domain_qa:\n  min:\n    false_refusal_rate: 0.1\n", "lower is better"),
        ("domain_qa:\n  at_least:\n    mrr@10: 0.1\n", "expected a mapping with 'min' and/or 'max'"),
        ("domain_qa:\n  min:\n    mrr@10: high\n", "not a number"),
        ("- a\n- b\n", "must be a mapping"),
        ("domain_qa: [\n", "malformed YAML"),
    ],
)
def test_bad_thresholds_file_names_the_file(tmp_path, content, reason):
    path = tmp_path / "gate.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ThresholdsError) as err:
        load_thresholds(path)
    assert str(path) in str(err.value) and reason in str(err.value)
    with pytest.raises(ThresholdsError, match="no such thresholds file"):
        load_thresholds(tmp_path / "absent.yaml")


def test_readme_definitions_match_the_code():
    readme = (Path(__file__).resolve().parents[2] / "eval" / "README.md").read_text(encoding="utf-8")
    assert definitions_markdown() in readme
