"""ingest.tables: rows as sentences repeating the headers; PDF layout text read column by column."""
from __future__ import annotations

import pytest

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


# --- a numbered task table (序号 column) as LibreOffice's PDF and an OFD converter print it ----------
# Header cells wrap ("序/号", "2024年基/数"), every row's cells wrap over two or three printed lines, the
# layout text prints two cells as one where their gap is narrow ("占比 21.4%占比达到", "9 建立…"), and
# the table goes on over a page break with its header repeated.

TASKS_PAGE4 = [
    "调整一次。各项重点任务分解如下：",
    "",
    "          激励干部担当作为重点任务分解表",
    "序       重点任务          责任单位     2024年基  2025年目标",
    "号                                 数",
    "1  开展“担当作为好干部”评     县委组织部、县人   表彰 48人  表彰不少于",
    "   选表彰活动，对获评干部优     力资源和社会保障            60人",
    "   先推荐提拔使用              局",
    "2  选拔 35岁左右优秀年轻干     县委组织部     占比 21.4%占比达到",
    "   部进入乡镇领导班子                           30%以上",
    "3  选派年轻干部到重点项目、     县委组织部、县发     86人   不少于 120",
    "   信访维稳、乡村振兴一线蹲      展和改革局               人",
    "   苗历练",
    "4  落实容错纠错机制，对受到      县纪委监委     澄清正名 9 办结率 100%",
    "   不实举报的干部及时澄清正                  人次",
    "   名",
    "8  开展干部谈心谈话和心理健     县委组织部、县卫    覆盖率    覆盖率达到",
    "   康关爱服务              生健康局      64.8%  90%以上",
]
TASKS_PAGE5 = [
    "序     重点任务       责任单位   2024年基2025年目标",
    "号                          数",
    "9 建立干部担当作为正向激励   县委宣传部   收录案例 收录案例不",
    "  典型案例库，定期发布典型           23个   少于40个",
    "  案例",
    "  各责任单位应当于每年    12月20日前将重点任务完成情况",
    "书面报送县委组织部干部监督股。",
    "  三、组织保障",
]
TASK_ROWS = [
    "激励干部担当作为重点任务分解表，序号：1，重点任务：开展“担当作为好干部”评选表彰活动，对获评干部优先推荐提拔使用，"
    "责任单位：县委组织部、县人力资源和社会保障局，2024年基数：表彰48人，2025年目标：表彰不少于60人。",
    "激励干部担当作为重点任务分解表，序号：2，重点任务：选拔35岁左右优秀年轻干部进入乡镇领导班子，责任单位：县委组织部，"
    "2024年基数：占比21.4%，2025年目标：占比达到30%以上。",
    "激励干部担当作为重点任务分解表，序号：3，重点任务：选派年轻干部到重点项目、信访维稳、乡村振兴一线蹲苗历练，"
    "责任单位：县委组织部、县发展和改革局，2024年基数：86人，2025年目标：不少于120人。",
    "激励干部担当作为重点任务分解表，序号：4，重点任务：落实容错纠错机制，对受到不实举报的干部及时澄清正名，责任单位：县纪委监委，"
    "2024年基数：澄清正名9人次，2025年目标：办结率100%。",
    "激励干部担当作为重点任务分解表，序号：8，重点任务：开展干部谈心谈话和心理健康关爱服务，责任单位：县委组织部、县卫生健康局，"
    "2024年基数：覆盖率64.8%，2025年目标：覆盖率达到90%以上。",
]
TASK_ROW_9 = (
    "激励干部担当作为重点任务分解表，序号：9，重点任务：建立干部担当作为正向激励典型案例库，定期发布典型案例，责任单位：县委宣传部，"
    "2024年基数：收录案例23个，2025年目标：收录案例不少于40个。"
)


def test_a_numbered_table_is_read_row_by_row_with_its_wrapped_header():
    from ingest.tables import TableContext

    out = pdf_tables(TASKS_PAGE4, TableContext())
    assert [line for line in out if isinstance(line, TableLine)] == TASK_ROWS
    assert out[:3] == TASKS_PAGE4[:3]  # the lead-in and the caption stay text


def test_a_numbered_table_goes_on_after_its_repeated_header_and_stops_at_the_body_text():
    from ingest.tables import TableContext

    context = TableContext()
    pdf_tables(TASKS_PAGE4, context)
    out = pdf_tables(TASKS_PAGE5, context)
    assert out[0] == TASK_ROW_9  # the repeated header and its wrapped line are no rows
    assert out[1:] == TASKS_PAGE5[5:]  # the paragraph after the table is not a wrapped cell of row 9
    assert not any(isinstance(line, TableLine) for line in out[1:])


def test_an_ofd_numbered_table_with_cells_off_their_column_by_a_character():
    from ingest.tables import TableContext

    ofd = [
        "      激励干部担当作为重点任务分解表",
        "序      重点任务       责任单位   2024年基  2025年目标",
        "号                          数",
        " 5  实施基层干部学历提升和专  县委党校、县教育  培训覆盖率  培训覆盖率",
        "   业化能力培训计划         局      72.5%   达到95%",
        " 6  落实乡镇工作补贴和艰苦边  县财政局、县人力  人均每月  人均每月不",
        "   远地区津贴政策      资源和社会保障局  380元  低于450元",
    ]
    rows = [line for line in pdf_tables(ofd, TableContext()) if isinstance(line, TableLine)]
    assert rows == [
        "激励干部担当作为重点任务分解表，序号：5，重点任务：实施基层干部学历提升和专业化能力培训计划，责任单位：县委党校、县教育局，"
        "2024年基数：培训覆盖率72.5%，2025年目标：培训覆盖率达到95%。",
        "激励干部担当作为重点任务分解表，序号：6，重点任务：落实乡镇工作补贴和艰苦边远地区津贴政策，"
        "责任单位：县财政局、县人力资源和社会保障局，2024年基数：人均每月380元，2025年目标：人均每月不低于450元。",
    ]


def test_a_year_in_a_header_cell_is_a_header_and_a_number_is_a_value():
    from ingest.tables import looks_like_header

    assert looks_like_header(["序", "重点任务", "2024年基数", "2025年目标"])
    assert not looks_like_header(["姓名", "1234"])
    assert not looks_like_header(["王海涛", "61.3%"])


def test_a_row_the_page_break_cut_is_completed_where_it_starts():
    from ingest.tables import TableContext

    page4 = TASKS_PAGE4[:-1]  # row 8's second printed line went to the next page (in its spacing)
    page5 = TASKS_PAGE5[:2] + ["  康关爱服务" + " " * 10 + "生健康局    64.8%  90%以上"] + TASKS_PAGE5[2:]
    context = TableContext()
    first = pdf_tables(page4, context)
    second = pdf_tables(page5, context)
    assert first[-1] == TASK_ROWS[-1]  # rewritten in place once page 5 was read
    assert second[0] == TASK_ROW_9 and not any(isinstance(line, TableLine) for line in second[1:])


def test_a_first_row_with_an_empty_cell_is_no_wrapped_header():
    lines = [
        "   姓名      职务              备注",
        "   李华      副主任",
        "   张明      办公室主任        借调",
        "   王强      科员              新任",
    ]
    rows = [line for line in pdf_tables(lines) if isinstance(line, TableLine)]
    assert rows == ["姓名：李华，职务：副主任。", "姓名：张明，职务：办公室主任，备注：借调。", "姓名：王强，职务：科员，备注：新任。"]


# --- cells centred vertically: a row's number prints in the middle of its row ------------------------
# (a reportlab PDF: blank lines between rows; an OFD whose centred cells print on baselines of their
# own, the number alone on its line)

CENTRED_PDF = [
    "序号  任务名称        主要内容         责任单位    完成时限",
    "",
    "           对运行年限满20年的市政燃气   区住房城乡建",
    " 一  市政管道   管道开展更新改造，全年完成    设局、某某燃   2025年11",
    "     改造    改造86.4公里，同步更换老化调  气集团有限公    月30日前",
    "           压设施27座              司",
    "",
    "    庭院管道   完成143个老旧小区庭院管道更  区住房城乡建   2025年12",
    " 二   改造    新改造52.7公里，与老旧小区综  设局、各街道    月15日前",
    "           合整治同步设计、同步施工       办事处",
    "",
    "  各责任单位应当于每季度末月25日前将任务进展情况报送",
]
CENTRED_OFD = [
    " 序号  任务名称         主要内容          责任单位    完成时限",
    "            对运行年限满20年的市政燃气     区住房城乡建",
    "     市政管道   管道开展更新改造，全年完成      设局、某某燃    2025年11",
    " 一",
    "      改造    改造86.4公里，同步更换老化调   气集团有限公   月30日前",
    "            压设施27座                司",
    "            完成143个老旧小区庭院管道更    区住房城乡建",
    "     庭院管道                                2025年12",
    " 二          新改造52.7公里，与老旧小区综   设局、各街道",
    "      改造                                月15日前",
    "            合整治同步设计、同步施工         办事处",
    "  各责任单位应当于每季度末月25日前将任务进展情况报送",
]
CENTRED_ROWS = [
    "序号：一，任务名称：市政管道改造，主要内容：对运行年限满20年的市政燃气管道开展更新改造，全年完成改造86.4公里，同步更换老化调压设施27座，"
    "责任单位：区住房城乡建设局、某某燃气集团有限公司，完成时限：2025年11月30日前。",
    "序号：二，任务名称：庭院管道改造，主要内容：完成143个老旧小区庭院管道更新改造52.7公里，与老旧小区综合整治同步设计、同步施工，"
    "责任单位：区住房城乡建设局、各街道办事处，完成时限：2025年12月15日前。",
]


@pytest.mark.parametrize("lines", [CENTRED_PDF, CENTRED_OFD], ids=["pdf", "ofd"])
def test_a_numbered_table_whose_cells_are_centred_vertically(lines):
    from ingest.tables import TableContext

    out = pdf_tables(lines, TableContext())
    assert [line for line in out if isinstance(line, TableLine)] == CENTRED_ROWS
    assert out[-1] == lines[-1] and not isinstance(out[-1], TableLine)  # the text after the table


def test_a_row_number_the_recogniser_lost_is_told_by_the_numbers_around_it():
    from ingest.tables import TableContext

    scan = [line for line in CENTRED_OFD if line.strip() != "一"]  # OCR skipped the lone "一"
    out = pdf_tables(scan, TableContext())
    assert [line for line in out if isinstance(line, TableLine)] == CENTRED_ROWS
