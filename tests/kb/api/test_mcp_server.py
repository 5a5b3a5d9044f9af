"""The MCP server (kb/api/mcp_server.py) with the official `mcp` client over both transports:
stdio (`python -m kb.cli mcp --user NAME` spawned by `mcp.client.stdio`) and Streamable HTTP
(`/mcp` of a real `kb serve`, `mcp.client.streamable_http`, Bearer API keys).

One knowledge base: a public collection (a 公文 with a 发文字号) and a collection restricted to the
group 第三组 (a report with a phrase found nowhere else); `third` is in 第三组, `second` is not.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import start_app, stop_app
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[3]
NOTICE = (
    "中共某市委组织部文件\n\n某组发〔2024〕12号\n\n关于开展党内政治监督谈话的通知\n\n各县（市、区）委组织部：\n\n"
    "为加强党内政治监督，现就谈话工作通知如下。\n\n一、党内政治监督谈话每年至少开展一次，由县委书记主持。\n\n"
    "二、谈话对象包括班子成员和中层干部。\n\n三、谈话前应当梳理被谈话人的履职情况。\n\n"
    "四、谈话情况应当形成记录。\n\n中共某市委组织部\n2024年3月15日\n"
)
CRITERIA = "政治担当考察要点\n\n考察干部在重大任务面前是否敢于担当，谈话中是否如实反映问题。\n"
SECRET_DOC = "张某某考察报告"
SECRET_TEXT = "关于张某某同志的考察情况报告\n\n有3名干部反映张某某同志作风霸道，搞小圈子，谈话后均未整改。\n"
SECRET_PHRASE = "搞小圈子"
SECRET_QUESTION = "有几名干部反映张某某同志作风霸道，搞小圈子？"
QUESTION = "党内政治监督谈话每年至少开展几次？"
TOOLS = {"search", "ask", "list_collections", "list_documents", "get_passage"}
CALL_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """The knowledge base (seeded here, then closed: the servers under test open it themselves)."""
    from kb.container import build_services

    root = tmp_path_factory.mktemp("mcp")
    home = root / "home"
    settings = make_settings(home)
    services = build_services(settings)
    try:
        services.ingest.ingest_texts([("谈话通知", "", NOTICE)], doc_type="policy", collection="公开")
        services.ingest.ingest_texts([("担当要点", "政治担当考察要点", CRITERIA)], doc_type="criteria", collection="公开")
        services.ingest.ingest_texts([(SECRET_DOC, "关于张某某同志的考察情况报告", SECRET_TEXT)],
                                     doc_type="report", collection="第三组")
        services.users.add("third", "third-pass-1", "inspector", groups=["第三组"])
        services.users.add("second", "second-pass-1", "inspector", groups=["第二组"])
        services.grants.grant("第三组", "第三组")
        keys = {u: services.apikeys.create(f"key-{u}", u)[0] for u in ("third", "second")}
        keys["revoked"] = services.apikeys.create("key-revoked", "third")[0]
        services.apikeys.revoke("key-revoked")
        texts = {d: services.store.get_document_text(d) for d in ("谈话通知", "担当要点", SECRET_DOC)}
        secret_chunk = services.store.document_chunks(SECRET_DOC)[0].chunk_id
    finally:
        services.close()
    return {"root": root, "home": home, "settings": settings, "keys": keys, "texts": texts,
            "secret_chunk": secret_chunk}


def audit_rows(kb, after_id: int = 0) -> list[dict[str, Any]]:
    from kb.access.audit import AuditLog

    return [r for r in AuditLog(kb["settings"].audit_db).query() if r["id"] > after_id]


def last_audit_id(kb) -> int:
    rows = audit_rows(kb)
    return rows[-1]["id"] if rows else 0


# ---- the two transports ------------------------------------------------------------------------------
def stdio_session(kb, user: str | None, calls):
    """Spawn `kb mcp [--user USER]` with the official stdio client and run `calls(session)`."""
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    args = ["-m", "kb.cli", "mcp"] + (["--user", user] if user else [])
    params = StdioServerParameters(
        command=sys.executable, args=args, cwd=str(kb["root"]),  # no settings.yaml from the checkout
        env={"KB_HOME": str(kb["home"]), "KB_SEMANTIC__CACHE_DIR": str(kb["settings"].semantic.cache_dir),
             "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
    )

    async def main():
        with anyio.fail_after(CALL_TIMEOUT_S):
            async with stdio_client(params, errlog=sys.stderr) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await calls(session)

    return anyio.run(main)


@pytest.fixture(scope="module")
def server(kb):
    """`kb serve` on a free port over the same knowledge base."""
    running = start_app(kb["home"], kb["root"] / "server.log")
    yield running
    stop_app(running.process)


def http_session(server, key: str | None, calls):
    """Run `calls(session)` with the official Streamable HTTP client against /mcp with `key`."""
    import anyio
    import httpx2  # the HTTP client the mcp SDK is built on: headers go on it
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}

    async def main():
        with anyio.fail_after(CALL_TIMEOUT_S):
            async with httpx2.AsyncClient(headers=headers, timeout=CALL_TIMEOUT_S) as http:
                async with streamable_http_client(server.url + "/mcp", http_client=http) as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        return await calls(session)

    return anyio.run(main)


async def call(session, tool: str, **arguments) -> tuple[bool, Any]:
    """(is_error, structured result — or the error text)."""
    result = await session.call_tool(tool, arguments)
    if result.is_error:
        return True, " ".join(getattr(c, "text", "") for c in result.content)
    return False, result.structured_content


# ---- what a granted caller gets ------------------------------------------------------------------------
async def granted_calls(session) -> dict[str, Any]:
    listed = await session.list_tools()
    out: dict[str, Any] = {"tools": {t.name: t for t in listed.tools}}
    out["search"] = await call(session, "search", query="党内政治监督谈话每年开展几次", k=3)
    out["search_secret"] = await call(session, "search", query=SECRET_PHRASE, k=5)
    out["ask"] = await call(session, "ask", question=QUESTION)
    out["follow_up"] = await call(session, "ask", question="谈话对象包括哪些人？", history=[QUESTION])
    out["collections"] = await call(session, "list_collections")
    out["documents"] = await call(session, "list_documents")
    cited = out["ask"][1]["citations"][0]["chunk_id"] if not out["ask"][0] and out["ask"][1]["citations"] else ""
    out["passage"] = await call(session, "get_passage", chunk_id=cited, neighbours=1)
    secret = next((p["chunk_id"] for p in out["search_secret"][1]["passages"] if p["doc_id"] == SECRET_DOC), "")
    out["secret_passage"] = await call(session, "get_passage", chunk_id=secret, neighbours=0)
    return out


def check_granted(kb, out: dict[str, Any]) -> None:
    tools = out["tools"]
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True, tool.name
        assert tool.description
    assert set(tools["search"].input_schema["properties"]) >= {"query", "collection", "doc_type", "k"}
    assert "ctx" not in tools["search"].input_schema["properties"]

    failed, found = out["search"]
    assert not failed, found
    passages = found["passages"]
    assert 1 <= len(passages) <= 3
    best = next(p for p in passages if "每年至少开展一次" in p["text"])
    assert best["title"] == "关于开展党内政治监督谈话的通知" and best["doc_number"] == "某组发〔2024〕12号"
    assert {"section", "page", "score", "chunk_id", "start", "end", "rank"} <= set(best)
    assert 0.0 < best["score"] <= 1.0
    # the offsets are the passage's place in the stored document text
    for p in passages:
        assert kb["texts"][p["doc_id"]][p["start"]:p["end"]] == p["text"]
    # the granted user finds the restricted report
    assert any(p["doc_id"] == SECRET_DOC for p in out["search_secret"][1]["passages"])

    failed, answer = out["ask"]
    assert not failed, answer
    assert answer["status"] == "answered"
    assert "一次" in answer["answer"] and "[1]" in answer["answer"]
    assert answer["citations"], answer
    for c in answer["citations"]:
        assert c["doc_id"] == "谈话通知" and c["doc_number"] == "某组发〔2024〕12号"
        assert c["quote"] and c["start"] is not None
        assert kb["texts"][c["doc_id"]][c["start"]:c["end"]] == c["quote"]
    failed, follow = out["follow_up"]
    assert not failed and follow["status"] in ("answered", "related", "refused")
    assert follow["question"] == "谈话对象包括哪些人？"

    names = {c["name"]: c for c in out["collections"][1]["collections"]}
    assert set(names) == {"公开", "第三组"} and names["第三组"]["restricted"] is True
    assert names["公开"]["documents"] == 2
    documents = out["documents"][1]
    assert documents["total"] == 3 and {d["doc_id"] for d in documents["documents"]} == {"谈话通知", "担当要点", SECRET_DOC}

    failed, passage = out["passage"]
    assert not failed, passage
    text = kb["texts"]["谈话通知"]
    assert passage["chunk_id"] == answer["citations"][0]["chunk_id"] and passage["doc_number"] == "某组发〔2024〕12号"
    assert text[passage["start"]:passage["end"]] == passage["text"]
    assert len(passage["before"]) == 1 and len(passage["after"]) == 1  # the cited clause is in the middle
    assert passage["before"][0]["end"] <= passage["start"] and passage["after"][0]["start"] >= passage["end"]
    for near in passage["before"] + passage["after"]:
        assert text[near["start"]:near["end"]] == near["text"]
    failed, secret = out["secret_passage"]
    assert not failed and SECRET_PHRASE in secret["text"] and secret["before"] == secret["after"] == []


# ---- what an ungranted caller gets: nothing of the restricted collection --------------------------------
async def ungranted_calls(session, secret_chunk: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["search"] = await call(session, "search", query=SECRET_PHRASE, k=10)
    out["search_in"] = await call(session, "search", query=SECRET_PHRASE, collection="第三组")
    out["ask"] = await call(session, "ask", question=SECRET_QUESTION)
    out["collections"] = await call(session, "list_collections")
    out["documents"] = await call(session, "list_documents")
    out["documents_in"] = await call(session, "list_documents", collection="第三组")
    out["passage"] = await call(session, "get_passage", chunk_id=secret_chunk)
    out["no_passage"] = await call(session, "get_passage", chunk_id="没有这个#000000000000#0000")
    return out


def check_ungranted(kb, out: dict[str, Any]) -> None:
    failed, found = out["search"]
    assert not failed
    assert all(p["doc_id"] != SECRET_DOC and SECRET_PHRASE not in p["text"] for p in found["passages"])
    assert out["search_in"] == (False, {"query": SECRET_PHRASE, "passages": []})
    failed, answer = out["ask"]
    assert not failed
    assert answer["status"] != "answered"
    assert SECRET_PHRASE not in json.dumps(answer["citations"], ensure_ascii=False)
    assert all(c["doc_id"] != SECRET_DOC for c in answer["citations"])
    assert "3名" not in answer["answer"]
    assert {c["name"] for c in out["collections"][1]["collections"]} == {"公开"}
    documents = out["documents"][1]
    assert documents["total"] == 2 and SECRET_DOC not in {d["doc_id"] for d in documents["documents"]}
    assert out["documents_in"][1] == {"total": 0, "offset": 0, "documents": []}
    # a restricted chunk's id reads exactly like an id that does not exist
    failed, message = out["passage"]
    assert failed and SECRET_PHRASE not in message
    assert message.replace(kb["secret_chunk"], "ID") == out["no_passage"][1].replace("没有这个#000000000000#0000", "ID")


def check_audited(rows: list[dict[str, Any]], user: str, via: str, tools: list[str], key: str | None = None) -> None:
    """One audit row per tool call, in order, naming the user, the transport, the tool (and the key)."""
    mine = [r for r in rows if r["extra"].get("via") == via]
    assert [r["extra"].get("tool") for r in mine] == tools, mine
    assert all(r["user"] == user for r in mine)
    if key is not None:
        assert all(r["extra"].get("key") == key for r in mine)


# ---- stdio ------------------------------------------------------------------------------------------------
def test_stdio_tools_cite_and_state_and_every_call_is_audited(kb):
    before = last_audit_id(kb)
    out = stdio_session(kb, "third", granted_calls)
    check_granted(kb, out)
    rows = audit_rows(kb, before)
    check_audited(rows, "third", "mcp-stdio",
                  ["search", "search", "ask", "ask", "list_collections", "list_documents", "get_passage", "get_passage"])
    ask_row = next(r for r in rows if r["extra"]["tool"] == "ask")
    assert ask_row["action"] == "ask" and ask_row["detail"] == QUESTION and ask_row["doc_ids"] == ["谈话通知"]
    assert ask_row["extra"]["status"] == "answered"
    search_row = rows[0]
    assert search_row["action"] == "retrieval" and search_row["extra"]["chunks"]


def test_stdio_user_without_the_grant_sees_nothing_of_the_restricted_collection(kb):
    before = last_audit_id(kb)
    out = stdio_session(kb, "second", lambda s: ungranted_calls(s, kb["secret_chunk"]))
    check_ungranted(kb, out)
    rows = audit_rows(kb, before)
    check_audited(rows, "second", "mcp-stdio", ["search", "search", "ask", "list_collections", "list_documents",
                                                "list_documents", "get_passage", "get_passage"])
    refused = [r for r in rows if r["extra"]["tool"] == "get_passage"]
    assert all(r["extra"].get("error") for r in refused) and all(r["doc_ids"] == [] for r in refused)


def test_stdio_bad_input_is_a_clear_tool_error_and_audited(kb):
    async def calls(session):
        out = {
            "empty": await call(session, "search", query="  "),
            "k": await call(session, "search", query="谈话", k=500),
            "k_type": await call(session, "search", query="谈话", k="many"),
            "doc_type": await call(session, "search", query="谈话", doc_type="novel"),
            "history": await call(session, "ask", question="谈话对象？", history="not a list"),
            "long": await call(session, "ask", question="谈" * 3000),
            "missing": await call(session, "get_passage"),
            "unknown_tool": await call(session, "delete_everything"),
        }
        out["after"] = await call(session, "list_collections")  # the server is still there
        return out

    before = last_audit_id(kb)
    out = stdio_session(kb, "third", calls)
    assert out["empty"] == (True, out["empty"][1]) and "'query' must be a non-empty text" in out["empty"][1]
    assert out["k"][0] and "'k' must be a whole number from 1 to 50" in out["k"][1]
    assert out["k_type"][0] and "k" in out["k_type"][1]
    assert out["doc_type"][0] and "unknown doc_type 'novel'" in out["doc_type"][1]
    assert out["history"][0] and "history" in out["history"][1]
    assert out["long"][0] and "问题太长" in out["long"][1]
    assert out["missing"][0] and "chunk_id" in out["missing"][1]
    assert out["unknown_tool"][0] and "delete_everything" in out["unknown_tool"][1]
    assert out["after"][0] is False
    rows = [r for r in audit_rows(kb, before) if r["extra"].get("via") == "mcp-stdio"]
    assert len(rows) == 9  # every call, refused or not
    assert all(r["extra"].get("error") for r in rows[:8]) and not rows[8]["extra"].get("error")


def test_stdio_refuses_a_user_that_does_not_exist(kb):
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "kb.cli", "mcp", "--user", "nobody"], cwd=str(kb["root"]), input="", capture_output=True,
        text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("KB_")}, "KB_HOME": str(kb["home"]),
             "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2 and "no such user 'nobody'" in done.stderr and done.stdout == ""


# ---- Streamable HTTP under kb serve -------------------------------------------------------------------------
def test_http_tools_cite_and_state_and_every_call_is_audited(kb, server):
    before = last_audit_id(kb)
    out = http_session(server, kb["keys"]["third"], granted_calls)
    check_granted(kb, out)
    check_audited(audit_rows(kb, before), "third", "mcp",
                  ["search", "search", "ask", "ask", "list_collections", "list_documents", "get_passage",
                   "get_passage"], key="key-third")


def test_http_key_without_the_grant_sees_nothing_of_the_restricted_collection(kb, server):
    before = last_audit_id(kb)
    out = http_session(server, kb["keys"]["second"], lambda s: ungranted_calls(s, kb["secret_chunk"]))
    check_ungranted(kb, out)
    check_audited(audit_rows(kb, before), "second", "mcp", ["search", "search", "ask", "list_collections",
                                                          "list_documents", "list_documents", "get_passage",
                                                          "get_passage"], key="key-second")


def flatten(exc: BaseException) -> list[BaseException]:
    """An exception and those inside it (the client's task groups nest them)."""
    return [exc] + [e for inner in getattr(exc, "exceptions", []) for e in flatten(inner)]


@pytest.mark.parametrize("key", [None, "kb-not-a-key", "revoked"])
def test_http_refuses_a_missing_bad_or_revoked_key(kb, server, key):
    import httpx
    from mcp import MCPError

    key = kb["keys"].get(key, key)
    before = last_audit_id(kb)
    with pytest.raises(Exception) as caught:
        http_session(server, key, lambda s: call(s, "list_documents"))
    # the official client surfaces the server's 401 as an MCPError carrying our message
    errors = flatten(caught.value)
    assert any(isinstance(e, MCPError) and "invalid API key" in str(e) for e in errors), repr(caught.value)
    raw = httpx.post(server.url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                     headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=30)
    assert raw.status_code == 401 and raw.headers["www-authenticate"] == "Bearer"
    assert "invalid API key" in raw.json()["error"]["message"]
    # nothing was read: no tool call in the audit log, only failed keys
    assert all(r["extra"].get("via") != "mcp" for r in audit_rows(kb, before))


# ---- in process (the SDK's in-memory client): the fair queue and a removed account ------------------------
def test_a_full_api_queue_and_a_removed_account_are_tool_errors_and_audited(services):
    import anyio
    from mcp import Client

    from kb.api.fair_queue import FairQueue
    from kb.api.mcp_server import McpCaller, build_server

    services.ingest.ingest_texts([("谈话通知", "", NOTICE)], doc_type="policy", collection="公开")
    services.users.add("third", "third-pass-1", "inspector")
    queue = FairQueue(slots=1, max_waiting=0)
    as_key = build_server(services, stdio_caller=McpCaller("third", "third", "mcp", key="key-third"), queue=queue)
    as_gone = build_server(services, stdio_caller=McpCaller("gone", "gone", "mcp-stdio"))

    async def main():
        out = {}
        async with Client(as_key) as client:
            out["free"] = await client.call_tool("list_documents", {})
            await queue.acquire("another-key")  # the only slot is taken, and nobody may wait
            out["busy"] = await client.call_tool("list_documents", {})
            queue.release()
            out["again"] = await client.call_tool("list_documents", {})
        async with Client(as_gone) as client:
            out["gone"] = await client.call_tool("search", {"query": "谈话"})
        return out

    out = anyio.run(main)
    assert not out["free"].is_error and out["free"].structured_content["total"] == 1
    assert out["busy"].is_error and "the server is busy" in out["busy"].content[0].text
    assert not out["again"].is_error and queue.running == 0
    assert out["gone"].is_error and "the account 'gone' no longer exists" in out["gone"].content[0].text
    rows = services.audit.query()
    assert [(r["user"], r["extra"]["tool"], bool(r["extra"].get("error"))) for r in rows[-4:]] == [
        ("third", "list_documents", False), ("third", "list_documents", True), ("third", "list_documents", False),
        ("gone", "search", True)]
    assert all(r["extra"].get("key") == "key-third" for r in rows[-4:-1])
