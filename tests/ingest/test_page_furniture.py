"""ingest.page_furniture: running headers/footers and page numbers, never a line that occurs once."""
from __future__ import annotations

import pytest

from ingest.page_furniture import remove_furniture


def _pages(n: int, header: str, footer) -> list[list[str]]:
    # body lines that differ only in a number stay: digits are ignored only in page numbering
    return [[header, f"第{i}部分的正文内容，讲政治建设。", f"第{i}部分的第二段。", footer(i)] for i in range(1, n + 1)]


@pytest.mark.parametrize("footer", [lambda i: f"— {i} —", lambda i: f"-{i}-", lambda i: f"第{i}页 共5页", lambda i: f"-{i}一"])
def test_running_header_and_page_numbers_are_removed_and_counted(footer):
    result = remove_furniture(_pages(5, "内部资料　注意保存", footer))
    assert all(len(page) == 2 for page in result.pages)
    assert len(result.removed) == 10
    assert result.pages[2] == ["第3部分的正文内容，讲政治建设。", "第3部分的第二段。"]


def test_a_line_that_occurs_once_is_never_removed():
    pages = _pages(4, "中华人民共和国黄河保护法", lambda i: f"— {i} —")
    pages[0].insert(1, "中华人民共和国黄河保护法")  # the title below the running header of page 1
    pages[3].insert(0, "附件")  # once, at a page top
    result = remove_furniture(pages)
    assert result.pages[0][0] == "中华人民共和国黄河保护法"
    assert result.pages[3][0] == "附件"


def test_a_single_page_keeps_everything():
    pages = [["内部资料 注意保存", "正文。", "— 1 —"]]
    assert remove_furniture(pages).pages == pages


def test_body_lines_repeated_in_the_middle_of_pages_stay():
    pages = [["页眉文字", "同一句正文。", "另一句。", "再一句。", "1"], ["页眉文字", "别的话。", "同一句正文。", "结尾。", "2"]]
    result = remove_furniture(pages)
    assert result.pages == [["同一句正文。", "另一句。", "再一句。"], ["别的话。", "同一句正文。", "结尾。"]]


def test_a_line_that_is_all_its_page_says_is_body_not_furniture():
    from ingest.page_furniture import remove_furniture

    pages = [[f"第{i}页 考察工作应当坚持党管干部原则第{i}项要求。"] for i in range(1, 4)]
    result = remove_furniture(pages)
    assert result.pages == pages and result.removed == []
    # with a body below it, the same numbered line at every page top is a running header
    with_body = [[f"第{i}页 共3页", f"正文第{i}段，考察工作应当实事求是。"] for i in range(1, 4)]
    assert [p[0] for p in remove_furniture(with_body).pages] == [f"正文第{i}段，考察工作应当实事求是。" for i in range(1, 4)]
