"""The page around the app, in Chinese whatever the browser's language: the product name and a title on
the login page, Gradio's own strings in zh-CN (and ours where its zh-CN has none), the login errors
as an inspector should read them (用户名或密码错误; a locked account told that it is locked and for how
long), and the chat's copy button putting clean text on the clipboard.

Gradio's login page gets no `head`, `css` or title from the app, so `ShellMiddleware` puts
`SHELL_HEAD` into every HTML page served at "/" (the login page and the app alike), before Gradio's
own scripts run. No Gradio import here: the middleware is plain ASGI.
"""
from __future__ import annotations

import math

PRODUCT_NAME = "考察知识库"

# Gradio's frontend keys our zh-CN fills in (its zh-CN file lacks them) — gr.I18n(**{"zh-CN": …}).
GRADIO_ZH = {
    "chatbot": {
        "copy_message": "复制",
        "copied_message": "已复制",
        "like": "赞",
        "dislike": "踩",
        "retry": "重试",
        "undo": "撤销",
        "edit": "编辑",
        "submit": "发送",
        "cancel": "取消",
        "clear": "清空对话",
        "complete": "完成",
    },
    "common": {
        "copy": "复制",
        "copied": "已复制",
        "fullscreen": "全屏",
        "full_screen": "全屏",
        "exit_fullscreen": "退出全屏",
        "download": "下载",
        "clear": "清除",
        "close": "关闭",
        "error": "错误",
        "loading": "加载中",
        "edit": "编辑",
        "share": "分享",
        "remove": "删除",
        "undo": "撤销",
        "submit": "提交",
        "settings": "设置",
        "language": "语言",
        "built_with_gradio": "",
        "stop": "停止",
        "no_files": "暂无文件",
    },
    "login": {"login": "登录", "username": "用户名", "password": "密码", "incorrect_credentials": "用户名或密码错误"},
    "dataframe": {"sort_ascending": "升序", "sort_descending": "降序", "clear_sort": "取消排序", "search": "搜索"},
    "upload_text": {"click_to_upload": "点击上传", "drop_file": "将文件拖放到此处"},
}

WRONG_CREDENTIALS = "用户名或密码错误"

# strings Gradio's frontend writes in English whatever the locale (attributes only)
GRADIO_FIXED_WORDS = {
    "Liked": "已赞",
    "Disliked": "已踩",
    "Copy message": "复制",
    "Copied message": "已复制",
    "Copy": "复制",
    "Copied!": "已复制",
    "Fullscreen": "全屏",
    "Exit fullscreen mode": "退出全屏",
    "Exit fullscreen": "退出全屏",
    "Clear": "清除",
    "Download": "下载",
    "Share": "分享",
    "Loading...": "加载中……",
    "chatbot conversation": "对话记录",
    "Click to upload or drop files": "点击上传或将文件拖放到此处",
    "Table actions": "表格操作",
    "Copy table data": "复制表格数据",
    "Add row": "添加行",
    "Add column": "添加列",
    "Empty value": "空",
    "No value": "无",
    "Sort ascending": "升序",
    "Sort descending": "降序",
    "Clear sort": "取消排序",
    "Search": "搜索",
    "Close": "关闭",
    "Remove": "删除",
}


def wait_words(seconds: float) -> str:
    """A lockout's remaining time as a person reads it: 40 秒, 3 分钟, 1 小时 5 分钟."""
    seconds = max(1, int(math.ceil(seconds)))
    if seconds < 60:
        return f"{seconds} 秒"
    minutes = int(math.ceil(seconds / 60))
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")


def account_locked_message(seconds: float) -> str:
    return f"该账号因连续登录失败已被暂时锁定，请 {wait_words(seconds)}后再试（密码正确也需等待）"


def client_locked_message(seconds: float) -> str:
    return f"本机登录失败次数过多，已被暂时锁定，请 {wait_words(seconds)}后再试"


SHELL_HEAD = """
<title>%(name)s</title>
<style>
  /* Gradio's login error (凭据不正确 / nothing at all for a lockout) gives way to ours */
  p.creds { display:none !important; }
  #kb-login-error { color:#b91c1c; font-weight:600; margin:.6em 0; }
  #kb-login-title { font-size:1.5em; font-weight:700; margin:.2em 0 .4em; }
  /* the login page leads with the product's name (the message), not Gradio's "登录" heading */
  *:has(> p.auth) > h2 { display:none; }
  /* the "Use via API" panel is not for inspectors */
  .show-api, .api-docs { display:none !important; }
</style>
<script>
(function () {
  // Gradio picks its language from the browser: the app is Chinese for every reader
  try {
    Object.defineProperty(Navigator.prototype, 'language', {get: function () { return 'zh-CN'; }, configurable: true});
    Object.defineProperty(Navigator.prototype, 'languages', {get: function () { return ['zh-CN', 'zh']; }, configurable: true});
  } catch (e) {}
  document.documentElement.lang = 'zh-CN';
  var NAME = %(name_js)s;
  function keepTitle() {
    if (!document.title || /gradio/i.test(document.title)) document.title = NAME;
  }
  new MutationObserver(keepTitle).observe(document.documentElement, {subtree: true, childList: true, characterData: true});

  // labels Gradio writes in English whatever the language (its Liked/Disliked state, …)
  var WORDS = %(words_js)s;
  var PREFIXES = {"bot's message:": '回答', "user's message:": '问题'};
  function translate(node) {
    if (!node || node.nodeType !== 1) return;
    ['aria-label', 'title', 'placeholder'].forEach(function (name) {
      var value = node.getAttribute(name);
      if (!value) return;
      if (Object.prototype.hasOwnProperty.call(WORDS, value)) { node.setAttribute(name, WORDS[value]); return; }
      // a chat message's label is its raw content: a screen reader hears who speaks, not the HTML
      for (var prefix in PREFIXES) {
        if (value.indexOf(prefix) === 0) { node.setAttribute(name, PREFIXES[prefix]); return; }
      }
    });
  }
  // the progress line Gradio writes as text ("processing | 0.3s", "queue: 2/5 |")
  function translateText(node) {
    var value = node.nodeValue;
    if (!value || !/processing|queue:/.test(value)) return;
    var changed = value.replace(/^(\\s*)processing(\\s*\\|)/, '$1处理中$2').replace(/^(\\s*)queue:/, '$1排队：');
    if (changed !== value) node.nodeValue = changed;
  }
  new MutationObserver(function (changes) {
    changes.forEach(function (change) {
      if (change.type === 'attributes') { translate(change.target); return; }
      if (change.type === 'characterData') { translateText(change.target); return; }
      change.addedNodes.forEach(function (node) {
        if (node.nodeType === 3) { translateText(node); return; }
        if (node.nodeType !== 1) return;
        var walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) translateText(walker.currentNode);
        translate(node);
        node.querySelectorAll('[aria-label],[title],[placeholder]').forEach(translate);
      });
    });
  }).observe(document.documentElement, {subtree: true, childList: true, attributes: true, characterData: true,
                                          attributeFilter: ['aria-label', 'title', 'placeholder']});

  // the login's answer in our words: wrong name or password, or locked (and for how long)
  function showLoginError(text) {
    var password = document.querySelector('input[type=password]');
    if (!password) return;
    var box = document.getElementById('kb-login-error');
    if (!box) {
      box = document.createElement('p');
      box.id = 'kb-login-error';
      box.setAttribute('role', 'alert');
      // under the product name (the login message), above the form
      var anchor = document.querySelector('p.auth') || document.querySelector('h2');
      (anchor && anchor.parentNode ? anchor.parentNode : document.body).insertBefore(box, anchor ? anchor.nextSibling : null);
    }
    box.textContent = text;
  }
  var realFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : (input && input.url) || '';
    var method = ((init && init.method) || (input && input.method) || 'GET').toUpperCase();
    var answer = realFetch.apply(this, arguments);
    if (method === 'POST' && /\\/login\\/?$/.test(String(url).split('?')[0])) {
      answer.then(function (response) {
        if (response.status === 200) return;
        response.clone().json().then(function (body) {
          var detail = body && typeof body.detail === 'string' ? body.detail : '';
          showLoginError(response.status === 400 || !/[\\u4e00-\\u9fff]/.test(detail) ? %(wrong_js)s : detail);
        }, function () { showLoginError(%(wrong_js)s); });
      }, function () {});
    }
    return answer;
  };

  // the chat's copy button: the answer as clean text with its numbered sources (carried hidden in
  // the message), a question as typed — never the message's HTML
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button');
    if (!button || !button.closest('#kb-chat')) return;
    var label = button.getAttribute('aria-label') || '';
    if (!/^(Copy message|复制|复制消息)$/.test(label)) return;
    // Gradio puts a message's buttons right after its row
    var bar = button.closest('.message-buttons');
    var row = bar ? bar.previousElementSibling : button.closest('.message-row');
    while (row && !(row.classList && row.classList.contains('message-row'))) row = row.previousElementSibling;
    if (!row) return;
    var hidden = row.querySelector('.kb-copy-text');
    var text;
    if (hidden) {
      text = Array.prototype.map.call(hidden.children, function (line) { return line.textContent; }).join('\\n');
    } else {
      var content = row.querySelector('.message-content');
      text = content ? content.innerText.trim() : '';
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    var done = function () {
      button.setAttribute('data-kb-copied', '1');
      button.setAttribute('title', '已复制');
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () {});
    }
    window.kbLastCopied = text;
  }, true);
})();
</script>
"""


def shell_head(name: str = PRODUCT_NAME) -> str:
    import json

    return SHELL_HEAD % {
        "name": name,
        "name_js": json.dumps(name, ensure_ascii=False),
        "wrong_js": json.dumps(WRONG_CREDENTIALS, ensure_ascii=False),
        "words_js": json.dumps(GRADIO_FIXED_WORDS, ensure_ascii=False),
    }


class ShellMiddleware:
    """Puts `shell_head()` into the HTML Gradio serves at "/" (login page and app)."""

    def __init__(self, app, head: str | None = None):
        self.app = app
        self.head = (head if head is not None else shell_head()).encode("utf-8")

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or scope.get("method") != "GET" or scope.get("path") not in ("/", ""):
            return await self.app(scope, receive, send)
        start: dict | None = None
        chunks: list[bytes] = []

        async def capture(message):
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict((k.lower(), v) for k, v in message.get("headers") or [])
                if b"text/html" not in headers.get(b"content-type", b"") or headers.get(b"content-encoding"):
                    start = None
                    await send(message)
                    return
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = inject_head(b"".join(chunks), self.head)
                headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send(dict(start, headers=headers))
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, capture)


def inject_head(page: bytes, head: bytes) -> bytes:
    """`head` right after <head> (before Gradio's scripts), the page's language set to zh-CN."""
    page = page.replace(b'lang="en"', b'lang="zh-CN"', 1)
    at = page.find(b"<head>")
    if at < 0:
        return page
    at += len(b"<head>")
    return page[:at] + head + page[at:]
