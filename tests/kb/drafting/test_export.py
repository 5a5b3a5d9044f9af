import re
import shutil
import subprocess

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from lxml import etree

from kb.drafting.export import (
    BODY_FONT,
    HEADING_FONT,
    NO_QUESTIONS_TEXT,
    PENDING_MARK,
    PENDING_QUESTION_MARK,
    UNVERIFIED_MARK,
    ExportError,
    draft_to_docx,
    draft_to_markdown,
)
from kb.models import Citation, Draft, DraftQuestion, DraftSection

DOC_A = "政治建设考察深度访谈提纲与考察实录"
DOC_B = "以党的政治建设为统领提高领导班子整体功能"


def _citation(n, chunk_id, doc, section, article, quote, verified=True):
    return Citation(
        n=n, chunk_id=chunk_id, doc_id=doc, title=doc, section=section, article=article, page=None, quote=quote, verified=verified
    )


@pytest.fixture
def draft() -> Draft:
    accountability = _citation(1, "a#7", DOC_A, "以事察人重标准", "", "问责副职多、正职少,“嘴严手软”")
    duty = _citation(2, "b#12", DOC_B, "六、压实政治责任", "", "明确党委(党组)抓政治建设主体责任、一把手第一责任和班子成员“一岗双责”")
    records = _citation(3, "a#5", DOC_A, "聚焦问题不散光", "", "“三重一大”决策记录过于简单", verified=False)
    return Draft(
        kind="interview",
        title="某县委书记政治建设考察深度访谈提纲",
        target="某县委书记",
        interviewee="班子成员",
        date="2024年6月1日",
        sections=[
            DraftSection(
                "政治担当",
                [
                    DraftQuestion(
                        text="您认为书记在整治不担当不作为时，问责正职和副职的情况如何？",
                        follow_ups=["问责副职多、正职少的原因是什么？", "是否存在“嘴严手软”的情况？"],
                        purpose="核实是否存在问责宽松软的问题",
                        citations=[accountability],
                    ),
                    DraftQuestion(
                        text="书记落实“一岗双责”、抓班子带队伍有哪些具体做法？",
                        follow_ups=["请举一个具体事例。"],
                        purpose="了解第一责任人职责履行情况",
                        citations=[duty, accountability],
                    ),
                ],
            ),
            DraftSection(
                "政治能力",
                [
                    DraftQuestion(
                        text="“三重一大”事项决策时，班子成员能否充分发表不同意见？",
                        follow_ups=["会议记录是否记载了不同意见？"],
                        purpose="检验民主决策质量",
                        citations=[records],
                    )
                ],
            ),
            DraftSection("政治自律", []),
        ],
        warnings=["政治自律：知识库中没有找到足够依据，未生成问题。"],
    )


def _questions(draft: Draft):
    return [q for s in draft.sections for q in s.questions]


def _footnotes_xml(document) -> etree._Element:
    for rel in document.part.rels.values():
        if rel.reltype == RT.FOOTNOTES:
            return etree.fromstring(rel.target_part.blob)
    raise AssertionError("no footnotes part in the document")


def _east_asia(run) -> str | None:
    rpr = run._r.rPr
    fonts = rpr.rFonts if rpr is not None else None
    return fonts.get(qn("w:eastAsia")) if fonts is not None else None


def test_docx_round_trip(draft, tmp_path):
    out = draft_to_docx(draft, tmp_path / "outline.docx")
    assert out == tmp_path / "outline.docx" and out.stat().st_size > 0
    document = Document(str(out))
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    texts = [p.text.rstrip(",") for p in paragraphs]  # "," separates adjacent footnote numbers

    title = paragraphs[0]
    assert title.text == draft.title
    assert title.alignment == 1 or title.style.paragraph_format.alignment == 1  # centered
    assert all(_east_asia(r) == HEADING_FONT for r in title.runs)
    assert "考察对象：某县委书记" in texts[1] and "访谈对象：班子成员" in texts[1] and "日期：2024年6月1日" in texts[1]

    assert "一、政治担当" in texts and "二、政治能力" in texts and "三、政治自律" in texts
    for heading in ("一、政治担当", "二、政治能力"):
        p = paragraphs[texts.index(heading)]
        assert p.style.name == "Heading 1"
        assert all(_east_asia(r) == HEADING_FONT for r in p.runs)

    for section in draft.sections:
        for number, question in enumerate(section.questions, 1):
            assert f"{number}. {question.text}" in texts
            for follow_up in question.follow_ups:
                follow = paragraphs[texts.index(f"追问：{follow_up}")]
                assert follow.style.paragraph_format.left_indent > 0
            purpose = paragraphs[texts.index(f"考察意图：{question.purpose}")]
            run = purpose.runs[0]
            assert run.font.size.pt < 14
            assert str(purpose.style.font.color.rgb) == "595959"
    body = paragraphs[texts.index(f"1. {draft.sections[0].questions[0].text}")]
    assert _east_asia(body.runs[0]) == BODY_FONT
    assert document.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == BODY_FONT

    warned = texts.index("三、政治自律")
    assert "知识库中没有找到足够依据" in texts[warned + 1]

    # Real footnotes: one reference per citation, the notes name document, section and quote.
    refs = document.element.body.findall(".//" + qn("w:footnoteReference"))
    assert len(refs) == sum(len(q.citations) for q in _questions(draft)) == 4
    notes_root = _footnotes_xml(document)
    notes = {
        fn.get(qn("w:id")): "".join(t.text or "" for t in fn.iter(qn("w:t")))
        for fn in notes_root.findall(qn("w:footnote"))
        if fn.get(qn("w:type")) is None
    }
    assert set(notes) == {r.get(qn("w:id")) for r in refs}
    all_notes = "\n".join(notes.values())
    for q in _questions(draft):
        for c in q.citations:
            assert f"《{c.title}》" in all_notes and c.section in all_notes and c.quote in all_notes
    assert UNVERIFIED_MARK in all_notes
    first_ref = refs[0]
    assert first_ref.getparent().find(qn("w:rPr")).find(qn("w:vertAlign")).get(qn("w:val")) == "superscript"
    note_fonts = notes_root.findall(".//" + qn("w:rFonts"))
    assert note_fonts and all(f.get(qn("w:eastAsia")) == BODY_FONT for f in note_fonts)


def test_docx_endnotes_mode(draft, tmp_path):
    out = draft_to_docx(draft, tmp_path / "endnotes.docx", notes="endnotes")
    document = Document(str(out))
    texts = [p.text for p in document.paragraphs if p.text.strip()]
    assert "来源" in texts
    notes = texts[texts.index("来源") + 1 :]
    # the same quote cited twice keeps one number: 3 distinct sources
    assert [n.split("]")[0] for n in notes] == ["[1", "[2", "[3"]
    assert DOC_A in notes[0] and "问责副职多、正职少" in notes[0]
    question = next(p for p in document.paragraphs if p.text.startswith("2. 书记落实"))
    marks = [r for r in question.runs if r.font.superscript]
    assert [r.text for r in marks] == ["[2]", "[1]"]
    assert not document.element.body.findall(".//" + qn("w:footnoteReference"))


def test_markdown_holds_the_same_content(draft):
    md = draft_to_markdown(draft)
    lines = md.splitlines()
    assert lines[0] == f"# {draft.title}"
    assert "考察对象：某县委书记" in md and "访谈对象：班子成员" in md
    assert "## 一、政治担当" in lines and "## 三、政治自律" in lines
    for section in draft.sections:
        for number, question in enumerate(section.questions, 1):
            line = next(ln for ln in lines if ln.startswith(f"{number}. ") and question.text in ln)
            assert re.search(r"(\[\^\d+\])+$", line)
            for follow_up in question.follow_ups:
                assert f"   - 追问：{follow_up}" in lines
            assert f"   - *考察意图：{question.purpose}*" in lines
    footnotes = [ln for ln in lines if ln.startswith("[^")]
    assert [ln.split("]")[0] for ln in footnotes] == ["[^1", "[^2", "[^3"]
    assert "问责副职多、正职少" in footnotes[0] and UNVERIFIED_MARK in footnotes[2]
    warned = lines.index("## 三、政治自律")
    assert lines[warned + 2].startswith("> 提示：") and "没有找到足够依据" in lines[warned + 2]


def test_talk_outline_opening_and_unwarned_empty_section(tmp_path):
    draft = Draft(
        kind="talk",
        title="",
        target="某市委书记",
        interviewee="",
        opening="总体看，你履职尽责比较到位，但也存在一些不足。",
        sections=[DraftSection("亲清政商关系", [])],
    )
    md = draft_to_markdown(draft)
    assert md.startswith("# 谈话提纲\n")
    assert "**开场**：总体看" in md
    assert NO_QUESTIONS_TEXT in md
    assert "访谈对象" not in md
    document = Document(str(draft_to_docx(draft, tmp_path / "talk.docx")))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "谈话提纲"
    assert any(t.startswith("开场：总体看") for t in texts)
    assert any(NO_QUESTIONS_TEXT in t for t in texts)
    # no citations: no footnotes part is created
    assert all(rel.reltype != RT.FOOTNOTES for rel in document.part.rels.values())


def test_general_warnings_and_dirty_text(tmp_path):
    draft = Draft(
        kind="interview",
        title="提纲\x0b标题",
        target="某县长",
        interviewee="考察对象本人",
        sections=[DraftSection("政治忠诚", [DraftQuestion(text="请谈谈\x00学习*传达*情况？\n具体举例。")])],
        warnings=["部分维度依据不足"],
    )
    document = Document(str(draft_to_docx(draft, tmp_path / "dirty.docx")))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "提纲标题"
    assert "1. 请谈谈学习*传达*情况？ 具体举例。" in texts
    assert "说明" in texts and "部分维度依据不足" in texts
    md = draft_to_markdown(draft)
    assert r"1. 请谈谈学习\*传达\*情况？ 具体举例。" in md
    assert "## 说明" in md


def test_bad_targets_raise_clear_errors(draft, tmp_path):
    with pytest.raises(ExportError, match="must end in .docx"):
        draft_to_docx(draft, tmp_path / "outline.pdf")
    with pytest.raises(ExportError, match="does not exist"):
        draft_to_docx(draft, tmp_path / "missing" / "outline.docx")
    with pytest.raises(ExportError, match="notes must be"):
        draft_to_docx(draft, tmp_path / "x.docx", notes="sidenotes")
    with pytest.raises(ExportError, match="Draft"):
        draft_to_markdown({"title": "x"})


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_docx_renders_to_pdf_and_png(draft, tmp_path):
    docx_path = draft_to_docx(draft, tmp_path / "render.docx")
    profile = (tmp_path / "lo_profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx_path)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    pdf = tmp_path / "render.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 5_000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        flat = re.sub(r"\s+", "", text)
        assert "一、政治担当" in flat and "追问：" in flat
        assert "问责副职多、正职少" in flat  # footnote text rendered on the page
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed: PDF made, PNG rendering skipped")
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert pngs, "pdftoppm wrote no PNG"
    png = pngs[0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000  # a blank page compresses to a few hundred bytes


# --------------------------------------------------------------------------------------------
# talk outlines: who talks to whom, the closing arrangements; edited questions marked 待核实
# --------------------------------------------------------------------------------------------
def _talk_draft() -> Draft:
    finding = _citation(1, "c#3", "安徽探索实行党内政治监督谈话制度", "", "",
                        "你作为市委主要负责人,必须给予重视,既要鼓励帮助民营企业发展壮大,又要抓好班子、带好队伍,引导干部坚守纪律底线。”")
    lists = _citation(2, "c#4", "安徽探索实行党内政治监督谈话制度", "", "", "第一时间制定问题、举措、时限‘三清单’")
    return Draft(
        kind="talk", title="乡镇党委书记谈话提纲", target="乡镇党委书记", interviewee="", speaker="县委书记",
        opening="县委书记与乡镇党委书记进行一对一谈话。",
        sections=[
            DraftSection("亲清政商关系", [DraftQuestion(text="你怎样引导干部坚守纪律底线？", follow_ups=["有哪些制度？"],
                                                    purpose="谈清政商关系", citations=[finding, lists])]),
            DraftSection("整改要求", [DraftQuestion(text="你准备怎样列出“三清单”？", follow_ups=["时限怎样安排？"],
                                                purpose="整改要求", citations=[lists], to_check=[0])]),
        ],
        closing=["谈话后报送整改方案。", "整改不力的，依次采取：谈话提醒→专题民主生活会→专项整治→组织调整。"],
    )


def test_talk_meta_line_names_speaker_and_target_and_closing_is_exported(tmp_path):
    draft = _talk_draft()
    md = draft_to_markdown(draft)
    assert "谈话人：县委书记" in md and "谈话对象：乡镇党委书记" in md and "访谈对象" not in md
    assert "## 三、谈后安排" in md and "专项整治→组织调整" in md
    document = Document(str(draft_to_docx(draft, tmp_path / "talk.docx")))
    texts = [p.text for p in document.paragraphs]
    assert any("谈话人：县委书记" in t and "谈话对象：乡镇党委书记" in t for t in texts)
    assert "三、谈后安排" in texts and "谈话后报送整改方案。" in texts


def test_pending_citations_are_marked_in_markdown_and_docx(tmp_path):
    draft = _talk_draft()
    md = draft_to_markdown(draft)
    assert f"你准备怎样列出“三清单”？{PENDING_QUESTION_MARK}" in md
    notes = [line for line in md.splitlines() if line.startswith("[^")]
    # the same quote is a plain note for the first question and a 待核实 note for the edited one
    assert sum(PENDING_MARK in n for n in notes) == 1 and len(notes) == 3
    document = Document(str(draft_to_docx(draft, tmp_path / "pending.docx")))
    assert any(p.text.startswith(f"1. 你准备怎样列出“三清单”？{PENDING_QUESTION_MARK}") for p in document.paragraphs)
    footnotes = "".join(_footnotes_xml(document).itertext())
    assert PENDING_MARK in footnotes


def test_note_text_has_no_doubled_punctuation():
    from kb.drafting.export import note_text

    draft = _talk_draft()
    for q in _questions(draft):
        for c in q.citations:
            text = note_text(c)
            assert "。”。" not in text and "”。”。" not in text and "。。" not in text, text
    assert note_text(_citation(1, "x", DOC_A, "", "", "问责副职多、正职少")).endswith("“问责副职多、正职少”。")
    assert note_text(_citation(1, "x", DOC_A, "", "", "问责副职多、正职少,“嘴严手软”")).endswith("“嘴严手软””。")
    assert note_text(_citation(1, "x", DOC_A, "", "", "引导干部坚守纪律底线。”")).endswith("底线。””")


def test_adjacent_footnote_numbers_are_separated(draft, tmp_path):
    document = Document(str(draft_to_docx(draft, tmp_path / "sep.docx")))
    p = next(p for p in document.paragraphs if p.text.startswith("2. "))
    refs = p._p.findall(".//" + qn("w:footnoteReference"))
    assert len(refs) == 2
    # between the two reference runs there is a superscript separator run
    runs = list(p._p.iter(qn("w:r")))
    first = next(i for i, r in enumerate(runs) if r.find(qn("w:footnoteReference")) is not None)
    between = runs[first + 1]
    assert between.find(qn("w:footnoteReference")) is None
    assert "".join(t.text or "" for t in between.iter(qn("w:t"))) == ","
