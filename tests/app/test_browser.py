"""End to end in headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser):
log in, ask and open a citation, draft / edit / download .docx, inspector without 知识库 tab.
Screenshots of each step go to test-output/browser/ in the repository."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app.conftest import (
    ADMIN,
    CHECKED_PDF,
    INSPECTOR,
    LOW_LINE,
    QUESTION,
    QUESTION_DOC,
    QUOTE_WORDS,
    REPO,
    drafting_available,
    write_checked_pdf,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = REPO / "test-output" / "browser"
TIMEOUT_MS = 60_000
EDITED_QUESTION = "这是浏览器里编辑后的问题：请谈谈您推进老旧小区改造的做法？"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install chromium` (the tests never download a browser)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install -e .[dev]")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_as(browser, app_server):
    contexts = []

    def open_as(who, app=None):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto((app or app_server).url)
        page.locator("input[type=password]").wait_for()
        page.locator("input[type=text]").fill(who[0])
        page.locator("input[type=password]").fill(who[1])
        # the login page follows the browser language: "Login" or "登录"
        page.get_by_role("button", name=re.compile(r"^\s*(Login|登录)\s*$")).click()
        page.locator("#kb-question textarea").wait_for()
        page.get_by_text(f"当前用户：{who[0]}").wait_for()
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def tab_names(page) -> list[str]:
    tabs = page.get_by_role("tab")
    return [tabs.nth(i).inner_text().strip() for i in range(tabs.count()) if tabs.nth(i).is_visible()]


def test_ask_and_open_a_citation(page_as):
    page = page_as(ADMIN)
    shot(page, "01-logged-in-admin")
    assert "知识库" in tab_names(page)
    page.fill("#kb-question textarea", QUESTION)
    page.click("#kb-ask")
    page.locator("#kb-sources details.kb-source").first.wait_for()
    chip = page.locator("#kb-chat .kb-chip").first
    chip.wait_for()
    shot(page, "02-answer-with-chips")
    n = chip.inner_text().strip()  # the chat's HTML sanitizer drops data-* attributes; the number is the text
    owner = next(c for c in chip.get_attribute("class").split() if c.startswith("kb-a-"))[5:]
    source = page.locator(f"#kb-cite-{owner}-{n}")
    assert source.get_attribute("open") is None
    chip.click()
    page.wait_for_function(f"document.getElementById('kb-cite-{owner}-{n}').open")
    quote = source.locator("mark.kb-quote")
    assert quote.is_visible()
    # the citation that carries the answer's fact shows it highlighted inside its chunk
    marks = page.locator("#kb-sources mark.kb-quote")
    texts = [marks.nth(i).inner_text() for i in range(marks.count())]
    assert any(QUOTE_WORDS in t for t in texts), texts
    shot(page, "03-citation-opened")


def test_the_three_answer_states_look_different(page_as):
    """answered / related / refused each carry their own badge and colour, so a related passage is
    never read as an answer."""
    page = page_as(ADMIN)
    asked = {
        "answered": QUESTION,
        "related": "党内政治监督谈话每次谈话时间不少于多少分钟？",  # the documents never state a duration
        "refused": "今年世界杯足球赛的冠军是哪支球队？",
    }
    looks = {}
    for status, question in asked.items():
        page.fill("#kb-question textarea", question)
        page.click("#kb-ask")
        box = page.locator(f"#kb-chat .kb-state-{status}").last
        box.wait_for(timeout=60_000)
        badge = box.locator(f".kb-badge-{status}")
        assert badge.is_visible(), status
        looks[status] = (badge.inner_text().strip(), box.evaluate("e => getComputedStyle(e).borderLeftColor"))
    shot(page, "02b-three-answer-states")
    assert len({label for label, _ in looks.values()}) == 3, looks
    assert len({colour for _, colour in looks.values()}) == 3, looks
    assert looks["related"][0].startswith("未直接回答"), looks


def test_a_chip_of_an_earlier_answer_opens_that_answers_own_source(page_as):
    """Two answers from different documents; chip 1 of the first must open the first answer's [1],
    not the second answer's [1] — a wrong source shown as right is what this product must never do."""
    page = page_as(ADMIN)
    asked = (QUESTION, "政治自律要考察干部哪些方面？")
    for i, question in enumerate(asked):
        page.fill("#kb-question textarea", question)
        page.click("#kb-ask")
        page.locator("#kb-chat .kb-state").nth(i).wait_for(timeout=60_000)
    first_chip = page.locator("#kb-chat .kb-state").nth(0).locator(".kb-chip").first
    owner = next(c for c in first_chip.get_attribute("class").split() if c.startswith("kb-a-"))[5:]
    n = first_chip.inner_text().strip()
    first_chip.click()
    opened = page.locator(f"#kb-cite-{owner}-{n}")
    page.wait_for_function(f"document.getElementById('kb-cite-{owner}-{n}').open")
    assert QUESTION_DOC in opened.locator("summary").inner_text()
    # the latest answer's [1] is another entry, about the other document, and stays closed
    latest_chip = page.locator("#kb-chat .kb-state").nth(1).locator(".kb-chip").first
    latest = next(c for c in latest_chip.get_attribute("class").split() if c.startswith("kb-a-"))[5:]
    assert latest != owner
    assert QUESTION_DOC not in page.locator(f"#kb-cite-{latest}-1").locator("summary").inner_text()
    shot(page, "02d-earlier-chip-opened")


def test_a_follow_up_is_read_in_the_light_of_the_question_before(page_as):
    page = page_as(ADMIN)
    for i, question in enumerate((QUESTION, "谈话前要做什么？")):
        page.fill("#kb-question textarea", question)
        page.click("#kb-ask")
        page.locator("#kb-chat .kb-state").nth(i).wait_for(timeout=60_000)  # this answer is finished
    resolved = page.locator("#kb-chat .kb-resolved").last
    resolved.wait_for(timeout=60_000)
    text = resolved.inner_text()
    assert "党内政治监督谈话" in text and "谈话前要做什么" in text, text
    assert page.locator("#kb-chat .kb-resolved").count() == 1  # the first question needed no reading
    shot(page, "02c-follow-up-resolved")


@pytest.mark.skipif(not drafting_available(), reason="kb.drafting (DraftService) has not landed yet")
def test_draft_edit_and_download_docx(page_as, tmp_path):
    import docx

    page = page_as(INSPECTOR)
    page.get_by_role("tab", name="提纲起草").click()
    page.fill("#kb-target textarea", "某区委书记")
    dimensions = page.get_by_label("考察维度")
    dimensions.click()
    dimensions.fill("政治担当")
    page.keyboard.press("Enter")
    page.click("#kb-draft")
    rows = page.locator("#kb-draft-table .virtual-row[role=row]")
    rows.first.wait_for()
    shot(page, "04-draft")
    question_cell = rows.first.get_by_role("gridcell").nth(1)
    original = question_cell.inner_text().strip()
    assert original and original != EDITED_QUESTION
    question_cell.dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(EDITED_QUESTION)
    page.keyboard.press("Enter")
    page.get_by_text(EDITED_QUESTION).first.wait_for()
    shot(page, "05-draft-edited")

    page.click("#kb-export-docx")
    link = page.locator("#kb-export-file a").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "outline.docx"
    download.value.save_as(saved)
    shot(page, "06-docx-exported")
    text = "\n".join(p.text for p in docx.Document(str(saved)).paragraphs)
    assert EDITED_QUESTION in text
    assert original not in text


def test_inspector_has_no_knowledge_base_tab(page_as):
    page = page_as(INSPECTOR)
    page.get_by_text("（考察员）").wait_for()
    shot(page, "07-inspector-tabs")
    names = tab_names(page)
    assert "问答" in names and "提纲起草" in names
    assert "知识库" not in names
    assert page.locator("#kb-upload").count() == 0 or not page.locator("#kb-upload").is_visible()


def test_upload_shows_the_pages_to_check_against_the_original(page_as, ocr_check_app, tmp_path):
    """An inspector uploading a scan in the browser sees, under the file, what OCR did not read — the
    OCR'd text as plain text (no link made of it) — and 需核对 in the file's row."""
    page = page_as(ADMIN, ocr_check_app)
    page.get_by_role("tab", name="知识库").click()
    page.locator("#kb-upload input[type=file]").set_input_files(str(write_checked_pdf(tmp_path / CHECKED_PDF)))
    page.locator("#kb-upload").get_by_text(CHECKED_PDF).first.wait_for()
    page.click("#kb-ingest")
    summary = page.locator("#kb-ingest-summary")
    summary.get_by_text("未识别区域", exact=False).first.wait_for()
    text = summary.inner_text()
    assert CHECKED_PDF in text and "识别置信度低" in text and LOW_LINE in text and "请对照原件核实" in text
    assert summary.locator("a").count() == 0
    # Gradio's table keeps a hidden copy of each cell: wait on the table's shown text
    page.wait_for_function("document.querySelector('#kb-ingest-results').innerText.includes('需核对：第2页')")
    shot(page, "08-upload-pages-to-check")
