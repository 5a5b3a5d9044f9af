"""The `kb ingest`, `kb docs` and `kb retrieve` commands, through kb.cli.main with --home in tmp."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kb.cli import main

NO_SETTINGS_FILE = "/nonexistent/kb-test-settings.yaml"

FILES = {
    "责任制规定.txt": "关于落实党风廉政建设责任制的规定\n\n一、总体要求\n班子成员要落实一岗双责，对职责范围内的党风廉政建设负领导责任。\n\n"
    "二、决策制度\n凡属重大决策、重要干部任免、重大项目安排和大额度资金运作，必须坚持三重一大集体决策制度。\n",
    "民主生活会情况通报.txt": "专题民主生活会情况通报\n\n各市县党委班子召开专题民主生活会，开展批评和自我批评。\n\n"
    "部分班子相互批评辣味不足，要求在下次民主生活会前整改到位。\n",
    "热线条例.md": "# 某市政务服务便民热线条例\n\n## 第一章 总则\n\n第一条 为了规范政务服务便民热线工作，制定本条例。\n\n"
    "第二条 市人民政府应当编制热线工作发展规划。\n\n第三条 热线工作机构应当对来电诉求进行分类办理。\n",
}
SUMMARY_KEYS = {"added", "updated", "unchanged", "merged", "removed_lines", "furniture_lines", "low_confidence", "chunks",
                "failed", "files", "notes"}
DOC_FIELDS = {"doc_id", "title", "doc_type", "collection", "source", "sha256", "chars", "chunks", "ingested_at", "doc_number",
              "issuer", "issued_on", "page_checks", "formats", "validity", "superseded_by", "validity_note", "version_date"}
CHUNK_FIELDS = ["chunk_id", "doc_id", "title", "section", "article", "page", "start", "end", "text"]
HIT_FIELDS = {"rank", "chunk_id", "doc_id", "title", "section", "article", "page", "text", "score"}


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch):
    """The CLI reads KB_* from the environment: none may leak in from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)


def kb(capsys, home: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--settings", NO_SETTINGS_FILE, "--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def kb_json(capsys, home: Path, *args: str) -> Any:
    code, out, err = kb(capsys, home, *args)
    assert code == 0, err
    return json.loads(out)


def write_corpus(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def home(tmp_path, capsys) -> Path:
    """A knowledge base with the three small documents ingested through the CLI."""
    home = tmp_path / "kb"
    summary = kb_json(capsys, home, "ingest", str(write_corpus(tmp_path / "corpus")), "--json", "--no-progress")
    assert summary["added"] == 3, summary
    return home


def test_ingest_json_summary_with_a_bad_file(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "空文件.txt").write_bytes(b"")
    code, out, err = kb(capsys, tmp_path / "kb", "ingest", str(corpus), "--json", "--no-progress")
    assert code == 0  # the good files went in
    summary = json.loads(out)
    assert set(summary) == SUMMARY_KEYS
    assert summary["added"] == 3 and summary["updated"] == 0 and summary["unchanged"] == 0
    assert summary["chunks"] > 0 and summary["removed_lines"] >= 0
    [failure] = summary["failed"]
    assert set(failure) == {"path", "error"}
    assert failure["path"].endswith("空文件.txt")
    assert "empty" in failure["error"]
    assert "空文件.txt" in err  # the failure is also logged on stderr


def test_ingest_again_reports_unchanged(home, tmp_path, capsys):
    summary = kb_json(capsys, home, "ingest", str(tmp_path / "corpus"), "--json", "--no-progress")
    assert summary["unchanged"] == 3 and summary["added"] == 0 and summary["chunks"] == 0


def test_ingest_of_only_bad_files_fails(tmp_path, capsys):
    empty = tmp_path / "空文件.txt"
    empty.write_bytes(b"")
    code, out, _ = kb(capsys, tmp_path / "kb", "ingest", str(empty), "--json", "--no-progress")
    assert code == 1
    assert json.loads(out)["failed"][0]["path"].endswith("空文件.txt")


def test_ingest_type_and_collection(tmp_path, capsys):
    home = tmp_path / "kb"
    corpus = write_corpus(tmp_path / "corpus")
    kb_json(capsys, home, "ingest", str(corpus / "热线条例.md"), "--type", "report", "--collection", "地方", "--json", "--no-progress")
    docs = {d["doc_id"]: d for d in kb_json(capsys, home, "docs", "list", "--json")}
    assert docs["热线条例"]["doc_type"] == "report"
    assert docs["热线条例"]["collection"] == "地方"


def test_ingest_human_summary(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    code, out, _ = kb(capsys, tmp_path / "kb", "ingest", str(corpus), "--no-progress")
    assert code == 0
    assert "新增 3" in out and "失败 0" in out


def test_docs_list_json(home, capsys):
    docs = kb_json(capsys, home, "docs", "list", "--json")
    assert isinstance(docs, list)
    by_id = {d["doc_id"]: d for d in docs}
    assert {"责任制规定", "民主生活会情况通报", "热线条例"} <= set(by_id)
    for doc in docs:
        assert set(doc) == DOC_FIELDS
    law = by_id["热线条例"]
    assert law["title"] == "某市政务服务便民热线条例"
    assert law["collection"] == "default"
    assert law["chunks"] >= 3 and law["chars"] > 0 and len(law["sha256"]) == 64
    assert law["source"].endswith("热线条例.md")
    assert by_id["民主生活会情况通报"]["doc_type"] == "report"


def test_docs_chunks_json_in_order(home, capsys):
    chunks = kb_json(capsys, home, "docs", "chunks", "热线条例", "--json")
    assert chunks
    for chunk in chunks:
        assert list(chunk) == CHUNK_FIELDS
        assert chunk["doc_id"] == "热线条例"
        assert chunk["end"] - chunk["start"] == len(chunk["text"])
        assert chunk["page"] is None
    assert [c["start"] for c in chunks] == sorted(c["start"] for c in chunks)
    assert [c["article"] for c in chunks] == ["第一条", "第二条", "第三条"]
    assert chunks[0]["section"] == "第一章 总则"


def test_docs_chunks_of_an_unknown_document(home, capsys):
    code, _, err = kb(capsys, home, "docs", "chunks", "没有这个文档", "--json")
    assert code == 1
    assert "没有这个文档" in err


def test_docs_remove_deletes_everywhere(home, capsys):
    before = kb_json(capsys, home, "retrieve", "来电诉求分类办理", "-k", "3", "--json")
    assert before["hits"][0]["doc_id"] == "热线条例"

    code, out, _ = kb(capsys, home, "docs", "remove", "热线条例")
    assert code == 0 and "热线条例" in out

    assert "热线条例" not in {d["doc_id"] for d in kb_json(capsys, home, "docs", "list", "--json")}
    code, _, _ = kb(capsys, home, "docs", "chunks", "热线条例", "--json")
    assert code == 1
    after = kb_json(capsys, home, "retrieve", "来电诉求分类办理", "-k", "10", "--json")
    assert all(h["doc_id"] != "热线条例" for h in after["hits"])

    from kb.container import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(home))
    try:
        assert services.store.get_document("热线条例") is None
        assert all(ref.doc_id != "热线条例" for ref in services.store.chunk_refs())
        assert all(not key.startswith("热线条例#") for key in services.store.text_keys())
        snapshot = services.retriever.refresh(force=True)
        assert snapshot.rows_of_doc("热线条例").size == 0
    finally:
        services.close()


def test_docs_remove_of_an_unknown_document(home, capsys):
    code, _, err = kb(capsys, home, "docs", "remove", "没有这个文档")
    assert code == 1
    assert "没有这个文档" in err


def test_retrieve_json(home, capsys):
    result = kb_json(capsys, home, "retrieve", "班子成员如何落实一岗双责？", "-k", "3", "--json")
    assert result["question"] == "班子成员如何落实一岗双责？"
    hits = result["hits"]
    assert 1 <= len(hits) <= 3
    for hit in hits:
        assert set(hit) == HIT_FIELDS
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0]["doc_id"] == "责任制规定"
    assert "一岗双责" in hits[0]["text"]
    assert hits[0]["section"] == "一、总体要求"


def test_retrieve_clause_json(home, capsys):
    hits = kb_json(capsys, home, "retrieve", "某市政务服务便民热线条例第二条", "-k", "3", "--json")["hits"]
    assert hits[0]["doc_id"] == "热线条例" and hits[0]["article"] == "第二条"


def test_retrieve_with_filters(home, capsys):
    hits = kb_json(capsys, home, "retrieve", "班子 一岗双责 民主生活会 热线", "-k", "10", "--type", "report", "--json")["hits"]
    assert hits and {h["doc_id"] for h in hits} == {"民主生活会情况通报"}
    hits = kb_json(capsys, home, "retrieve", "班子 一岗双责 民主生活会 热线", "-k", "10", "--doc", "热线条例", "--json")["hits"]
    assert hits and {h["doc_id"] for h in hits} == {"热线条例"}


def test_retrieve_human_output(home, capsys):
    code, out, _ = kb(capsys, home, "retrieve", "三重一大集体决策", "-k", "2")
    assert code == 0
    assert out.startswith("[1] 《关于落实党风廉政建设责任制的规定》")


def test_retrieve_without_question(home, capsys):
    code, _, err = kb(capsys, home, "retrieve")
    assert code == 2
    assert "QUESTION" in err


def test_retrieve_batch(home, tmp_path, capsys):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "\n".join(
            [
                json.dumps({"id": "q1", "question": "班子成员如何落实一岗双责？"}, ensure_ascii=False),
                "{this is not json",
                "",
                json.dumps({"id": 3, "question": "批评辣味不足"}, ensure_ascii=False),
                json.dumps({"id": "q4", "question": "  "}, ensure_ascii=False),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    code, out, _ = kb(capsys, home, "retrieve", "--batch", str(batch), "-k", "2")
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(lines) == 4  # one object per non-empty input line
    first, broken, third, empty = lines
    assert first["id"] == "q1" and 1 <= len(first["hits"]) <= 2
    assert first["hits"][0]["doc_id"] == "责任制规定"
    assert set(first["hits"][0]) == HIT_FIELDS
    assert "error" in broken and "2" in broken["error"]  # names the line
    assert third["id"] == 3 and third["hits"][0]["doc_id"] == "民主生活会情况通报"
    assert empty["id"] == "q4" and "error" in empty
    assert code == 1  # the batch had a bad line: reported in the exit status too
