"""A table laid out with TAB stops in a .docx (no Word table): paragraphs "单位\t联络人\t联系电话", then a
row per unit. Read as prose the three columns ran into one line each, and "燃气集团安全服务部的联系电话"
was answered with another unit's number (held-out variant e, hoe-08/09)."""
from __future__ import annotations

import pytest

from ingest.loaders import load_file
from kb.settings import IngestSettings
from tests.conftest import make_settings, normalise

ROWS = [
    "单位\t联络人\t联系电话",
    "区住房城乡建设局燃气管理科\t冷雪梅\t0000-5523601",
    "区城市管理局市政设施科\t温庆华\t0000-5528714",
    "区市场监管局特种设备科\t骆晓川\t0000-5531290",
    "某某燃气集团有限公司安全服务部\t戴文斌\t0000-5536782",
]


def _notice(path, rows=ROWS, before="工作专班联络人名单如下：") -> None:
    import docx

    d = docx.Document()
    d.add_heading("关于印发燃气管道更新改造工作方案的通知", level=0)
    d.add_paragraph("各街道、镇要提前张贴改造公告，入户施工前不少于3日告知居民，及时回应群众诉求。")
    d.add_paragraph(before)
    for row in rows:
        d.add_paragraph(row)
    d.add_paragraph("请各街道办事处于2025年3月20日前将改造计划报区住房城乡建设局燃气管理科。联系人：滕飞，联系电话：0000-5523602。")
    d.save(str(path))


def _text(path) -> str:
    return load_file(path, IngestSettings()).segments[0].text


def test_tab_separated_paragraphs_under_a_header_are_read_as_table_rows(tmp_path):
    path = tmp_path / "通知.docx"
    _notice(path)
    text = _text(path)
    assert "工作专班联络人名单，单位：区市场监管局特种设备科，联络人：骆晓川，联系电话：0000-5531290。" in text, text
    assert "\t" not in text
    # the prose around it is untouched
    assert "联系人：滕飞，联系电话：0000-5523602。" in text


def test_two_tabbed_lines_or_rows_of_uneven_width_stay_prose(tmp_path):
    few = tmp_path / "two.docx"
    _notice(few, rows=["联系人：滕飞\t联系电话：0000-5523602", "传真：0000-5523603\t邮箱：gas@example.cn"], before="联系方式")
    assert "联系人：滕飞\t联系电话：0000-5523602" in _text(few)
    uneven = tmp_path / "uneven.docx"
    _notice(uneven, rows=[ROWS[0], ROWS[1], "区城市管理局市政设施科\t温庆华", ROWS[3]])
    assert "单位：" not in _text(uneven)


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from kb.container import build_services

    root = tmp_path_factory.mktemp("tab_table")
    corpus = root / "corpus"
    corpus.mkdir()
    _notice(corpus / "工作方案.docx")
    services = build_services(make_settings(root / "kb"))
    summary = services.ingest.ingest_paths([corpus])
    assert summary["added"] == 1 and not summary["failed"], summary
    try:
        yield services
    finally:
        services.close()


def test_a_tab_table_row_answers_who_the_contact_of_a_unit_is(kb):
    answer = kb.answers.ask("区市场监管局特种设备科的联络人是谁？")
    assert answer.status == "answered", answer.notes
    assert "骆晓川" in normalise(answer.answer), answer.answer


def test_a_tab_table_row_answers_the_phone_number_of_its_own_unit(kb):
    answer = kb.answers.ask("某某燃气集团有限公司安全服务部的联系电话是多少？")
    assert answer.status == "answered", answer.notes
    text = normalise(answer.answer)
    assert "0000-5536782" in text and "0000-5523602" not in text, answer.answer
