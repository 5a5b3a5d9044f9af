"""`kb draft`: JSON output, Word/Markdown export, batch mode and the audit record."""
from __future__ import annotations

import json
import os
import zipfile

import pytest

from kb.access.audit import AuditLog
from kb.cli import main
from kb.container import build_services
from kb.settings import load_settings

REPORT = """# 某县政治建设考察情况报告

考察组发现该县整治不担当不作为，问责副职多、正职少，“嘴严手软”。
有的班子成员履行“一岗双责”不够有力，对分管部门干部的教育管理监督不到位。
部分常委会会议记录特别是“三重一大”决策记录过于简单，看不出研究讨论过程特别是发表不同意见的情况。
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("draft_cli") / "kbhome"
    services = build_services(load_settings(home=str(path), env={}))
    services.ingest.ensure_framework()
    services.ingest.ingest_texts([("考察/某县考察报告", None, REPORT)], doc_type="report")
    services.close()
    return path


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    # settings.yaml / KB_* from the developer's shell must not leak into the tests.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)


def test_draft_json_docx_md_and_audit(home, tmp_path, capsys):
    docx_path, md_path = tmp_path / "提纲.docx", tmp_path / "提纲.md"
    code = main([
        "--home", str(home), "draft", "--kind", "interview", "--target", "县委书记", "--interviewee", "班子成员",
        "--dimension", "政治担当", "--count", "2", "--json", "--docx", str(docx_path), "--md", str(md_path),
    ])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "interview" and data["target"] == "县委书记"
    questions = data["sections"][0]["questions"]
    assert data["sections"][0]["dimension"] == "政治担当" and 1 <= len(questions) <= 2
    assert all(q["citations"] and q["citations"][0]["verified"] for q in questions)
    assert data["coverage"]["政治担当"]["questions"] == len(questions)
    with zipfile.ZipFile(docx_path) as z:
        assert "word/document.xml" in z.namelist()
        assert "政治担当" in z.read("word/document.xml").decode("utf-8")
    assert questions[0]["text"].rstrip("？")[:8] in md_path.read_text(encoding="utf-8")
    entries = AuditLog(home / "audit.sqlite3").query(action="draft")
    assert entries and entries[0]["user"] == "cli"
    assert "考察/某县考察报告" in entries[0]["doc_ids"]


def test_draft_readable_outline(home, capsys):
    code = main(["--home", str(home), "draft", "--request", "请为县委书记起草一份面向班子成员的深度访谈提纲，重点了解民主集中制执行情况"])
    assert code == 0
    out = capsys.readouterr().out
    assert "县委书记深度访谈提纲" in out and "一、民主集中制" in out
    assert "追问：" in out and "来源：" in out


def test_draft_batch_one_object_per_line(home, tmp_path, capsys):
    batch = tmp_path / "tasks.jsonl"
    lines = [
        {"id": "t1", "kind": "talk_outline", "request": "为与某县委书记的谈话起草提纲，并提出整改要求", "target": "县委书记",
         "interviewee": "", "dimensions": ["政治担当", "民主集中制"]},
        "{not json",
        {"id": "t3", "kind": "memo", "request": "x", "dimensions": ["政治担当"]},
        {"id": "t4", "kind": "interview_outline", "request": "", "target": "县委书记", "interviewee": "其他干部群众",
         "dimensions": ["政治担当"]},
    ]
    batch.write_text("\n".join(l if isinstance(l, str) else json.dumps(l, ensure_ascii=False) for l in lines) + "\n", encoding="utf-8")
    code = main(["--home", str(home), "draft", "--batch", str(batch)])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # some lines failed, the rest proceeded
    assert [o.get("id") for o in out] == ["t1", None, "t3", "t4"]
    assert out[0]["kind"] == "talk" and 3 <= sum(len(s["questions"]) for s in out[0]["sections"]) <= 4
    assert "error" in out[1] and out[1]["line"] == 2
    assert "error" in out[2] and "memo" in out[2]["error"]
    assert out[3]["kind"] == "interview" and out[3]["interviewee"] == "其他干部群众"


def test_draft_needs_something_to_draft(home, capsys):
    assert main(["--home", str(home), "draft"]) == 2
    assert "error" in capsys.readouterr().err


def test_draft_talk_outline_names_who_talks_to_whom(home, capsys):
    code = main(["--home", str(home), "draft", "--request",
                 "县委书记与乡镇党委书记开展政治监督谈话，重点谈政治担当，写明整改要求和整改不力时的后续措施"])
    assert code == 0
    out = capsys.readouterr().out
    assert "谈话人：县委书记" in out and "谈话对象：乡镇党委书记" in out and "访谈对象" not in out
    assert "开场：县委书记与乡镇党委书记" in out
    assert "谈后安排" in out and "组织调整" in out


def test_draft_batch_materials_must_be_a_list(home, tmp_path, capsys):
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "m1", "request": "与某县委书记开展政治监督谈话", "materials": 3}) + "\n", encoding="utf-8")
    main(["--home", str(home), "draft", "--batch", str(batch)])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert line["id"] == "m1" and "materials" in json.dumps(line, ensure_ascii=False)
