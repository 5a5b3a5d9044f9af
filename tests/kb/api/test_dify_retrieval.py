"""Dify's External Knowledge API (kb/api/dify_retrieval.py) over a small real knowledge base: two
collections, one restricted to a group, API keys for a granted and an ungranted user."""
from __future__ import annotations


import pytest

from kb.api.dify_retrieval import DifyError, parse_request

NOTICE = (
    "中共某市委组织部文件\n\n某组发〔2024〕12号\n\n关于开展党内政治监督谈话的通知\n\n各县（市、区）委组织部：\n\n"
    "为加强党内政治监督，现就谈话工作通知如下。\n\n一、党内政治监督谈话每年至少开展一次，由县委书记主持。\n\n"
    "二、谈话对象包括班子成员和中层干部。\n\n中共某市委组织部\n2024年3月15日\n"
)
CRITERIA = "政治担当考察要点\n\n考察干部在重大任务面前是否敢于担当，谈话中是否如实反映问题。\n"
SECRET_TEXT = "关于张某某同志的考察情况报告\n\n有3名干部反映张某某同志作风霸道，搞小圈子，谈话后均未整改。\n"
SECRET_PHRASE = "搞小圈子"
QUERY = "党内政治监督谈话每年至少开展几次？"


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from kb.api.dify_retrieval import router
    from kb.container import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(tmp_path_factory.mktemp("dify") / "kb"))
    services.ingest.ingest_texts([("谈话通知", "", NOTICE)], doc_type="policy", collection="公开")
    services.ingest.ingest_texts([("担当要点", "政治担当考察要点", CRITERIA)], doc_type="criteria", collection="公开")
    services.ingest.ingest_texts([("张某某考察报告", "关于张某某同志的考察情况报告", SECRET_TEXT)],
                                 doc_type="report", collection="第三组")
    services.users.add("third", "third-pass-1", "inspector", groups=["第三组"])
    services.users.add("second", "second-pass-1", "inspector", groups=["第二组"])
    services.grants.grant("第三组", "第三组")
    keys = {u: services.apikeys.create(f"key-{u}", u)[0] for u in ("third", "second")}
    keys["revoked"] = services.apikeys.create("key-revoked", "third")[0]
    services.apikeys.revoke("key-revoked")
    app = FastAPI()
    app.include_router(router(services))
    with TestClient(app) as http:
        http.services, http.keys = services, keys
        yield http
    services.close()


def post(kb, body, user="third", path="/retrieval", headers=None):
    headers = headers if headers is not None else {"Authorization": f"Bearer {kb.keys[user]}"}
    return kb.post(path, json=body, headers=headers)


def body(query=QUERY, knowledge_id="*", top_k=5, threshold=0.0, **more):
    return {"knowledge_id": knowledge_id, "query": query,
            "retrieval_setting": {"top_k": top_k, "score_threshold": threshold}, **more}


# ---- the documented request and response --------------------------------------------------------
@pytest.mark.parametrize("path", ["/retrieval", "/dify/retrieval"])
def test_the_documented_request_returns_records_in_difys_shape(kb, path):
    r = post(kb, body(knowledge_id="公开", top_k=3), path=path)
    assert r.status_code == 200, r.text
    records = r.json()["records"]
    assert 1 <= len(records) <= 3
    best = records[0]
    assert set(best) == {"content", "score", "title", "metadata"}
    assert "每年至少开展一次" in best["content"] and best["title"] == "关于开展党内政治监督谈话的通知"
    assert isinstance(best["score"], float) and 0.0 < best["score"] <= 1.0
    meta = best["metadata"]
    assert meta["doc_id"] == "谈话通知" and meta["collection"] == "公开" and meta["doc_type"] == "policy"
    assert meta["doc_number"] == "某组发〔2024〕12号" and meta["issuer"] == "中共某市委组织部"
    assert meta["issued_on"] == "2024-03-15"
    assert {"section", "page", "pages", "start", "end", "chunk_id"} <= set(meta)
    # start / end are offsets in the stored document text
    text = kb.services.store.get_document_text("谈话通知")
    assert text[meta["start"]:meta["end"]] == best["content"]
    assert all(0.0 <= rec["score"] <= 1.0 for rec in records)


def test_top_k_and_score_threshold_are_honoured(kb):
    everything = post(kb, body(top_k=10)).json()["records"]
    assert len(everything) >= 3
    assert len(post(kb, body(top_k=2)).json()["records"]) == 2
    assert len(post(kb, body(top_k=1)).json()["records"]) == 1
    scores = sorted({rec["score"] for rec in everything})
    assert len(scores) >= 3, scores
    cut = scores[len(scores) // 2]
    kept = post(kb, body(top_k=10, threshold=cut)).json()["records"]
    assert kept and all(rec["score"] >= cut for rec in kept)
    assert [r["metadata"]["chunk_id"] for r in kept] == [r["metadata"]["chunk_id"] for r in everything if r["score"] >= cut]
    assert len(kept) < len(everything)
    # top_k and the threshold together
    assert len(post(kb, body(top_k=1, threshold=cut)).json()["records"]) == 1


def test_a_query_about_nothing_in_the_knowledge_base_scores_low(kb):
    records = post(kb, body(query="量子计算机的超导比特", threshold=0.3)).json()["records"]
    assert records == []


def test_metadata_condition_filters(kb):
    def docs(condition, user="third"):
        r = post(kb, body(query="谈话", top_k=10, metadata_condition=condition), user=user)
        assert r.status_code == 200, r.text
        return {rec["metadata"]["doc_id"] for rec in r.json()["records"]}

    assert docs({"conditions": [{"name": ["doc_type"], "comparison_operator": "is", "value": "policy"}]}) == {"谈话通知"}
    assert docs({"conditions": [{"name": ["issuer"], "comparison_operator": "contains", "value": "组织部"}]}) == {"谈话通知"}
    assert docs({"conditions": [{"name": ["doc_number"], "comparison_operator": "empty"}]}) == {"担当要点", "张某某考察报告"}
    assert docs({"conditions": [{"name": "collection", "comparison_operator": "is not", "value": "公开"}]}) == {"张某某考察报告"}
    assert docs({"logical_operator": "or", "conditions": [
        {"name": ["doc_type"], "comparison_operator": "is", "value": "criteria"},
        {"name": ["doc_type"], "comparison_operator": "is", "value": "report"}]}) == {"担当要点", "张某某考察报告"}
    assert docs({"logical_operator": "and", "conditions": [
        {"name": ["doc_type"], "comparison_operator": "is", "value": "policy"},
        {"name": ["issued_on"], "comparison_operator": "before", "value": "2024-01-01"}]}) == set()
    assert docs({"conditions": [{"name": ["issued_on"], "comparison_operator": "after", "value": "2024-01-01"}]}) == {"谈话通知"}
    assert docs({"conditions": [{"name": ["doc_number"], "comparison_operator": "start with", "value": "某组发"}]}) == {"谈话通知"}
    # the ungranted user's "not 公开" is nothing at all, not the restricted report
    assert docs({"conditions": [{"name": "collection", "comparison_operator": "is not", "value": "公开"}]}, user="second") == set()


# ---- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Token abc"}, {"Authorization": "Bearer"},
                                     {"Authorization": "Bearer a b"}])
def test_a_missing_or_malformed_header_is_1001(kb, headers):
    r = post(kb, body(), headers=headers)
    assert r.status_code == 403
    assert r.json() == {"error_code": 1001,
                        "error_msg": "Invalid Authorization header format. Expected 'Bearer <api-key>' format."}


@pytest.mark.parametrize("key", ["kb-not-a-key", "revoked"])
def test_an_unknown_or_revoked_key_is_1002(kb, key):
    key = kb.keys.get(key, key)
    r = post(kb, body(), headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403 and r.json() == {"error_code": 1002, "error_msg": "Authorization failed"}


def test_an_unknown_knowledge_id_is_2001(kb):
    r = post(kb, body(knowledge_id="没有这个库"))
    assert r.status_code == 404 and r.json() == {"error_code": 2001, "error_msg": "The knowledge does not exist"}


@pytest.mark.parametrize("bad", [
    {"query": "q", "retrieval_setting": {"top_k": 3, "score_threshold": 0.5}},
    {"knowledge_id": "*", "query": " ", "retrieval_setting": {"top_k": 3, "score_threshold": 0.5}},
    {"knowledge_id": "*", "query": "q", "retrieval_setting": {"top_k": 0, "score_threshold": 0.5}},
    {"knowledge_id": "*", "query": "q", "retrieval_setting": {"top_k": 3, "score_threshold": 2}},
    {"knowledge_id": "*", "query": "q", "retrieval_setting": {"top_k": 3, "score_threshold": 0.5},
     "metadata_condition": {"conditions": [{"name": ["doc_type"], "comparison_operator": "like", "value": "x"}]}},
])
def test_bad_bodies_are_400(bad):
    with pytest.raises(DifyError) as err:
        parse_request(bad)
    assert err.value.status == 400


def test_a_body_over_the_limit_is_413(kb):
    r = post(kb, body(query="谈" * 200_000))
    assert r.status_code == 413 and r.json()["error_code"] == 413


# ---- grants ----------------------------------------------------------------------------------
def test_the_restricted_collection_is_2001_for_an_ungranted_key_and_never_seen_with_star(kb):
    refused = post(kb, body(query="张某某同志作风霸道", knowledge_id="第三组"), user="second")
    missing = post(kb, body(query="张某某同志作风霸道", knowledge_id="没有这个库"), user="second")
    assert refused.status_code == missing.status_code == 404 and refused.json() == missing.json()
    for query in ("张某某同志作风霸道", "搞小圈子", "谈话"):
        seen = post(kb, body(query=query, top_k=50), user="second").text
        assert SECRET_PHRASE not in seen and "张某某考察报告" not in seen, query
    granted = post(kb, body(query="张某某同志作风霸道", knowledge_id="第三组"), user="third")
    assert granted.status_code == 200
    assert any(SECRET_PHRASE in rec["content"] for rec in granted.json()["records"])
    star = post(kb, body(query="张某某同志作风霸道"), user="third").json()["records"]
    assert star[0]["metadata"]["doc_id"] == "张某某考察报告"


# ---- audit -----------------------------------------------------------------------------------
def test_each_call_is_audited_with_the_key_and_the_documents_returned(kb):
    query = "谈话对象包括哪些人？"
    records = post(kb, body(query=query, knowledge_id="公开", top_k=2)).json()["records"]
    rows = [r for r in kb.services.audit.query(action="retrieval") if r["detail"] == query]
    assert rows, "the call is not in the audit log"
    row = rows[-1]
    assert row["user"] == "third" and row["extra"]["via"] == "dify" and row["extra"]["key"] == "key-third"
    assert row["extra"]["knowledge_id"] == "公开" and row["extra"]["records"] == len(records)
    assert set(row["doc_ids"]) == {rec["metadata"]["doc_id"] for rec in records}
    post(kb, body(query="张某某", knowledge_id="第三组"), user="second")
    refused = [r for r in kb.services.audit.query(action="retrieval") if r["user"] == "second"][-1]
    assert refused["extra"]["refused"] == "unknown_knowledge" and refused["doc_ids"] == []
    assert kb.services.audit.verify()["rows"] > 0


# ---- throttling ------------------------------------------------------------------------------
def test_a_key_over_its_own_rate_is_429(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from kb.api.dify_retrieval import router
    from kb.container import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(tmp_path / "kb", security__api_key_requests_per_minute=2))
    try:
        services.ingest.ingest_texts([("谈话通知", "", NOTICE)], doc_type="policy", collection="公开")
        services.users.add("third", "third-pass-1", "inspector")
        busy, _ = services.apikeys.create("busy", "third")
        calm, _ = services.apikeys.create("calm", "third")
        app = FastAPI()
        app.include_router(router(services))
        with TestClient(app) as http:
            codes = [http.post("/retrieval", json=body(), headers={"Authorization": f"Bearer {busy}"}).status_code
                     for _ in range(3)]
            assert codes == [200, 200, 429]
            assert http.post("/retrieval", json=body(), headers={"Authorization": f"Bearer {calm}"}).status_code == 200
    finally:
        services.close()
