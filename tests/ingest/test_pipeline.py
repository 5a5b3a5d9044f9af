"""ingest.pipeline.IngestService: idempotent ingest, updates, removal, junk-free verbatim chunks, laws."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from ingest.pipeline import FRAMEWORK_DOC_ID, infer_doc_type
from kb.models import Chunk
from tests.conftest import LAWS_TIMEOUT_S, make_settings, normalise, read_jsonl, require_shared

SEED_IDS = {
    "以党的政治建设为统领提高领导班子整体功能",
    "区委书记在市县党政正职座谈会上的访谈提纲",
    "安徽探索实行党内政治监督谈话制度",
    "山西省市县党委班子专题民主生活会情况通报",
    "政治建设考察深度访谈提纲与考察实录",
}
JUNK_FRAGMENTS = (
    "微信“扫一扫”", "预览阅读已结束", "此资料由网络收集而来", "您可通过新浪首页", "已收藏",
    "(责编", "文章关键词", "首页 >", "ICP备", "您是第",
)
EDITED_DOC = "安徽探索实行党内政治监督谈话制度"


def build(home: Path, **overrides: Any):
    from kb.container import build_services

    return build_services(make_settings(home, **overrides))


def all_chunks(services) -> list[Chunk]:
    return services.store.visible_chunks()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the seeds: first ingest --------------------------------------------------------------------------


def test_fresh_ingest_of_the_seeds_adds_five(seeded_services):
    summary = seeded_services.seed_summary
    assert summary["added"] == 5
    assert summary["updated"] == 0
    assert summary["unchanged"] == 0
    assert summary["failed"] == []
    assert summary["chunks"] == seeded_services.store.chunk_count()  # every stored chunk is new
    assert summary["removed_lines"] > 0  # the seeds carry page junk


def test_seeds_and_the_builtin_framework_are_listed(seeded_services):
    docs = {d.doc_id: d for d in seeded_services.store.list_documents()}
    assert set(docs) == SEED_IDS | {FRAMEWORK_DOC_ID}
    framework = docs[FRAMEWORK_DOC_ID]
    assert framework.doc_type == "criteria"
    assert framework.collection == "builtin"
    for doc_id in SEED_IDS:
        doc = docs[doc_id]
        assert doc.collection == "default"
        assert doc.chunks == len(seeded_services.store.document_chunks(doc_id)) > 0
        assert doc.chars == len(seeded_services.store.get_document_text(doc_id))
        assert len(doc.sha256) == 64 and doc.source.endswith(f"{doc_id}.txt") and doc.ingested_at


def test_seed_doc_types_follow_the_documented_rule(seeded_services):
    docs = {d.doc_id: d for d in seeded_services.store.list_documents()}
    assert docs["区委书记在市县党政正职座谈会上的访谈提纲"].doc_type == "outline"
    assert docs["山西省市县党委班子专题民主生活会情况通报"].doc_type == "report"
    for doc_id in SEED_IDS:
        assert docs[doc_id].doc_type == infer_doc_type(docs[doc_id].title, doc_id)


def test_no_seed_chunk_holds_page_junk(seeded_services):
    found = []
    for chunk in all_chunks(seeded_services):
        for fragment in JUNK_FRAGMENTS:
            if fragment in chunk.text:
                found.append((chunk.chunk_id, fragment))
        if any(line.strip() == "知道了" for line in chunk.text.split("\n")):
            found.append((chunk.chunk_id, "知道了"))
    assert found == []


def test_every_chunk_is_a_verbatim_span_of_its_document(seeded_services):
    store = seeded_services.store
    texts = {d.doc_id: store.get_document_text(d.doc_id) for d in store.list_documents()}
    chunks = all_chunks(seeded_services)
    assert chunks
    bad = [c.chunk_id for c in chunks if texts[c.doc_id][c.start : c.end] != c.text]
    assert bad == []


def test_chunks_of_a_document_are_in_order_and_labelled(seeded_services):
    for doc_id in SEED_IDS:
        chunks = seeded_services.store.document_chunks(doc_id)
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)
        assert all(c.title and c.doc_id == doc_id and c.chunk_id.startswith(f"{doc_id}#") for c in chunks)
        assert all(len(c.text) <= seeded_services.settings.ingest.chunk_max for c in chunks)


def test_gold_quotes_lie_inside_one_chunk(seeded_services):
    shared = require_shared()
    items = read_jsonl(shared / "eval" / "domain_qa_dev.jsonl") + read_jsonl(shared / "eval" / "domain_drafts_dev.jsonl")
    by_doc: dict[str, list[str]] = {}
    for chunk in all_chunks(seeded_services):
        by_doc.setdefault(chunk.doc_id, []).append(normalise(chunk.text))
    total, inside, missing = 0, 0, []
    for item in items:
        for source in item["sources"]:
            total += 1
            quote = normalise(source["quote"])
            if any(quote in text for text in by_doc.get(source["doc"], [])):
                inside += 1
            else:
                missing.append((item["id"], source["doc"], source["quote"][:30]))
    assert total > 0
    rate = inside / total
    print(f"\ngold quotes inside one chunk: {rate:.3f} ({inside}/{total})")
    for miss in missing:
        print("  split quote:", miss)
    assert rate >= 0.95


# -- the seeds: re-ingest, edit, remove ----------------------------------------------------------------


def pick_removable_sentence(text: str, others: list[str]) -> str:
    """A mid-document sentence that occurs nowhere else (so its absence can be checked)."""
    for sentence in re.findall(r"[^。！？\n]{20,80}。", text):
        if text.count(sentence) == 1 and not any(sentence in other for other in others):
            return sentence
    raise AssertionError("no removable sentence found")


@pytest.fixture(scope="module")
def seed_lifecycle(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Ingest a copy of the seeds, ingest it again unchanged, then edit one file and ingest again."""
    shared = require_shared()
    root = tmp_path_factory.mktemp("seeds-lifecycle")
    corpus = root / "seeds"
    shutil.copytree(shared / "corpus" / "seeds", corpus)
    services = build(root / "kb")
    state: dict[str, Any] = {"services": services}
    state["first"] = services.ingest.ingest_paths([corpus])
    state["chunks_after_first"] = services.store.chunk_count()
    state["second"] = services.ingest.ingest_paths([corpus])
    state["chunks_after_second"] = services.store.chunk_count()

    state["old_chunks"] = services.store.document_chunks(EDITED_DOC)
    edited = corpus / f"{EDITED_DOC}.txt"
    original = edited.read_text(encoding="utf-8")
    others = [p.read_text(encoding="utf-8") for p in corpus.glob("*.txt") if p != edited]
    sentence = pick_removable_sentence(original, others)
    assert normalise(sentence) in normalise(services.store.get_document_text(EDITED_DOC))
    edited.write_text(original.replace(sentence, ""), encoding="utf-8")
    state["removed_sentence"] = sentence
    state["third"] = services.ingest.ingest_paths([corpus])
    yield state
    services.close()


def test_second_ingest_of_the_same_files_changes_nothing(seed_lifecycle):
    second = seed_lifecycle["second"]
    assert second["unchanged"] == 5
    assert second["added"] == 0 and second["updated"] == 0 and second["failed"] == []
    assert second["chunks"] == 0
    assert seed_lifecycle["chunks_after_second"] == seed_lifecycle["chunks_after_first"]


def test_editing_one_file_updates_only_that_document(seed_lifecycle):
    third = seed_lifecycle["third"]
    assert third["updated"] == 1
    assert third["unchanged"] == 4
    assert third["added"] == 0 and third["failed"] == []


def test_no_chunk_of_the_old_version_remains(seed_lifecycle):
    services = seed_lifecycle["services"]
    old_ids = {c.chunk_id for c in seed_lifecycle["old_chunks"]}
    assert old_ids
    stored_ids = {ref.chunk_id for ref in services.store.chunk_refs()}  # visible or not
    assert stored_ids & old_ids == set()
    snapshot = services.retriever.refresh()
    assert set(snapshot.chunk_ids) & old_ids == set()
    new_chunks = services.store.document_chunks(EDITED_DOC)
    assert new_chunks and {c.chunk_id.split("#")[1] for c in new_chunks} != {next(iter(old_ids)).split("#")[1]}


def test_the_removed_sentence_is_gone_everywhere(seed_lifecycle):
    services = seed_lifecycle["services"]
    sentence = normalise(seed_lifecycle["removed_sentence"])
    assert any(sentence in normalise(c.text) for c in seed_lifecycle["old_chunks"]), "the old version held it"
    assert sentence not in normalise(services.store.get_document_text(EDITED_DOC))
    assert all(sentence not in normalise(c.text) for c in services.store.visible_chunks())
    versions = {ref.version for ref in services.store.chunk_refs() if ref.doc_id == EDITED_DOC}
    assert versions == {services.store.doc_versions()[EDITED_DOC]}  # no vector of the old version
    snapshot = services.retriever.refresh()
    assert all(sentence not in normalise(text) for text in snapshot.texts)
    hits = services.retriever.search(seed_lifecycle["removed_sentence"], k=10)
    assert all(sentence not in normalise(h.chunk.text) for h in hits)


def test_store_is_consistent_after_the_lifecycle(seed_lifecycle):
    report = seed_lifecycle["services"].ingest.check()
    assert report["orphan_chunks"] == [] and report["stale_chunks"] == []
    assert report["incomplete_documents"] == []
    assert report["lexical_index_current"] is True
    assert report["interrupted_ingest"] is False
    assert report["documents"] == 6


# -- small corpora -----------------------------------------------------------------------------------


def test_remove_deletes_a_document_everywhere(services):
    services.ingest.ingest_texts(
        [("甲", "甲规定", "考察组应当开展一岗双责专项检查。"), ("乙", "乙规定", "领导班子落实三重一大集体决策制度。")]
    )
    assert services.retriever.search("一岗双责专项检查")[0].chunk.doc_id == "甲"
    assert services.ingest.remove("甲") is True
    assert services.store.get_document("甲") is None
    assert [d.doc_id for d in services.store.list_documents()] == ["乙"]
    assert all(ref.doc_id != "甲" for ref in services.store.chunk_refs())
    assert all(not key.startswith("甲#") for key in services.store.text_keys())
    assert services.lexical.snapshot.rows_of_doc("甲").size == 0
    assert all(h.chunk.doc_id != "甲" for h in services.retriever.search("一岗双责专项检查", k=10))
    assert services.ingest.remove("甲") is False


def test_ingest_texts_does_not_install_the_framework(services):
    summary = services.ingest.ingest_texts([("甲", "甲规定", "第一条 考察组应当深入谈话。")], doc_type="policy")
    assert summary["added"] == 1
    assert [d.doc_id for d in services.store.list_documents()] == ["甲"]
    assert services.store.get_document("甲").doc_type == "policy"


def test_bad_files_are_reported_and_the_rest_ingested(services, tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus / "good.txt", "关于落实一岗双责的规定\n\n一、总体要求\n班子成员要落实一岗双责。\n")
    write(corpus / "empty.txt", "")
    write(corpus / "data.xyz", "不支持的格式")
    write(corpus / ".hidden.txt", "隐藏文件不是文档。")
    summary = services.ingest.ingest_paths([corpus, tmp_path / "missing.txt"])
    assert summary["added"] == 1
    failed = {Path(f["path"]).name: f["error"] for f in summary["failed"]}
    assert set(failed) == {"empty.txt", "data.xyz", "missing.txt"}
    assert "empty" in failed["empty.txt"]
    assert "unsupported" in failed["data.xyz"] and ".xyz" in failed["data.xyz"]
    assert "no such file" in failed["missing.txt"]
    assert services.store.get_document("good") is not None


def test_unknown_doc_type_is_refused(services, tmp_path):
    path = write(tmp_path / "a.txt", "考察组应当深入谈话。")
    with pytest.raises(ValueError, match="document type"):
        services.ingest.ingest_paths([path], doc_type="memo")


def test_type_and_collection_are_applied_and_a_change_reingests(services, tmp_path):
    path = write(tmp_path / "规定.txt", "考察组应当深入谈话，了解干部政治表现。\n")
    first = services.ingest.ingest_paths([path], doc_type="report", collection="c1")
    assert first["added"] == 1
    doc = services.store.get_document("规定")
    assert (doc.doc_type, doc.collection) == ("report", "c1")
    assert {c.collection for c in services.store.document_chunks("规定")} == {"c1"}
    second = services.ingest.ingest_paths([path], doc_type="report", collection="c2")
    assert second["updated"] == 1
    assert services.store.get_document("规定").collection == "c2"


def test_doc_ids_are_relative_paths_without_extension(services, tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus / "省级" / "规定一.md", "# 规定一\n\n第一条 内容一。\n")
    write(corpus / "市级" / "规定一.md", "# 规定一\n\n第一条 市级的内容。\n")
    summary = services.ingest.ingest_paths([corpus])
    assert summary["added"] == 2
    ids = {d.doc_id for d in services.store.list_documents()}
    assert {"省级/规定一", "市级/规定一"} <= ids


def test_front_matter_only_markdown_fails_with_a_reason(services, tmp_path):
    path = write(tmp_path / "_index.md", "---\nbookCollapseSection: true\n---\n")
    summary = services.ingest.ingest_paths([path])
    [failure] = summary["failed"]
    assert failure["path"].endswith("_index.md")
    assert "no text" in failure["error"]


def test_check_and_repair_remove_invisible_chunks(services):
    services.ingest.ingest_texts([("甲", "甲规定", "考察组应当深入谈话。")])
    [chunk] = services.store.document_chunks("甲")
    vectors = services.embedder.embed_documents([chunk.text, chunk.text]).tolist()
    # leftovers of a crash: a vector of an unregistered version, and one of an unknown document
    services.store.chunks.upsert(
        ids=["甲#deadbeef#0000", "丙#deadbeef#0000"],
        embeddings=vectors,
        metadatas=[
            {"doc_id": "甲", "version": "deadbeef", "doc_type": "other", "collection": "default"},
            {"doc_id": "丙", "version": "deadbeef", "doc_type": "other", "collection": "default"},
        ],
    )
    report = services.ingest.check()
    assert report["stale_chunks"] == ["甲#deadbeef#0000"]
    assert report["orphan_chunks"] == ["丙#deadbeef#0000"]
    assert report["incomplete_documents"] == []
    repaired = services.ingest.repair()
    assert repaired["repaired"] is True
    after = services.ingest.check()
    assert after["stale_chunks"] == [] and after["orphan_chunks"] == []
    assert services.store.chunk_count() == 1
    assert [c.text for c in services.store.document_chunks("甲")] == ["考察组应当深入谈话。"]


def test_an_interrupted_ingest_is_repaired_by_the_next_one(services, tmp_path):
    services.ingest.ingest_texts([("甲", "甲规定", "考察组应当深入谈话。")])
    dirty = services.settings.home / "ingest.dirty"
    dirty.write_text("12345", encoding="utf-8")
    assert services.ingest.check()["interrupted_ingest"] is True
    services.ingest.ingest_texts([("乙", "乙规定", "领导班子要落实民主集中制。")])
    assert not dirty.exists()
    assert {d.doc_id for d in services.store.list_documents()} == {"甲", "乙"}


def test_reingest_after_processing_settings_change(tmp_path):
    path = write(tmp_path / "规定.txt", "考察组应当深入谈话。" * 80 + "\n")
    first = build(tmp_path / "kb")
    try:
        assert first.ingest.ingest_paths([path])["added"] == 1
        chunks_before = len(first.store.document_chunks("规定"))
    finally:
        first.close()
    second = build(tmp_path / "kb", ingest__chunk_target=150, ingest__chunk_max=200)
    try:
        summary = second.ingest.ingest_paths([path])
        assert summary["updated"] == 1 and summary["unchanged"] == 0
        assert len(second.store.document_chunks("规定")) > chunks_before
    finally:
        second.close()


# -- the laws corpus (slow) ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(LAWS_TIMEOUT_S)
def test_laws_ingest_failures_name_their_reason(laws_services):
    summary = laws_services.laws_summary
    laws = require_shared() / "corpus" / "laws"
    n_files = sum(1 for p in laws.rglob("*.md") if not any(part.startswith(".") for part in p.relative_to(laws).parts))
    print(f"\nlaws ingest: added {summary['added']}, failed {len(summary['failed'])} of {n_files} files")
    for failure in summary["failed"]:
        assert failure["path"] and failure["error"], failure
        # front-matter-only section indexes are the expected failures, and say why
        assert Path(failure["path"]).name == "_index.md", failure
        assert "no text" in failure["error"], failure
    assert summary["added"] == n_files - len(summary["failed"])


@pytest.mark.slow
@pytest.mark.timeout(LAWS_TIMEOUT_S)
def test_law_gold_articles_are_whole_chunks_with_their_label(laws_services):
    items = read_jsonl(require_shared() / "eval" / "law_clause_dev.jsonl")
    missing = []
    for item in items:
        source = item["sources"][0]
        quote = normalise(source["quote"])
        chunks = laws_services.store.document_chunks(source["doc"])
        if not any(c.article == source["article"] and quote in normalise(c.text) for c in chunks):
            missing.append((item["id"], source["doc"], source["article"], len(chunks)))
    assert missing == []


def test_masking_replaces_names_before_anything_is_stored(tmp_path):
    from kb.container import build_services

    report = "考察报告\n\n张建国书记在会上作了表态发言。王某某同志负责整改落实。会议要求各部门按期完成整改。"
    for mask, expect_name in ((False, True), (True, False)):
        services = build_services(make_settings(tmp_path / f"kb-{mask}", ingest__mask_person_names=mask))
        try:
            summary = services.ingest.ingest_texts([("报告", "考察报告", report)], doc_type="report")
            assert summary["added"] == 1
            stored = services.store.get_document_text("报告")
            chunks_text = "".join(c.text for c in services.store.document_chunks("报告"))
            assert ("张建国" in stored) is expect_name
            assert ("张建国" in chunks_text) is expect_name
            if mask:
                assert "某甲书记" in stored and "会议要求各部门按期完成整改" in stored
                hits = services.retriever.search("张建国书记表态发言", k=3)
                assert all("张建国" not in h.chunk.text for h in hits)
        finally:
            services.close()


# --- what a folder holds besides documents (issue #14, hardening) -------------------------------------


@pytest.fixture
def ingest_service(tmp_path):
    from kb.container import build_services

    services = build_services(make_settings(tmp_path / "kb"))
    try:
        yield services
    finally:
        services.close()


def _errors(summary) -> dict[str, str]:
    return {Path(f["path"]).name: f["error"] for f in summary["failed"]}


def test_links_out_of_the_folder_and_kb_home_are_reported_never_read(tmp_path, ingest_service):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "正文.txt").write_text("考察工作坚持党管干部原则。", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("机密内容不得入库。", encoding="utf-8")
    (docs / "link.txt").symlink_to(secret)
    (docs / "inside.txt").symlink_to(docs / "正文.txt")  # a link inside the folder is an ordinary file
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "b.txt").write_text("目录外的文件。", encoding="utf-8")
    (docs / "dirlink").symlink_to(outside_dir, target_is_directory=True)
    ingest_service.settings.home.mkdir(parents=True, exist_ok=True)
    (ingest_service.settings.home / "users.json").write_text('{"admin": "scrypt$hash"}', encoding="utf-8")
    (docs / "kb").symlink_to(ingest_service.settings.home, target_is_directory=True)
    summary = ingest_service.ingest.ingest_paths([docs])
    errors = _errors(summary)
    assert "outside the ingested folder" in errors["link.txt"]
    assert "outside the ingested folder" in errors["dirlink"] or "KB_HOME" in errors.get("dirlink", "")
    assert "KB_HOME" in errors["kb"]
    stored = " ".join(ingest_service.store.get_document_text(d.doc_id) or "" for d in ingest_service.store.list_documents())
    assert "机密内容" not in stored and "scrypt" not in stored and "目录外" not in stored
    assert summary["added"] >= 2  # 正文 and inside


def test_kb_home_given_directly_is_refused(ingest_service):
    home = ingest_service.settings.home
    home.mkdir(parents=True, exist_ok=True)
    (home / "notes.txt").write_text("知识库内部文件。", encoding="utf-8")
    summary = ingest_service.ingest.ingest_paths([home / "notes.txt"])
    assert "KB_HOME" in summary["failed"][0]["error"] and summary["added"] == 0


def test_fifo_and_unreadable_folder_are_reported(tmp_path, ingest_service):
    import os

    docs = tmp_path / "docs"
    (docs / "locked").mkdir(parents=True)
    (docs / "locked" / "a.txt").write_text("锁住的目录。", encoding="utf-8")
    (docs / "ok.txt").write_text("正常的文件。", encoding="utf-8")
    os.mkfifo(docs / "pipe.txt")
    (docs / "locked").chmod(0)
    try:
        if os.access(docs / "locked", os.R_OK):
            pytest.skip("running as a user who reads any folder (root)")
        summary = ingest_service.ingest.ingest_paths([docs])
    finally:
        (docs / "locked").chmod(0o755)
    errors = _errors(summary)
    assert "FIFO" in errors["pipe.txt"]
    assert "cannot be read" in errors["locked"]
    assert summary["added"] == 1


def test_unreadable_folder_is_reported_whoever_runs(tmp_path, ingest_service, monkeypatch):
    import os

    docs = tmp_path / "docs"
    (docs / "locked").mkdir(parents=True)
    (docs / "locked" / "a.txt").write_text("锁住的目录。", encoding="utf-8")
    (docs / "ok.txt").write_text("正常的文件。", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)  # what a folder without read permission does
    summary = ingest_service.ingest.ingest_paths([docs])
    assert "folder cannot be read (Permission denied)" in _errors(summary)["locked"]
    assert summary["added"] == 1


def test_fifo_is_reported_even_as_root(tmp_path, ingest_service):
    import os

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("正常的文件。", encoding="utf-8")
    os.mkfifo(docs / "pipe.md")
    summary = ingest_service.ingest.ingest_paths([docs])
    assert "not a regular file (FIFO)" in _errors(summary)["pipe.md"]
    assert summary["added"] == 1


def test_nfc_and_nfd_names_are_one_document(tmp_path, ingest_service):
    import unicodedata

    docs = tmp_path / "docs"
    docs.mkdir()
    name = "café报告"
    (docs / (unicodedata.normalize("NFC", name) + ".txt")).write_text("第一份。", encoding="utf-8")
    (docs / (unicodedata.normalize("NFD", name) + ".txt")).write_text("第二份。", encoding="utf-8")
    summary = ingest_service.ingest.ingest_paths([docs])
    assert summary["added"] == 1
    assert len(summary["failed"]) == 1 and "same document id" in summary["failed"][0]["error"]
    assert [d.doc_id for d in ingest_service.store.list_documents() if not d.doc_id.startswith("内置")] == [
        unicodedata.normalize("NFC", name)
    ]


def test_control_characters_in_names_are_escaped_in_failures(tmp_path, ingest_service):
    docs = tmp_path / "docs"
    docs.mkdir()
    bad = docs / "evil\nname\x1b[31m.xyz"
    bad.write_text("x", encoding="utf-8")
    summary = ingest_service.ingest.ingest_paths([docs])
    failure = summary["failed"][0]
    assert "\n" not in failure["path"] and "\x1b" not in failure["path"]
    assert "evil\\nname\\x1b[31m.xyz" in failure["path"]


def test_ingest_summary_counts_page_furniture(tmp_path, ingest_service, make_pdf_pages):
    path = make_pdf_pages(5)
    summary = ingest_service.ingest.ingest_paths([path])
    assert summary["furniture_lines"] == 10  # a running header and a page number on each of 5 pages
    text = ingest_service.store.get_document_text(path.stem)
    assert "内部资料" not in text


def test_masking_holds_for_names_in_tables_lists_and_compound_surnames(tmp_path, make_docx):
    from kb.container import build_services
    from tests.ingest.test_masking import REPORT, REPORT_NAMES

    blocks = [("heading", 1, "关于某某市委领导班子考察情况的报告")] + [("p", line) for line in REPORT.split("\n")]
    blocks += [("p", "民主测评主要结果如下："),
               ("table", [["姓名", "职务", "优秀率"], ["欧阳明辉", "市委常委、常务副市长", "61.3%"], ["于洪涛", "组织部部长", "79.4%"], ["常建军", "宣传部部长", "80.2%"]])]
    path = make_docx(blocks, name="report.docx")
    services = build_services(make_settings(tmp_path / "kb", ingest__mask_person_names=True))
    try:
        services.ingest.ingest_paths([path])
        stored = services.store.get_document_text("report")
        chunks = "".join(c.text for c in services.store.document_chunks("report"))
    finally:
        services.close()
    assert [n for n in REPORT_NAMES if n in stored or n in chunks] == []
    row = next(line for line in stored.split("\n") if "常务副市长" in line and "优秀率：61.3%" in line)
    first = next(line for line in stored.split("\n") if line.startswith("某") and "市委常委、常务副市长。" in line)
    assert row.split("姓名：")[1].split("，")[0] == first.split("同志")[0]  # the table names the same 某X
