"""The 提纲起草 tab in headless Chromium: editing a question re-checks its citations — its row
shows 待核实 until re-verified, and the .docx exported meanwhile carries the mark."""
from __future__ import annotations

import pytest

from tests.app.conftest import INSPECTOR, drafting_available
from tests.app.test_browser import browser, page_as, shot  # noqa: F401  (fixtures reused)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not drafting_available(), reason="kb.drafting has not landed"),
]

# nothing the 政治担当 evidence says backs this; the corpus's 政治自律 lines do
UNBACKED = "请谈谈该同志带头落实中央八项规定精神、管好家属子女和身边工作人员的情况？"
PENDING = "待核实"


def _draft(page):
    page.get_by_role("tab", name="提纲起草").click()
    page.fill("#kb-target textarea", "某区委书记")
    dimensions = page.get_by_label("考察维度")
    dimensions.click()
    dimensions.fill("政治担当")
    page.keyboard.press("Enter")
    page.click("#kb-draft")
    rows = page.locator("#kb-draft-table .virtual-row[role=row]")
    rows.first.wait_for()
    return rows


def _cells(rows, i):
    return rows.nth(i).get_by_role("gridcell")


def test_an_edited_question_is_marked_until_re_verified_and_the_docx_carries_the_mark(page_as, tmp_path):
    import docx

    page = page_as(INSPECTOR)
    rows = _draft(page)
    sources = _cells(rows, 0).nth(4)
    assert sources.inner_text().strip() and PENDING not in sources.inner_text()
    shot(page, "10-draft-before-edit")

    question = _cells(rows, 0).nth(1)
    question.dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(UNBACKED)
    page.keyboard.press("Enter")
    page.get_by_text(UNBACKED).first.wait_for()
    # the edit is re-checked: the row's 来源 cell says 待核实
    page.wait_for_function(
        """([sel, mark]) => {
            const row = document.querySelectorAll(sel)[0];
            return row && row.innerText.includes(mark);
        }""",
        arg=["#kb-draft-table .virtual-row[role=row]", PENDING],
        timeout=30_000,
    )
    assert PENDING in _cells(rows, 0).nth(4).inner_text()
    shot(page, "11-draft-edited-pending")

    page.click("#kb-export-docx")
    link = page.locator("#kb-export-file a").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "pending.docx"
    download.value.save_as(saved)
    document = docx.Document(str(saved))
    text = "\n".join(p.text for p in document.paragraphs)
    assert UNBACKED in text and "【依据待核实】" in text

    # re-verify the row: evidence for the new text is retrieved and the mark goes
    _cells(rows, 0).nth(0).click()
    page.click("#kb-recheck")
    page.wait_for_function(
        """([sel, mark]) => {
            const row = document.querySelectorAll(sel)[0];
            return row && !row.innerText.includes(mark);
        }""",
        arg=["#kb-draft-table .virtual-row[role=row]", PENDING],
        timeout=30_000,
    )
    assert "八项规定" in page.locator("#kb-draft-sources").inner_text()
    shot(page, "12-draft-re-verified")

    page.click("#kb-export-md")
    link = page.locator("#kb-export-file a").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    md = tmp_path / "fixed.md"
    download.value.save_as(md)
    content = md.read_text(encoding="utf-8")
    assert UNBACKED.rstrip("？") in content and "【依据待核实】" not in content
