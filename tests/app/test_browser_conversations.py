"""Conversations in headless Chromium: chips of an earlier answer, a refresh that restores the open
conversation, 👎 with a reason that `kb feedback export` writes and `kb eval` runs, the sidebar, and the
error paths (over-long / empty question) said under the box without a stuck placeholder or red badges."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.app.conftest import ADMIN, INSPECTOR, QUESTION, QUESTION_DOC, QUOTE_WORDS, REPO, clean_env
from tests.app.test_browser import browser, page_as, shot  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECOND = "政治自律要考察干部哪些方面？"


def ask(page, question: str, nth: int) -> None:
    page.fill("#kb-question textarea", question)
    page.click("#kb-ask")
    page.locator("#kb-chat .kb-state").nth(nth).wait_for(timeout=60_000)


def owner_of(chip) -> str:
    return next(c for c in chip.get_attribute("class").split() if c.startswith("kb-a-"))[5:]


def no_error_badges(page) -> None:
    # Gradio marks the outputs of a failed event with an error status; none may show
    errors = page.locator(".error:visible, .toast-body.error:visible")
    assert errors.count() == 0, [errors.nth(i).inner_text() for i in range(errors.count())]


def test_chips_refresh_and_dislike_become_an_eval_set(page_as, app_server, tmp_path):
    page = page_as(INSPECTOR)
    page.click("#kb-new-chat")
    ask(page, QUESTION, 0)
    ask(page, SECOND, 1)
    first_chip = page.locator("#kb-chat .kb-state").nth(0).locator(".kb-chip").first
    owner, n = owner_of(first_chip), first_chip.inner_text().strip()
    first_chip.click()
    page.wait_for_function(f"document.getElementById('kb-cite-{owner}-{n}').open")
    opened = page.locator(f"#kb-cite-{owner}-{n}")
    assert QUESTION_DOC in opened.locator("summary").inner_text()
    assert QUOTE_WORDS in opened.locator("mark.kb-quote").inner_text().replace(" ", "")
    titles = page.locator("#kb-conversations label")
    assert any(QUESTION[:10] in titles.nth(i).inner_text() for i in range(titles.count()))
    shot(page, "conversation-before-refresh")

    page.reload()
    page.locator("#kb-chat .kb-state").nth(1).wait_for(timeout=60_000)
    assert page.locator("#kb-chat .kb-state").count() == 2
    # the restored answers' chips still open their own sources
    chip = page.locator("#kb-chat .kb-state").nth(0).locator(".kb-chip").first
    assert owner_of(chip) == owner
    chip.click()
    page.wait_for_function(f"document.getElementById('kb-cite-{owner}-{n}').open")
    assert QUOTE_WORDS in page.locator(f"#kb-cite-{owner}-{n} mark.kb-quote").inner_text().replace(" ", "")
    shot(page, "conversation-after-refresh")

    # 👎 on the second answer, with a reason and a comment
    # one 踩 (zh-CN "Dislike") button per answer, in the order of the answers
    page.locator("#kb-chat button[aria-label='踩']").nth(1).click()
    page.locator("#kb-feedback-reason").wait_for()
    page.locator("#kb-feedback-reason label").filter(has_text="应当拒答").click()
    page.fill("#kb-feedback-comment textarea", "浏览器测试：这条应当拒答")
    page.click("#kb-feedback-submit")
    page.get_by_text("已记录：踩").wait_for()
    no_error_badges(page)
    shot(page, "conversation-feedback")

    export = tmp_path / "feedback.jsonl"
    env = dict(clean_env(app_server.home), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "kb.cli", "feedback", "export", "--jsonl", str(export)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    items = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    mine = [i for i in items if i["origin"]["comment"] == "浏览器测试：这条应当拒答"]
    assert mine and mine[0]["question"] == SECOND and mine[0]["answerable"] is False
    # kb eval runs on the export (over the corpus the app was seeded from; the live store belongs to the server)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "kb.cli", "eval", "--no-progress", "--corpus", str(app_server.home.parent / "corpus"),
         str(export), "--json", str(report)],
        env=dict(clean_env(tmp_path / "eval-home"), PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "feedback" in report.read_text(encoding="utf-8")


def test_sidebar_opens_renames_and_deletes_after_confirmation(page_as):
    page = page_as(ADMIN)
    page.click("#kb-new-chat")
    ask(page, QUESTION, 0)
    page.click("#kb-new-chat")
    page.wait_for_function("document.querySelectorAll('#kb-chat .kb-state').length === 0")
    ask(page, SECOND, 0)
    # open the first conversation from the list
    page.locator("#kb-conversations label").filter(has_text=QUESTION[:10]).first.click()
    page.wait_for_function("document.querySelectorAll('#kb-chat .kb-state').length === 1")
    assert QUESTION_DOC in page.locator("#kb-sources").inner_text()
    page.click("#kb-manage-chat button")  # open the accordion
    page.fill("#kb-rename-box textarea", "谈话制度的问答")
    page.click("#kb-rename")
    page.locator("#kb-conversations label").filter(has_text="谈话制度的问答").wait_for()
    page.click("#kb-delete-chat")
    page.locator("#kb-delete-chat-yes").wait_for()
    page.click("#kb-delete-chat-no")  # cancelled: nothing happens
    page.locator("#kb-delete-chat-yes").wait_for(state="hidden")
    assert page.locator("#kb-conversations label").filter(has_text="谈话制度的问答").count() == 1
    page.click("#kb-delete-chat")
    page.click("#kb-delete-chat-yes")
    page.locator("#kb-conversations label").filter(has_text="谈话制度的问答").wait_for(state="detached")
    page.wait_for_function("document.querySelectorAll('#kb-chat .kb-state').length === 0")
    no_error_badges(page)


def test_bad_questions_are_said_under_the_box_and_the_text_is_kept(page_as):
    page = page_as(ADMIN)
    page.click("#kb-new-chat")
    long_question = "请说明" + "党内政治监督谈话制度" * 224  # 2,243 characters
    page.fill("#kb-question textarea", long_question)
    page.click("#kb-ask")
    page.locator("#kb-question-message").get_by_text("问题太长").wait_for()
    assert page.input_value("#kb-question textarea") == long_question
    assert "检索中" not in page.locator("#kb-chat").inner_text()
    no_error_badges(page)
    page.fill("#kb-question textarea", "   ")
    page.click("#kb-ask")
    page.locator("#kb-question-message").get_by_text("请输入问题").wait_for()
    no_error_badges(page)
    # a good question afterwards clears the message
    ask(page, QUESTION, 0)
    assert "问题太长" not in page.locator("#kb-question-message").inner_text()
    shot(page, "bad-questions")


def test_deleting_a_document_starts_from_the_table_and_asks_first(page_as):
    page = page_as(ADMIN)
    page.get_by_role("tab", name="知识库").click()
    page.locator("#kb-docs").get_by_text(QUESTION_DOC).first.click()
    page.wait_for_function(
        f"(document.querySelector('#kb-doc-id input') || {{}}).value === {json.dumps(QUESTION_DOC)}"
    )
    page.click("#kb-delete-doc")
    page.get_by_text("确定删除《").wait_for()
    page.click("#kb-delete-doc-no")
    page.locator("#kb-delete-doc-yes").wait_for(state="hidden")
    assert page.locator("#kb-docs").get_by_text(QUESTION_DOC).count() >= 1  # still there
    page.click("#kb-view-chunks")
    page.locator("#kb-doc-chunks").get_by_text("第二条").first.wait_for()
    page.locator("#kb-hit-test button").first.click()
    page.fill("#kb-hit-question textarea", QUESTION)
    page.click("#kb-hit-run")
    page.locator("#kb-hit-result table.kb-hits").wait_for()
    assert QUESTION_DOC in page.locator("#kb-hit-result").inner_text()
    no_error_badges(page)
    shot(page, "admin-hit-test")
