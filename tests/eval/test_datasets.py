"""Dataset kind detection from content, and clear errors naming the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import DatasetError, load_dataset, load_datasets, record_kind

QA = {
    "id": "qa-1",
    "question": "政治建设考察分为哪几个步骤？",
    "type": "procedure",
    "answerable": True,
    "answer": "分为7个步骤",
    "key_points": ["准备与建组"],
    "sources": [{"doc": "seed", "quote": "考察分为准备与建组"}],
}
UNANSWERABLE = {"id": "qa-2", "question": "合格分数线是多少？", "type": "unanswerable", "answerable": False,
                "answer": "", "key_points": [], "sources": []}
LAW = {
    "id": "law-1",
    "question": "某条例第四条规定了什么？",
    "type": "clause_lookup",
    "answerable": True,
    "answer": "…",
    "key_points": ["市人民政府"],
    "sources": [{"doc": "地方法规/x", "article": "第四条", "quote": "市人民政府应当编制"}],
}
DRAFT = {
    "id": "draft-1",
    "kind": "talk_outline",
    "request": "起草谈话提纲",
    "target": "市委书记",
    "interviewee": "",
    "dimensions": ["政治忠诚"],
    "expected_topics": ["三清单"],
    "sources": [],
}
CMRC = [
    {
        "context_id": "TRIAL_1",
        "context_text": "生命数耗完即算为踢爆。",
        "title": "泡泡堂",
        "qas": [
            {"query_id": "TRIAL_1_QUERY_0", "query_text": "生命数耗完即算为什么？", "answers": ["踢爆"]},
            {"query_id": "TRIAL_1_QUERY_1", "query_text": "什么耗完算踢爆？", "answers": ["生命数"]},
        ],
    },
    {"context_id": "TRIAL_2", "context_text": "第二段。", "title": "", "qas": [
        {"query_id": "TRIAL_2_QUERY_0", "query_text": "第几段？", "answers": ["第二段"]}]},
]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def test_detects_domain_qa(tmp_path):
    ds = load_dataset(write_jsonl(tmp_path / "law_looking_name.jsonl", [QA, UNANSWERABLE]))
    assert ds.kind == "domain_qa"
    assert ds.name == "law_looking_name"
    assert [i["id"] for i in ds.items] == ["qa-1", "qa-2"]
    assert ds.needs_corpus


def test_detects_law_clause_by_type_or_article(tmp_path):
    assert load_dataset(write_jsonl(tmp_path / "a.jsonl", [LAW, LAW])).kind == "law_clause"
    no_type = {**LAW, "type": "factoid"}
    assert record_kind(no_type) == "law_clause"  # sources[0].article alone is enough
    assert load_dataset(write_jsonl(tmp_path / "b.jsonl", [no_type])).kind == "law_clause"


def test_detects_drafts(tmp_path):
    ds = load_dataset(write_jsonl(tmp_path / "qa.jsonl", [DRAFT]))
    assert ds.kind == "drafts"
    assert ds.items[0]["type"] == "talk_outline"


def test_detects_cmrc_and_flattens_questions(tmp_path):
    path = tmp_path / "data.jsonl"  # name says JSON Lines, content is a CMRC list
    path.write_text(json.dumps(CMRC, ensure_ascii=False), encoding="utf-8")
    ds = load_dataset(path)
    assert ds.kind == "cmrc"
    assert not ds.needs_corpus
    assert ds.passages == [("TRIAL_1", "泡泡堂", "生命数耗完即算为踢爆。"), ("TRIAL_2", "TRIAL_2", "第二段。")]
    assert [(i["id"], i["doc"], i["answers"]) for i in ds.items] == [
        ("TRIAL_1_QUERY_0", "TRIAL_1", ["踢爆"]),
        ("TRIAL_1_QUERY_1", "TRIAL_1", ["生命数"]),
        ("TRIAL_2_QUERY_0", "TRIAL_2", ["第二段"]),
    ]


def test_limit_keeps_first_items_but_all_cmrc_passages(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CMRC), encoding="utf-8")
    ds = load_dataset(path, limit=1)
    assert len(ds.items) == 1 and len(ds.passages) == 2
    assert len(load_dataset(write_jsonl(tmp_path / "q.jsonl", [QA, UNANSWERABLE]), limit=1).items) == 1


def test_names_are_unique(tmp_path):
    (tmp_path / "x").mkdir()
    a = write_jsonl(tmp_path / "qa.jsonl", [QA])
    b = write_jsonl(tmp_path / "x" / "qa.jsonl", [QA])
    assert [d.name for d in load_datasets([a, b])] == ["qa", "qa-2"]


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"id": "x", "foo": 1}\n', "unknown dataset kind"),
        ('{"question": "q", "answerable": true, "key_points": []\n', "malformed JSON"),
        ("", "empty file"),
        ("   \n", "empty file"),
        ("hello world\n", "not JSON Lines or a JSON list"),
        ("[1, 2]", "not a CMRC-2018 passage"),
        ("[]", "non-empty CMRC-2018 list"),
        ('[{"context_id": "a", "context_text": "t", "qas": [{"query_text": "q"}]}]', "missing field 'answers'"),
        ('{"question": "q", "answerable": "yes", "key_points": [], "sources": []}\n', "wrong type"),
    ],
)
def test_bad_files_give_an_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(path) in str(err.value)
    assert reason in str(err.value)


def test_mixed_kinds_are_rejected_with_the_line(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [QA, DRAFT])
    with pytest.raises(DatasetError, match=r"mixed\.jsonl:2: record of kind drafts in a domain_qa dataset"):
        load_dataset(path)


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "absent.jsonl")
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(json.dumps(QA, ensure_ascii=False).encode("gbk"))
    with pytest.raises(DatasetError, match=r"gbk\.jsonl: not UTF-8"):
        load_dataset(gbk)
    with pytest.raises(DatasetError, match="not a file"):
        load_dataset(tmp_path)


SHARED_EVAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "eval"


@pytest.mark.skipif(not SHARED_EVAL.is_dir(), reason="../shared/eval not available")
def test_shared_dev_sets_are_detected():
    expected = {
        "domain_qa_dev.jsonl": ("domain_qa", 30),
        "domain_drafts_dev.jsonl": ("drafts", 5),
        "law_clause_dev.jsonl": ("law_clause", 100),
        "cmrc2018_trial.json": ("cmrc", 1002),
    }
    for name, (kind, count) in expected.items():
        ds = load_dataset(SHARED_EVAL / name)
        assert (ds.kind, len(ds.items)) == (kind, count), name
