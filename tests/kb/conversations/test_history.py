"""Conversations and feedback kept per user (kb/conversations/history.py, kb/conversations/feedback.py), and through the web
service over a real knowledge base: follow-ups read from the stored conversation, an old answer's sources
stay the version it cited after the document is updated or removed, feedback becomes eval items."""
from __future__ import annotations

import json
import os
import stat

import pytest

from kb.conversations.history import ConversationStore, cited_versions, version_of
from kb.conversations.feedback import eval_item, export_items, normalise_feedback
from tests.conftest import make_settings


def _answer(answer_id: str, question: str, status: str = "answered", quote: str = "每年至少开展一次") -> dict:
    return {
        "question": question,
        "answer": f"{quote}。[1]" if status != "refused" else "知识库中没有找到能回答该问题的依据。",
        "status": status,
        "refused": status == "refused",
        "answer_id": answer_id,
        "resolved_question": "",
        "citations": [] if status == "refused" else [
            {"n": 1, "chunk_id": "谈话办法#abc123#0001", "doc_id": "谈话办法", "title": "谈话办法", "section": "",
             "article": "第二条", "page": None, "quote": quote, "verified": True}
        ],
        "contexts": [{"chunk_id": "谈话办法#abc123#0001", "doc_id": "谈话办法", "text": f"第二条 {quote}。"}],
    }


def test_chunk_ids_name_the_document_version():
    assert version_of("laws/宪法#v9#0003") == ("laws/宪法", "v9")
    assert version_of("a#b#c#0001") == ("a#b", "c")
    assert cited_versions(_answer("x", "q")) == {"谈话办法": "abc123"}


def test_conversations_are_per_user_titled_by_their_first_question_and_private(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    mine = store.create("甲")
    store.add_answer("甲", _answer("a1", "党内政治监督谈话每年至少开展几次？这是一个很长的问题需要截断显示在侧栏"), mine.id)
    store.add_answer("甲", _answer("a2", "那谈话记录有什么用？"), mine.id)
    theirs = store.create("乙")
    assert [c["id"] for c in store.list("甲")] == [mine.id]
    listed = store.list("甲")[0]
    assert listed["turns"] == 2 and listed["title"].startswith("党内政治监督谈话每年至少开展几次") and len(listed["title"]) <= 30
    got = store.get("甲", mine.id)
    assert [t.answer_id for t in got.turns] == ["a1", "a2"] and got.questions()[1] == "那谈话记录有什么用？"
    assert got.turns[0].cited_versions == {"谈话办法": "abc123"}
    # another user's conversation reads as absent: not opened, renamed, deleted or appended to
    for call in (lambda: store.get("甲", theirs.id), lambda: store.rename("甲", theirs.id, "x"),
                 lambda: store.delete("甲", theirs.id), lambda: store.add_answer("甲", _answer("a3", "q"), theirs.id)):
        with pytest.raises(KeyError):
            call()
    store.rename("甲", mine.id, "  谈话制度  ")
    assert store.list("甲")[0]["title"] == "谈话制度"
    with pytest.raises(ValueError):
        store.rename("甲", mine.id, "   ")
    store.delete("甲", mine.id)
    assert store.list("甲") == [] and store.answer("a1") is None
    assert stat.S_IMODE(os.stat(tmp_path / "c.sqlite3").st_mode) == 0o600


def test_feedback_validation_names_what_is_wrong():
    assert normalise_feedback("👍") == ("up", "", "")
    assert normalise_feedback(-1, "should_refuse", " 资料里没有 ") == ("down", "should_refuse", "资料里没有")
    for bad in [("meh",), ("down",), ("down", "because"), ("up", "incomplete"), ("down", "other", "x" * 3000)]:
        with pytest.raises(ValueError):
            normalise_feedback(*bad)


def test_feedback_becomes_domain_qa_items_and_the_newest_judgement_wins(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    store.add_answer("甲", _answer("good", "谈话每年几次？"))
    store.add_answer("甲", _answer("bad", "谈话在哪个会议室进行？"))
    store.add_answer("甲", _answer("refusal", "考察组组长是谁？", status="refused"))
    store.add_answer("甲", _answer("wrong", "谈话由谁主持？"))
    store.add_feedback("good", "甲", "down", "incomplete")
    store.add_feedback("good", "甲", "up")  # changed their mind: the 👍 counts
    store.add_feedback("bad", "甲", "down", "should_refuse", "资料没写地点")
    store.add_feedback("refusal", "甲", "up")
    store.add_feedback("wrong", "甲", "down", "wrong_citation")
    items, pending = export_items(store.feedback())
    by_question = {i["question"]: i for i in items}
    assert set(by_question) == {"谈话每年几次？", "谈话在哪个会议室进行？", "考察组组长是谁？"}
    good = by_question["谈话每年几次？"]
    assert good["answerable"] is True and good["key_points"] == ["每年至少开展一次"]
    assert good["sources"] == [{"doc": "谈话办法", "quote": "每年至少开展一次"}]
    assert by_question["谈话在哪个会议室进行？"]["answerable"] is False
    assert by_question["考察组组长是谁？"]["answerable"] is False and by_question["考察组组长是谁？"]["key_points"] == []
    assert [p["answer_id"] for p in pending] == ["wrong"]  # needs a person's gold answer
    from eval.datasets import record_kind

    assert all(record_kind(json.loads(json.dumps(i))) == "domain_qa" for i in items)
    # a follow-up is exported as the standalone question it was answered as
    resolved = dict(store.feedback()[0], resolved_question="党内政治监督谈话由谁主持？", rating="up")
    assert eval_item(resolved)["question"] == "党内政治监督谈话由谁主持？"


# ---- through the web service, over a real knowledge base ----------------------------------------
DOC_V1 = """党内政治监督谈话办法

第一条 为了加强对党政一把手的监督，建立党内政治监督谈话制度。

第二条 谈话由上级党委主要负责人与下级党委主要负责人一对一进行，每年至少开展一次。
"""
DOC_V2 = DOC_V1.replace("每年至少开展一次", "每半年至少开展一次")


@pytest.fixture
def real_webapp(tmp_path):
    from kb.container import build_services
    from kb.web.service import WebAppService

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "谈话办法.txt").write_text(DOC_V1, encoding="utf-8")
    services = build_services(make_settings(tmp_path / "kb"))
    assert services.ingest.ingest_paths([str(corpus)])["added"] == 1
    try:
        yield WebAppService(services), services, corpus / "谈话办法.txt"
    finally:
        services.close()


def _ask(webapp, question, conversation_id):
    return [p for p in webapp.ask_stream(None, question, conversation_id=conversation_id) if isinstance(p, dict)][-1]


def test_old_answers_keep_their_cited_version_after_the_document_changes_or_goes(real_webapp):
    from kb.web.service import render_sources_html

    webapp, services, path = real_webapp
    conv = webapp.new_conversation(None)["id"]
    first = _ask(webapp, "党内政治监督谈话每年至少开展几次？", conv)
    assert first["status"] == "answered" and any("每年至少开展一次" in c["quote"] for c in first["citations"])
    opened = webapp.open_conversation(None, conv)
    assert opened["turns"][0]["doc_states"]["谈话办法"] == "current"

    path.write_text(DOC_V2, encoding="utf-8")
    assert services.ingest.ingest_paths([str(path)])["updated"] == 1
    turn = webapp.open_conversation(None, conv)["turns"][0]
    assert turn["doc_states"]["谈话办法"] == "changed"
    panel = render_sources_html(turn["answer"], webapp.chunk_text, turn["doc_states"])
    assert "该文档已更新" in panel and "每年至少开展一次" in panel and "每半年" not in panel

    services.ingest.remove("谈话办法")
    turn = webapp.open_conversation(None, conv)["turns"][0]
    assert turn["doc_states"]["谈话办法"] == "removed"
    panel = render_sources_html(turn["answer"], webapp.chunk_text, turn["doc_states"])
    assert "该文档已从知识库删除" in panel and "每年至少开展一次" in panel


def test_a_follow_up_is_read_from_the_stored_conversation_not_the_client(real_webapp):
    webapp, services, _ = real_webapp
    conv = webapp.new_conversation(None)["id"]
    _ask(webapp, "党内政治监督谈话每年至少开展几次？", conv)
    seen = []
    real_stream = services.answers.stream

    def spy(question, filters=None, history=None, **kw):
        seen.append(list(history or []))
        yield from real_stream(question, filters=filters, history=history, **kw)

    services.answers.stream = spy
    # the client claims another history: the server uses the conversation's own
    list(webapp.ask_stream(None, "那由谁进行？", history=["无关的问题"], conversation_id=conv))
    assert seen == [["党内政治监督谈话每年至少开展几次？"]]
    assert [t["question"] for t in webapp.open_conversation(None, conv)["turns"]] == ["党内政治监督谈话每年至少开展几次？", "那由谁进行？"]
    with pytest.raises(ValueError, match="不存在"):
        list(webapp.ask_stream(None, "问题", conversation_id="no-such-conversation"))


def test_feedback_only_on_ones_own_answers_and_recorded_in_the_audit(real_webapp):
    webapp, services, _ = real_webapp
    services.users.add("甲", "password-1", "inspector")
    services.users.add("乙", "password-2", "inspector")
    services.users.add("管理员", "password-3", "admin")
    answer = webapp.ask("甲", "党内政治监督谈话每年至少开展几次？")
    assert answer["answer_id"]
    with pytest.raises(ValueError, match="没有编号"):
        webapp.feedback("乙", answer["answer_id"], "down", "should_refuse")
    with pytest.raises(ValueError, match="没有编号"):
        webapp.feedback("甲", "not-an-answer", "up")
    webapp.feedback("甲", answer["answer_id"], "up")
    with pytest.raises(PermissionError):
        webapp.feedback_entries("甲")
    entries = webapp.feedback_entries("管理员")
    assert [(e["user"], e["rating"]) for e in entries] == [("甲", "up")]
    assert services.audit.query(action="feedback")[0]["user"] == "甲"


def test_retrieval_test_and_chunk_view_are_for_admins(real_webapp):
    webapp, services, _ = real_webapp
    result = webapp.retrieval_test(None, "党内政治监督谈话每年至少开展几次？")
    assert result["status"] == "answered" and result["why"]
    top = result["hits"][0]
    assert top["doc_id"] == "谈话办法" and top["lexical_rank"] is not None and top["lexical_score"] > 0
    assert any(h["cited"] for h in result["hits"])
    chunks = webapp.document_chunks(None, "谈话办法")
    assert chunks and any(c["article"] == "第二条" for c in chunks)
    with pytest.raises(ValueError):
        webapp.document_chunks(None, "没有这个文档")
    services.users.add("甲", "password-1", "inspector")
    for call in (lambda: webapp.retrieval_test("甲", "谈话"), lambda: webapp.document_chunks("甲", "谈话办法")):
        with pytest.raises(PermissionError):
            call()


def test_a_revoked_grant_takes_back_what_old_answers_cited(tmp_path):
    """An inspection group's access ends with its grant: its members' stored answers that rest on the
    restricted collection no longer show that text or those sources."""
    from kb.container import build_services
    from kb.web.service import WITHHELD_ANSWER, WebAppService, render_answer_html, render_sources_html

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "谈话办法.txt").write_text(DOC_V1, encoding="utf-8")
    services = build_services(make_settings(tmp_path / "kb"))
    try:
        assert services.ingest.ingest_paths([str(corpus)], collection="第三组材料")["added"] == 1
        services.users.add("组长", "password-1", "inspector", groups=["第三组"])
        services.users.add("管理员", "password-3", "admin")
        services.grants.grant("第三组材料", "第三组")
        webapp = WebAppService(services)
        conv = webapp.new_conversation("组长")["id"]
        answer = [p for p in webapp.ask_stream("组长", "党内政治监督谈话每年至少开展几次？", conversation_id=conv) if isinstance(p, dict)][-1]
        assert answer["status"] == "answered" and any(c["doc_id"] == "谈话办法" for c in answer["citations"])
        assert webapp.open_conversation("组长", conv)["turns"][0]["doc_states"]["谈话办法"] == "current"

        services.grants.revoke("第三组材料", "第三组")
        services.grants.grant("第三组材料", "第五组")  # still restricted, now to another group
        turn = webapp.open_conversation("组长", conv)["turns"][0]
        assert turn["doc_states"]["谈话办法"] == "denied"
        shown = render_answer_html(turn["answer"]) + render_sources_html(turn["answer"], webapp.chunk_text, turn["doc_states"])
        assert "每年至少开展一次" not in shown and "谈话办法" not in shown
        assert turn["answer"]["answer"] == WITHHELD_ANSWER
    finally:
        services.close()


def test_feedback_is_kept_once_per_user_and_answer_and_read_back(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    store.add_answer("甲", _answer("a1", "谈话每年几次？"))
    store.add_answer("甲", _answer("a2", "谈话由谁主持？"))
    store.add_feedback("a1", "甲", "up")
    store.add_feedback("a1", "甲", "down", "incomplete")  # a second click updates, no second row
    store.add_feedback("a1", "乙", "up")  # another user's judgement is their own
    rows = [(e["answer_id"], e["user"], e["rating"]) for e in store.feedback()]
    assert sorted(rows) == [("a1", "乙", "up"), ("a1", "甲", "down")]
    assert store.ratings("甲", ["a1", "a2"]) == {"a1": "down"}
    assert store.ratings("乙", ["a1"]) == {"a1": "up"}
    assert store.ratings("丙", ["a1"]) == {}
    assert store.remove_feedback("a1", "甲") == 1  # taken back
    assert store.ratings("甲", ["a1"]) == {} and store.ratings("乙", ["a1"]) == {"a1": "up"}
