"""Document identity (#28 item 2): by path in the collection and content, not by file stem.

Real files in tmp dirs through the real ingest pipeline into a real store (each test its own KB_HOME)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import require_shared

NOTICE_A = [("title", "关于开展干部考察工作的通知"), ("p", "一、考察组应当深入谈话，了解干部政治表现。"),
            ("p", "二、谈话对象包括班子成员和其他干部群众。")]
NOTICE_B = [("title", "关于做好年度考核工作的通知"), ("p", "一、年度考核由各单位党组织负责组织实施。"),
            ("p", "二、考核结果分为优秀、称职、基本称职和不称职四个等次。")]


def _own(services) -> list:
    return [d for d in services.store.list_documents() if not d.doc_id.startswith("内置")]


def test_two_different_notices_with_one_name_in_two_folders_are_two_documents(services, tmp_path, make_docx):
    (tmp_path / "甲组").mkdir()
    (tmp_path / "乙组").mkdir()
    first = make_docx(NOTICE_A, name="甲组/通知.docx")
    second = make_docx(NOTICE_B, name="乙组/通知.docx")
    one = services.ingest.ingest_paths([tmp_path / "甲组"])
    two = services.ingest.ingest_paths([tmp_path / "乙组"])
    assert one["added"] == 1 and two["added"] == 1 and two["updated"] == 0
    docs = {d.doc_id: d for d in _own(services)}
    assert len(docs) == 2
    assert docs["通知"].source == str(first)  # the first keeps its id and text: nothing silently replaced
    assert "深入谈话" in services.store.get_document_text("通知")
    other = next(d for d in docs if d != "通知")
    assert other.startswith("通知~") and docs[other].source == str(second)
    assert "年度考核" in services.store.get_document_text(other)
    # the summary says what was done, per file and in words
    assert two["files"] == [{"path": str(second), "doc_id": other, "action": "kept_both"}]
    assert any("已有同名文档“通知”" in n and other in n and "--replace" in n for n in two["notes"])
    # both files again: nothing changes
    again = services.ingest.ingest_paths([tmp_path / "甲组", tmp_path / "乙组"])
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 2)
    # two files given directly (ids are their stems) in one call: two documents as well
    assert len(_own(services)) == 2


def test_a_different_file_replaces_a_same_named_document_only_when_asked(services, tmp_path, make_docx):
    (tmp_path / "旧").mkdir()
    (tmp_path / "新").mkdir()
    make_docx(NOTICE_A, name="旧/通知.docx")
    newer = make_docx(NOTICE_B, name="新/通知.docx")
    services.ingest.ingest_paths([tmp_path / "旧" / "通知.docx"])
    replaced = services.ingest.ingest_paths([newer], replace=True)
    assert replaced["updated"] == 1 and replaced["added"] == 0
    assert replaced["files"][0] == {"path": str(newer), "doc_id": "通知", "action": "replaced"}
    assert any("替换" in n for n in replaced["notes"])
    assert [d.doc_id for d in _own(services)] == ["通知"]
    assert "年度考核" in services.store.get_document_text("通知")


def test_the_cli_says_a_same_named_file_was_kept_beside(tmp_path, make_docx, capsys, monkeypatch):
    from kb.cli import main
    from tests.conftest import NO_SETTINGS_FILE

    for name in [n for n in __import__("os").environ if n.startswith("KB_")]:
        monkeypatch.delenv(name)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_docx(NOTICE_A, name="a/通知.docx")
    make_docx(NOTICE_B, name="b/通知.docx")
    cli = ["--settings", NO_SETTINGS_FILE, "--home", str(tmp_path / "kb"), "ingest", "--no-progress"]
    assert main(cli + [str(tmp_path / "a" / "通知.docx")]) == 0
    capsys.readouterr()
    assert main(cli + [str(tmp_path / "b" / "通知.docx")]) == 0
    out = capsys.readouterr().out
    assert "新增 1" in out and "已有同名文档“通知”（内容不同），另存为新文档“通知~" in out


def _copy_notice(shared: Path, folder: Path, suffixes=(".docx", ".pdf", ".ofd")) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(shared / "corpus" / "realdocs_dev" / f"gongwen{s}", folder / f"gongwen{s}")) for s in suffixes]


def test_the_same_notice_as_docx_pdf_and_ofd_is_one_document_with_three_formats(services, tmp_path):
    shared = require_shared()
    files = _copy_notice(shared, tmp_path / "notice")
    summary = services.ingest.ingest_paths([tmp_path / "notice"])
    assert summary["failed"] == []
    assert (summary["added"], summary["merged"]) == (1, 2)
    (doc,) = _own(services)
    formats = json.loads(doc.formats)
    assert sorted(f["format"] for f in formats) == ["docx", "ofd", "pdf"]
    assert sorted(f["source"] for f in formats) == sorted(str(f) for f in files)
    # the text-layer PDF gives the text: its chunks carry pages for citations
    assert doc.source.endswith("gongwen.pdf") and [f["format"] for f in formats if f["primary"]] == ["pdf"]
    assert all(c.page for c in services.store.document_chunks(doc.doc_id))
    assert doc.doc_number == "某组发〔2024〕12号"
    assert {f["doc_id"] for f in summary["files"]} == {doc.doc_id}
    # the same files again: a no-op, each one unchanged
    again = services.ingest.ingest_paths([tmp_path / "notice"])
    assert (again["added"], again["updated"], again["merged"], again["unchanged"]) == (0, 0, 0, 3)
    assert len(_own(services)) == 1


def test_formats_arriving_one_by_one_join_the_stored_document(services, tmp_path):
    shared = require_shared()
    docx, pdf = _copy_notice(shared, tmp_path / "n", (".docx", ".pdf"))
    assert services.ingest.ingest_paths([docx])["added"] == 1
    before = _own(services)[0]
    assert before.doc_id == "gongwen" and before.source == str(docx)
    later = services.ingest.ingest_paths([pdf])
    assert later["merged"] == 1 and later["added"] == 0
    (doc,) = _own(services)
    assert doc.doc_id == "gongwen" and doc.source == str(pdf)  # the PDF now gives the pages
    assert sorted(f["format"] for f in json.loads(doc.formats)) == ["docx", "pdf"]
    assert services.ingest.check()["incomplete_documents"] == []


def test_a_copy_under_another_name_in_the_same_format_stays_its_own_document(services, tmp_path, make_docx):
    make_docx(NOTICE_A, name="甲.docx")
    make_docx(NOTICE_A, name="乙.docx")
    summary = services.ingest.ingest_paths([tmp_path / "甲.docx", tmp_path / "乙.docx"])
    assert summary["added"] == 2 and summary["merged"] == 0


def test_stores_from_before_keep_their_ids_and_take_new_formats(services, tmp_path):
    """A record written before identity (no formats, no text key) is found by its source, stays
    unchanged under its id, and another format of its text joins it (its text key read from the store)."""
    shared = require_shared()
    docx, ofd = _copy_notice(shared, tmp_path / "old", (".docx", ".ofd"))
    services.ingest.ingest_paths([docx])
    services.store.update_records({"gongwen": {"formats": "", "validity": "", "version_date": ""}})
    record = services.store.get_document("gongwen")
    assert record.formats == ""
    assert services.ingest.ingest_paths([docx])["unchanged"] == 1
    joined = services.ingest.ingest_paths([ofd])
    assert joined["merged"] == 1 and [d.doc_id for d in _own(services)] == ["gongwen"]
    formats = json.loads(services.store.get_document("gongwen").formats)
    assert sorted(f["format"] for f in formats) == ["docx", "ofd"]


def test_a_scan_with_near_identical_ocr_text_is_another_format_of_the_notice():
    """OCR misreads a few characters: the scan (every page OCR'd) still joins the text PDF of the same
    title; a text PDF of a revised text (no OCR) under that title does not. (Measured on realdocs_dev:
    gongwen_scan.pdf against gongwen.pdf, bigram similarity 0.994, same title and 发文字号.)"""
    from ingest.identity import Identity, Placement
    from ingest.pipeline import PreparedDocument, TokenTable
    from kb.models import Chunk

    body = "一、考察组应当深入谈话，全面了解干部的政治表现和工作实绩。" * 20
    def prepared(path: str, text: str, ocr: bool) -> PreparedDocument:
        chunk = Chunk("x#v#0000", "x", "关于开展考察工作的通知", "", "", 1, 0, len(text), text)
        return PreparedDocument(doc_id="x", source=path, sha256=path.encode().hex()[:64].ljust(64, "0"),
                                title="关于开展考察工作的通知", text=text, chunks=[chunk], tokens=TokenTable(),
                                removed_lines=0, doc_type="policy", collection="default",
                                ocr_pages={1: {"confidence": 0.9}} if ocr else {})
    identity = Identity({}, store=None)
    buffer: list = []
    identity.settle(prepared("/d/通知.pdf", body, False), Placement("通知", "added"), buffer)
    identity.settle(prepared("/d/通知_扫描.pdf", body.replace("政治", "政冶", 3), True), Placement("通知_扫描", "added"), buffer)
    assert [p.doc_id for p in buffer] == ["通知"]
    assert sorted(f["format"] for f in json.loads(buffer[0].extra["formats"])) == ["pdf", "pdf-scan"]
    identity.settle(prepared("/e/通知.docx", body.replace("深入谈话", "个别谈话"), False), Placement("通知~1", "kept_both"), buffer)
    assert [p.doc_id for p in buffer] == ["通知", "通知~1"]
