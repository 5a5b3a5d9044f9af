"""Smoke test of the benchmark runner: a 3-passage CMRC file through the whole `cmrc` section."""
from __future__ import annotations

import json

import pytest

from bench import common, report, run

PASSAGES = [
    {
        "context_id": "FAKE_1",
        "title": "长江",
        "context_text": "长江是中国第一长河，全长约6300公里，发源于青藏高原的唐古拉山脉各拉丹冬峰西南侧。",
        "qas": [{"query_id": "FAKE_1_Q0", "query_text": "长江全长大约多少公里？", "answers": ["6300公里"]}],
    },
    {
        "context_id": "FAKE_2",
        "title": "黄河",
        "context_text": "黄河是中国第二长河，被称为中华民族的母亲河，最终注入渤海。",
        "qas": [{"query_id": "FAKE_2_Q0", "query_text": "黄河最终注入哪里？", "answers": ["渤海"]}],
    },
    {
        "context_id": "FAKE_3",
        "title": "泰山",
        "context_text": "泰山位于山东省泰安市，主峰玉皇顶海拔1545米，是五岳之首。",
        "qas": [{"query_id": "FAKE_3_Q0", "query_text": "泰山主峰叫什么？", "answers": ["玉皇顶"]}],
    },
]


def test_cmrc_section_writes_scored_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no settings.yaml of the developer's checkout
    monkeypatch.delenv("KB_SETTINGS", raising=False)
    cmrc = tmp_path / "cmrc.json"
    cmrc.write_text(json.dumps(PASSAGES, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "bench.json"

    code = run.main(["--only", "cmrc", "--quick", "--cmrc", str(cmrc), "--shared", str(tmp_path / "no-shared"), "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    cmrc_result = report["sections"]["cmrc"]
    assert cmrc_result["questions"] == 3
    # three distinct, answer-bearing passages: every question must find its passage first
    assert cmrc_result["ours"]["hit@1"] == 1.0
    assert cmrc_result["ours"]["mrr@10"] == 1.0
    assert cmrc_result["misses"] == []
    assert set(cmrc_result["segmenters"]) == {"jieba", "rjieba"}
    assert cmrc_result["segmenters"]["jieba"]["tokenize_chars_per_s"] > 0
    peer = cmrc_result["peer"]["jieba"]
    assert "skipped" in peer or 0.0 <= peer["hit@5"] <= 1.0
    targets = {t["metric"]: t for t in report["targets"]}
    assert targets["cmrc.ours.hit@5"]["pass"] is True


def test_percentile_interpolates():
    assert common.percentile([1, 2, 3, 4, 5], 50) == 3
    assert common.percentile([0, 10], 95) == pytest.approx(9.5)


def test_unknown_section_is_refused():
    with pytest.raises(common.BenchError, match="nope"):
        run.parse_sections("cmrc,nope")


def test_bad_cmrc_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(common.BenchError, match="bad.json"):
        common.load_cmrc(bad)


def test_verdicts_compare_against_targets():
    sections = {"cmrc": {"ours": {"hit@5": 0.5, "mrr@10": 0.95}}, "latency": {"retrieval_ms": {"p95": 80.0}}}
    got = {v["metric"]: v["pass"] for v in report.verdicts(sections)}
    assert got == {"cmrc.ours.hit@5": False, "cmrc.ours.mrr@10": True, "latency.retrieval_ms.p95": False}


def test_blank_cmrc_questions_are_not_scored(tmp_path):
    data = [dict(PASSAGES[0], qas=[{"query_id": "B", "query_text": " ", "answers": ["x"]}] + PASSAGES[0]["qas"])]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert [q["id"] for q in common.load_cmrc(path).questions] == ["FAKE_1_Q0"]
