"""ingest.tables: rows as sentences repeating the headers; PDF layout text read column by column."""
from __future__ import annotations

from ingest.tables import TableLine, caption_of, pdf_tables, row_sentences


def test_rows_repeat_the_headers_and_the_caption():
    rows = [["姓名", "职务", "优秀率"], ["王海涛", "市委副书记、市长", "82.7%"], ["欧阳明辉", "市委常委、常务副市长", "61.3%"]]
    lines = row_sentences(rows, caption_of("民主测评主要结果如下："))
    assert lines == [
        "民主测评主要结果，姓名：王海涛，职务：市委副书记、市长，优秀率：82.7%。",
        "民主测评主要结果，姓名：欧阳明辉，职务：市委常委、常务副市长，优秀率：61.3%。",
    ]
    assert not any(line.startswith("姓名 | 职务") for line in lines)  # the header row is no line of its own


def test_a_table_without_a_header_row_keeps_its_cells():
    assert row_sentences([["一、总体要求", "坚持党管干部原则，突出政治标准，把对党忠诚的要求贯穿全过程。"]]) == [
        "一、总体要求 | 坚持党管干部原则，突出政治标准，把对党忠诚的要求贯穿全过程。"
    ]
    assert caption_of("为深入贯彻落实新时代党的组织路线，全面落实有关要求，现就考察工作通知如下。") == ""


def test_wrapped_pdf_cells_are_read_row_by_row():
    lines = [
        "  2024 年度考察按照以下安排分批次开展：",
        "   考察对象         考察内容           时间",
        "市（州）党政领导班子   政治建设情况、“两个维  2024年4月1日至4月",
        "               护”落实情况         30日",
        "省属高等院校领导班子   意识形态工作责任制落实  2024年9月2日至9月",
        "                  情况          27日",
        "  各地各单位可结合实际对时间作适当调整。",
    ]
    out = pdf_tables(lines)
    rows = [line for line in out if isinstance(line, TableLine)]
    assert rows == [
        "2024年度考察按照以下安排分批次开展，考察对象：市（州）党政领导班子，考察内容：政治建设情况、“两个维护”落实情况，时间：2024年4月1日至4月30日。",
        "2024年度考察按照以下安排分批次开展，考察对象：省属高等院校领导班子，考察内容：意识形态工作责任制落实情况，时间：2024年9月2日至9月27日。",
    ]
    assert out[0] == lines[0] and out[-1] == lines[-1]


def test_justified_text_is_no_table():
    lines = ["  对考察中发现的问题线索，应当在     5个工作日内报送干部监", "督处，由干部监督处分类处置。", "  考察结果作为重要依据。"]
    assert pdf_tables(lines) == lines
