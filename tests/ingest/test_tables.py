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


# --- PDF layout text: cells that wrap in every column, tables that go on over a page break ---------

WRAPPED = [
    "            各单位考察时间安排表",
    "     单位         考察时间          联系人",
    "县（市、区）党委和    2025年7月7日至 7     赵立军",
    "     政府          月25日",
    "  市直党政机关     2025年8月4日至 8     孙丽华",
    "                 月22日",
    "市属高校和公立医院    2025年9月22日至      吴敏",
    "                10月17日",
]


def test_a_cell_wrapped_in_the_first_column_stays_in_its_row():
    from ingest.tables import pdf_tables

    rows = [line for line in pdf_tables(WRAPPED) if isinstance(line, TableLine)]
    assert rows == [
        "各单位考察时间安排表，单位：县（市、区）党委和政府，考察时间：2025年7月7日至7月25日，联系人：赵立军。",
        "各单位考察时间安排表，单位：市直党政机关，考察时间：2025年8月4日至8月22日，联系人：孙丽华。",
        "各单位考察时间安排表，单位：市属高校和公立医院，考察时间：2025年9月22日至10月17日，联系人：吴敏。",
    ]


def test_a_short_row_of_its_own_is_not_joined_to_the_row_above():
    from ingest.tables import pdf_tables

    lines = [
        "   姓名      职务              备注",
        "   张明      办公室主任        借调",
        "   李华      副主任",
        "   王强      科员              新任",
    ]
    rows = [line for line in pdf_tables(lines) if isinstance(line, TableLine)]
    assert rows == ["姓名：张明，职务：办公室主任，备注：借调。", "姓名：李华，职务：副主任。", "姓名：王强，职务：科员，备注：新任。"]


def test_a_table_going_on_over_a_page_break_keeps_its_caption_and_columns():
    from ingest.tables import TableContext, pdf_tables

    page3 = [
        "分组安排如下：",
        "            专项督查分组安排表",
        "  督查组      督查范围     督查时间     带队领导",
        " 第一督查组    城关镇、东山  11月20日至11  蒋立平",
        "         乡、县住房和城    月24日",
        "           乡建设局",
        "",
    ]
    page4_repeated = [
        "  督查组      督查范围     督查时间     带队领导",
        " 第二督查组    河口镇、青石  11月27日至12   韩雪梅",
        "         乡、县交通运输     月1日",
        "             局",
        "  督查采取“四不两直”方式，即不发通知、不打招呼、不",
    ]
    context = TableContext()
    first = [line for line in pdf_tables(page3, context) if isinstance(line, TableLine)]
    second = pdf_tables(page4_repeated, context)
    assert first == ["专项督查分组安排表，督查组：第一督查组，督查范围：城关镇、东山乡、县住房和城乡建设局，督查时间：11月20日至11月24日，带队领导：蒋立平。"]
    assert second[0] == "专项督查分组安排表，督查组：第二督查组，督查范围：河口镇、青石乡、县交通运输局，督查时间：11月27日至12月1日，带队领导：韩雪梅。"
    assert second[1].startswith("  督查采取") and not isinstance(second[1], TableLine)
    # no header repeated on the next page: the rows take the previous page's columns
    context = TableContext()
    pdf_tables(page3, context)
    third = pdf_tables(page4_repeated[1:], context)
    assert third[0] == second[0]
