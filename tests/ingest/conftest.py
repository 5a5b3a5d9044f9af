"""Fixtures that build real files (docx, pdf, ofd, images) in tmp_path for the loader tests."""
from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Callable

import pytest

from kb.settings import IngestSettings

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture
def ingest_settings() -> IngestSettings:
    return IngestSettings()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED} (../shared next to the repository)")
    return SHARED


@pytest.fixture
def make_docx(tmp_path: Path) -> Callable[..., Path]:
    """Build a .docx from a list of blocks: ("heading", level, text) | ("title", text) | ("p", text) | ("table", rows)."""

    def build(blocks: list[tuple], name: str = "doc.docx", core_title: str = "") -> Path:
        import docx
        from docx.shared import Cm

        document = docx.Document()
        if core_title:
            document.core_properties.title = core_title
        for block in blocks:
            kind = block[0]
            if kind == "heading":
                document.add_heading(block[2], level=block[1])
            elif kind == "title":
                document.add_heading(block[1], level=0)
            elif kind == "p":
                document.add_paragraph(block[1])
            elif kind == "table":
                rows = block[1]
                table = document.add_table(rows=len(rows), cols=len(rows[0]))
                table.style = "Table Grid"
                for r, row in enumerate(rows):
                    for c, value in enumerate(row):
                        table.cell(r, c).text = value
                        table.cell(r, c).width = Cm(4)  # LibreOffice drops width-less tables when saving .doc
        path = tmp_path / name
        document.save(str(path))
        return path

    return build


def _register_cjk_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """Build a PDF with one page per string (Chinese via reportlab's CID font STSong-Light).

    ``images`` maps a 0-based page index to a PNG drawn on that page; ``user_password`` encrypts (RC4, so
    no extra crypto package is needed to write it).
    """

    def build(
        pages: list[str],
        name: str = "doc.pdf",
        user_password: str | None = None,
        images: dict[int, Path] | None = None,
    ) -> Path:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        font = _register_cjk_font()
        path = tmp_path / name
        pdf = canvas.Canvas(str(path), pagesize=A4)
        for index, text in enumerate(pages):
            if text:
                pdf.setFont(font, 14)
                for line_no, line in enumerate(text.split("\n")):
                    pdf.drawString(72, 760 - 22 * line_no, line)
            else:
                pdf.rect(72, 600, 200, 100)  # a page with graphics but no text
            if images and index in images:
                pdf.drawImage(str(images[index]), 72, 400, width=400, height=100)
            pdf.showPage()
        pdf.save()
        if user_password is not None:
            from pypdf import PdfReader, PdfWriter

            writer = PdfWriter(clone_from=PdfReader(str(path)))
            writer.encrypt(user_password=user_password, owner_password="owner-" + user_password, algorithm="RC4-128")
            with open(path, "wb") as fh:
                writer.write(fh)
        return path

    return build


OFD_NS = "http://www.ofdspec.org/2016"


@pytest.fixture
def make_ofd(tmp_path: Path) -> Callable[..., Path]:
    """Build an OFD: ``pages`` is a list of pages, each a list of (x, y, text) text objects in file order."""

    def build(pages: list[list[tuple[float, float, str]]], name: str = "doc.ofd", title: str = "") -> Path:
        path = tmp_path / name
        page_refs = "".join(
            f'<ofd:Page ID="{i + 10}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages))
        )
        ofd_xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{OFD_NS}" Version="1.0" DocType="OFD">'
            f"<ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID><ofd:Title>{title}</ofd:Title></ofd:DocInfo>"
            "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        )
        document_xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{OFD_NS}">'
            '<ofd:CommonData><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
            '<ofd:MaxUnitID>100</ofd:MaxUnitID></ofd:CommonData>'
            f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>"
        )
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("OFD.xml", ofd_xml)
            archive.writestr("Doc_0/Document.xml", document_xml)
            for index, items in enumerate(pages):
                objects = "".join(
                    f'<ofd:TextObject ID="{n + 1}" Boundary="{x} {y - 4} 150 6" Font="1" Size="4.2">'
                    f'<ofd:TextCode X="0" Y="4">{text}</ofd:TextCode></ofd:TextObject>'
                    for n, (x, y, text) in enumerate(items)
                )
                content = (
                    f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Content>'
                    f'<ofd:Layer ID="1">{objects}</ofd:Layer></ofd:Content></ofd:Page>'
                )
                archive.writestr(f"Doc_0/Pages/Page_{index}/Content.xml", content)
        return path

    return build


@pytest.fixture
def cjk_font() -> Path:
    """A CJK-capable font file from fontconfig, or skip."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.skip("fc-list not available to find a CJK font")
    listing = subprocess.run(
        [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    fonts = sorted(line.split(":")[0].strip() for line in listing.splitlines() if line.strip())
    regular = [f for f in fonts if "Regular" in f or "Sans" in f] or fonts
    if not regular:
        pytest.skip("no CJK font installed (fc-list :lang=zh found none)")
    return Path(regular[0])


# --- a 公文 as users have it: python-docx → LibreOffice PDF → rasterised scan --------------------------

GONGWEN = {
    "doc_number": "试组发〔2025〕7号",
    "issuer": "中共试点县委组织部",
    "issued_on": "2025-06-18",
    "title": "关于开展年轻干部政治素质考察试点工作的通知",
    "header": "内部资料 注意保存",
}


CROSSING = (
    "试点单位应当在考察结束后10个工作日内将考察报告和有关材料一并报送县委组织部干部监督室，"
    "由干部监督室会同干部一室、干部二室汇总分析后提出意见建议，形成综合报告，"
    "报县委组织部部务会研究审定后，按照干部管理权限分别反馈试点单位党委（党组）。"
)


def _docx_field(paragraph, instruction: str) -> None:
    """A Word field (PAGE) in a paragraph: LibreOffice prints its value on every page."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = instruction
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(begin)
    run._r.append(instr)
    run._r.append(end)


def build_gongwen_docx(path: Path) -> Path:
    """A five-page 公文 notice: 份号, 发文机关标志, 发文字号, a title on two lines, 主送, numbered body with
    （1） items, a table, a long sentence that crosses a page, 附件说明, 落款, 版记; running header and
    "— N —" page numbers."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    d = docx.Document()
    section = d.sections[0]
    section.header.paragraphs[0].text = GONGWEN["header"]
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("— ")
    _docx_field(footer, "PAGE")
    footer.add_run(" —")
    style = d.styles["Normal"]
    style.font.size = Pt(16)
    # one CJK font for every script, as a 公文 template sets 仿宋: with Word's Latin default, LibreOffice
    # sets “ ” in a fallback font whose glyph positions no PDF text extractor reads back in place
    from docx.oxml.ns import qn

    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), "Noto Serif CJK SC")

    def p(text: str, center: bool = False, indent: bool = True):
        para = d.add_paragraph(text)
        if center:
            para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif indent:
            para.paragraph_format.first_line_indent = Pt(32)
        return para

    p("000315", indent=False)
    p("中共试点县委组织部文件", center=True)
    p("试组发［2025］7号", center=True)
    p("关于开展年轻干部政治素质", center=True)
    p("考察试点工作的通知", center=True)
    p("各乡镇党委，县直各单位党组（党委）：", indent=False)
    filler = "坚持把政治标准放在首位，突出政治素质考察，注重在重大斗争一线考察识别干部，确保考察工作客观公正。"
    p("为深入贯彻落实新时代党的组织路线，经县委同意，现就开展年轻干部政治素质考察试点工作通知如下。")
    p("一、总体要求")
    for n in range(3):
        p(filler * 2)
    p("二、考察内容")
    p("（一）考察重点。")
    p("重点考察年轻干部的政治忠诚、政治定力、政治担当、政治能力和政治自律，具体包括：")
    p("（1）是否坚决贯彻落实党中央决策部署和县委工作要求；")
    p("（2）是否在急难险重任务中冲锋在前、敢于担当；")
    p("（3）是否存在推诿扯皮、不作为慢作为等问题。")
    p("（二）考察方式。")
    for n in range(6):  # enough text that the sentence below runs from page 3 onto page 4
        p(filler * 2)
    p("考察工作坚持实事求是，注重听取基层干部群众意见，客观公正评价干部。")
    p(CROSSING)
    p("三、时间安排")
    p("试点工作分批次开展：", indent=True)
    rows = [
        ["试点单位", "考察内容", "时间"],
        ["县直机关", "政治素质和履职情况", "2025年7月1日至7月20日"],
        ["乡镇党委", "基层治理和担当作为情况", "2025年8月4日至8月22日"],
        ["国有企业", "防范化解风险情况", "2025年9月8日至9月26日"],
    ]
    table = d.add_table(rows=len(rows), cols=3)
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
            table.cell(r, c).width = Cm(5)
    p("四、工作要求")
    for n in range(3):
        p(filler * 2)
    p("对考察评价为“一般”的，责令限期整改，整改期限一般为3个月。")
    p("附件：1．年轻干部政治素质考察试点单位名单", indent=False)
    p("2．考察评价要点", indent=False)
    p("中共试点县委组织部", center=True)
    p("2025年6月18日", center=True)
    p("（此件发至乡镇党委）", indent=False)
    p("抄送：县纪委监委机关。", indent=False)
    p("中共试点县委组织部办公室    2025年6月18日印发", indent=False)
    d.save(str(path))
    return path


@pytest.fixture(scope="session")
def gongwen_files(tmp_path_factory) -> dict[str, Path]:
    """The 公文 as .docx, as LibreOffice's PDF, and as an image-only scan of that PDF (made once)."""
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    if soffice is None or pdftoppm is None:
        pytest.skip("LibreOffice (soffice) and poppler (pdftoppm) are needed to make the test files")
    work = tmp_path_factory.mktemp("gongwen")
    source = build_gongwen_docx(work / "tongzhi.docx")
    subprocess.run(
        [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(work), str(source)],
        check=True, capture_output=True, timeout=240,
    )
    pdf = work / "tongzhi.pdf"
    subprocess.run([pdftoppm, "-r", "110", "-png", str(pdf), str(work / "page")], check=True, timeout=240)
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in sorted(work.glob("page*.png"))]
    scan = work / "tongzhi_scan.pdf"
    images[0].save(scan, save_all=True, append_images=images[1:], resolution=110)
    return {"docx": source, "pdf": pdf, "scan": scan}


@pytest.fixture
def make_pdf_pages(tmp_path: Path) -> Callable[..., Path]:
    """A text PDF of `n` pages with a running header and "— N —" page numbers (reportlab, CJK font)."""

    def build(n: int, name: str = "paged.pdf", body: Callable[[int], list[str]] | None = None) -> Path:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        font = _register_cjk_font()
        path = tmp_path / name
        pdf = canvas.Canvas(str(path), pagesize=A4)
        for page in range(1, n + 1):
            pdf.setFont(font, 12)
            pdf.drawString(250, 800, "内部资料 注意保存")
            lines = body(page) if body else [f"第{page}部分讲政治建设考察的要求，内容各不相同之{page}。"]
            for i, line in enumerate(lines):
                pdf.drawString(72, 740 - 20 * i, line)
            pdf.drawString(280, 40, f"— {page} —")
            pdf.showPage()
        pdf.save()
        return path

    return build


def slow_pdf(path: Path, operators: int = 200_000) -> Path:
    """A page whose content stream is 200,000 text operators: pypdf's layout extraction of it takes
    seconds (8 s measured on 2 cores), as a crafted stream does."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj 1 0 Td " * operators + b"ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    writer.write(str(path))
    return path
