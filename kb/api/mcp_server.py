"""The knowledge base as an MCP server (Model Context Protocol), for agents and assistants.

Two transports, one set of tools (docs/api_mcp.md has client configurations):

- **stdio**: ``kb mcp [--user NAME]`` (kb/cli/mcp_cmd.py). The process acts as NAME exactly as
  ``kb ask --user NAME`` does (kb/cli/acting.py): that account's collection grants apply and the
  audit log names it; without --user it acts as the machine's operator (``cli``), who can read
  KB_HOME anyway.
- **Streamable HTTP** under ``kb serve`` at ``/mcp`` (app.py mounts `http_endpoint`). Every HTTP
  request carries ``Authorization: Bearer <key from kb apikeys create>`` and is authenticated by
  the OpenAI-compatible API's own check (ChatCompletions.authenticate: revoked keys, removed users,
  per-key rate, per-address lock-out for bad keys, the ``api_key_failed`` audit row); the key acts
  as its user. The tools' work waits in the same fair queue as /v1 and /retrieval
  (kb/api/fair_queue.py). The transport is stateless (each POST stands alone), so a revoked key
  stops working at its next request, not at the end of a session.

Read-only tools, each annotated ``readOnlyHint``: ``search``, ``ask``, ``list_collections``,
``list_documents``, ``get_passage``. They read through ``services.for_user(user)`` — the scoped
view of kb/access/scope.py that the web app and the API read through — so a collection the caller may
not read is not in anything a tool can reach: not in search results or answers, not listed, and
``get_passage`` answers one of its chunk ids exactly like an id that does not exist. Every tool
call, including one refused for bad arguments, is written to the audit log (``via`` = ``mcp`` or
``mcp-stdio``, ``key`` = the API key's name, ``tool`` = the tool).

Bad input (an empty query, k out of range, an unknown document type, an unknown chunk id, a wrong
argument type) comes back as a tool error (``isError: true``) whose text says what was wrong.
"""
# no `from __future__ import annotations`: the MCP SDK reads the tool functions' annotations
import logging
from dataclasses import dataclass
from typing import Any

from kb.models import DOC_TYPES, Answer, Filters, Hit

log = logging.getLogger(__name__)

SERVER_NAME = "kaocha-kb"
TOOL_NAMES = ("search", "ask", "list_collections", "list_documents", "get_passage")
MAX_K = 50
DEFAULT_K = 5
MAX_NEIGHBOURS = 5
MAX_DOCUMENTS_PAGE = 500
# where the HTTP endpoint leaves the authenticated caller for the tools (the ASGI scope travels
# with the request the SDK hands to each tool call)
SCOPE_KEY = "kb.mcp_caller"
VIA_HTTP = "mcp"
VIA_STDIO = "mcp-stdio"
# audit actions: search and ask use the names the other surfaces use for the same reads
AUDIT_ACTIONS = {"search": "retrieval", "ask": "ask", "list_collections": "list_collections",
                 "list_documents": "list_documents", "get_passage": "passage"}


@dataclass(frozen=True)
class McpCaller:
    """Who calls a tool. `user`: the account whose grants apply (None: the operator of a stdio
    server started without --user, for whom no grant applies); `audit_user`: the name the audit
    log records; `via`: mcp (HTTP) or mcp-stdio; `key`: the API key's name (HTTP)."""

    user: str | None
    audit_user: str
    via: str
    key: str | None = None


class ToolInputError(ValueError):
    """A tool call the knowledge base refuses: the message tells the caller what to change."""


def _query_text(value: Any, what: str, limits: Any) -> str:
    from kb.access.limits import check_question

    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ToolInputError(f"'{what}' must be a non-empty text")
    check_question(text, limits=limits)  # RequestTooLarge is a ValueError: a refused call
    return text


def _filters(collection: str | None, doc_type: str | None) -> Filters | None:
    collection = (collection or "").strip()
    doc_type = (doc_type or "").strip()
    if doc_type and doc_type not in DOC_TYPES:
        raise ToolInputError(f"unknown doc_type {doc_type!r} (one of: {', '.join(DOC_TYPES)})")
    if not collection and not doc_type:
        return None
    return Filters(collections=[collection] if collection else None, doc_types=[doc_type] if doc_type else None)


def _in_range(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolInputError(f"'{name}' must be a whole number from {low} to {high}, got {value!r}")
    return value


class KnowledgeTools:
    """The tools' logic, independent of MCP: each method reads as the caller (their grants), writes
    its audit row, and returns plain JSON-able data; ToolInputError for a call it refuses."""

    def __init__(self, services):
        self.services = services

    # -- who reads -------------------------------------------------------------------------------
    def reader(self, caller: McpCaller):
        """The services as the caller sees the knowledge base. A named user is checked again on
        every call: one removed while a stdio server runs acts as nobody from then on (HTTP keys
        of a removed user are refused by the authentication already)."""
        if caller.user is None:
            return self.services
        users = self.services.users
        if users.has_users() and users.role(caller.user) is None:
            raise ToolInputError(f"the account {caller.user!r} no longer exists")
        return self.services.for_user(caller.user)

    def audit(self, caller: McpCaller, tool: str, detail: str, doc_ids=(), **extra: Any) -> None:
        action = AUDIT_ACTIONS.get(tool, "mcp_call")
        if caller.key:
            extra["key"] = caller.key
        self.services.audit.record(caller.audit_user, action, detail, sorted(set(doc_ids)), via=caller.via,
                                   tool=tool, **extra)

    def refused(self, caller: McpCaller, tool: str, arguments: Any, reason: str) -> None:
        """The audit row of a call that was refused before it read anything."""
        detail = ""
        if isinstance(arguments, dict):
            for name in ("query", "question", "chunk_id", "collection"):
                if isinstance(arguments.get(name), str):
                    detail = arguments[name]
                    break
        self.audit(caller, tool, detail, error=reason[:500])

    def _limits(self):
        return getattr(getattr(self.services, "settings", None), "limits", None)

    # -- search ------------------------------------------------------------------------------------
    def search(self, caller: McpCaller, query: Any, collection: str | None = None, doc_type: str | None = None,
               k: Any = DEFAULT_K) -> dict[str, Any]:
        query = _query_text(query, "query", self._limits())
        k = _in_range(DEFAULT_K if k is None else k, "k", 1, MAX_K)
        filters = _filters(collection, doc_type)
        reader = self.reader(caller)
        retriever = reader.retriever
        retriever.refresh()
        hits = retriever.search(query, k=k, filters=filters)[:k]
        scores = self._scores(retriever, query, hits, filters)
        documents = {r.doc_id: r for r in reader.store.list_documents()} if hits else {}
        passages = [self.passage(h.chunk, documents.get(h.chunk.doc_id), rank=i + 1, score=s)
                    for i, (h, s) in enumerate(zip(hits, scores))]
        self.audit(caller, "search", query, [p["doc_id"] for p in passages], k=k,
                   collection=collection or "", doc_type=doc_type or "", chunks=[p["chunk_id"] for p in passages])
        return {"query": query, "passages": passages}

    def _scores(self, retriever, query: str, hits: list[Hit], filters: Filters | None) -> list[float]:
        """Each hit's score in 0..1, computed as the Dify retrieval API computes it (BM25 over what a
        chunk holding each query term once would score; 1.0 for a clause lookup)."""
        from kb.api.dify_retrieval import DifyRetrieval

        try:
            snap = retriever.snapshot_for(None)
            return DifyRetrieval(self.services).scores(retriever, snap, query, hits, filters)
        except Exception as exc:  # a score is a convenience; the passages stand without it
            log.warning("MCP search: scores not computed: %s", exc)
            return [round(float(h.score), 6) for h in hits]

    @staticmethod
    def passage(chunk, doc=None, **more: Any) -> dict[str, Any]:
        """A chunk as the tools return it: where it is (document, 发文字号, section, page and page
        span, character offsets `start`/`end` in the stored document text) and its text."""
        out: dict[str, Any] = {
            "chunk_id": chunk.chunk_id,
            "doc_id": chunk.doc_id,
            "title": chunk.title,
            "doc_number": chunk.doc_number or (doc.doc_number if doc is not None else ""),
            "collection": chunk.collection,
            "doc_type": chunk.doc_type,
            "section": chunk.section,
            "article": chunk.article,
            "page": chunk.page,
            "pages": chunk.pages,
            "start": chunk.start,
            "end": chunk.end,
            "text": chunk.text,
        }
        if doc is not None:
            out["issuer"] = doc.issuer
            out["issued_on"] = doc.issued_on
        out.update(more)
        return out

    # -- ask ---------------------------------------------------------------------------------------
    def ask(self, caller: McpCaller, question: Any, history: Any = None, collection: str | None = None,
            doc_type: str | None = None) -> dict[str, Any]:
        from kb.access.limits import check_question

        question = _query_text(question, "question", self._limits())
        if history is None:
            history = []
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            raise ToolInputError("'history' must be a list of the earlier questions (texts, oldest first)")
        history = [h.strip() for h in history if h.strip()]
        check_question(question, history, self._limits())
        filters = _filters(collection, doc_type)
        reader = self.reader(caller)
        answer = reader.answers.ask(question, filters=filters, history=history)
        citations = self.citations(reader, answer)
        self.audit(caller, "ask", answer.question, [c.doc_id for c in answer.citations], status=answer.status,
                   mode=answer.mode, shown=sorted({h.chunk.doc_id for h in answer.contexts}),
                   answer_id=answer.answer_id)
        out = {
            "answer": answer.answer,
            "status": answer.status,
            "question": answer.question,
            "resolved_question": answer.resolved_question or answer.question,
            "answer_id": answer.answer_id,
            "citations": citations,
        }
        if answer.filler:
            out["filler"] = dict(answer.filler)
        return out

    @staticmethod
    def citations(reader, answer: Answer) -> list[dict[str, Any]]:
        """The answer's citations with the quote's place, as the verifier made them
        (kb/citations/offsets.py): `start`/`end` are its character offsets in the stored document
        text (text[start:end] == quote), `page` the page the quote starts on and `pages` its first
        and last page; None when the quote is not a verbatim span of its document."""
        return [c.to_dict() for c in answer.citations]

    # -- listings ----------------------------------------------------------------------------------
    def list_collections(self, caller: McpCaller) -> dict[str, Any]:
        reader = self.reader(caller)
        restricted = set(self.services.grants.restricted())
        by_name: dict[str, dict[str, Any]] = {}
        for d in reader.store.list_documents():
            entry = by_name.setdefault(d.collection, {"name": d.collection, "documents": 0, "chunks": 0,
                                                      "doc_types": set(), "restricted": d.collection in restricted})
            entry["documents"] += 1
            entry["chunks"] += d.chunks
            entry["doc_types"].add(d.doc_type)
        collections = []
        for name in sorted(by_name):
            entry = by_name[name]
            entry["doc_types"] = [t for t in DOC_TYPES if t in entry["doc_types"]]
            collections.append(entry)
        self.audit(caller, "list_collections", "", collections=[c["name"] for c in collections])
        return {"collections": collections}

    def list_documents(self, caller: McpCaller, collection: str | None = None, doc_type: str | None = None,
                       offset: Any = 0, limit: Any = 100) -> dict[str, Any]:
        filters = _filters(collection, doc_type)
        offset = _in_range(0 if offset is None else offset, "offset", 0, 10**9)
        limit = _in_range(100 if limit is None else limit, "limit", 1, MAX_DOCUMENTS_PAGE)
        reader = self.reader(caller)
        docs = [d for d in reader.store.list_documents()
                if (filters is None or not filters.collections or d.collection in filters.collections)
                and (filters is None or not filters.doc_types or d.doc_type in filters.doc_types)]
        docs.sort(key=lambda d: (d.collection, d.title, d.doc_id))
        page = docs[offset:offset + limit]
        documents = [{"doc_id": d.doc_id, "title": d.title, "doc_type": d.doc_type, "collection": d.collection,
                      "doc_number": d.doc_number, "issuer": d.issuer, "issued_on": d.issued_on, "chunks": d.chunks,
                      "chars": d.chars, "ingested_at": d.ingested_at} for d in page]
        self.audit(caller, "list_documents", collection or "", [d["doc_id"] for d in documents],
                   doc_type=doc_type or "", offset=offset, limit=limit, total=len(docs))
        return {"total": len(docs), "offset": offset, "documents": documents}

    # -- one passage -------------------------------------------------------------------------------
    def get_passage(self, caller: McpCaller, chunk_id: Any, neighbours: Any = 1) -> dict[str, Any]:
        chunk_id = chunk_id.strip() if isinstance(chunk_id, str) else ""
        if not chunk_id:
            raise ToolInputError("'chunk_id' must be a chunk id (as search or ask return it)")
        neighbours = _in_range(1 if neighbours is None else neighbours, "neighbours", 0, MAX_NEIGHBOURS)
        reader = self.reader(caller)
        retriever = reader.retriever
        retriever.refresh()
        chunk = retriever.chunk(chunk_id)
        if chunk is None:
            # the same answer for a chunk of a collection the caller may not read: nothing of it shows
            raise ToolInputError(f"no passage {chunk_id!r} (ids come from search or ask; a document "
                                 "updated since has new ids)")
        near: list = []
        if neighbours:
            # the same neighbours answering reads (the caller's index, the document's order)
            hits = retriever.neighbours([Hit(rank=1, chunk=chunk, score=0.0)], top_docs=1, window=neighbours)
            near = sorted((h.chunk for h in hits), key=lambda c: c.start)
        doc = reader.store.get_document(chunk.doc_id)
        out = self.passage(chunk, doc)
        out["before"] = [self.passage(c) for c in near if c.start < chunk.start]
        out["after"] = [self.passage(c) for c in near if c.start > chunk.start]
        self.audit(caller, "get_passage", chunk_id, [chunk.doc_id],
                   chunks=[chunk.chunk_id] + [c.chunk_id for c in near])
        return out


# ---- the MCP server ----------------------------------------------------------------------------------
INSTRUCTIONS = (
    "考察知识库: policy documents, evaluation criteria and inspection reports (Chinese). Use `search` to find "
    "passages, `ask` for an answer that cites its sources (status answered / related / refused: only "
    "'answered' means a source states the answer), `get_passage` to read a passage with its neighbours, and "
    "the list tools to see what the knowledge base holds. Every quote is a verbatim span of a stored "
    "document; start/end are character offsets in that document's stored text."
)


def build_server(services, stdio_caller: McpCaller | None = None, queue=None):
    """The MCP server with the five read-only tools.

    `stdio_caller`: the caller of every call on a stdio server; None for the HTTP endpoint, where the
    caller is the one `McpHttpEndpoint` authenticated for that request (a request without one is
    refused). `queue`: the API's fair queue (HTTP); a tool's work waits for one of its slots."""
    from typing import Annotated

    import anyio
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
    from pydantic import Field

    tools = KnowledgeTools(services)

    class KbToolError(ToolError):
        """A refusal already written to the audit log."""

    def caller_of(ctx) -> McpCaller:
        request = None
        try:
            request = ctx.request_context.request
        except ValueError:  # no request context (a direct call): stdio only
            pass
        if request is not None:
            caller = getattr(request, "scope", {}).get(SCOPE_KEY)
            if isinstance(caller, McpCaller):
                return caller
            raise ToolError("not authenticated: send Authorization: Bearer <key from kb apikeys create>")
        if stdio_caller is None:
            raise ToolError("not authenticated")
        return stdio_caller

    class KnowledgeServer(MCPServer):
        async def call_tool(self, name, arguments, context=None):
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                if isinstance(exc, KbToolError) or isinstance(exc.__cause__, KbToolError):
                    raise  # the tool refused the call and audited it
                # unknown tool, arguments of the wrong type or shape (refused before the tool ran),
                # or a failure inside it: audited all the same
                caller = None
                try:
                    caller = caller_of(context) if context is not None else stdio_caller
                except ToolError:
                    pass
                if caller is not None:
                    await anyio.to_thread.run_sync(tools.refused, caller, str(name), arguments, str(exc))
                raise

    # MCPServer configures the root logger (logging.basicConfig with its own handler) when nothing
    # has yet; the logging of kb serve and the CLI is not the SDK's to set, so it is put back
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = KnowledgeServer(SERVER_NAME, title="考察知识库", instructions=INSTRUCTIONS, log_level="WARNING")
    root.handlers[:] = handlers
    root.setLevel(level)
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)

    async def run(ctx, tool: str, arguments: dict[str, Any], work):
        caller = caller_of(ctx)
        held = False
        if queue is not None and caller.key:
            from kb.api.fair_queue import QueueRefused

            try:
                await queue.acquire(caller.key)
            except QueueRefused as exc:
                await anyio.to_thread.run_sync(tools.refused, caller, tool, arguments, exc.message)
                raise KbToolError(exc.message) from None
            held = True
        try:
            return await anyio.to_thread.run_sync(work, caller)
        except ValueError as exc:  # ToolInputError, RequestTooLarge: the caller's to fix
            await anyio.to_thread.run_sync(tools.refused, caller, tool, arguments, str(exc))
            raise KbToolError(str(exc)) from None
        finally:
            if held:
                queue.release()

    Collection = Annotated[str | None, Field(description="only this collection (see list_collections)")]
    DocType = Annotated[str | None, Field(description=f"only this document type: {', '.join(DOC_TYPES)}")]

    @server.tool(annotations=read_only, title="检索原文 / search passages")
    async def search(
        query: Annotated[str, Field(description="what to look for, e.g. 深度访谈的对象有哪些")],
        ctx: Context,
        collection: Collection = None,
        doc_type: DocType = None,
        k: Annotated[int, Field(description=f"number of passages (1-{MAX_K})")] = DEFAULT_K,
    ) -> dict[str, Any]:
        """Search the knowledge base: the best-matching passages, each with its document's title,
        发文字号 (doc_number), section, article, page, score (0..1), chunk_id and character offsets
        (start/end) in the stored document text."""
        args = {"query": query, "collection": collection, "doc_type": doc_type, "k": k}
        return await run(ctx, "search", args, lambda c: tools.search(c, query, collection, doc_type, k))

    @server.tool(annotations=read_only, title="问答 / ask with citations")
    async def ask(
        question: Annotated[str, Field(description="the question, in Chinese")],
        ctx: Context,
        history: Annotated[list[str] | None, Field(
            description="earlier questions of the conversation, oldest first (a follow-up is read against them)")] = None,
        collection: Collection = None,
        doc_type: DocType = None,
    ) -> dict[str, Any]:
        """Answer a question from the knowledge base only. `status`: answered (a cited sentence
        states the answer), related (only possibly relevant passages) or refused (nothing to go on).
        The answer's [n] marks refer to `citations` (quote, document, 发文字号, section, page,
        start/end offsets of the quote in the stored document text)."""
        args = {"question": question, "history": history, "collection": collection, "doc_type": doc_type}
        return await run(ctx, "ask", args, lambda c: tools.ask(c, question, history, collection, doc_type))

    @server.tool(annotations=read_only, title="列出文档集 / list collections")
    async def list_collections(ctx: Context) -> dict[str, Any]:
        """The collections you may read, with their number of documents and chunks and document types."""
        return await run(ctx, "list_collections", {}, tools.list_collections)

    @server.tool(annotations=read_only, title="列出文档 / list documents")
    async def list_documents(
        ctx: Context,
        collection: Collection = None,
        doc_type: DocType = None,
        offset: Annotated[int, Field(description="skip this many documents (paging)")] = 0,
        limit: Annotated[int, Field(description=f"at most this many documents (1-{MAX_DOCUMENTS_PAGE})")] = 100,
    ) -> dict[str, Any]:
        """The documents you may read (id, title, type, collection, 发文字号, issuer, date, chunks),
        ordered by collection and title; `total` counts all that match."""
        args = {"collection": collection, "doc_type": doc_type, "offset": offset, "limit": limit}
        return await run(ctx, "list_documents", args,
                         lambda c: tools.list_documents(c, collection, doc_type, offset, limit))

    @server.tool(annotations=read_only, title="查看原文段落 / get passage")
    async def get_passage(
        chunk_id: Annotated[str, Field(description="a chunk_id from search or ask")],
        ctx: Context,
        neighbours: Annotated[int, Field(
            description=f"passages before and after it in the document to include (0-{MAX_NEIGHBOURS})")] = 1,
    ) -> dict[str, Any]:
        """One passage by its chunk id, with the passages next to it in its document (`before`,
        `after`), its place (title, 发文字号, section, page) and offsets in the stored document text."""
        args = {"chunk_id": chunk_id, "neighbours": neighbours}
        return await run(ctx, "get_passage", args, lambda c: tools.get_passage(c, chunk_id, neighbours))

    return server


def run_stdio(services, caller: McpCaller) -> None:
    """Serve over this process's stdin/stdout until the client closes them."""
    build_server(services, stdio_caller=caller).run("stdio")


# ---- Streamable HTTP under kb serve ----------------------------------------------------------------
class McpHttpEndpoint:
    """The ASGI app app.py routes ``/mcp`` to: authenticates each request's API key as /v1 does,
    then hands the request to the SDK's Streamable HTTP session manager (stateless, JSON
    responses). `lifespan(app)` must run around serving (app.py passes it to the web app)."""

    def __init__(self, services, queue=None, max_body_kb: int = 256):
        from mcp.server.transport_security import TransportSecuritySettings

        from kb.api.openai_compat import ChatCompletions

        self.services = services
        self.chat = ChatCompletions(services)
        self.server = build_server(services, stdio_caller=None, queue=queue)
        # The SDK's own app is not served (this endpoint is, in front of its session manager);
        # building it creates the manager. Stateless: every POST is authenticated on its own and no
        # session outlives its key. No DNS-rebinding check: a browser page cannot send our Bearer
        # key, and a site may reach the server under any host name.
        self.server.streamable_http_app(
            stateless_http=True, json_response=True, max_request_body_size=max(1, int(max_body_kb)) * 1024,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = self.server.session_manager

    def lifespan(self, app=None):
        return self.manager.run()

    async def __call__(self, scope, receive, send) -> None:
        from starlette.concurrency import run_in_threadpool
        from starlette.datastructures import Headers
        from starlette.responses import JSONResponse

        from kb.api.openai_compat import ApiError

        if scope.get("type") != "http":
            return
        client = scope.get("client")
        try:
            key_name, user = await run_in_threadpool(
                self.chat.authenticate, Headers(scope=scope).get("authorization"), client[0] if client else None)
        except ApiError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
            if exc.retry_after:
                headers["Retry-After"] = str(int(exc.retry_after) + 1)
            body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": exc.message}}
            await JSONResponse(body, status_code=exc.status, headers=headers or None)(scope, receive, send)
            return
        scope = dict(scope)
        scope[SCOPE_KEY] = McpCaller(user=user, audit_user=user, via=VIA_HTTP, key=key_name)
        await self.manager.handle_request(scope, receive, send)


def http_endpoint(services, queue=None, max_body_kb: int = 256) -> McpHttpEndpoint:
    return McpHttpEndpoint(services, queue=queue, max_body_kb=max_body_kb)
