"""Questions over whole tables (kb/answering/table_questions.py), on spreadsheets ingested through the real
pipeline into a real store: a 民主测评 workbook with a merged two-level header and several sheets, and a
整改台账 CSV in GBK. Each answer must name the right row(s), say the computation and cite the rows used."""
from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.ingest.spreadsheet_files import PEOPLE, evaluation_workbook, rectification_csv

pytest.importorskip("openpyxl")


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from kb.container import build_services

    root = tmp_path_factory.mktemp("tables")
    folder = root / "docs"
    folder.mkdir()
    evaluation_workbook(folder / "2024年民主测评结果.xlsx")
    rectification_csv(folder / "巡察整改台账.csv", "gbk")
    (folder / "损坏的表.xlsx").write_bytes(b"PK\x03\x04 truncated workbook")
    (folder / "考察工作办法.txt").write_text(
        "考察工作办法\n第一条 考察组应当进行民主测评和个别谈话。\n第二条 深度访谈的对象包括考察对象本人和班子成员。",
        encoding="utf-8")
    services = build_services(make_settings(root / "kb"))
    summary = services.ingest.ingest_paths([folder])
    try:
        yield services, summary, root
    finally:
        services.close()


def cited_rows(answer):
    return [(c.title, c.section, c.article) for c in answer.citations]


def test_corrupt_workbook_fails_alone_naming_the_file(kb):
    _, summary, _ = kb
    assert summary["added"] == 3
    (failure,) = summary["failed"]
    assert failure["path"].endswith("损坏的表.xlsx") and "corrupt .xlsx" in failure["error"]


def test_records_are_chunks_cited_by_sheet_and_row(kb):
    services, _, _ = kb
    chunks = services.store.document_chunks("2024年民主测评结果")
    first = chunks[0]
    assert (first.title, first.section, first.article) == ("2024年民主测评结果", "测评汇总", "第4行")
    assert "姓名：张伟" in first.text and "优秀率：75.0%" in first.text


def test_question_on_a_row(kb):
    services, _, _ = kb
    answer = services.answers.ask("王强的称职率是多少？")
    assert answer.status == "answered" and answer.mode == "table"
    assert "87.5%" in answer.answer and "王强" in answer.answer
    assert cited_rows(answer) == [("2024年民主测评结果", "测评汇总", "第6行")]
    assert answer.citations[0].verified and answer.filler["text"] == "87.5%"


def test_minimum_over_all_rows(kb):
    services, _, _ = kb
    answer = services.answers.ask("谁的优秀率最低？")
    assert answer.status == "answered"
    assert "周杰" in answer.answer and "30.0%" in answer.answer and "15行" in answer.answer
    assert cited_rows(answer) == [("2024年民主测评结果", "测评汇总", "第12行")]
    assert answer.filler["text"] == "周杰"


def test_maximum_names_every_row_holding_it(kb):
    services, _, _ = kb
    answer = services.answers.ask("不称职票最多的是谁？")
    assert answer.status == "answered"
    assert "高峰" in answer.answer and "（2）" in answer.answer  # 高峰 alone has 2
    assert [c.article for c in answer.citations] == ["第18行"]
    answer = services.answers.ask("优秀率最高的是谁？")
    assert "张伟" in answer.answer and "75.0%" in answer.answer


def test_count_with_a_condition(kb):
    services, _, _ = kb
    answer = services.answers.ask("有多少人称职率低于90%？")
    expected = [name for name, _, good, fit, basic, unfit in PEOPLE if (good + fit) / (good + fit + basic + unfit) < 0.9]
    assert answer.status == "answered"
    assert f"共{len(expected)}人" in answer.answer
    assert all(name in answer.answer for name in expected)
    assert len(answer.citations) == len(expected) and all(c.verified for c in answer.citations)


def test_sum_checks_the_total_row(kb):
    services, _, _ = kb
    answer = services.answers.ask("优秀票合计多少？")
    total = sum(p[2] for p in PEOPLE)
    assert answer.status == "answered"
    assert f"合计为{total}" in answer.answer and "与表中合计行一致" in answer.answer
    assert len(answer.citations) == len(PEOPLE)  # every row added up is cited, the 合计 row is not one of them


def test_average(kb):
    services, _, _ = kb
    answer = services.answers.ask("班子测评中“好”的平均票数是多少？")
    assert answer.status == "answered" and "平均值为53.33" in answer.answer


def test_gbk_csv_count_and_lookup(kb):
    services, _, _ = kb
    answer = services.answers.ask("哪些整改单位已完成整改？")
    assert answer.status == "answered"
    assert "市交通运输局" in answer.answer and "市财政局" in answer.answer and "市自然资源局" not in answer.answer
    assert {c.title for c in answer.citations} == {"巡察整改台账"}
    answer = services.answers.ask("完成率最低的是哪个单位？")
    assert answer.status == "answered" and "市农业农村局" in answer.answer
    answer = services.answers.ask("市自然资源局的整改时限是什么时候？")
    assert answer.status == "answered" and "2025-03-31" in answer.answer


def test_a_table_the_reader_may_not_see_is_not_used(kb):
    from kb.models import Filters

    services, _, _ = kb
    answer = services.answers.ask("谁的优秀率最低？", filters=Filters(exclude_collections=["default"]))
    assert answer.mode != "table" and "周杰" not in answer.answer
    answer = services.answers.ask("谁的优秀率最低？", filters=Filters(doc_ids=["2024年民主测评结果"]))
    assert answer.mode == "table" and "周杰" in answer.answer


def test_a_column_no_table_has_is_not_answered(kb):
    services, _, _ = kb
    answer = services.answers.ask("谁的年龄最大？")
    assert answer.status != "answered" and answer.mode != "table"


def test_ambiguous_aggregate_is_not_computed(kb):
    services, _, _ = kb
    answer = services.answers.ask("优秀率最高和最低的分别是谁？")
    assert answer.mode != "table"


def test_other_questions_take_the_normal_path(kb):
    services, _, _ = kb
    assert services.answers.ask("深度访谈的对象包括哪些？").mode != "table"
    # asks why, not who: the row with the least is no answer to it
    assert services.answers.ask("优秀率最低的原因是什么？").mode != "table"


def test_tables_survive_restart_and_go_with_the_document(kb):
    from kb.container import build_services

    services, _, root = kb
    again = build_services(make_settings(root / "kb"))
    try:
        assert "周杰" in again.answers.ask("谁的优秀率最低？").answer
        assert again.ingest.remove("巡察整改台账")
        assert again.answers.ask("完成率最低的是哪个单位？").mode != "table"
        assert not any("巡察整改台账" in p.read_text(encoding="utf-8") for p in (root / "kb" / "tables").iterdir())
    finally:
        again.close()


def test_a_docx_table_is_computed_over_all_its_rows(tmp_path):
    import docx

    from kb.container import build_services

    document = docx.Document()
    document.add_heading("甲市领导班子考察情况报告", level=1)
    document.add_paragraph("民主测评主要结果如下：")
    rows = [("姓名", "职务", "优秀率", "称职以上率"), ("张青山", "市委书记", "88.5%", "99.0%"),
            ("王海涛", "市委副书记、市长", "82.7%", "98.6%"), ("欧阳明辉", "市委常委、常务副市长", "61.3%", "93.2%"),
            ("于洪涛", "市委常委、组织部部长", "79.4%", "97.1%")]
    table = document.add_table(rows=len(rows), cols=4)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("考察组对班子成员逐一谈话，谈话对象主要是班子成员和中层正职。")
    folder = tmp_path / "docs"
    folder.mkdir()
    document.save(folder / "甲市考察情况报告.docx")
    services = build_services(make_settings(tmp_path / "kb"))
    try:
        assert services.ingest.ingest_paths([folder])["added"] == 1
        answer = services.answers.ask("谁的优秀率最低？")
        assert answer.status == "answered" and answer.mode == "table"
        assert answer.answer.startswith("欧阳明辉[1]") and "4行" in answer.answer
        (citation,) = answer.citations
        assert citation.verified and citation.quote.startswith("民主测评主要结果，姓名：欧阳明辉")
        answer = services.answers.ask("称职以上率低于98%的有几人？")
        assert answer.status == "answered" and "共2人" in answer.answer
        assert "欧阳明辉" in answer.answer and "于洪涛" in answer.answer
    finally:
        services.close()


def test_each_part_of_a_two_part_question_is_computed(kb):
    services, _, _ = kb
    answer = services.answers.ask("优秀率最低的是谁？全部人员的优秀票合计是多少？")
    assert answer.status == "answered"
    assert "周杰" in answer.answer and f"合计为{sum(p[2] for p in PEOPLE)}" in answer.answer


def test_a_percentage_compares_with_a_column_of_fractions(tmp_path):
    from kb.container import build_services

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "测评比率.csv").write_text("姓名,称职率\n张三,0.95\n李四,0.85\n王五,0.875\n", encoding="utf-8")
    services = build_services(make_settings(tmp_path / "kb"))
    try:
        assert services.ingest.ingest_paths([folder])["added"] == 1
        answer = services.answers.ask("称职率低于90%的有几人？")
        assert answer.status == "answered" and "共2人" in answer.answer and "张三" not in answer.answer
    finally:
        services.close()


def test_column_mentions(tmp_path):
    from types import SimpleNamespace

    from kb.answering.table_questions import Table, TableAnswerer

    answerer = TableAnswerer(SimpleNamespace(settings=SimpleNamespace(home=tmp_path)))
    team = Table("d", "民主测评结果", "v", "班子测评", "领导班子总体评价", ["评价项目", "好", "较好", "一般", "差"],
                 [["评价项目"], ["好"], ["较好"], ["一般"], ["差"]], 0, [])

    def named(question, table=team):
        return [table.names[m.column] for m in answerer.columns_in(question, table)]

    assert named("团结协作的好票是多少") == ["好"] and named("哪一项的差票最多？") == ["差"]
    assert named("班子测评中“好”的平均票数是多少？") == ["好"]
    assert named("怎样才算好干部？") == []  # a 好 in any question is not the 好 column
    votes = Table("d", "测评", "v", "测评汇总", "", ["姓名", "优秀", "称职", "不称职", "优秀率"],
                  [["姓名"], ["测评票数", "优秀"], ["测评票数", "称职"], ["测评票数", "不称职"], ["比率", "优秀率"]], 0, [])
    assert named("不称职票最多的是谁", votes) == ["不称职"]  # 称职 inside 不称职 is no mention
    assert named("谁的优秀率最低", votes) == ["优秀率"] and named("优秀票合计多少", votes) == ["优秀"]
