"""ASGI middleware: request bodies are bounded before they are read, uploads within their quotas.

A 300 MB body with a valid API key used to be read whole before the route said 413 (server RSS
464 → 986 MB). This middleware sits in front of FastAPI/Gradio (app.py, inside WebGuardMiddleware),
so it decides before any route touches the body:

- ``POST /v1/*`` (the OpenAI-compatible API): at most `api_max_body` bytes
  (settings.security.api_max_body_kb);
- Gradio's upload route (``/gradio_api/upload``): at most what the user's and the total upload
  quota still allow (kb/storage/uploads.py), plus `upload_slack` for the multipart framing; the refusal
  names the file (read from the first part's header, a few hundred bytes in) and the quota;
- every other POST/PUT/PATCH to the web app: at most `max_body` (settings.server.max_request_kb).

A Content-Length over the limit gets 413 at once, without reading the body (the server answers and
closes the connection; the client need not send the rest). A body without Content-Length (chunked)
is passed on while it streams, counted; at the limit the route is told the client went away and
the client gets 413 — the body is never buffered here, and the route never sees more than the limit.
`POST /login` is bounded by WebGuardMiddleware (its own, smaller limit).
"""
from __future__ import annotations

import json
import re

from kb.storage.uploads import UploadStore

_FILENAME = re.compile(rb'filename\*?=(?:"([^"]*)"|([^;\r\n]*))', re.I)
_PEEK_BYTES = 64 * 1024


def _content_length(headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _filename(data: bytes) -> str | None:
    """The last ``filename="…"`` in a multipart header seen in `data`."""
    found = None
    for m in _FILENAME.finditer(data):
        raw = (m.group(1) if m.group(1) is not None else m.group(2) or b"").strip()
        if raw.lower().startswith(b"utf-8''"):
            from urllib.parse import unquote_to_bytes

            raw = unquote_to_bytes(raw[7:].decode("latin-1"))
        found = raw.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1] or found
    return found


class _TooLarge(Exception):
    pass


class RequestLimitsMiddleware:
    def __init__(self, app, api_max_body: int = 256 * 1024, max_body: int = 1024 * 1024,
                 uploads: UploadStore | None = None, upload_slack: int = 64 * 1024,
                 api_prefix: str = "/v1/", upload_paths=("/gradio_api/upload", "/upload"),
                 api_paths=("/retrieval", "/dify/retrieval")):
        self.app = app
        self.api_max_body = int(api_max_body)
        self.max_body = int(max_body)
        self.uploads = uploads
        self.upload_slack = int(upload_slack)
        self.api_prefix = api_prefix
        self.upload_paths = {p.rstrip("/") for p in upload_paths}
        self.api_paths = {p.rstrip("/") for p in api_paths}  # Dify's external-knowledge routes

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path.rstrip("/") == "/login":
            return await self.app(scope, receive, send)  # WebGuardMiddleware's own limit
        if path.rstrip("/") in self.upload_paths and self.uploads is not None:
            return await self._upload(scope, receive, send)
        api = path.startswith(self.api_prefix) or path.rstrip("/") in self.api_paths
        limit = self.api_max_body if api else self.max_body
        length = _content_length(scope.get("headers") or [])
        if length is not None and length > limit:
            return await self._refuse(send, api, self._size_message(api, limit))
        return await self._capped(scope, receive, send, limit, api, lambda: self._size_message(api, limit))

    # -- responses ---------------------------------------------------------------------------------
    @staticmethod
    def _size_message(api: bool, limit: int) -> str:
        if api:
            return f"request body larger than {limit // 1024} KB"
        return f"请求过大（上限 {limit // 1024} KB）"

    async def _refuse(self, send, api: bool, message: str, plain: bool = False):
        if api:
            body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                         "code": "request_too_large"}}, ensure_ascii=False).encode("utf-8")
            kind = b"application/json"
        elif plain:  # Gradio's upload route answers errors as text, and its page shows that text
            body, kind = message.encode("utf-8"), b"text/plain; charset=utf-8"
        else:
            body, kind = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8"), b"application/json"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def _capped(self, scope, receive, send, limit: int, api: bool, message, on_chunk=None,
                      first: list | None = None, plain: bool = False):
        """Run the app with a receive that counts the body and stops it at `limit`."""
        received = 0
        exceeded = False
        started = False
        pending = list(first or [])

        async def capped_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            msg = pending.pop(0) if pending else await receive()
            if msg["type"] == "http.request":
                chunk = msg.get("body", b"")
                received += len(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}  # the route stops reading; nothing more is taken in
            return msg

        async def guarded_send(msg):
            nonlocal started
            if exceeded and not started:
                return  # the route's answer to the "disconnect": ours (413) goes out instead
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(send, api, message(), plain)

    # -- uploads -----------------------------------------------------------------------------------
    async def _upload(self, scope, receive, send):
        uploads = self.uploads
        user = scope.get("kb.user")
        uploads.sweep()
        length = _content_length(scope.get("headers") or [])
        # the first file's name: its part header is at the start of the body
        first, seen = [], b""
        more = True
        while more and len(seen) < 1024 and _filename(seen) is None:
            msg = await receive()
            first.append(msg)
            if msg["type"] != "http.request":
                break
            seen += msg.get("body", b"")[:_PEEK_BYTES]
            more = msg.get("more_body", False)
        name = _filename(seen)
        if length is not None:
            refusal = uploads.refusal(user, length, name, slack=self.upload_slack)
            if refusal is not None:
                return await self._refuse(send, False, refusal, plain=True)
        left, _ = uploads.remaining(user)
        limit = max(0, left) + self.upload_slack
        rid = uploads.start(user)
        tail = seen[-512:]
        current = {"name": name, "bytes": 0}

        def on_chunk(chunk: bytes):
            nonlocal tail
            uploads.grow(rid, len(chunk))
            current["bytes"] += len(chunk)
            window = tail + chunk[:4096] + (chunk[-4096:] if len(chunk) > 4096 else b"")
            found = _filename(window)
            if found:
                current["name"] = found
            tail = chunk[-512:]

        body = []
        status = {"code": None}

        async def capture(msg):
            if msg["type"] == "http.response.start":
                status["code"] = msg.get("status")
            elif msg["type"] == "http.response.body" and status["code"] == 200 and sum(map(len, body)) < 1 << 20:
                body.append(msg.get("body", b""))
            await send(msg)

        paths = []
        try:
            await self._capped(scope, receive, capture, limit, False,
                               lambda: uploads.message(user, current["name"], current["bytes"] or None),
                               on_chunk=on_chunk, first=first, plain=True)
            if status["code"] == 200:
                try:
                    answer = json.loads(b"".join(body) or b"[]")
                    paths = [p for p in answer if isinstance(p, str)] if isinstance(answer, list) else []
                except ValueError:
                    paths = []
        finally:
            uploads.finish(rid, paths)
