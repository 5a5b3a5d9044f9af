"""Lists and tables: the list a question names, from the documents that list it, never a merge of other
lists or fragments; a 谁…最低 question over a table names the person from every row of it, or is not
answered. A purpose-written corpus through the real ingest (with the shipped framework, which every
knowledge base holds)."""
from __future__ import annotations

import pytest

from tests.kb.answering.conftest import corpus_kb

CORPUS = {
    "甲市考察情况报告.txt": (
        "甲市领导班子考察情况报告\n\n"
        "民主测评主要结果如下：\n"
        "民主测评主要结果，姓名：张青山，职务：市委书记，优秀率：88.5%，称职以上率：99.0%。\n"
        "民主测评主要结果，姓名：王海涛，职务：市委副书记、市长，优秀率：82.7%，称职以上率：98.6%。\n"
        "民主测评主要结果，姓名：欧阳明辉，职务：市委常委、常务副市长，优秀率：61.3%，称职以上率：93.2%。\n"
        "民主测评主要结果，姓名：于洪涛，职务：市委常委、组织部部长，优秀率：79.4%，称职以上率：97.1%。\n\n"
        "考察组对班子成员逐一谈话，谈话对象主要是班子成员、中层正职、离退休老干部和服务对象代表。"
        "谈心谈话普遍做到了范围广、形式活、态度诚、内容深、效果实。\n"
    ),
    "乙县督查方案.txt": (
        "乙县安全生产专项督查方案\n\n"
        "专项督查分组安排表，督查组：第一督查组，督查范围：城关镇、东山乡、县住房和城乡建设局，督查时间：11月20日至11月24日，带队领导：蒋立平。\n"
        "专项督查分组安排表，督查组：第二督查组，督查范围：河口镇、青石乡、县交通运输局，督查时间：11月27日至12月1日，带队领导：韩雪梅。\n"
        "专项督查分组安排表，督查组：第四督查组，督查范围：北岭乡、县市场监督管理局、县教育局，督查时间：12月11日至12月15日，带队领导：朱宏伟。\n"
        "重点任务分解表，序号：1，风险隐患类别：山洪灾害，重点防范应对措施：完善山洪灾害监测预警平台，对全县12个山洪危险区逐一落实转移路线、临时安置点和转移责任人，"
        "牵头责任单位：县水务局、各乡（镇、街道）人民政府，完成时限要求：2025年5月31日前。\n"
        "重点任务分解表，序号：2，风险隐患类别：交通设施，重点防范应对措施：对低洼路段设置警示标志，暴雨红色预警时实行交通管制，"
        "牵头责任单位：县交通运输局、县公安局交通管理大队，完成时限要求：2025年6月15日前。\n"
        "督查结果纳入年度考核，对工作不力、隐患整改不到位的乡镇和部门，由县人民政府进行约谈。\n"
        "第十二条 县级有关部门、各乡镇人民政府及其工作人员违反本方案规定，有下列行为之一的，予以通报批评：\n"
        "（一）对发现的重大隐患不及时交办；\n"
        "（二）瞒报、谎报督查发现的问题；\n"
        "（三）有其他敷衍塞责、推诿扯皮行为。\n"
    ),
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    with corpus_kb(tmp_path_factory, "lists", CORPUS) as services:
        yield services


def test_a_named_set_is_answered_by_its_own_items(kb):
    answer = kb.answers.ask("五个政治包括哪些？")
    assert answer.status == "answered", answer.notes
    for item in ("政治忠诚", "政治定力", "政治担当", "政治能力", "政治自律"):
        assert item in answer.answer
    # another five-item enumeration of the same documents is not the 五个政治
    assert "范围广" not in answer.answer
    assert answer.slot == "list" and answer.filler and "政治忠诚" in answer.filler["text"]


def test_a_list_is_the_list_the_question_names(kb):
    answer = kb.answers.ask("谈话对象主要有哪些？")
    assert answer.status == "answered", answer.notes
    assert "中层正职" in answer.answer and "离退休老干部" in answer.answer
    assert "范围广" not in answer.answer and "优秀率" not in answer.answer


@pytest.mark.parametrize(
    "question, who",
    [("民主测评中谁的优秀率最低？", "欧阳明辉"), ("谁的优秀率最高？", "张青山"), ("称职以上率最低的是谁？", "欧阳明辉")],
)
def test_who_holds_the_extreme_of_a_column_is_named(kb, question, who):
    answer = kb.answers.ask(question)
    assert answer.status == "answered", answer.notes
    assert answer.answer.startswith(who), answer.answer  # the filler first: who, then the row that says it
    assert answer.filler["text"] == who and answer.citations[answer.filler["citation"] - 1].quote.find(who) >= 0


def test_an_extreme_of_a_column_no_table_has_is_not_answered(kb):
    answer = kb.answers.ask("谁的政治担当优秀率最低？")
    assert answer.status != "answered", answer.answer


@pytest.mark.parametrize(
    "question, value, not_value",
    [
        # the cell its column names, in the row whose other cell names what is asked about
        ("第四督查组督查哪些乡镇和部门？", "北岭乡、县市场监督管理局、县教育局", "城关镇"),
        ("交通设施任务的牵头责任单位是哪些？", "县交通运输局、县公安局交通管理大队", "县水务局"),
        # a bracketed group is part of its item: "各乡（镇、街道）人民政府" is not cut at its 、
        ("山洪灾害任务的牵头责任单位是哪些？", "县水务局、各乡（镇、街道）人民政府", "县交通运输局"),
    ],
)
def test_a_table_row_answers_a_list_by_the_cell_its_column_names(kb, question, value, not_value):
    answer = kb.answers.ask(question)
    assert answer.status == "answered", answer.notes
    assert answer.slot == "list" and answer.filler["text"] == value, answer.filler
    assert not_value not in answer.answer.splitlines()[0]


def test_the_items_of_a_series_announced_by_下列_are_the_list(kb):
    answer = kb.answers.ask("第十二条规定了哪些行为？")
    assert answer.status == "answered", answer.notes
    for item in ("不及时交办", "瞒报、谎报", "敷衍塞责"):
        assert item in answer.answer
    # the subjects the article names before 有下列行为 are not the 行为
    assert not answer.answer.startswith("县级有关部门")


def test_a_list_describing_its_noun_is_not_the_list_of_which(kb):
    """"对工作不力、隐患整改不到位的乡镇和部门": what the 乡镇 are like, not which 乡镇 — a question about a
    group the tables do not hold is not answered by it."""
    answer = kb.answers.ask("第九督查组督查哪些乡镇和部门？")
    assert answer.status != "answered" or "工作不力" not in answer.answer.splitlines()[0], answer.answer
    assert "北岭乡" not in answer.answer.splitlines()[0] and "城关镇" not in answer.answer.splitlines()[0]
