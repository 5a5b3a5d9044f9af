"""ASGI middleware in front of the Gradio app: login throttling and session expiry.

- ``POST /login``: a body over `max_login_body` bytes is refused (413) before it is parsed —
  an unauthenticated client cannot make the server read, hash or log megabytes; a client
  address locked by kb/access/login_guard.py gets 429; otherwise the client address is made available to
  WebAppService.check_login (which Gradio calls with the name and password only).
- Client address: the peer's, unless the peer is one of `settings.security.trusted_proxies`
  (addresses or CIDR networks, default none), whose X-Forwarded-For then names the client (the
  right-most address in it that is not itself a trusted proxy). Every request's ``client`` is
  rewritten to that address, so the login throttle, the API and Gradio all see the same one.
  uvicorn's own handling of the header (it believes 127.0.0.1 by default) is switched off by
  `distrust_server_forwarded_headers`: any local process could otherwise rotate the header to
  escape the per-address limits.
- Sessions: the login cookie Gradio sets (``access-token-…``) is remembered with its issue time; a
  request presenting a token older than `session_ttl_s`, or one this process never issued, has
  that cookie removed before Gradio sees it — the user is asked to log in again. The user name the
  token was issued to is put in ``scope["kb.user"]`` for the middleware after this one (upload
  quotas, kb/api/request_limits.py).
"""
from __future__ import annotations

import ipaddress
import json
import re
import threading
import time
from http.cookies import SimpleCookie

from kb.access.login_guard import current_client

_TOKEN_COOKIE = "access-token-"
_MAX_SESSIONS = 100_000


def distrust_server_forwarded_headers(environ=None) -> None:
    """Make the uvicorn server that Gradio starts ignore X-Forwarded-For (call before launch).

    uvicorn rewrites the client address from that header for peers in FORWARDED_ALLOW_IPS, which
    defaults to 127.0.0.1 — before any of our code sees the request, and with no setting Gradio
    passes through. An empty value trusts nobody; WebGuardMiddleware applies
    settings.security.trusted_proxies instead. (This writes, never reads, the environment: the
    variable is uvicorn's interface.)"""
    import os

    (os.environ if environ is None else environ)["FORWARDED_ALLOW_IPS"] = ""


def parse_proxies(entries) -> list:
    """settings.security.trusted_proxies as networks; a malformed entry is an error, not ignored."""
    nets = []
    for entry in entries or []:
        try:
            nets.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"security.trusted_proxies: {entry!r} is not an IP address or network") from None
    return nets


def _host_of(hop: str) -> str:
    """An X-Forwarded-For entry without a port: 1.2.3.4:5 → 1.2.3.4, [::1]:5 → ::1."""
    hop = hop.strip()
    if hop.startswith("["):
        return hop[1:hop.find("]")] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def _in(host: str | None, nets: list) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in net for net in nets)


def client_address(peer: str | None, headers, proxies: list) -> str | None:
    """The client a request comes from: `peer`, or — when `peer` is a trusted proxy — the right-most
    X-Forwarded-For address that is not a trusted proxy (the left-most when all are)."""
    if not proxies or not _in(peer, proxies):
        return peer
    values = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for"]
    hops = [_host_of(h) for h in ",".join(values).split(",") if h.strip()]
    if not hops:
        return peer
    for hop in reversed(hops):
        if not _in(hop, proxies):
            return hop
    return hops[0]


_MULTIPART_NAME = re.compile(rb'name="username"\r?\n(?:[^\r\n]+\r?\n)*\r?\n(.*?)\r?\n--', re.S)


def login_name(body: bytes, content_type: bytes = b"") -> str | None:
    """The user name a POST /login names, stripped as Gradio's /login does: a form (urlencoded, or
    multipart/form-data as Gradio's login page sends it)."""
    try:
        if content_type.lower().startswith(b"multipart/form-data"):
            match = _MULTIPART_NAME.search(body)
            return match.group(1).decode("utf-8").strip() if match else None
        from urllib.parse import parse_qs

        name = (parse_qs(body.decode("utf-8"), max_num_fields=16).get("username") or [None])[0]
        return name.strip() if name is not None else None
    except (UnicodeDecodeError, ValueError):
        return None


class WebGuardMiddleware:
    def __init__(self, app, guard=None, session_ttl_s: float = 8 * 3600.0, max_login_body: int = 8192, clock=time.monotonic,
                 trusted_proxies=None):
        self.app = app
        self.guard = guard
        if trusted_proxies is None:
            trusted_proxies = getattr(getattr(guard, "cfg", None), "trusted_proxies", None)
        self.proxies = parse_proxies(trusted_proxies)
        self.ttl = float(session_ttl_s)
        self.max_login_body = int(max_login_body)
        self.clock = clock
        self._sessions: dict[str, float] = {}  # token → issue time
        self._users: dict[str, str] = {}  # token → the user it was issued to
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        scope = dict(scope)
        scope["headers"] = self._without_expired_tokens(scope.get("headers") or [])
        user = self._user_of(scope["headers"])
        if user is not None:
            scope["kb.user"] = user
        peer = scope.get("client") or (None, 0)
        client = client_address(peer[0], scope["headers"], self.proxies)
        if client != peer[0]:
            scope["client"] = (client, 0)
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
                self._users.pop(token, None)
                return False
            return True

    def _user_of(self, headers) -> str | None:
        for name, value in headers:
            if name == b"cookie" and _TOKEN_COOKIE.encode() in value:
                for part in value.decode("latin-1").split(";"):
                    key, _, token = part.strip().partition("=")
                    if key.startswith(_TOKEN_COOKIE):
                        with self._lock:
                            user = self._users.get(token)
                        if user is not None:
                            return user
        return None

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

    def _remember(self, headers, user: str | None = None) -> None:
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
                            self._users = {t: u for t, u in self._users.items() if t in self._sessions}
                        self._sessions[morsel.value] = now
                        if user is not None:
                            self._users[morsel.value] = user

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
                from kb.web.shell import client_locked_message

                return await self._respond(send, 429, client_locked_message(wait),
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
        login_user = login_name(body, dict(scope["headers"]).get(b"content-type", b""))

        if self.guard is not None and login_user:
            # a locked account is told so, and for how long — not that its (maybe right) password is wrong
            wait = self.guard.refusal(login_user, client)
            if wait > 0:
                from kb.web.shell import account_locked_message

                return await self._respond(send, 429, account_locked_message(wait),
                                           [(b"retry-after", str(int(wait) + 1).encode())])

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message):
            if message["type"] == "http.response.start" and message.get("status") == 200:
                self._remember(message.get("headers") or [], login_user)
            await send(message)

        token = current_client.set(client)
        try:
            return await self.app(scope, replay, capture)
        finally:
            current_client.reset(token)
