"""Collection grants enforced inside retrieval (kb/access/scope.py, kb/retrieval/hybrid.py ScopedRetriever,
kb/retrieval/lexical.py LexicalSnapshot.scoped).

The proof that a restricted chunk cannot influence what an ungranted user sees: the same
questions, drafts and look-ups on a knowledge base *with* the restricted collection, as the
ungranted user, give exactly what they give on a knowledge base that never held it — answer text,
status, citations, contexts (related passages), raw lexical scores, clause resolution, drafts.
A granted user, and an admin, do get the restricted material.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from kb.models import DraftRequest, Filters
from tests.conftest import make_settings, require_shared

SECRET_COLLECTION = "第三组"
SECRET_RULES = """第三组考察工作纪律规定

第一条 为保守考察工作秘密，规范第三组考察人员行为，制定本规定。

第二条 考察组成员每周至少开展两次个别谈话复盘，谈话记录由组长统一保管。

第三条 考察中发现的问题线索，应当在二十四小时内报告组长，不得私自扩散。

第四条 考察结束后，谈话记录和测评材料一律封存，任何人不得复制。
"""
SECRET_REPORT = """关于张某某同志的考察情况报告

一、政治素质
考察组开展党内政治监督谈话时，有3名干部反映张某某同志作风霸道，搞小圈子，政治担当不足。
张某某同志在民主生活会上的批评和自我批评辣味不足，对班子存在的问题避重就轻。

二、廉洁自律
张某某同志的配偶在辖区内某公司任职，群众对此反映较多，需进一步核实。

三、考察结论
综合谈话、测评和查阅资料情况，考察组认为张某某同志暂不宜提拔使用。
"""
SECRET = [
    ("绝密/第三组工作纪律", "第三组考察工作纪律规定", SECRET_RULES, "policy"),
    ("绝密/张某某考察报告", "关于张某某同志的考察情况报告", SECRET_REPORT, "report"),
]
SECRET_IDS = {d for d, *_ in SECRET}
QUESTIONS = [
    "安徽探索实行党内政治监督谈话制度是怎么做的？",  # public answer, secret words overlap
    "张某某同志存在什么问题？",  # only the secret report answers
    "有几名干部反映张某某作风霸道？",  # a count only the secret holds
    "《第三组考察工作纪律规定》第二条是什么？",  # clause lookup of a secret title
    "考察组成员每周至少开展几次个别谈话复盘？",
    "民主生活会批评和自我批评辣味不足怎么办？",
    "政治素质考察要了解哪些方面？",  # enumeration
    "《安徽探索实行党内政治监督谈话制度》和《第三组考察工作纪律规定》分别怎么规定谈话的？",  # two named documents
    "什么是政治担当？",  # definition completion from the framework
]


def _build(home, with_secret: bool, **overrides):
    from kb.container import build_services

    shared = require_shared()
    services = build_services(make_settings(home, chroma__version_check_seconds=0, **overrides))
    services.ingest.ingest_paths([shared / "corpus" / "seeds"])
    if with_secret:
        for doc_id, title, text, doc_type in SECRET:
            services.ingest.ingest_texts([(doc_id, title, text)], doc_type=doc_type, collection=SECRET_COLLECTION)
        services.users.add("admin1", "admin-pass-1", "admin")
        services.users.add("third", "third-pass-1", "inspector", groups=[SECRET_COLLECTION])
        services.users.add("second", "second-pass-1", "inspector", groups=["第二组"])
        services.users.add("expired", "expired-pass-1", "inspector", groups=["旧第三组"])
        services.users.add("nogroup", "nogroup-pass-1", "inspector")
        services.grants.grant(SECRET_COLLECTION, SECRET_COLLECTION)
        services.grants.grant(SECRET_COLLECTION, "旧第三组", until=date.today() - timedelta(days=1))
    return services


@pytest.fixture(scope="module")
def kbs(tmp_path_factory):
    restricted = _build(tmp_path_factory.mktemp("with-secret") / "kb", True)
    plain = _build(tmp_path_factory.mktemp("without-secret") / "kb", False)
    yield restricted, plain
    restricted.close()
    plain.close()


def _answer(services, question: str, **kw) -> dict[str, Any]:
    data = services.answers.ask(question, **kw).to_dict()
    data.pop("answer_id")
    return data


# phrases only the restricted documents hold (the questions name some titles and people themselves)
SECRET_PHRASES = ("搞小圈子", "谈话记录由组长统一保管", "二十四小时内报告组长", "暂不宜提拔使用", "配偶在辖区内")


def _secret_in(value: Any) -> bool:
    """Does anything but the question itself show the restricted material?"""
    text = repr(value)
    return any(d in text for d in SECRET_IDS) or any(p in text for p in SECRET_PHRASES)


UNGRANTED = ["second", "expired", "nogroup"]


@pytest.mark.parametrize("user", UNGRANTED)
def test_scope_of_ungranted_users_denies_the_collection(kbs, user):
    restricted, _ = kbs
    assert restricted.denied_collections(user) == {SECRET_COLLECTION}
    assert restricted.denied_collections("third") == frozenset()
    assert restricted.denied_collections("admin1") == frozenset()
    assert restricted.for_user("admin1") is restricted  # unrestricted use goes through the very same services


@pytest.mark.parametrize("question", QUESTIONS)
def test_answers_of_an_ungranted_user_are_those_of_a_kb_without_the_collection(kbs, question):
    restricted, plain = kbs
    expected = _answer(plain, question)
    for user in UNGRANTED:
        got = _answer(restricted.for_user(user), question)
        assert got == expected, (user, question)
        assert not _secret_in(got)


def test_follow_up_and_filters_keep_the_scope(kbs):
    restricted, plain = kbs
    history = ["张某某同志存在什么问题？"]
    got = _answer(restricted.for_user("second"), "那廉洁方面呢？", history=history)
    assert got == _answer(plain, "那廉洁方面呢？", history=history)
    # a filter naming the restricted collection finds nothing rather than the collection
    only = Filters(collections=[SECRET_COLLECTION])
    assert restricted.for_user("second").retriever.search("张某某 作风霸道", filters=only) == []
    assert restricted.for_user("third").retriever.search("张某某 作风霸道", filters=only)


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_retrieval_path_of_an_ungranted_user_matches_the_kb_without(kbs, question):
    restricted, plain = kbs
    view = restricted.for_user("second").retriever
    base = plain.retriever
    hits = view.search(question, k=8)
    assert [h.to_dict() for h in hits] == [h.to_dict() for h in base.search(question, k=8)]
    assert [h.to_dict() for h in view.neighbours(hits)] == [h.to_dict() for h in base.neighbours(base.search(question, k=8))]
    assert view.lexical_scores(question, 10) == base.lexical_scores(question, 10)
    q1, exact1 = view.clause_query(question)
    q2, exact2 = base.clause_query(question)
    assert (q1.doc_ids, exact1) == (q2.doc_ids, exact2)
    assert not any(_secret_in(h.chunk.doc_id) for h in hits)


def test_index_statistics_seen_by_an_ungranted_user_ignore_the_collection(kbs):
    restricted, plain = kbs
    snap = restricted.for_user("second").lexical.snapshot
    other = plain.lexical.snapshot
    assert len(snap) == len(other) and set(snap.titles()) == set(other.titles())
    assert set(snap.bm25.vocab_dict) == set(other.bm25.vocab_dict)  # no word only the secret uses
    assert "作风霸道" not in snap.bm25.vocab_dict or "作风霸道" in other.bm25.vocab_dict


def test_granted_user_and_admin_get_the_restricted_material(kbs):
    restricted, _ = kbs
    for user in ("third", "admin1"):
        view = restricted.for_user(user)
        answer = view.answers.ask("有几名干部反映张某某作风霸道？")
        assert answer.status == "answered"
        assert {c.doc_id for c in answer.citations} & SECRET_IDS
        hits = view.retriever.search("《第三组考察工作纪律规定》第二条是什么？", k=3)
        assert hits[0].chunk.doc_id == "绝密/第三组工作纪律" and "第二条" in hits[0].chunk.text


def test_unrestricted_use_is_unchanged(kbs):
    """Without a user (the CLI operator) or as an admin nothing is filtered: the base services."""
    restricted, _ = kbs
    answer = restricted.answers.ask("有几名干部反映张某某作风霸道？")
    assert {c.doc_id for c in answer.citations} & SECRET_IDS


def test_drafting_evidence_of_an_ungranted_user_matches_the_kb_without(kbs):
    restricted, plain = kbs
    req = DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当", "政治自律"], count=3,
                       request="重点了解民主生活会批评和自我批评情况")
    got = restricted.for_user("second").drafts.draft(req).to_dict()
    want = plain.drafts.draft(req).to_dict()
    assert got == want
    assert not _secret_in(got)


def test_chunk_view_store_and_filter_choices_hide_the_collection(kbs):
    from kb.web.service import WebAppService

    restricted, _ = kbs
    secret_chunk = restricted.retriever.search("张某某 配偶 公司", k=1)[0].chunk
    assert secret_chunk.doc_id in SECRET_IDS
    webapp = WebAppService(restricted)
    assert webapp.chunk_text(secret_chunk.chunk_id, "second") is None
    assert webapp.chunk_text(secret_chunk.chunk_id) is None  # no name: a user without groups
    assert webapp.chunk_text(secret_chunk.chunk_id, "third") == secret_chunk.text
    assert SECRET_COLLECTION not in webapp.filter_choices("second")[1]
    assert SECRET_COLLECTION in webapp.filter_choices("third")[1]
    store = restricted.for_user("second").store
    assert store.get_document("绝密/张某某考察报告") is None
    assert store.get_document_text("绝密/张某某考察报告") is None
    assert store.document_chunks("绝密/张某某考察报告") == []
    assert not any(r.doc_id in SECRET_IDS for r in store.list_documents())


def test_web_answers_and_audit_of_an_ungranted_user(kbs):
    from kb.web.service import WebAppService

    restricted, plain = kbs
    webapp = WebAppService(restricted)
    data = webapp.ask("second", "张某某同志存在什么问题？")
    assert not _secret_in(data)
    granted = webapp.ask("third", "张某某同志存在什么问题？")
    assert {c["doc_id"] for c in granted["citations"]} & SECRET_IDS
    rows = restricted.audit.query(action="ask")
    mine = [r for r in rows if r["user"] == "third"][-1]
    assert set(mine["extra"]["shown"]) & SECRET_IDS  # the documents the answer showed are recorded


def test_revoking_and_expiry_take_effect_at_the_next_question(kbs, tmp_path):
    from kb.access.grants import GrantStore

    store = GrantStore(tmp_path / "grants.json")
    store.grant("c", "g", until=date.today().isoformat())
    assert store.denied_for(["g"]) == frozenset()  # the last day still holds
    assert store.denied_for(["g"], today=date.today() + timedelta(days=1)) == {"c"}
    store.revoke("c", "g")
    assert store.denied_for(["g"]) == {"c"}  # revoking the last grant keeps the collection restricted
    store.release("c")
    assert store.denied_for([]) == frozenset()


@pytest.mark.parametrize("mode", ["dense-mock"])
def test_dense_side_is_scoped_too(tmp_path, mode):
    """With the dense list weighted in, the ungranted user's ranking still equals the KB without."""
    from kb.container import build_services

    overrides = {"embedder__mode": "mock", "retrieval__dense_weight": {"mock": 1.0}, "chroma__version_check_seconds": 0}
    public = [("公开/谈话办法", "党内政治监督谈话办法", "第一条 上级党委主要负责人与下级党委主要负责人一对一谈话，每年至少一次。\n第二条 谈话应当直接指出问题。", "policy")]
    kbs = []
    for with_secret in (True, False):
        svc = build_services(make_settings(tmp_path / str(with_secret) / "kb", **overrides))
        for doc_id, title, text, doc_type in public:
            svc.ingest.ingest_texts([(doc_id, title, text)], doc_type=doc_type)
        if with_secret:
            for doc_id, title, text, doc_type in SECRET:
                svc.ingest.ingest_texts([(doc_id, title, text)], doc_type=doc_type, collection=SECRET_COLLECTION)
            svc.users.add("second", "second-pass-1", "inspector")
            svc.grants.grant(SECRET_COLLECTION, SECRET_COLLECTION)
        kbs.append(svc)
    try:
        for question in ("谈话每年几次？", "完全无关的天气预报"):
            got = kbs[0].for_user("second").retriever.search(question, k=5)
            want = kbs[1].retriever.search(question, k=5)
            assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in want]
            assert all(h.chunk.doc_id not in SECRET_IDS for h in got)
    finally:
        for svc in kbs:
            svc.close()
