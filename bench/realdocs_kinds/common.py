"""What every document kind shares: the repository and laws corpus paths, the fonts and body sizes
(GB/T 9704: 16 pt 仿宋-like serif on a 28.9 pt line), norm (text without whitespace, for substring
checks), and the python-docx helpers that write runs with East Asian fonts, exact-spaced paragraphs,
PAGE/NUMPAGES fields, paragraph rules, running headers and page-number footers ("— N —", "-N-",
"第N页 共M页"), a fixed A4 公文 page set-up with fixed core properties, and grid tables whose header row
repeats on each page."""
from __future__ import annotations

import re
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

REPO = Path(__file__).resolve().parent.parent.parent
LAWS = REPO.parent / "shared" / "corpus" / "laws"
SERIF = "Noto Serif CJK SC"
SANS = "Noto Sans CJK SC"
BODY_PT = 16
LINE_PT = 28.9


def norm(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


# ----------------------------------------------------------------------------------------------------
# docx helpers
# ----------------------------------------------------------------------------------------------------

def set_fonts(run, name: str, size: float, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    rpr = run._element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)


def add_para(container, text: str = "", *, font: str = SERIF, size: float = BODY_PT, bold: bool = False,
             align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent_chars: float = 0, color: RGBColor | None = None,
             exact: float | None = LINE_PT, left_chars: float = 0):
    p = container.add_paragraph()
    pf = p.paragraph_format
    pf.alignment = align
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    if exact:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(exact)
    if indent_chars:
        pf.first_line_indent = Pt(size * indent_chars)
    if left_chars:
        pf.left_indent = Pt(size * left_chars)
    if text:
        set_fonts(p.add_run(text), font, size, bold, color)
    return p


def _field(paragraph, instr: str, font: str, size: float) -> None:
    def run_with(child):
        r = paragraph.add_run()
        set_fonts(r, font, size)
        r._element.append(child)
        return r

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    it = OxmlElement("w:instrText")
    it.set(qn("xml:space"), "preserve")
    it.text = f" {instr} "
    run_with(it)
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run_with(sep)
    set_fonts(paragraph.add_run("1"), font, size)
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def set_border(paragraph, sides: dict[str, tuple[str, int]]) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    bdr = OxmlElement("w:pBdr")
    for side in ("top", "bottom"):
        if side in sides:
            color, sz = sides[side]
            el = OxmlElement(f"w:{side}")
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), str(sz))
            el.set(qn("w:space"), "1")
            el.set(qn("w:color"), color)
            bdr.append(el)
    ppr.append(bdr)


def _page_footer(footer_part, style: str, even: bool = False) -> None:
    p = footer_part.paragraphs[0] if footer_part.paragraphs else footer_part.add_paragraph()
    size = 14
    if style == "dash":  # GB/T 9704: — N —, odd pages right, even pages left
        p.alignment = WD_ALIGN_PARAGRAPH.LEFT if even else WD_ALIGN_PARAGRAPH.RIGHT
        set_fonts(p.add_run("— "), SERIF, size)
        _field(p, "PAGE", SERIF, size)
        set_fonts(p.add_run(" —"), SERIF, size)
    elif style == "hyphen":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        set_fonts(p.add_run("-"), SERIF, size)
        _field(p, "PAGE", SERIF, size)
        set_fonts(p.add_run("-"), SERIF, size)
    else:  # 第N页 共M页
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        set_fonts(p.add_run("第"), SERIF, 12)
        _field(p, "PAGE", SERIF, 12)
        set_fonts(p.add_run("页 共"), SERIF, 12)
        _field(p, "NUMPAGES", SERIF, 12)
        set_fonts(p.add_run("页"), SERIF, 12)


def _page_header(header_part, text: str | None) -> None:
    if not text:  # GB/T 9704 itself has no running header: many 公文 have none
        return
    p = header_part.paragraphs[0] if header_part.paragraphs else header_part.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    set_fonts(p.add_run(text), SERIF, 12)


def new_document(header: str | None, footer: str):
    doc = Document()
    import datetime as _dt
    stamp = _dt.datetime(2025, 1, 1, 8, 0, 0)
    cp = doc.core_properties
    cp.author, cp.last_modified_by, cp.created, cp.modified, cp.revision = "", "", stamp, stamp, 1
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
    sec.left_margin, sec.right_margin = Mm(28), Mm(26)
    sec.header_distance, sec.footer_distance = Mm(20), Mm(22)
    normal = doc.styles["Normal"]
    normal.font.name = SERIF
    normal.font.size = Pt(BODY_PT)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), SERIF)
    if footer == "dash":
        doc.settings.odd_and_even_pages_header_footer = True
        _page_header(sec.header, header)
        _page_header(sec.even_page_header, header)
        _page_footer(sec.footer, footer)
        _page_footer(sec.even_page_footer, footer, even=True)
    else:
        _page_header(sec.header, header)
        _page_footer(sec.footer, footer)
    return doc


def docx_table(doc, header: list[str], rows: list[list[str]], size: float = 14, widths_mm: list[float] | None = None,
               cant_split: bool = True):
    """A grid table, its header row repeated on each page; rows kept whole unless not cant_split (Word's
    default: a row may break over a page). With widths_mm the columns have those widths and the cells'
    text is centred only in the narrow columns (a long cell wraps, left aligned)."""
    t = doc.add_table(rows=1 + len(rows), cols=len(header))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    if widths_mm:
        t.autofit = False
        for j, w in enumerate(widths_mm):
            t.columns[j].width = Mm(w)
    for i, row in enumerate([header] + rows):
        trpr = t.rows[i]._tr.get_or_add_trPr()
        if cant_split:
            trpr.append(OxmlElement("w:cantSplit"))
        if i == 0:
            trpr.append(OxmlElement("w:tblHeader"))
        for j, text in enumerate(row):
            cell = t.rows[i].cells[j]
            if widths_mm:
                cell.width = Mm(widths_mm[j])
            p = cell.paragraphs[0]
            wide = widths_mm is not None and widths_mm[j] >= 40 and i > 0
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT if wide else WD_ALIGN_PARAGRAPH.CENTER
            p.paragraph_format.space_before = Pt(2)
            p.paragraph_format.space_after = Pt(2)
            set_fonts(p.add_run(text), SANS if i == 0 else SERIF, size, bold=False)
    return t
