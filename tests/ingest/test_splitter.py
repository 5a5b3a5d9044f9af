"""ingest.splitter: sections and articles, sentence-end cuts, exact offsets, pages."""
from __future__ import annotations

import re

import pytest

from ingest.splitter import ARTICLE_RE, SENTENCE_END, detect_title, split_document

POLICY = """关于加强领导班子建设的意见

一、总体要求
坚持以党的政治建设为统领，全面提高领导班子整体功能。

三、着力选好干部配强班子
选好干部是关键，配强班子是目的。

（一）建立健全政治标准评价体系。完善政治素质考察办法，把政治标准放在首位。

（二）开展政治素质考察。在换届、专项考察中全面了解干部政治表现。

四、加强组织领导
各级党委要把领导班子建设摆上重要议程。
"""

LAW = """# 某某条例

## 第一章 总则

第一条 为了规范工作，制定本条例。

第二条 本条例适用于本市行政区域。
（一）第一项内容；
（二）第二项内容。

第三条 市人民政府负责组织实施。

## 第二章 管理

第四条 有关部门应当按照职责做好管理工作。

第十二条 违反本条例规定的，依法处理。
"""


def texts(text: str, spans) -> list[str]:
    return [text[s.start : s.end] for s in spans]


def long_text(sentences: int, prefix: str = "第{i}句讲的是领导班子要加强政治建设并且落实主体责任") -> str:
    return "".join(prefix.format(i=i) + ("。" if i % 3 else "；") for i in range(sentences))


def test_headings_become_section_paths():
    spans = split_document(POLICY, title="关于加强领导班子建设的意见")
    by_text = {POLICY[s.start : s.end]: s.section for s in spans}
    sections = [s.section for s in spans]
    assert "一、总体要求" in sections
    assert "三、着力选好干部配强班子" in sections
    assert "三、着力选好干部配强班子 > （一）建立健全政治标准评价体系" in sections
    assert "三、着力选好干部配强班子 > （二）开展政治素质考察" in sections
    # a sibling closes the previous branch: 四 is not under 三
    assert "四、加强组织领导" in sections
    for text, section in by_text.items():
        if "开展政治素质考察。在换届" in text:
            assert section.endswith("（二）开展政治素质考察")


def test_the_heading_right_after_the_title_opens_a_section():
    spans = split_document(POLICY, title="关于加强领导班子建设的意见")
    first = spans[0]
    assert first.section == "一、总体要求"
    assert "坚持以党的政治建设为统领" in POLICY[first.start : first.end]


def test_numbered_line_continuing_a_sentence_is_not_a_heading():
    text = "各级党组织要认真落实，\n2、扎实推进整改工作，确保取得实效。\n"
    spans = split_document(text)
    assert all("2、" not in s.section for s in spans)


def test_markdown_headings_and_chapters():
    spans = split_document(LAW, title="某某条例")
    assert [s.section for s in spans][:3] == ["第一章 总则"] * 3
    assert spans[-1].section == "第二章 管理"


def test_articles_get_their_labels():
    spans = split_document(LAW, title="某某条例")
    assert [s.article for s in spans] == ["第一条", "第二条", "第三条", "第四条", "第十二条"]
    item = next(s for s in spans if s.article == "第二条")
    # （一）（二） inside an article are its items, not new sections
    assert "（二）第二项内容。" in LAW[item.start : item.end]
    assert item.section == "第一章 总则"


def test_digit_article_numbers():
    text = "第1条 总则内容。\n第2条 适用范围。\n"
    assert [s.article for s in split_document(text)] == ["第1条", "第2条"]


def test_never_two_articles_in_one_chunk():
    text = "# 短条例\n\n" + "\n".join(f"第{n}条 本条规定第{n}项事务。" for n in range(1, 31)) + "\n"
    spans = split_document(text, title="短条例", target=400, max_len=500)
    assert len([s for s in spans if s.article]) == 30
    for span in spans:
        chunk = text[span.start : span.end]
        starts = [line for line in chunk.split("\n") if ARTICLE_RE.match(line)]
        assert len(starts) <= 1, chunk
        if starts:
            assert starts[0].startswith(span.article)


def test_long_article_is_split_but_keeps_its_label():
    body = long_text(40)
    text = f"第五条 {body}\n第六条 下一条的内容。\n"
    spans = split_document(text, target=400, max_len=500)
    fifth = [s for s in spans if s.article == "第五条"]
    assert len(fifth) >= 3
    assert all("第六条" not in text[s.start : s.end] for s in fifth)
    assert spans[-1].article == "第六条"


def test_long_sections_split_only_at_sentence_ends():
    text = "一、总体要求\n" + long_text(60) + "\n二、工作措施\n" + long_text(30, "措施{i}要求各级党组织压实责任并且加强督促检查") + "\n"
    spans = split_document(text, target=400, max_len=500)
    assert len(spans) >= 6
    for span in spans:
        chunk = text[span.start : span.end]
        at_line_end = span.end == len(text) or text[span.end] == "\n"
        assert chunk[-1] in SENTENCE_END or at_line_end, chunk[-20:]
        assert len(chunk) <= 500
    # a chunk starts at a sentence start: right after a sentence end or a line start
    for span in spans:
        before = text[span.start - 1] if span.start else "\n"
        assert before in SENTENCE_END + "\n", text[span.start - 5 : span.start + 5]


def test_consecutive_chunks_of_a_section_overlap_so_quotes_stay_whole():
    text = "一、总体要求\n" + long_text(60) + "\n"
    spans = split_document(text, target=400, max_len=500)
    sentences = re.findall(r"[^。；]*[。；]", text.split("\n")[1])
    for sentence in sentences:
        assert any(sentence in text[s.start : s.end] for s in spans), sentence


def test_a_sentence_longer_than_the_cap_is_still_cut():
    sentence = "，".join(f"第{i}个分句说明了领导班子建设的具体要求" for i in range(200)) + "。"
    spans = split_document(sentence, target=400, max_len=500)
    assert len(spans) > 1
    assert max(s.end - s.start for s in spans) <= 1500


@pytest.mark.parametrize("text", [POLICY, LAW, "一、总体要求\n" + long_text(60) + "\n"])
def test_offsets_are_exact_and_trimmed(text):
    spans = split_document(text, title=detect_title(text, "x"))
    assert spans
    previous_start = -1
    for span in spans:
        chunk = text[span.start : span.end]
        assert chunk and chunk == chunk.strip()
        assert span.start > previous_start  # document order
        previous_start = span.start
    covered = "".join(text[s.start : s.end] for s in spans)
    # every non-space character of the document is in some chunk
    assert set(re.sub(r"\s", "", text)) <= set(covered)


def test_chunks_cross_pages_and_name_their_first_page():
    # a sentence continued on the next page stays in one chunk; the chunk names the page it starts on
    # and the pages that begin inside it
    page1 = "一、总体要求\n第一页的内容讲政治建设。\n第一页的第二段讲责任"
    page2 = "落实。第二页的内容讲干部考察。\n二、工作措施\n第二页的措施内容。"
    text = page1 + page2
    pages = [(1, 0, len(page1)), (2, len(page1), len(text))]
    spans = split_document(text, pages=pages)
    first = spans[0]
    assert "第二段讲责任落实。" in text[first.start : first.end]
    assert first.page == 1 and first.page_starts == [[len(page1), 2]]
    second = next(s for s in spans if text[s.start : s.end].startswith("二、工作措施"))
    assert second.page == 2 and second.page_starts == []

def test_without_pages_page_is_none():
    assert all(s.page is None for s in split_document(POLICY))


def test_empty_text_gives_no_chunks():
    assert split_document("") == []
    assert split_document("\n\n  \n") == []


def test_detect_title():
    assert detect_title("# 某某条例\n\n第一条 内容。", "fallback") == "某某条例"
    assert detect_title("\n\n关于加强领导班子建设的意见\n\n一、总体要求", "fallback") == "关于加强领导班子建设的意见"
    assert detect_title("这是一段很长很长的正文" * 10 + "\n第二行", "文件名") == "文件名"
    assert detect_title("", "文件名") == "文件名"


ITEMS = """3.政治担当。重点考察领导干部是否敢于担当、善于作为，具体包括：
（1）是否敢于在重大原则问题上亮剑；
（2）是否主动承担急难险重任务；
（3）是否存在推诿扯皮、不作为慢作为等问题。
4.政治能力。重点考察把握政治方向、驾驭政治局面、防范政治风险的能力。"""


def test_numbered_items_nest_under_their_parent_in_documents():
    spans = split_document(ITEMS, nest_items=True)
    by_text = {ITEMS[s.start : s.end].split("\\n")[0]: s for s in spans}
    items = next(s for s in spans if "（1）" in ITEMS[s.start : s.end])
    assert "（3）" in ITEMS[items.start : items.end] and "4.政治能力" not in ITEMS[items.start : items.end]
    assert items.section == "政治担当"  # the list's parent, not the label of its last item
    assert by_text["4.政治能力。重点考察把握政治方向、驾驭政治局面、防范政治风险的能力。"].section == "政治能力"


def test_plain_text_keeps_its_established_splitting():
    # scraped pages and the laws Markdown: what the answerer was calibrated on stays as it was
    spans = split_document(ITEMS)
    last = next(s for s in spans if "4.政治能力" in ITEMS[s.start : s.end])
    assert "（3）" in ITEMS[last.start : last.end]
