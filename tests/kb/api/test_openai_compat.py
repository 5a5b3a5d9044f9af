"""The OpenAI-compatible API against a real `kb serve` with the official `openai` client, and
the web login defences on the same server (kb/api/web_guard.py, kb/access/login_guard.py).

One server: two groups, one restricted collection, API keys for a granted and an ungranted user.
"""
from __future__ import annotations

import json
import time

import pytest

from kb.api.openai_compat import ApiError, parse_request
from tests.app.conftest import seed_home, start_app, stop_app

SECRET_DOC = "绝密/张某某考察报告"
SECRET_TEXT = "关于张某某同志的考察情况报告\n\n有3名干部反映张某某同志作风霸道，搞小圈子，每年至少开展三次谈话均未整改。\n"
SECRET_PHRASE = "搞小圈子"
QUESTION = "党内政治监督谈话每年至少开展几次？"
SECRET_QUESTION = "有几名干部反映张某某同志作风霸道？"
TTL_S = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from kb.container import build_services
    from kb.settings import load_settings

    root = tmp_path_factory.mktemp("openai-api")
    home = root / "home"
    seed_home(home, root / "corpus", users=True)
    (root / "settings.yaml").write_text(
        "security:\n"
        f"  session_ttl_s: {TTL_S}\n"
        "  login_max_failures: 3\n"
        "  lockout_s: 8\n"
        "  client_max_failures: 100000\n"
        "  audit_failed_logins_max: 50\n",
        encoding="utf-8",
    )
    services = build_services(load_settings(str(root / "settings.yaml"), env={}, home=str(home)))
    try:
        services.ingest.ingest_texts([(SECRET_DOC, "关于张某某同志的考察情况报告", SECRET_TEXT)], doc_type="report", collection="第三组")
        services.users.add("third", "third-pass-1", "inspector", groups=["第三组"])
        services.users.add("second", "second-pass-1", "inspector", groups=["第二组"])
        services.users.add("expired", "expired-pass-1", "inspector", groups=["旧组"])
        services.grants.grant("第三组", "第三组")
        services.grants.grant("第三组", "旧组", until="2020-01-01")
        keys = {u: services.apikeys.create(f"key-{u}", u)[0] for u in ("third", "second", "expired")}
    finally:
        services.close()
    running = start_app(home, root / "server.log")
    running.keys = keys
    yield running
    stop_app(running.process)


def client(server, user):
    from openai import OpenAI

    return OpenAI(base_url=server.url + "/v1", api_key=server.keys[user], max_retries=0, timeout=120)


# ---- request parsing (no server) ------------------------------------------------------------
@pytest.mark.parametrize("body", [None, [], {"messages": []}, {"messages": [{"role": "user", "content": "  "}]},
                                  {"messages": [{"role": "user", "content": "q"}], "stream": "yes"},
                                  {"messages": [{"role": "wizard", "content": "q"}]},
                                  {"messages": [{"role": "user", "content": "q"}], "kb_filters": {"doc_types": "policy"}}])
def test_bad_bodies_are_400(body):
    with pytest.raises(ApiError) as err:
        parse_request(body)
    assert err.value.status == 400


def test_history_is_the_earlier_user_messages():
    req = parse_request({"messages": [
        {"role": "system", "content": "x"},
        {"role": "user", "content": "政治担当怎么考察？"},
        {"role": "assistant", "content": "……"},
        {"role": "user", "content": [{"type": "text", "text": "那政治定力呢？"}]},
    ]})
    assert req["question"] == "那政治定力呢？" and req["history"] == ["政治担当怎么考察？"] and not req["stream"]


# ---- the real server ---------------------------------------------------------------------------
@pytest.mark.slow
def test_models_and_a_cited_answer(server):
    c = client(server, "second")
    assert [m.id for m in c.models.list().data] == ["kaocha-kb"]
    r = c.chat.completions.create(model="kaocha-kb", messages=[{"role": "user", "content": QUESTION}])
    data = r.model_dump()
    assert data["status"] == "answered"
    content = r.choices[0].message.content
    assert "[1]" in content and "每年至少开展一次" in content
    cit = data["citations"][0]
    assert cit["doc"] == "党内政治监督谈话办法" and {"title", "section", "article", "page", "quote"} <= set(cit)
    # the quote's place in the stored document text (reproduced exactly: tests/kb/citations/test_offsets.py)
    assert {"doc_id", "doc_number", "pages", "start", "end", "verified"} <= set(cit) and cit["verified"] is True
    assert cit["end"] - cit["start"] == len(cit["quote"])


@pytest.mark.slow
def test_streaming_answer(server):
    c = client(server, "second")
    stream = c.chat.completions.create(model="kaocha-kb", messages=[{"role": "user", "content": QUESTION}], stream=True)
    text, last = "", None
    for chunk in stream:
        last = chunk
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    assert "每年至少开展一次" in text and "[1]" in text
    final = last.model_dump()
    assert final["choices"][0]["finish_reason"] == "stop" and final["status"] == "answered" and final["citations"]


@pytest.mark.slow
def test_multi_turn_uses_follow_up_resolution(server):
    c = client(server, "second")
    r = c.chat.completions.create(model="kaocha-kb", messages=[
        {"role": "user", "content": "政治担当方面考察什么？"},
        {"role": "assistant", "content": "……"},
        {"role": "user", "content": "那政治自律呢？"},
    ])
    data = r.model_dump()
    assert "政治自律" in data["resolved_question"] and data["resolved_question"] != "那政治自律呢？"


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True])
def test_keys_of_ungranted_users_get_nothing_from_the_restricted_collection(server, stream):
    for user in ("second", "expired"):
        c = client(server, user)
        if stream:
            parts = list(c.chat.completions.create(model="kaocha-kb", messages=[{"role": "user", "content": SECRET_QUESTION}], stream=True))
            seen = json.dumps([p.model_dump() for p in parts], ensure_ascii=False)
        else:
            seen = json.dumps(c.chat.completions.create(model="kaocha-kb", messages=[{"role": "user", "content": SECRET_QUESTION}]).model_dump(), ensure_ascii=False)
        assert SECRET_DOC not in seen and SECRET_PHRASE not in seen, user
    granted = client(server, "third").chat.completions.create(model="kaocha-kb", messages=[{"role": "user", "content": SECRET_QUESTION}]).model_dump()
    assert any(c["doc"] == SECRET_DOC for c in granted["citations"])


@pytest.mark.slow
def test_no_key_or_a_bad_key_is_401(server):
    import httpx
    from openai import AuthenticationError, OpenAI

    assert httpx.post(server.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}).status_code == 401
    assert httpx.get(server.url + "/v1/models").status_code == 401
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=server.url + "/v1", api_key="kb-not-a-key", max_retries=0).models.list()


@pytest.mark.slow
def test_api_answers_are_audited_with_the_key_and_shown_documents(server):
    from kb.access.audit import AuditLog

    client(server, "third").chat.completions.create(model="kaocha-kb", messages=[{"role": "user", "content": SECRET_QUESTION}])
    rows = [r for r in AuditLog(server.home / "audit.sqlite3").query(action="ask") if r["extra"].get("via") == "api"]
    assert rows[-1]["user"] == "third" and rows[-1]["extra"]["key"] == "key-third" and SECRET_DOC in rows[-1]["extra"]["shown"]
    assert AuditLog(server.home / "audit.sqlite3").verify()["rows"] > 0


@pytest.mark.slow
def test_web_api_of_an_ungranted_user_gets_nothing_restricted(server):
    from gradio_client import Client

    for user, password in (("second", "second-pass-1"), ("expired", "expired-pass-1")):
        ungranted = Client(server.url, auth=(user, password), verbose=False, analytics_enabled=False)
        seen = json.dumps(ungranted.predict(question=SECRET_QUESTION, api_name="/ask"), ensure_ascii=False)
        assert SECRET_DOC not in seen and SECRET_PHRASE not in seen, user
    third = Client(server.url, auth=("third", "third-pass-1"), verbose=False, analytics_enabled=False)
    answer = third.predict(question=SECRET_QUESTION, api_name="/ask")
    assert any(c["doc_id"] == SECRET_DOC for c in answer["citations"])


# ---- login defences on the same server ------------------------------------------------------------
@pytest.mark.slow
def test_lockout_refuses_the_right_password_until_the_cool_down_ends(server):
    import httpx

    with httpx.Client(base_url=server.url) as http:
        for _ in range(3):
            assert http.post("/login", data={"username": "expired", "password": "wrong"}).status_code in (400, 429)
        # locked: the right password is refused too, and the account is told it is locked and for how long
        # (kb/api/web_guard.py), not that its password is wrong
        locked = http.post("/login", data={"username": "expired", "password": "expired-pass-1"})
        assert locked.status_code == 429 and "锁定" in locked.text and int(locked.headers["retry-after"]) >= 1
        time.sleep(9)
        assert http.post("/login", data={"username": "expired", "password": "expired-pass-1"}).status_code == 200


@pytest.mark.slow
def test_failed_logins_with_huge_names_barely_grow_the_audit_log(server):
    import httpx

    db = server.home / "audit.sqlite3"

    def size() -> int:
        return sum(p.stat().st_size for p in db.parent.glob("audit.sqlite3*"))

    before = size()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for i in range(100):
            r = http.post("/login", data={"username": f"{i}" + "名" * 350_000, "password": "x"})  # ≈1 MB each
            assert r.status_code in (400, 413)
        for i in range(100):  # names just under the request cap still reach the login check
            http.post("/login", data={"username": f"{i}" + "n" * 4000, "password": "x"})
    assert size() - before < 1_000_000


@pytest.mark.slow
def test_sessions_expire(server):
    import httpx

    with httpx.Client(base_url=server.url) as http:
        assert http.post("/login", data={"username": "second", "password": "second-pass-1"}).status_code == 200
        assert http.get("/config").status_code == 200
        time.sleep(TTL_S + 1)
        assert http.get("/config").status_code == 401


# ---- #30 items 4, 5 and 7 without a server: a closed stream is audited, keys throttled per key, sizes ----
class _FakeAnswers:
    def stream(self, question, filters=None, k=None, history=None):
        from kb.models import Answer

        yield "第二条 谈话每年至少开展一次"
        yield "。[1]"
        yield Answer(question=question, answer="第二条 谈话每年至少开展一次。[1]", refused=False, mode="extractive")


def _api_services(settings):
    from types import SimpleNamespace

    from kb.access.apikeys import ApiKeyStore
    from kb.access.audit import AuditLog
    from kb.access.login_guard import LoginGuard
    from kb.access.users import UserStore

    services = SimpleNamespace(
        settings=settings, audit=AuditLog(settings.audit_db), users=UserStore(settings.users_file),
        apikeys=ApiKeyStore(settings.apikeys_file), login_guard=LoginGuard(settings.security),
    )
    services.for_user = lambda user: SimpleNamespace(answers=_FakeAnswers())
    return services


def test_a_stream_the_client_closes_early_is_still_audited(settings):
    from kb.api.openai_compat import ChatCompletions

    services = _api_services(settings)
    events = ChatCompletions(services).stream("third", "key-third", parse_request(
        {"messages": [{"role": "user", "content": QUESTION}], "stream": True}))
    next(events)  # the role chunk
    assert "谈话每年至少开展一次" in next(events)  # most of the answer has reached the client …
    events.close()  # … which goes away
    rows = services.audit.query(action="ask")
    assert len(rows) == 1 and rows[0]["user"] == "third" and rows[0]["detail"] == QUESTION
    assert rows[0]["extra"]["incomplete"] is True and rows[0]["extra"]["key"] == "key-third"


def test_bad_keys_from_an_address_do_not_lock_its_valid_keys(tmp_path):
    from tests.conftest import make_settings

    from kb.api.openai_compat import ChatCompletions

    services = _api_services(make_settings(tmp_path / "kb", security__client_max_failures=3))
    services.users.add("third", "third-pass-1", "inspector")
    key, _ = services.apikeys.create("key-third", "third")
    api = ChatCompletions(services)
    for i in range(25):
        with pytest.raises(ApiError):
            api.authenticate(f"Bearer kb-guess-{i}", "10.0.0.5")
    assert api.authenticate(f"Bearer {key}", "10.0.0.5") == ("key-third", "third")
    with pytest.raises(ApiError) as err:
        api.authenticate("Bearer kb-guess-again", "10.0.0.5")
    assert err.value.status == 429


def test_a_key_over_its_own_rate_is_429_and_other_keys_go_on(tmp_path):
    from tests.conftest import make_settings

    from kb.api.openai_compat import ChatCompletions

    services = _api_services(make_settings(tmp_path / "kb", security__api_key_requests_per_minute=2))
    services.users.add("third", "third-pass-1", "inspector")
    busy, _ = services.apikeys.create("busy", "third")
    calm, _ = services.apikeys.create("calm", "third")
    api = ChatCompletions(services)
    api.authenticate(f"Bearer {busy}", "10.0.0.5")
    api.authenticate(f"Bearer {busy}", "10.0.0.5")
    with pytest.raises(ApiError) as err:
        api.authenticate(f"Bearer {busy}", "10.0.0.5")
    assert err.value.status == 429 and err.value.retry_after
    assert api.authenticate(f"Bearer {calm}", "10.0.0.5")[0] == "calm"


@pytest.mark.parametrize("history", [["问题"] * 40, ["很" * 1000] * 10])
def test_long_histories_are_400_with_a_clear_message(history):
    messages = [{"role": "user", "content": h} for h in history] + [{"role": "user", "content": QUESTION}]
    with pytest.raises(ApiError) as err:
        parse_request({"messages": messages})
    assert err.value.status == 400 and err.value.code == "request_too_large" and "对话历史太长" in err.value.message


@pytest.mark.parametrize("peer, header, expected", [
    ("127.0.0.1", "1.2.3.4", "127.0.0.1"),  # no trusted proxy: the header is ignored
    ("10.0.0.2", "1.2.3.4", "1.2.3.4"),  # the trusted proxy vouches for its client
    ("10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # what the client itself put in front is not believed
    ("10.0.0.9", "1.2.3.4", "10.0.0.9"),  # not the trusted proxy
])
def test_forwarded_for_is_believed_only_from_trusted_proxies(peer, header, expected):
    from kb.api.web_guard import client_address, parse_proxies

    proxies = parse_proxies(["10.0.0.2"]) if expected != "127.0.0.1" else parse_proxies([])
    assert client_address(peer, [(b"x-forwarded-for", header.encode())], proxies) == expected


def test_a_malformed_trusted_proxy_is_an_error():
    from kb.api.web_guard import parse_proxies

    with pytest.raises(ValueError, match="trusted_proxies"):
        parse_proxies(["not-an-address"])
