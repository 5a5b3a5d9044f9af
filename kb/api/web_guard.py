"""ASGI middleware in front of the Gradio app: login throttling and session expiry.

- ``POST /login``: a body over `max_login_body` bytes is refused (413) before it is parsed —
  an unauthenticated client cannot make the server read, hash or log megabytes; a client
  address locked by kb/login_guard.py gets 429; otherwise the client address is made available to
  WebAppService.check_login (which Gradio calls with the name and password only).
- Sessions: the login cookie Gradio sets (``access-token-…``) is remembered with its issue time; a
  request presenting a token older than `session_ttl_s`, or one this process never issued, has
  that cookie removed before Gradio sees it — the user is asked to log in again.
"""
from __future__ import annotations

import json
import threading
import time
from http.cookies import SimpleCookie

from kb.login_guard import current_client

_TOKEN_COOKIE = "access-token-"
_MAX_SESSIONS = 100_000


class WebGuardMiddleware:
    def __init__(self, app, guard=None, session_ttl_s: float = 8 * 3600.0, max_login_body: int = 8192, clock=time.monotonic):
        self.app = app
        self.guard = guard
        self.ttl = float(session_ttl_s)
        self.max_login_body = int(max_login_body)
        self.clock = clock
        self._sessions: dict[str, float] = {}  # token → issue time
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        scope = dict(scope)
        scope["headers"] = self._without_expired_tokens(scope.get("headers") or [])
        path = scope.get("path", "")
        if path.rstrip("/") == "/login" and scope.get("method") == "POST":
            return await self._login(scope, receive, send)
        return await self.app(scope, receive, send)

    # -- sessions ------------------------------------------------------------------------------
    def _valid(self, token: str) -> bool:
        with self._lock:
            issued = self._sessions.get(token)
            if issued is None:
                return False
            if self.clock() - issued > self.ttl:
                del self._sessions[token]
                return False
            return True

    def _without_expired_tokens(self, headers):
        out = []
        for name, value in headers:
            if name == b"cookie" and _TOKEN_COOKIE.encode() in value:
                kept = []
                for part in value.decode("latin-1").split(";"):
                    key, _, token = part.strip().partition("=")
                    if key.startswith(_TOKEN_COOKIE) and not self._valid(token):
                        continue  # expired or not issued by this process: as if not logged in
                    kept.append(part.strip())
                if kept:
                    out.append((name, "; ".join(kept).encode("latin-1")))
                continue
            out.append((name, value))
        return out

    def _remember(self, headers) -> None:
        now = self.clock()
        for name, value in headers:
            if name.lower() != b"set-cookie":
                continue
            cookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:
                continue
            for key, morsel in cookie.items():
                if key.startswith(_TOKEN_COOKIE) and morsel.value:
                    with self._lock:
                        if len(self._sessions) >= _MAX_SESSIONS:
                            cutoff = now - self.ttl
                            self._sessions = {t: i for t, i in self._sessions.items() if i >= cutoff}
                        self._sessions[morsel.value] = now

    # -- login ---------------------------------------------------------------------------------
    async def _respond(self, send, status: int, message: str, headers=()):
        body = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})

    async def _login(self, scope, receive, send):
        client = (scope.get("client") or (None, None))[0]
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        if length is not None and length > self.max_login_body:
            return await self._respond(send, 413, "登录请求过大")
        if self.guard is not None:
            wait = self.guard.client_refusal(client)
            if wait > 0:
                return await self._respond(send, 429, f"登录失败次数过多，请 {int(wait) + 1} 秒后再试",
                                           [(b"retry-after", str(int(wait) + 1).encode())])
        # a chunked body without a length: read at most max_login_body bytes of it
        chunks, size = [], 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_login_body:
                return await self._respond(send, 413, "登录请求过大")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message):
            if message["type"] == "http.response.start" and message.get("status") == 200:
                self._remember(message.get("headers") or [])
            await send(message)

        token = current_client.set(client)
        try:
            return await self.app(scope, replay, capture)
        finally:
            current_client.reset(token)
