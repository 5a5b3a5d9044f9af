"""The OpenAI-compatible API: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Served by `kb serve` next to the UI (app.py passes `router(...)`'s routes to the FastAPI app).
Authentication: ``Authorization: Bearer <key>`` with a key from ``kb apikeys create``; the key
acts as its user — that account's collection grants apply (kb/access/scope.py), the audit log names the
user and the key. No key, a bad or revoked key, or a key whose user was removed → 401.

Request: the standard body (``model``, ``messages``, ``stream``); the last user message is the
question, the earlier user messages are the conversation a follow-up is resolved against
(AnswerService.ask(question, history=...)). Optional extensions: ``kb_filters`` ({"doc_types",
"collections"}).

Response: the standard ``chat.completion`` with ``choices[0].message.content`` carrying the
answer's [n] marks, plus ``citations`` (n, doc/doc_id, chunk_id, title, doc_number, section, article,
page, pages, quote, start/end — the quote's character offsets in the stored document text — and
verified; docs/api_openai.md), ``status`` (answered | related | refused) and ``resolved_question``. With ``stream: true`` the
answer comes as ``chat.completion.chunk`` server-sent events; the last chunk carries
``finish_reason: "stop"``, ``citations`` and ``status``; then ``data: [DONE]``.
"""
# no `from __future__ import annotations`: FastAPI reads the route functions' annotations
import json
import logging
import time
import uuid
from typing import Any, Iterator

from kb.models import DOC_TYPES, Answer, Filters

log = logging.getLogger(__name__)
MODEL_ID = "kaocha-kb"
MAX_MESSAGES = 64


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}}


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)]
        return "\n".join(parts)
    return ""


def parse_request(body: Any, limits: Any = None) -> dict[str, Any]:
    """Validate a chat.completions body: (question, history, stream, model, filters). `limits`:
    settings.limits (kb/access/limits.py) — the same bounds the web app applies."""
    from kb.access.limits import RequestTooLarge, check_question

    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
        raise ApiError(400, f"'messages' must be a non-empty list of at most {MAX_MESSAGES} messages", code="invalid_messages")
    users = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool", "developer"):
            raise ApiError(400, "each message must be an object with a role (system, user, assistant)", code="invalid_messages")
        if m.get("role") == "user":
            users.append(_text(m.get("content")).strip())
    if not users or not users[-1]:
        raise ApiError(400, "the last user message must contain the question", code="invalid_messages")
    question = users[-1]
    history = [u for u in users[:-1] if u]
    try:
        check_question(question, history, limits)
    except RequestTooLarge as exc:
        raise ApiError(400, str(exc), code="request_too_large") from None
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false")
    model = body.get("model") or MODEL_ID
    if not isinstance(model, str):
        raise ApiError(400, "'model' must be a string")
    filters = None
    raw = body.get("kb_filters")
    if raw is not None:
        if not isinstance(raw, dict):
            raise ApiError(400, "'kb_filters' must be an object")
        doc_types = raw.get("doc_types") or []
        collections = raw.get("collections") or []
        if not (isinstance(doc_types, list) and all(isinstance(t, str) and t in DOC_TYPES for t in doc_types)):
            raise ApiError(400, f"'kb_filters.doc_types' must be a list of {', '.join(DOC_TYPES)}")
        if not (isinstance(collections, list) and all(isinstance(c, str) for c in collections)):
            raise ApiError(400, "'kb_filters.collections' must be a list of collection names")
        if doc_types or collections:
            filters = Filters(doc_types=doc_types or None, collections=collections or None)
    return {"question": question, "history": history, "stream": stream, "model": model, "filters": filters}


def citations_of(answer: Answer) -> list[dict[str, Any]]:
    """The answer's citations as the API returns them: each Citation's fields (doc id, title,
    发文字号 doc_number, section, article, page, page span `pages`, the verbatim `quote` and its
    `start`/`end` character offsets in the stored document text, `verified`), plus `doc` (= doc_id,
    the name the first version of the API used)."""
    return [{"n": c.n, "doc": c.doc_id, **{k: v for k, v in c.to_dict().items() if k != "n"}} for c in answer.citations]


class ChatCompletions:
    """The API's logic, independent of the web framework: authenticate, answer, audit."""

    def __init__(self, services):
        self.services = services

    def authenticate(self, authorization: str | None, client: str | None = None) -> tuple[str, str]:
        """(key name, user) for the request's bearer key; ApiError 401 for a missing or invalid key,
        429 for a valid key over its own rate or an address that sent too many invalid keys.

        The key is looked at first: failures from an address slow down that address's *invalid*
        keys only — a valid key shares nothing with them, it is throttled by its own rate
        (20 bad keys from one address used to lock every valid key from it)."""
        guard = getattr(self.services, "login_guard", None)
        key = None
        if isinstance(authorization, str) and authorization[:7].lower() == "bearer ":
            key = authorization[7:].strip()
        found = self.services.apikeys.authenticate(key) if key else None
        if found is not None and self.services.users.role(found[1]) is None:
            found = None  # the key's user was removed: the key acts as nobody
        if found is not None:
            wait = guard.api_key_wait(found[0]) if guard is not None else 0.0
            if wait > 0:
                raise ApiError(429, f"too many requests with this API key; retry in {int(wait) + 1} s",
                               "rate_limit_error", "rate_limited", retry_after=wait)
            return found
        if guard is not None:
            wait = guard.api_client_refusal(client)
            if wait > 0:
                raise ApiError(429, "too many invalid API keys from this client; try again later",
                               "rate_limit_error", "locked", retry_after=wait)
        if found is None:
            if key and guard is not None:
                guard.api_key_failed(client)
                allowed, suppressed = guard.audit_allowed()
                if allowed:
                    from kb.access.audit import fingerprint

                    extra = {"suppressed_since_last": suppressed} if suppressed else {}
                    self.services.audit.record(None, "api_key_failed", "api", client=fingerprint(client or ""),
                                               key_prefix=fingerprint(key, keep=10), **extra)
            raise ApiError(401, "missing or invalid API key (Authorization: Bearer <key from kb apikeys create>)",
                           "invalid_request_error", "invalid_api_key")
        return found

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "kaocha-kb"}]}

    def _audit(self, user: str, key_name: str, answer: Answer) -> None:
        cited = sorted({c.doc_id for c in answer.citations})
        shown = sorted({h.chunk.doc_id for h in answer.contexts})
        self.services.audit.record(user, "ask", answer.question, cited, status=answer.status, mode=answer.mode,
                                   shown=shown, answer_id=answer.answer_id, via="api", key=key_name)

    def _stream_answer(self, user: str, req: dict[str, Any]) -> Iterator[str | Answer]:
        reader = self.services.for_user(user)
        yield from reader.answers.stream(req["question"], filters=req["filters"], history=req["history"])

    def complete(self, user: str, key_name: str, req: dict[str, Any]) -> dict[str, Any]:
        answer = None
        for piece in self._stream_answer(user, req):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        self._audit(user, key_name, answer)
        return {
            "id": f"chatcmpl-{answer.answer_id or uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer}, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": citations_of(answer),
            "status": answer.status,
            "resolved_question": answer.resolved_question or answer.question,
        }

    def stream(self, user: str, key_name: str, req: dict[str, Any]) -> Iterator[str]:
        """Server-sent events, one ``data: {...}`` line per chunk, then ``data: [DONE]``."""
        cid = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req["model"],
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **more}
            return "data: " + json.dumps(body, ensure_ascii=False) + "\n\n"

        yield chunk({"role": "assistant", "content": ""})
        answer = None
        streamed = ""
        try:
            for piece in self._stream_answer(user, req):
                if isinstance(piece, Answer):
                    answer = piece
                elif isinstance(piece, str) and piece:
                    streamed += piece
                    yield chunk({"content": piece})
        finally:
            if answer is None:
                # the client went away (or the answer failed) mid-stream: it may have read most of
                # the answer, so the question is audited all the same, marked incomplete
                self.services.audit.record(user, "ask", req["question"], [], status="incomplete", incomplete=True,
                                           streamed_chars=len(streamed), via="api", key=key_name)
        assert answer is not None
        self._audit(user, key_name, answer)  # before anything more is sent: a client may leave at any yield
        if answer.answer != streamed and answer.answer.startswith(streamed):
            yield chunk({"content": answer.answer[len(streamed):]})  # what the pieces left out
        yield chunk({}, "stop", citations=citations_of(answer), status=answer.status,
                    resolved_question=answer.resolved_question or answer.question)
        yield "data: [DONE]\n\n"


def router(services, max_body_kb: int = 256, queue=None):
    """The FastAPI routes of the API (mounted by app.py next to the Gradio app).

    `queue`: the fair slot pool answers wait in (kb/api/fair_queue.py); None builds one from
    settings.server (api_concurrency …). The body size is also bounded before it is read by
    kb/api/request_limits.py in front of the app; the check here covers a router mounted alone."""
    from fastapi import APIRouter, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

    from kb.api.fair_queue import FairQueue, QueueRefused

    api = ChatCompletions(services)
    routes = APIRouter()
    if queue is None:
        settings = getattr(services, "settings", None)
        queue = FairQueue.from_settings(settings) if settings is not None else FairQueue()
    routes.fair_queue = queue

    class HeldStreamingResponse(StreamingResponse):
        """A stream that holds its API slot until the stream ends, however it ends."""

        def __init__(self, *args, release, **kwargs):
            super().__init__(*args, **kwargs)
            self._release = release

        async def __call__(self, scope, receive, send):
            try:
                await super().__call__(scope, receive, send)
            finally:
                self._release()

    def client_of(request: Request) -> str | None:
        # the peer, or the address a trusted proxy vouches for (kb/api/web_guard.py rewrote it)
        return request.client.host if request.client else None

    async def events(gen):
        """The stream's events; when the client goes away the generator is closed at once, in a
        worker thread, so its audit row is written now rather than whenever it is collected."""
        import anyio

        try:
            async for event in iterate_in_threadpool(gen):
                yield event
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(gen.close)

    def error(exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if exc.retry_after:
            headers["Retry-After"] = str(int(exc.retry_after) + 1)
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers or None)

    @routes.get("/v1/models")
    async def models(request: Request):
        try:
            await run_in_threadpool(api.authenticate, request.headers.get("authorization"), client_of(request))
        except ApiError as exc:
            return error(exc)
        return JSONResponse(api.models())

    @routes.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            key_name, user = await run_in_threadpool(api.authenticate, request.headers.get("authorization"), client_of(request))
            raw = await request.body()
            if len(raw) > max_body_kb * 1024:
                raise ApiError(413, f"request body larger than {max_body_kb} KB")
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ApiError(400, f"the request body is not JSON ({exc})") from None
            req = parse_request(body, getattr(services, "settings", None))
            try:
                # the answer waits for a slot of the fair queue; the work runs in a thread
                await queue.acquire(key_name)
            except QueueRefused as exc:
                raise ApiError(exc.status, exc.message, "rate_limit_error" if exc.status == 429 else "server_error",
                               "queue_full", retry_after=exc.retry_after) from None
            held = True

            def release():
                nonlocal held
                if held:
                    held = False
                    queue.release()

            try:
                if req["stream"]:
                    return HeldStreamingResponse(  # the response releases the slot when the stream ends
                        events(api.stream(user, key_name, req)),
                        media_type="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                        release=release,
                    )
                result = await run_in_threadpool(api.complete, user, key_name, req)
            except BaseException:
                release()
                raise
            release()
            return JSONResponse(result)
        except ApiError as exc:
            return error(exc)
        except ValueError as exc:
            return error(ApiError(400, str(exc)))

    return routes
