"""ingest.line_joins: printed lines back into paragraphs, across pages, with page offsets."""
from __future__ import annotations

from ingest.line_joins import TableLine, join_pages

FULL = "为深入贯彻落实新时代党的组织路线全面落实有关要求把政治标准"  # 28 characters: a full printed line


def test_a_full_line_runs_on_and_a_short_line_ends_the_paragraph():
    pages = [(1, [FULL, "作为第一标准。", "二、考察内容", FULL, FULL, "考察组应当在进驻后3", "日内制定计划。"])]
    joined = join_pages(pages)
    lines = joined.text.split("\n")
    assert lines[0] == FULL + "作为第一标准。"
    assert lines[1] == "二、考察内容"  # a heading is never glued to the line before it
    assert lines[2] == FULL + FULL + "考察组应当在进驻后3"  # short line: the paragraph ends there
    assert lines[3] == "日内制定计划。"


def test_a_sentence_continues_on_the_next_page_and_offsets_name_the_pages():
    pages = [
        (4, [FULL, FULL, "对考察中发现的问题线索，应当在5个工作日内报送省委组织部干部监"]),
        (5, ["督处，由干部监督处分类处置。", "（三）强化结果运用。"]),
    ]
    joined = join_pages(pages)
    assert "报送省委组织部干部监督处，由干部监督处分类处置。" in joined.text
    start_of_5 = joined.text.index("督处")
    assert joined.page_starts == [(0, 4), (start_of_5, 5)]
    assert joined.page_ranges()[1] == (5, start_of_5, len(joined.text))


def test_indented_line_opens_a_paragraph_and_table_rows_stay_apart():
    pages = [(1, [
        "  " + FULL, FULL, FULL,
        "  本法所称黄河流域，是指黄河干流、支流和湖泊的集水区域所涉及的相关县级",
        TableLine("考察对象：省直单位，时间：2024年5月6日至5月31日。"),
        TableLine("考察对象：省属高校，时间：2024年9月2日至9月27日。"),
    ])]
    lines = join_pages(pages).text.split("\n")
    assert lines[0] == FULL * 3
    assert lines[1].startswith("本法所称")
    assert lines[2:] == ["考察对象：省直单位，时间：2024年5月6日至5月31日。", "考察对象：省属高校，时间：2024年9月2日至9月27日。"]


def test_digit_spacing_of_pdf_text_is_removed_and_latin_words_keep_a_space():
    pages = [(1, [FULL, "2024 年4 月1 日至4 月30 日完成，", "使用 OCR 识别的 scanned", "pages 另行处理。"])]
    text = join_pages(pages).text
    assert "2024年4月1日至4月30日完成，" in text
    assert "使用 OCR 识别的 scanned" in text  # spaces between Latin words stay


def test_too_little_text_joins_nothing():
    assert join_pages([(1, ["第一行", "第二行"])]).text == "第一行\n第二行"
