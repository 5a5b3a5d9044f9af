"""kb/web/shell.py and the login side of kb/api/web_guard.py: the page head put into every page at "/"
(login page included), lockout wording, the user name read from Gradio's multipart login form, and a
locked account answered 429 with how long it waits."""
from __future__ import annotations

import asyncio
import json
import time

from kb.api.web_guard import WebGuardMiddleware, login_name
from kb.web.shell import ShellMiddleware, account_locked_message, inject_head, shell_head, wait_words


def test_wait_words():
    assert wait_words(0.2) == "1 秒"
    assert wait_words(30) == "30 秒"
    assert wait_words(61) == "2 分钟"
    assert wait_words(900) == "15 分钟"
    assert wait_words(3900) == "1 小时 5 分钟"
    assert "15 分钟后再试" in account_locked_message(900) and "锁定" in account_locked_message(900)


def test_the_head_goes_first_into_the_page_and_the_language_is_chinese():
    page = b'<!doctype html><html lang="en"><head><meta charset="utf-8" /><script type="module" src="x.js"></script></head>'
    out = inject_head(page, b"<title>T</title>")
    assert out.startswith(b'<!doctype html><html lang="zh-CN"><head><title>T</title><meta charset')
    head = shell_head()
    assert "<title>考察知识库</title>" in head and "zh-CN" in head and "%(" not in head


def _run(app, method="GET", path="/", body=b"", headers=()):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers), "client": ("10.0.0.9", 5555)}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    headers = dict(next(m["headers"] for m in sent if m["type"] == "http.response.start"))
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, headers, data


def test_shell_middleware_rewrites_only_the_html_page_at_the_root():
    page = b'<html lang="en"><head></head><body>app</body></html>'

    async def app(scope, receive, send):
        kind = b"text/html; charset=utf-8" if scope["path"] == "/" else b"application/json"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(page)).encode())]})
        await send({"type": "http.response.body", "body": page})

    status, headers, data = _run(ShellMiddleware(app, head="<title>考察知识库</title>"))
    assert status == 200 and "<title>考察知识库</title>".encode() in data and b'lang="zh-CN"' in data
    assert int(headers[b"content-length"]) == len(data)
    assert _run(ShellMiddleware(app, head="<x>"), path="/config")[2] == page


def test_login_name_from_gradios_multipart_form_and_from_a_urlencoded_one():
    body = ('------b\r\nContent-Disposition: form-data; name="username"\r\n\r\n 张三 \r\n'
            '------b\r\nContent-Disposition: form-data; name="password"\r\n\r\npw\r\n------b--\r\n').encode()
    assert login_name(body, b"multipart/form-data; boundary=----b") == "张三"
    assert login_name("username=%E5%BC%A0%E4%B8%89&password=x".encode(), b"application/x-www-form-urlencoded") == "张三"
    assert login_name(b"\xff\xfe", b"") is None


class _Guard:
    def __init__(self, locked: dict[str, float]):
        self.locked = locked

    def client_refusal(self, client):
        return 0.0

    def refusal(self, name, client):
        return self.locked.get(name, 0.0)


def test_a_locked_account_is_answered_429_saying_how_long():
    reached = []

    async def gradio(scope, receive, send):
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"detail": "Incorrect credentials."}'})

    guard = WebGuardMiddleware(gradio, guard=_Guard({"张三": 120.0}), clock=time.monotonic)
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    status, headers, data = _run(guard, "POST", "/login", "username=张三&password=right".encode(), form)
    assert status == 429 and headers[b"retry-after"] == b"121" and not reached
    assert "2 分钟后再试" in json.loads(data)["detail"] and "锁定" in json.loads(data)["detail"]
    # another name from the same client goes on to the password check
    status, _, _ = _run(guard, "POST", "/login", "username=李四&password=x".encode(), form)
    assert status == 400 and reached == ["/login"]
