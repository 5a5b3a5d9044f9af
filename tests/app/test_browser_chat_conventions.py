"""The chat's conventions in headless Chromium (#25): copy gives clean text with its numbered sources,
a typed question is shown literally, 👍/👎 is stored once per user and answer and shown again after a
reload, the 👎 form names its answer; suggested questions the sources answer (a welcome set that sends
on click, next questions after each answer); and the page in Chinese for a browser set to English
(login page with the product name and a title, 用户名或密码错误, a lockout said as one, no English words
in any tab). Screenshots go to test-output/browser/."""
from __future__ import annotations

import json
import re
import sqlite3

import pytest

from tests.app.conftest import ADMIN, INSPECTOR, QUESTION, QUESTION_DOC, QUOTE_WORDS
from tests.app.test_browser import SHOTS, TIMEOUT_MS, browser, page_as, shot  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOGIN_BUTTON = re.compile(r"^\s*(Login|登录)\s*$")


def ask(page, question: str, nth: int) -> None:
    page.fill("#kb-question textarea", question)
    page.click("#kb-ask")
    page.locator("#kb-chat .kb-state").nth(nth).wait_for(timeout=60_000)


def suggestions(page) -> list[str]:
    out = []
    for i in range(4):
        button = page.locator(f"#kb-suggest-{i}")
        if button.count() and button.is_visible():
            out.append(button.inner_text().strip())
    return out


def feedback_rows(home, answer_id: str) -> list[tuple]:
    with sqlite3.connect(home / "conversations.sqlite3") as conn:
        return conn.execute("SELECT user, rating, reason FROM feedback WHERE answer_id = ?", (answer_id,)).fetchall()


def answer_id_of(page, nth: int) -> str:
    classes = page.locator("#kb-chat .kb-state").nth(nth).get_attribute("class").split()
    return next(c for c in classes if c.startswith("kb-a-"))[5:]


def test_copy_is_clean_text_and_typed_markup_is_shown_literally(page_as, app_server):
    page = page_as(INSPECTOR)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server.url)
    page.click("#kb-new-chat")
    typed = "<b>粗体</b> " + QUESTION
    ask(page, typed, 0)
    user_message = page.locator("#kb-chat .user-row .message-content").last
    # shown as typed: the tags are characters on the screen, nothing is bold
    assert "<b>粗体</b>" in user_message.inner_text()
    assert user_message.locator("b, strong").count() == 0
    shot(page, "chat-literal-question")

    buttons = page.locator("#kb-chat button[aria-label='复制']")
    assert buttons.count() == 2  # the question's and the answer's
    buttons.nth(1).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "<" not in copied and "class=" not in copied and "&#" not in copied, copied
    assert copied.startswith("【已回答】"), copied
    assert "[1]" in copied and "来源：" in copied and QUESTION_DOC in copied and QUOTE_WORDS in copied, copied
    buttons.nth(0).click()
    assert page.evaluate("navigator.clipboard.readText()") == typed  # the question as typed
    (SHOTS / "chat-copied.txt").write_text(copied, encoding="utf-8")


def test_feedback_is_kept_once_per_answer_shown_after_reload_and_the_form_names_its_answer(page_as, app_server):
    page = page_as(INSPECTOR)
    page.click("#kb-new-chat")
    ask(page, QUESTION, 0)
    ask(page, "政治自律要考察干部哪些方面？", 1)
    first, second = answer_id_of(page, 0), answer_id_of(page, 1)

    page.locator("#kb-chat button[aria-label='赞']").nth(0).click()
    page.locator("#kb-feedback-message").get_by_text("已记录：赞").wait_for()
    assert "第 1 条回答" in page.locator("#kb-feedback-message").inner_text()
    assert feedback_rows(app_server.home, first) == [(INSPECTOR[0], "up", "")]
    # clicked again: taken back, nothing stored
    page.locator("#kb-chat button[aria-label='已赞']").nth(0).click()
    page.locator("#kb-feedback-message").get_by_text("已撤销").wait_for()
    assert feedback_rows(app_server.home, first) == []
    page.locator("#kb-chat button[aria-label='赞']").nth(0).click()
    page.locator("#kb-feedback-message").get_by_text("已记录：赞").wait_for()
    # 踩 then 取消: nothing changes, the 赞 shows again
    page.locator("#kb-chat button[aria-label='踩']").nth(0).click()
    page.locator("#kb-feedback-for").get_by_text("第 1 条回答").wait_for()
    page.click("#kb-feedback-cancel")
    page.locator("#kb-chat button[aria-label='已赞']").first.wait_for()
    assert page.locator("#kb-chat button[aria-label='已踩']").count() == 0
    assert feedback_rows(app_server.home, first) == [(INSPECTOR[0], "up", "")]
    # the 👎 form says which answer it is for
    page.locator("#kb-chat button[aria-label='踩']").nth(1).click()
    page.locator("#kb-feedback-for").get_by_text("第 2 条回答").wait_for()
    assert "政治自律要考察干部哪些方面" in page.locator("#kb-feedback-for").inner_text()
    shot(page, "chat-feedback-form-names-its-answer")
    page.click("#kb-feedback-submit")  # no reason chosen: asked for one, in words
    page.locator("#kb-feedback-message").get_by_text("请先选择").wait_for()
    assert "should_refuse" not in page.locator("#kb-feedback-message").inner_text()
    page.locator("#kb-feedback-reason label").filter(has_text="回答不完整").click()
    page.click("#kb-feedback-submit")
    page.locator("#kb-feedback-message").get_by_text("已记录：踩").wait_for()
    # a second judgement of the first answer replaces the first one: one row per user and answer
    page.locator("#kb-chat button[aria-label='踩']").nth(0).click()
    page.locator("#kb-feedback-for").get_by_text("第 1 条回答").wait_for()
    page.locator("#kb-feedback-reason label").filter(has_text="引用错误").click()
    page.click("#kb-feedback-submit")
    page.locator("#kb-feedback-message").get_by_text("引用错误").wait_for()
    assert feedback_rows(app_server.home, first) == [(INSPECTOR[0], "down", "wrong_citation")]
    assert feedback_rows(app_server.home, second) == [(INSPECTOR[0], "down", "incomplete")]

    page.reload()
    page.locator("#kb-chat .kb-state").nth(1).wait_for(timeout=60_000)
    # both answers show their 踩 again (Gradio's "Disliked", in Chinese)
    page.locator("#kb-chat button[aria-label='已踩']").nth(1).wait_for()
    assert page.locator("#kb-chat button[aria-label='已赞']").count() == 0
    shot(page, "chat-feedback-after-reload")


def test_suggested_questions_send_on_click_and_are_answered(page_as):
    page = page_as(ADMIN)
    page.click("#kb-new-chat")
    page.locator("#kb-suggest-title").get_by_text("可以这样问").wait_for()
    welcome = suggestions(page)
    assert 3 <= len(welcome) <= 4, welcome
    assert len({q for q in welcome}) == len(welcome)
    shot(page, "chat-welcome-suggestions")
    page.click("#kb-suggest-0")
    # sent at once (no second click): the question and its answer, answered from the sources
    page.locator("#kb-chat .kb-state").first.wait_for(timeout=60_000)
    assert page.locator("#kb-chat .user-row").first.inner_text().strip() == welcome[0]
    assert page.locator("#kb-chat .kb-state-answered").count() == 1
    page.locator("#kb-suggest-title").get_by_text("接着问").wait_for(timeout=60_000)
    following = suggestions(page)
    assert 2 <= len(following) <= 3, following
    assert welcome[0] not in following
    shot(page, "chat-next-suggestions")
    page.click("#kb-suggest-0")
    page.locator("#kb-chat .kb-state").nth(1).wait_for(timeout=60_000)
    assert page.locator("#kb-chat .kb-state-answered").count() == 2
    assert page.locator("#kb-chat .user-row").nth(1).inner_text().strip() == following[0]


# ---- Chinese everywhere a user looks -------------------------------------------------------------
# proper names and file kinds that stay Latin in a Chinese UI
ALLOWED_LATIN = {
    "pdf", "docx", "doc", "wps", "ofd", "txt", "md", "html", "htm", "api", "ocr", "word", "markdown", "jsonl",
    "id", "bm25", "llm", "csv", "tsv", "xlsx", "excel",
}


def latin_words(page) -> dict[str, str]:
    """Latin words a user can see (the text of the page, the labels of its controls, which a screen
    reader reads), each with the text it was found in."""
    found = page.evaluate(
        """() => {
            const seen = [document.body.innerText, document.title];
            document.querySelectorAll('[aria-label],[title],[placeholder]').forEach(e => {
                if (!e.getClientRects().length) return;  // not shown
                ['aria-label', 'title', 'placeholder'].forEach(a => { if (e.getAttribute(a)) seen.push(e.getAttribute(a)); });
            });
            return seen;
        }"""
    )
    words: dict[str, str] = {}
    for text in found:
        for line in str(text).splitlines():
            for word in re.findall(r"[A-Za-z][A-Za-z_-]+", line):
                if word.lower() not in ALLOWED_LATIN:
                    words.setdefault(word, line.strip()[:120])
    return words


@pytest.fixture
def english_browser_page(browser, app_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def login(page, who) -> None:
    page.locator("input[type=text]").fill(who[0])
    page.locator("input[type=password]").fill(who[1])
    page.get_by_role("button", name=LOGIN_BUTTON).click()


def test_an_english_browser_sees_every_tab_in_chinese(english_browser_page, app_server):
    page = english_browser_page
    page.goto(app_server.url)
    page.locator("input[type=password]").wait_for()
    assert page.title() == "考察知识库"
    page.locator("#kb-login-title").get_by_text("考察知识库").wait_for()
    assert page.get_by_role("button", name="登录").count() == 1
    assert latin_words(page) == {}, latin_words(page)
    login(page, (ADMIN[0], "not-the-password"))
    page.locator("#kb-login-error").get_by_text("用户名或密码错误").wait_for()
    assert "凭据不正确" not in page.locator("body").inner_text()
    shot(page, "login-wrong-password-en-browser")

    login(page, ADMIN)
    page.locator("#kb-question textarea").wait_for()
    assert page.title() == "考察知识库"
    ask(page, QUESTION, 0)
    page.locator("#kb-suggest-title").get_by_text("接着问").wait_for(timeout=60_000)
    page.locator("#kb-chat button[aria-label='赞']").first.click()
    page.locator("#kb-chat button[aria-label='已赞']").first.wait_for()
    # no "Use via API" panel for anyone, no Gradio footer
    assert page.get_by_text("API", exact=False).filter(has_text=re.compile("via API|通过 API")).count() == 0
    assert page.locator("footer").count() == 0 or not page.locator("footer").first.is_visible()
    seen = {"问答": latin_words(page)}
    shot(page, "chinese-ask-tab")
    for tab in ("提纲起草", "知识库"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_function(
            "name => [...document.querySelectorAll('[role=tab]')].some(t => t.innerText.trim() === name && t.getAttribute('aria-selected') === 'true')",
            arg=tab,
        )
        if tab == "知识库":
            page.locator("#kb-docs").get_by_text(QUESTION_DOC).first.wait_for()
        seen[tab] = latin_words(page)
        shot(page, f"chinese-{tab}-tab")
    # the 提纲起草 tab belongs to the drafting work: its words are reported, the others must be clean
    (SHOTS / "latin-words.json").write_text(json.dumps(seen, ensure_ascii=False, indent=1), encoding="utf-8")
    # asking for the API page by its address opens the app, not the "pip install gradio_client" panel
    page.goto(app_server.url + "/?view=api")
    # the page is loaded once its reopened conversation has its next questions
    page.locator("#kb-suggest-title").get_by_text(re.compile("可以这样问|接着问")).wait_for(timeout=60_000)
    assert "gradio_client" not in page.locator("body").inner_text()
    assert seen["问答"] == {}, seen
    assert seen["知识库"] == {}, seen


def test_a_locked_account_is_told_it_is_locked_and_for_how_long(english_browser_page, app_server):
    page = english_browser_page
    page.goto(app_server.url)
    page.locator("input[type=password]").wait_for()
    name = "锁定测试账号"
    for attempt in range(5):  # security.login_max_failures
        login(page, (name, f"wrong-{attempt}"))
        page.locator("#kb-login-error").get_by_text("用户名或密码错误").wait_for()
        page.evaluate("document.getElementById('kb-login-error').textContent = ''")
    login(page, (name, "wrong-again"))
    error = page.locator("#kb-login-error")
    error.get_by_text("已被暂时锁定").wait_for()
    text = error.inner_text()
    assert re.search(r"请 \d+ (秒|分钟)后再试", text), text
    shot(page, "login-locked")


def test_on_a_390_px_phone_the_question_box_is_above_the_fold(browser, app_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_server.url)
        page.locator("input[type=password]").wait_for()
        login(page, INSPECTOR)
        page.locator("#kb-question textarea").wait_for()
        page.locator("#kb-suggest-title").get_by_text("可以这样问").wait_for()

        def above_the_fold(selector: str) -> bool:
            page.evaluate("scrollTo(0, 0)")
            box = page.locator(selector).bounding_box()
            return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844

        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        assert above_the_fold("#kb-question textarea") and above_the_fold("#kb-ask")
        page.evaluate("scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / "phone-390-welcome.png"))
        page.fill("#kb-question textarea", QUESTION)
        page.click("#kb-ask")
        page.locator("#kb-chat .kb-state").first.wait_for(timeout=60_000)
        page.locator("#kb-suggest-title").get_by_text("接着问").wait_for(timeout=60_000)
        assert above_the_fold("#kb-question textarea") and above_the_fold("#kb-ask")
        page.evaluate("scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / "phone-390-answered.png"))
    finally:
        context.close()
