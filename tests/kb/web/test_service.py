"""WebAppService: role checks, audit records, draft table round trip, export of an edited table,
answer/source rendering. Fakes stand in for the search and drafting machinery; users, audit and
export are the real ones."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from kb.access.audit import AuditLog
from kb.conversations.history import ConversationStore
from kb.models import Answer, Chunk, Citation, DocumentRecord, Draft, DraftQuestion, DraftRequest, DraftSection, Hit
from kb.settings import load_settings
from kb.access.users import UserStore
from kb.web.service import (
    LOCAL_USER,
    WebAppService,
    answer_as_text,
    draft_to_table,
    find_quote_span,
    highlight_quote,
    make_draft_request,
    make_filters,
    render_answer_html,
    render_coverage_html,
    render_sources_html,
    table_to_draft,
)

CHUNK_TEXT = "第一条 为了规范谈话工作，制定本办法。\n第二条 谈话应当 实事求是, 直指问题。"


def _citation(n=1, quote="谈话应当实事求是,直指问题", doc_id="doc-a", chunk_id="doc-a#1") -> Citation:
    return Citation(n=n, chunk_id=chunk_id, doc_id=doc_id, title="谈话办法", section="总则", article="第二条", page=3, quote=quote, verified=True)


def _answer(question: str, refused: bool = False) -> Answer:
    chunk = Chunk(chunk_id="doc-a#1", doc_id="doc-a", title="谈话办法", section="总则", article="第二条", page=3, start=0, end=len(CHUNK_TEXT), text=CHUNK_TEXT)
    hit = Hit(rank=1, chunk=chunk, score=1.0)
    if refused:
        return Answer(question=question, answer="知识库中没有找到能回答该问题的依据。", refused=True, mode="extractive", contexts=[hit])
    return Answer(question=question, answer="谈话应当实事求是。[1]", refused=False, mode="extractive", citations=[_citation()], contexts=[hit])


class FakeAnswers:
    def __init__(self):
        self.calls = []

    def ask(self, question, filters=None, k=None, history=None):
        self.calls.append((question, filters, k))
        return _answer(question, refused="天气" in question)

    def stream(self, question, filters=None, k=None, history=None):
        self.calls.append((question, filters, k))
        yield "谈话应当"
        yield "实事求是。[1]"
        yield _answer(question)


def _draft(request: DraftRequest) -> Draft:
    dims = request.dimensions or ["政治担当"]
    sections = []
    for dim in dims:
        questions = [
            DraftQuestion(
                text=f"{dim}方面，{request.target}有哪些表现？（{i}）",
                follow_ups=["能否举一个具体例子？", "效果如何？"],
                purpose=f"了解{dim}",
                citations=[_citation(n=1, doc_id="doc-a", chunk_id=f"doc-a#{i}")],
            )
            for i in range(1, (request.count or 2) + 1)
        ]
        sections.append(DraftSection(dimension=dim, questions=questions))
    sections.append(DraftSection(dimension="政治自律", questions=[]))
    return Draft(
        kind=request.kind,
        title=f"关于{request.target}的深度访谈提纲",
        target=request.target,
        interviewee=request.interviewee,
        sections=sections,
        coverage={"政治担当": {"问题数": 2, "有来源": True}, "政治自律": {"问题数": 0, "有来源": False}},
        warnings=["政治自律：知识库中没有找到依据"],
    )


class FakeDrafts:
    def __init__(self):
        self.requests = []

    def draft(self, request):
        self.requests.append(request)
        return _draft(request)


class FakeStore:
    def __init__(self):
        self.docs = {
            "doc-a": DocumentRecord("doc-a", "谈话办法", "policy", "default", "a.txt", "s1", 100, 3, "2025-01-01T00:00:00+00:00"),
            "doc-b": DocumentRecord("doc-b", "考察报告", "report", "2024", "b.txt", "s2", 200, 5, "2025-02-01T00:00:00+00:00"),
        }

    def list_documents(self):
        return list(self.docs.values())

    def get_document(self, doc_id):
        return self.docs.get(doc_id)

    def get_chunks(self, ids):
        return {}

    def doc_versions(self):
        # the fake answers cite chunk "doc-a#1": version "doc-a" of a document whose id is empty is not
        # what real chunk ids look like, so the conversation tests use their own chunk ids
        return dict(self.versions)

    versions = {"doc-a": "v1", "doc-b": "v1"}


class FakeIngest:
    def __init__(self, store):
        self.store = store
        self.calls = []

    def ingest_paths(self, paths, doc_type=None, collection=None, progress=False):
        self.calls.append((list(paths), doc_type, collection))
        failed = []
        added = 0
        for p in paths:
            path = Path(p)
            if path.suffix == ".exe":
                failed.append({"path": str(path), "error": "unsupported file type '.exe'"})
                continue
            added += 1
            self.store.docs[path.stem] = DocumentRecord(path.stem, path.stem, doc_type or "other", collection or "default", str(path), "new", 10, 1, "2025-03-01T00:00:00+00:00")
        return {"added": added, "updated": 0, "unchanged": 0, "removed_lines": 0, "chunks": added, "failed": failed}

    def remove(self, doc_id):
        self.calls.append(("remove", doc_id))
        return self.store.docs.pop(doc_id, None) is not None


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)
    settings = load_settings(home=str(tmp_path / "home"))
    store = FakeStore()
    services = SimpleNamespace(
        settings=settings,
        users=UserStore(settings.users_file),
        audit=AuditLog(settings.audit_db),
        conversations=ConversationStore(settings.conversations_db),
        answers=FakeAnswers(),
        drafts=FakeDrafts(),
        store=store,
        ingest=FakeIngest(store),
        retriever=SimpleNamespace(rebuild=lambda: None),
    )
    return WebAppService(services), services


@pytest.fixture
def with_users(env):
    webapp, services = env
    services.users.add("admin1", "pw-admin-1", "admin")
    services.users.add("insp", "pw-inspector", "inspector")
    return webapp, services


# ---- roles --------------------------------------------------------------------------------------
def test_without_users_the_local_user_is_admin(env):
    webapp, services = env
    assert not webapp.login_required()
    caller = webapp.caller(None)
    assert caller.name == LOCAL_USER and caller.is_admin
    assert webapp.delete_document(None, "doc-b") is True
    assert services.audit.query(action="delete")[0]["user"] == LOCAL_USER


def test_anonymous_call_refused_once_users_exist(with_users):
    webapp, services = with_users
    assert webapp.login_required()
    with pytest.raises(PermissionError):
        webapp.ask(None, "谈话有什么要求？")
    with pytest.raises(PermissionError):
        webapp.caller("ghost")
    assert services.answers.calls == []


def test_inspector_cannot_use_admin_functions_and_nothing_changes(with_users, tmp_path):
    webapp, services = with_users
    f = tmp_path / "new.txt"
    f.write_text("内容", encoding="utf-8")
    with pytest.raises(PermissionError):
        webapp.delete_document("insp", "doc-a")
    with pytest.raises(PermissionError):
        webapp.ingest_files("insp", [f])
    with pytest.raises(PermissionError):
        webapp.rebuild_indexes("insp")
    with pytest.raises(PermissionError):
        webapp.list_documents("insp")
    assert "doc-a" in services.store.docs and "new" not in services.store.docs
    assert services.ingest.calls == []
    assert services.audit.query(action="delete") == [] and services.audit.query(action="ingest") == []
    assert not webapp.is_admin("insp") and webapp.is_admin("admin1")


def test_check_login_records_success_and_failure(with_users):
    webapp, services = with_users
    assert webapp.check_login("insp", "pw-inspector")
    assert not webapp.check_login("insp", "wrong")
    actions = [(e["user"], e["action"]) for e in services.audit.query()]
    assert ("insp", "login") in actions and ("insp", "login_failed") in actions


# ---- asking -------------------------------------------------------------------------------------
def test_ask_returns_answer_dict_and_audits_cited_documents(with_users):
    webapp, services = with_users
    result = webapp.ask("insp", "  谈话有什么要求？ ", doc_types=["policy"], collections=["default"])
    assert result["citations"][0]["doc_id"] == "doc-a" and not result["refused"]
    question, filters, _ = services.answers.calls[0]
    assert question == "谈话有什么要求？"
    assert filters.doc_types == ["policy"] and filters.collections == ["default"]
    entry = services.audit.query(action="ask")[-1]
    assert entry["user"] == "insp" and entry["detail"] == "谈话有什么要求？" and entry["doc_ids"] == ["doc-a"]


def test_ask_rejects_empty_question_and_unknown_type(with_users):
    webapp, _ = with_users
    with pytest.raises(ValueError):
        webapp.ask("insp", "   ")
    with pytest.raises(ValueError):
        webapp.ask("insp", "问题", doc_types=["nonsense"])
    assert make_filters([], None) is None


def test_ask_stream_yields_pieces_then_answer_and_audits_once(with_users):
    webapp, services = with_users
    out = list(webapp.ask_stream("admin1", "谈话有什么要求？"))
    assert out[:2] == ["谈话应当", "实事求是。[1]"]
    assert isinstance(out[-1], dict) and out[-1]["citations"]
    assert len(services.audit.query(action="ask")) == 1


def test_filter_choices_lists_present_types_and_collections(with_users):
    webapp, _ = with_users
    types, collections = webapp.filter_choices("insp")
    assert types == ["policy", "report"] and collections == ["2024", "default"]


# ---- rendering ----------------------------------------------------------------------------------
def test_quote_found_across_width_and_spaces():
    start, end = find_quote_span(CHUNK_TEXT, "谈话应当实事求是，直指问题")
    assert CHUNK_TEXT[start:end] == "谈话应当 实事求是, 直指问题"
    marked = highlight_quote("<b>a</b>谈话", "谈话")
    assert marked == '&lt;b&gt;a&lt;/b&gt;<mark class="kb-quote">谈话</mark>'
    assert find_quote_span(CHUNK_TEXT, "不存在的话") is None


def test_answer_html_has_chips_and_sources_panel_marks_quote():
    answer = _answer("q").to_dict()
    html_answer = render_answer_html(answer)
    assert '<span class="kb-chip" data-n="1"' in html_answer and "[1]" not in html_answer
    panel = render_sources_html(answer)
    assert 'id="kb-cite-1"' in panel and "谈话办法" in panel and "总则 &gt; 第二条 &gt; 第3页" in panel
    assert '<mark class="kb-quote">谈话应当 实事求是, 直指问题</mark>' in panel
    text = answer_as_text(answer)
    assert text.startswith("【已回答】\n谈话应当实事求是。[1]") and "[1] 《谈话办法》总则第二条，第3页：“谈话应当实事求是,直指问题”" in text


def test_refusal_shows_possibly_related_sources():
    answer = _answer("今天天气", refused=True).to_dict()
    html_ = render_answer_html(answer)
    assert 'kb-state-refused' in html_ and "未找到依据" in html_
    panel = render_sources_html(answer)
    assert "可能相关的来源" in panel and "谈话办法" in panel
    assert "可能相关的来源" in answer_as_text(answer)


def test_coverage_and_warnings_rendered():
    out = render_coverage_html({"政治担当": {"问题数": 2, "有来源": True}, "总覆盖": 0.5}, ["政治自律：没有依据"])
    assert "政治自律：没有依据" in out and "<th>问题数</th>" in out and "✓" in out and "50%" in out


# ---- drafting, table round trip and export -------------------------------------------------------
def test_draft_request_from_fields_and_validation():
    req = make_draft_request({"kind": "interview_outline", "target": "某区委书记", "dimensions": "政治担当，政治自律", "count": "2"})
    assert req.kind == "interview" and req.dimensions == ["政治担当", "政治自律"] and req.count == 2
    for bad in ({"kind": "poem", "target": "x"}, {"target": "x", "count": "two"}, {}, {"target": "x", "colour": 1}):
        with pytest.raises(ValueError):
            make_draft_request(bad)


def test_draft_audited_and_table_round_trip(with_users):
    webapp, services = with_users
    draft = webapp.draft("insp", {"kind": "interview", "target": "某区委书记", "dimensions": ["政治担当"], "count": 2})
    entry = services.audit.query(action="draft")[-1]
    assert entry["user"] == "insp" and "某区委书记" in entry["detail"] and entry["doc_ids"] == ["doc-a"]
    rows, sources = draft_to_table(draft)
    assert len(rows) == 2 and rows[0][0] == "政治担当"
    assert rows[0][2] == "能否举一个具体例子？\n效果如何？"
    assert rows[0][4].startswith("[1]《谈话办法》") and rows[1][4].startswith("[2]")
    back = table_to_draft(rows, draft.to_dict(), sources)
    assert [q.text for s in back.sections for q in s.questions] == [q.text for s in draft.sections for q in s.questions]
    assert back.sections[0].questions[1].citations[0].chunk_id == "doc-a#2"
    assert back.sections[0].questions[0].follow_ups == ["能否举一个具体例子？", "效果如何？"]
    assert [s.dimension for s in back.sections] == ["政治担当", "政治自律"]  # empty section kept
    assert back.warnings == draft.warnings and back.title == draft.title


def test_edited_table_keeps_edits_in_docx_and_markdown(with_users, tmp_path):
    webapp, services = with_users
    draft = webapp.draft("insp", {"target": "某区委书记", "dimensions": ["政治担当"], "count": 2})
    rows, sources = draft_to_table(draft)
    rows[0][1] = "请谈谈他落实河长制的具体做法？"
    rows[1][1] = ""  # deleting a question = clearing its text
    rows.append(["作风建设", "新增的问题：他如何对待群众来访？", "", "了解作风", "[1]"])
    edited = table_to_draft(rows, draft, sources)
    docx_path = webapp.export("insp", edited, "docx", tmp_path / "out")
    md_path = webapp.export("insp", edited, "md", tmp_path / "out")

    import docx

    text = "\n".join(p.text for p in docx.Document(str(docx_path)).paragraphs)
    assert "请谈谈他落实河长制的具体做法？" in text and "新增的问题" in text and "作风建设" in text
    assert "有哪些表现？（2）" not in text
    md = md_path.read_text(encoding="utf-8")
    assert "请谈谈他落实河长制的具体做法？" in md and "谈话应当实事求是" in md  # citation kept as a note
    exports = services.audit.query(action="export")
    assert [e["extra"]["format"] for e in exports] == ["docx", "md"] and exports[0]["user"] == "insp"
    with pytest.raises(ValueError):
        webapp.export("insp", edited, "pdf", tmp_path / "out")


def test_regenerate_replaces_one_row_with_a_new_question(with_users):
    webapp, services = with_users
    request = {"target": "某区委书记", "dimensions": ["政治担当"], "count": 2}
    draft = webapp.draft("insp", request)
    rows, sources = draft_to_table(draft)
    new_rows, new_sources = webapp.regenerate_question("insp", request, rows, sources, 0)
    assert new_rows[1] == rows[1] and new_rows[0][1] != rows[0][1] and new_rows[0][0] == "政治担当"
    assert services.drafts.requests[-1].dimensions == ["政治担当"]
    assert services.drafts.requests[-1].count == services.settings.draft.max_count
    assert len(new_sources) >= len(sources)
    with pytest.raises(ValueError):
        webapp.regenerate_question("insp", request, rows, sources, 7)


# ---- administration ------------------------------------------------------------------------------
def test_admin_ingest_reports_each_file(with_users, tmp_path):
    webapp, services = with_users
    good = tmp_path / "新文件.txt"
    good.write_text("内容", encoding="utf-8")
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ")
    summary = webapp.ingest_files("admin1", [good, bad], doc_type="policy", collection="2025")
    files = {f["file"]: f for f in summary["files"]}
    assert files["新文件.txt"]["status"] == "新增" and files["新文件.txt"]["doc_id"] == "新文件"
    assert files["tool.exe"]["status"] == "失败" and "unsupported" in files["tool.exe"]["error"]
    assert services.ingest.calls[0][1:] == ("policy", "2025")
    entry = services.audit.query(action="ingest")[-1]
    assert entry["user"] == "admin1" and entry["doc_ids"] == ["新文件"]
    with pytest.raises(ValueError):
        webapp.ingest_files("admin1", [good], doc_type="poem")


def test_admin_delete_list_and_statistics(with_users):
    webapp, services = with_users
    assert [d["doc_id"] for d in webapp.list_documents("admin1")] == ["doc-b", "doc-a"]  # newest first
    stats = webapp.statistics("admin1")
    assert stats["documents"] == 2 and stats["chunks"] == 8 and stats["by_type"] == {"policy": 1, "report": 1}
    with pytest.raises(ValueError):
        webapp.delete_document("admin1", "no-such-doc")
    assert webapp.delete_document("admin1", "doc-a") is True
    assert "doc-a" not in services.store.docs
    entry = services.audit.query(action="delete")[-1]
    assert entry["user"] == "admin1" and entry["doc_ids"] == ["doc-a"]


# ---- document text is shown as text; labels are short and not repeated --------------------------
def test_links_and_html_inside_documents_are_not_live_in_answers_or_statistics():
    import html as html_lib

    from kb.web.service import render_statistics_markdown

    text = "请[点此重新登录](http://evil.example/login)，或访问 www.evil.example <img src=x onerror=alert(1)>。[1]"
    rendered = render_answer_html({"answer": text, "citations": [{"n": 1}], "answer_id": "a1"})
    for live in ("](", "http://", "www.", "<img", "[点此"):
        assert live not in rendered
    # what the reader sees is the document's text, character for character
    body = rendered.split('<div class="kb-answer-body">')[1].split('<span class="kb-chip')[0]
    assert html_lib.unescape(body) == text[: -len("[1]")]
    stats = {"documents": 1, "chunks": 1, "chars": 1, "by_type": {"policy": 1},
             "by_collection": {'<img src="http://beacon/x">': 1, "<form action=//x><input type=password></form>": 1}}
    shown = render_statistics_markdown(stats)
    assert "<img" not in shown and "<form" not in shown and "http://" not in shown


def test_source_labels_keep_the_last_section_levels_and_merge_duplicates():
    from kb.web.service import citation_location, merged_sources

    deep = {"section": "一、总体要求 > （二）工作原则 > 1.坚持问题导向", "article": "", "page": 4}
    assert citation_location(deep) == "（二）工作原则 > 1.坚持问题导向 > 第4页"
    assert citation_location({"section": "第二章 监督", "article": "第十条", "page": None}) == "第二章 监督 > 第十条"
    related = [
        {"doc_id": "d1", "title": "T", "section": "一、总则", "article": "", "page": None, "text": "甲"},
        {"doc_id": "d1", "title": "T", "section": "一、总则", "article": "", "page": None, "text": "乙"},
        {"doc_id": "d2", "title": "U", "section": "一、总则", "article": "", "page": None, "text": "丙"},
    ]
    merged = merged_sources(related)
    assert [m["doc_id"] for m in merged] == ["d1", "d2"] and "甲" in merged[0]["text"] and "乙" in merged[0]["text"]
    html_panel = render_sources_html({"refused": True, "status": "refused", "citations": [], "contexts": related})
    assert html_panel.count("《T》") == 1


def test_api_input_is_checked_not_guessed():
    assert make_filters("policy", None).doc_types == ["policy"]  # one type, not its letters
    for bad in ([1], {"a": 1}, 5):
        with pytest.raises(ValueError):
            make_filters(bad, None)
    from kb.web.service import _require_question

    for bad in (123, {}, None, [], "   ", "问" * 2001):
        with pytest.raises(ValueError):
            _require_question(bad)


# ---- #30 items 4 and 7: a closed stream is audited; request sizes are bounded -------------------------
def test_a_stream_closed_mid_answer_is_still_audited(with_users):
    webapp, services = with_users
    stream = webapp.ask_stream("insp", "谈话有什么要求？")
    assert next(stream) == "谈话应当"  # the reader saw part of the answer, then closed the page
    stream.close()
    rows = services.audit.query(action="ask")
    assert len(rows) == 1 and rows[0]["user"] == "insp" and rows[0]["detail"] == "谈话有什么要求？"
    assert rows[0]["extra"]["incomplete"] is True and rows[0]["extra"]["streamed_chars"] == len("谈话应当")


def test_question_and_history_sizes_are_bounded_with_clear_messages(with_users):
    webapp, services = with_users
    limits = services.settings.limits
    with pytest.raises(ValueError, match="对话历史太长.*条"):
        list(webapp.ask_stream("insp", "那政治定力呢？", history=["问题"] * (limits.max_history_messages + 1)))
    with pytest.raises(ValueError, match="对话历史太长.*字"):
        list(webapp.ask_stream("insp", "那政治定力呢？", history=["很" * 3000] * 3))
    assert services.answers.calls == []  # refused before any work
