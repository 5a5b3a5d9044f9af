"""ingest.parsers.gongwen: 版头 metadata, the real title, 附件说明/落款/版记 kept out of the body —
on text, and on one 公文 made as users have it: .docx, its LibreOffice PDF and a scan of that PDF."""
from __future__ import annotations

import re

import pytest

from ingest.parsers import detect_kind
from ingest.parsers.base import ParsedDocument
from ingest.parsers.gongwen import find_doc_number, iso_date, parse
from tests.conftest import make_settings
from tests.ingest.conftest import CROSSING, GONGWEN

TEXT = """000128
特急
中共某某省委组织部文件
某组发[2024]12号
关于进一步加强领导班子政治建设
考察工作的通知
各市（州）委组织部，省直各单位党组（党委）组织人事部门：
为深入贯彻落实新时代党的组织路线，现就有关工作通知如下。
一、总体要求
对评价为“一般”的，责令限期整改，整改期限一般为6个月。
附件：1．考察对象名单
2．考察评价要点
中共某某省委组织部
2024年3月15日
（此件发至县级党委组织部）
抄送：省纪委监委机关，省委巡视办。
中共某某省委组织部办公室　　2024年3月15日印发"""


@pytest.mark.parametrize(
    ("line", "number"),
    [("某组发〔2024〕12号", "某组发〔2024〕12号"), ("某组发[2024]12号", "某组发〔2024〕12号"),
     ("国办发（2023）5 号", "国办发〔2023〕5号"), ("试组发［2025］7号", "试组发〔2025〕7号"), ("关于2024年工作的通知", None)],
)
def test_doc_number_brackets_are_normalised(line, number):
    assert find_doc_number(line) == number


def test_any_agency_code_makes_a_doc_number():
    # 机关代字 end in any character: 通 / 函 / 字, and a 序号 may carry 第
    assert find_doc_number("某组通〔2025〕7号") == "某组通〔2025〕7号"
    assert find_doc_number("京政办字（2022）第3号") == "京政办字〔2022〕3号"
    assert find_doc_number("（2024）京01民终123号") is None  # a case number is no 发文字号


def test_a_date_in_chinese_numerals_is_kept_as_printed_in_the_record():
    doc = ParsedDocument(text=TEXT.replace("2024年3月15日\n（此件", "二〇二四年三月十五日\n（此件"))
    parse(doc)
    assert doc.meta["issued_on"] == "2024-03-15"
    assert "的成文日期：2024年3月15日（原文作“二〇二四年三月十五日”）。" in doc.text


def test_dates_become_iso():
    assert iso_date("2024年3月15日") == "2024-03-15"
    assert iso_date("二〇二四年三月十五日") == "2024-03-15"
    assert iso_date("2024年13月1日") is None


def test_fields_title_and_closing_parts():
    assert detect_kind("txt", TEXT, "", None) == "gongwen"
    doc = ParsedDocument(text=TEXT)
    parse(doc)
    assert doc.meta == {"issuer": "中共某某省委组织部", "doc_number": "某组发〔2024〕12号", "issued_on": "2024-03-15"}
    assert doc.title == "关于进一步加强领导班子政治建设考察工作的通知"
    assert doc.doc_type == "policy"
    labels = {label for _, label in doc.parts}
    assert {"文件信息", "版头", "附件说明", "落款", "版记"} <= labels
    # the normalised number, and the printed one where it differs (the text says [2024])
    assert "的发文字号：某组发〔2024〕12号（原文作“某组发[2024]12号”）。" in doc.text
    assert "的成文日期：2024年3月15日。" in doc.text


def test_a_law_or_a_web_page_is_no_gongwen():
    assert detect_kind("md", "# 中华人民共和国监察法\n第一条 为了深化国家监察体制改革，制定本法。\n第二条 …\n第三条 …", "", None) == "law"
    assert detect_kind("html", "新闻标题\n正文一段。", "", None) == "web"


@pytest.fixture(scope="module")
def ingested(gongwen_files, tmp_path_factory):
    """Each format in its own knowledge base: (record, chunks, summary) per format."""
    from kb.container import build_services

    out = {}
    for fmt, path in gongwen_files.items():
        services = build_services(make_settings(tmp_path_factory.mktemp(f"kb-{fmt}")))
        try:
            summary = services.ingest.ingest_paths([path])
            record = services.store.get_document(path.stem)
            out[fmt] = (record, services.store.document_chunks(path.stem), summary)
        finally:
            services.close()
    return out


@pytest.mark.parametrize("fmt", ["docx", "pdf", "scan"])
def test_metadata_is_read_from_every_format(ingested, fmt):
    record, _, summary = ingested[fmt]
    assert summary["failed"] == []
    assert record.title == GONGWEN["title"]
    assert (record.doc_number, record.issuer, record.issued_on) == (GONGWEN["doc_number"], GONGWEN["issuer"], GONGWEN["issued_on"])
    assert record.doc_type == "policy"


@pytest.mark.parametrize("fmt", ["pdf", "scan"])
def test_running_header_and_page_numbers_are_gone_and_counted(ingested, fmt):
    _, chunks, summary = ingested[fmt]
    text = "".join(c.text for c in chunks)
    assert text.count("内部资料") == 0
    assert not re.search(r"—\s*\d+\s*—", text)
    assert summary["furniture_lines"] >= 6


@pytest.mark.parametrize("fmt", ["docx", "pdf", "scan"])
def test_sentence_table_items_and_closing_parts(ingested, fmt):
    _, chunks, _ = ingested[fmt]
    squeezed = [(c, re.sub(r"\s+", "", c.text)) for c in chunks]
    # the sentence printed across pages 3 and 4 is whole in one chunk, which starts on page 3 and
    # spans page 4; a quote names the page it starts on
    sentence = next(c for c, t in squeezed if CROSSING in t)
    if fmt != "docx":
        assert sentence.page == 3 and sentence.pages == [3, 4]
        assert sentence.page_of_quote(CROSSING[:20]) == 3
        assert sentence.page_of_quote("按照干部管理权限分别反馈") == 4
    # a table row is a sentence with its headers; the header row is no section label
    assert any("试点单位：乡镇党委" in t and "时间：2025年8月4日至8月22日" in t for _, t in squeezed)
    assert not any("试点单位" in c.section and "考察内容" in c.section for c in chunks)
    # （1）…（3） under their parent 考察重点, not under the next heading
    items = next(c for c, t in squeezed if re.search(r"[（(]3[)）]是否存在推", t))  # OCR may mix （ and (
    assert items.section.endswith("（一）考察重点")
    # 落款 and 版记 are parts of their own, never body of 四、工作要求
    last_body = next(c for c, t in squeezed if "整改期限一般为3个月" in t)
    assert "抄送" not in last_body.text and "印发" not in last_body.text
    assert any(c.section == "版记" and "抄送" in c.text for c in chunks)


def test_scan_pages_carry_ocr_confidence(ingested):
    _, chunks, summary = ingested["scan"]
    assert all(c.ocr_confidence is not None and 0 < c.ocr_confidence <= 1 for c in chunks if c.page)
    assert isinstance(summary["low_confidence"], list)


def test_questions_on_the_pdf_are_answered_with_the_whole_sentence_and_its_page(gongwen_files, tmp_path):
    from kb.container import build_services
    from kb.drafting.export import citation_label

    services = build_services(make_settings(tmp_path / "kb"))
    try:
        services.ingest.ingest_paths([gongwen_files["pdf"]])
        ask = services.answers.ask

        number = ask(f"{GONGWEN['title']}的发文字号是什么？")
        assert GONGWEN["doc_number"] in number.answer
        # "这份" points at the document and is no word the evidence misses; the record answers alone,
        # no body sentence retrieved beside it
        for question, field in (("这份通知的发文字号是什么？", "doc_number"), ("这份通知是哪个机关印发的？", "issuer")):
            got = ask(question)
            assert got.status == "answered" and GONGWEN[field] in got.answer, (question, got.answer)
            assert {c.section for c in got.citations} == {"文件信息"}, (question, got.answer)

        crossing = ask("考察报告和有关材料应当报送哪个处室？")
        assert "县委组织部干部监督室" in crossing.answer
        cited = next(c for c in crossing.citations if "干部监督室" in c.quote)
        # the sentence runs from page 3 onto page 4: whole in the answer, cited on page 3 where it starts
        assert "报送县委组织部干部监督室" in cited.quote and cited.page == 3
        assert cited.doc_number == GONGWEN["doc_number"]
        label = citation_label(cited)
        assert label.startswith(f"《{GONGWEN['title']}》（{GONGWEN['doc_number']}）二、（二）")

        cell = ask("乡镇党委的考察时间是什么？")
        assert "2025年8月4日至8月22日" in cell.answer.replace(" ", "")

        quantity = ask("评价为一般的，整改期限一般为多长？")
        assert "3个月" in quantity.answer
        days = ask("试点单位应当在考察结束后几个工作日内报送考察报告？")
        assert "10个工作日内" in days.answer
    finally:
        services.close()


def test_citation_label_and_note_read_like_an_inspector_writes_them():
    from kb.drafting.export import citation_label, note_text
    from kb.models import Citation

    c = Citation(n=1, chunk_id="x#v#0001", doc_id="x", title="关于进一步加强领导班子政治建设考察工作的通知",
                 section="四、工作要求 > （二）严肃考察纪律", article="", page=5, quote="应当在5个工作日内报送省委组织部干部监督处。",
                 verified=True, doc_number="某组发〔2024〕12号")
    assert citation_label(c) == "《关于进一步加强领导班子政治建设考察工作的通知》（某组发〔2024〕12号）四、（二），第5页"
    assert note_text(c) == citation_label(c) + "：“应当在5个工作日内报送省委组织部干部监督处。”"
    assert citation_label(c.to_dict()) == citation_label(c)  # the web app passes citation dicts
    plain = Citation(n=1, chunk_id="y", doc_id="y", title="谈话办法", section="总则", article="第二条", page=None, quote="谈话应当实事求是。", verified=True)
    assert note_text(plain) == "《谈话办法》，总则 > 第二条：“谈话应当实事求是。”"  # other documents as before
