"""The notice (a 公文 in GB/T 9704 layout): written as a docx (build_notice) and, for a variant whose
notice PDF an office system writes itself, as a reportlab PDF (build_notice_reportlab); make_notice lays
it out with 0..7 blank lines before the title (and 0..3 lines of space before its table), keeps the first
layout where two candidate sentences cross a page boundary (and a page break cuts the wanted table row),
writes notice.docx, notice.pdf, notice.ofd and notice.doc, and makes its questions: the page-break ones,
the spec's own, and those on the table row the page break cuts, with their verification rows."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt, RGBColor

from .common import (BODY_PT, LINE_PT, SANS, SERIF, add_para, docx_table, new_document, norm, set_border,
                     set_fonts)
from .ofd import OFD_STYLE, ofd_page_texts, write_ofd
from .pdftext import CLAUSE_SEP, crossing, locate, page_texts, pick_clause, sentence_of, to_pdf

def build_notice(spec: dict, path: Path, pad: int, table_gap: int = 0) -> list[str]:
    """Writes the notice; returns its text paragraphs (and table cells) for substring checks."""
    doc = new_document(spec["header"], spec["footer"])
    texts: list[str] = []
    red = RGBColor(0xE0, 0x00, 0x00)
    for line in (spec["copy_no"], spec["secret"], spec["urgency"]):
        if line:
            add_para(doc, line, font=SANS, align=WD_ALIGN_PARAGRAPH.LEFT)
            texts.append(line)
    add_para(doc, "")
    add_para(doc, spec["masthead"], font=SERIF, size=36, bold=True, color=red, align=WD_ALIGN_PARAGRAPH.CENTER, exact=None)
    texts.append(spec["masthead"])
    add_para(doc, "")
    add_para(doc, "")
    p = add_para(doc, spec["doc_number"], align=WD_ALIGN_PARAGRAPH.CENTER)
    texts.append(spec["doc_number"])
    set_border(p, {"bottom": ("E00000", 18)})
    for _ in range(1 + pad):
        add_para(doc, "")
    for line in spec["title_lines"]:
        add_para(doc, line, size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, exact=36)
        texts.append(line)
    add_para(doc, "")
    add_para(doc, spec["addressee"])
    texts.append(spec["addressee"])
    for kind, *rest in spec["body"]:
        if kind == "h1":
            add_para(doc, rest[0], font=SANS, indent_chars=2)
            texts.append(rest[0])
        elif kind == "h2":
            add_para(doc, rest[0], font=SERIF, bold=True, indent_chars=2)
            texts.append(rest[0])
        elif kind == "p":
            add_para(doc, rest[0], indent_chars=2)
            texts.append(rest[0])
        elif kind == "h0":  # the title of the document a 印发通知 carries (variant e)
            add_para(doc, "")
            add_para(doc, rest[0], size=18, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, exact=32)
            add_para(doc, "")
            texts.append(rest[0])
        elif kind == "tabs":  # a list without grid lines: each row one line, its cells at tab stops
            caption, header, rows, own = rest
            add_para(doc, caption, font=SANS, align=WD_ALIGN_PARAGRAPH.CENTER)
            texts.append(caption)
            stops = [sum(own["widths_mm"][:j + 1]) for j in range(len(own["widths_mm"]) - 1)]
            for i, row in enumerate([header] + rows):
                line = add_para(doc, "", align=WD_ALIGN_PARAGRAPH.LEFT)
                for s in stops:
                    line.paragraph_format.tab_stops.add_tab_stop(Mm(s))
                set_fonts(line.add_run("\t".join(row)), SANS if i == 0 else SERIF, 14)
            texts.extend(c for row in [header] + rows for c in row)
        elif kind == "table":
            caption, header, rows, *own = rest  # a table's own style (a dict) after its rows, if any
            cap = add_para(doc, caption, font=SANS, align=WD_ALIGN_PARAGRAPH.CENTER)
            if not own:  # the table_gap lines go before the notice's (first) table only
                cap.paragraph_format.space_before = Pt(LINE_PT * table_gap)
            cap.paragraph_format.keep_with_next = True
            texts.append(caption)
            style = own[0] if own else spec.get("table_style", {})
            docx_table(doc, header, rows, size=style.get("size", 14), widths_mm=style.get("widths_mm"),
                       cant_split=style.get("cant_split", True))
            texts.extend(c for row in [header] + rows for c in row)
    add_para(doc, "")
    att, dot = spec["attachments"], spec.get("attachment_sep", "．")
    add_para(doc, f"附件：1{dot}{att[0]}", indent_chars=2)
    for i, a in enumerate(att[1:], start=2):
        add_para(doc, f"{i}{dot}{a}", left_chars=5)
    texts.append(f"附件：1{dot}{att[0]}")
    texts.extend(f"{i}{dot}{a}" for i, a in enumerate(att[1:], start=2))
    # 署名, 成文日期, 附注 and 版记 kept together on the last page
    tail = [add_para(doc, ""), add_para(doc, "")]
    p = add_para(doc, spec["issuer"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    p.paragraph_format.right_indent = Pt(BODY_PT * 4)
    tail.append(p)
    p = add_para(doc, spec["date"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    p.paragraph_format.right_indent = Pt(BODY_PT * 4)
    tail.append(p)
    texts.extend([spec["issuer"], spec["date"]])
    if spec["note"]:
        tail.append(add_para(doc, spec["note"], indent_chars=2))
        texts.append(spec["note"])
    tail.append(add_para(doc, ""))
    p = add_para(doc, spec["cc"], size=14, left_chars=0.5)
    tail.append(p)
    for t in tail:
        t.paragraph_format.keep_with_next = True
    set_border(p, {"top": ("000000", 12)})
    line = spec["printer"] + "\u3000" * 8 + spec["print_date"]
    p = add_para(doc, line, size=14, left_chars=0.5)
    set_border(p, {"top": ("000000", 6), "bottom": ("000000", 12)})
    texts.extend([spec["cc"], line])
    doc.save(str(path))
    return texts


CID_FONT = "STSong-Light"  # reportlab's built-in Adobe-GB1 font: not embedded, UniGB-UCS2-H


def build_notice_reportlab(spec: dict, path: Path, pad: int, table_gap: int = 0) -> None:
    """The notice as a PDF written by reportlab (platypus), not LibreOffice: as office systems that
    generate 公文 PDFs themselves do — a non-embedded CID font (STSong-Light), justified paragraphs with a
    two-character first-line indent, a running header over a thin rule, "第N页 共M页" (two passes: the
    first counts the pages), grid tables of wrapped cells with the header row repeated, a list without
    grid lines. pad blank lines before the title, table_gap lines before the first table."""
    import io
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import (BaseDocTemplate, Frame, HRFlowable, KeepTogether, PageTemplate, Paragraph,
                                    Spacer, Table, TableStyle)

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    red = colors.Color(0.88, 0, 0)

    def style(size=BODY_PT, leading=LINE_PT, align=TA_JUSTIFY, indent=0.0, color=colors.black, **kw):
        return ParagraphStyle("s", fontName=CID_FONT, fontSize=size, leading=leading, alignment=align,
                              firstLineIndent=size * indent, textColor=color, wordWrap="CJK", **kw)

    body, center = style(indent=2), style(align=TA_CENTER)
    para = lambda text, st=body: Paragraph(escape(text), st)
    blank = lambda n=1: Spacer(1, LINE_PT * n)
    def make_story() -> list:  # built afresh for each pass (platypus consumes its flowables)
        story = []
        for line in (spec["copy_no"], spec["secret"], spec["urgency"]):
            if line:
                story.append(para(line, style(align=TA_LEFT)))
        story += [blank(), para(spec["masthead"], style(size=34, leading=48, align=TA_CENTER, color=red)), blank(2),
                  para(spec["doc_number"], center), Spacer(1, 4), HRFlowable(width="100%", thickness=1.6, color=red,
                                                                                 spaceBefore=0, spaceAfter=0), blank(1 + pad)]
        for line in spec["title_lines"]:
            story.append(para(line, style(size=22, leading=36, align=TA_CENTER)))
        story += [blank(), para(spec["addressee"], style())]
        first_table = True
        for kind, *rest in spec["body"]:
            if kind in ("h1", "h2", "p"):
                story.append(para(rest[0]))
            elif kind == "h0":
                story += [blank(), para(rest[0], style(size=18, leading=32, align=TA_CENTER)), blank()]
            elif kind in ("table", "tabs"):
                caption, header, rows, *own = rest
                opts = own[0] if own else spec.get("table_style", {})
                size = opts.get("size", 14)
                cap_style = style(align=TA_CENTER, spaceBefore=LINE_PT * table_gap if first_table and kind == "table" else 0)
                if kind == "table":
                    first_table = False
                widths = [w * mm for w in opts["widths_mm"]]
                cell_c = style(size=size, leading=size * 1.5, align=TA_CENTER)
                cell_l = style(size=size, leading=size * 1.5, align=TA_LEFT)
                data = [[Paragraph(escape(c), cell_l if kind == "tabs" or (i > 0 and opts["widths_mm"][j] >= 40) else cell_c)
                         for j, c in enumerate(row)] for i, row in enumerate([header] + rows)]
                t = Table(data, colWidths=widths, repeatRows=1 if kind == "table" else 0, hAlign="CENTER")
                cmds = [("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 3),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
                if kind == "table":
                    cmds.append(("GRID", (0, 0), (-1, -1), 0.6, colors.black))
                t.setStyle(TableStyle(cmds))
                story += [para(caption, cap_style), t]
        story.append(blank())
        att, dot = spec["attachments"], spec.get("attachment_sep", "．")
        story.append(para(f"附件：1{dot}{att[0]}"))
        for i, a in enumerate(att[1:], start=2):
            story.append(para(f"{i}{dot}{a}", style(leftIndent=BODY_PT * 5)))
        sign = style(align=TA_RIGHT, rightIndent=BODY_PT * 4)
        tail = [blank(2), para(spec["issuer"], sign), para(spec["date"], sign)]
        if spec["note"]:
            tail.append(para(spec["note"]))
        small = style(size=14, leading=LINE_PT, align=TA_LEFT, leftIndent=7)
        tail += [blank(), HRFlowable(width="100%", thickness=1, color=colors.black, spaceAfter=2), para(spec["cc"], small),
                 HRFlowable(width="100%", thickness=0.5, color=colors.black, spaceBefore=2, spaceAfter=2),
                 para(spec["printer"] + "\u3000" * 8 + spec["print_date"], small),
                 HRFlowable(width="100%", thickness=1, color=colors.black, spaceBefore=2)]
        story.append(KeepTogether(tail))
        return story

    width, height = 210 * mm, 297 * mm
    total = {"n": 0}

    def furniture(canvas, doc):
        canvas.saveState()
        if spec["header"]:
            canvas.setFont(CID_FONT, 12)
            canvas.drawCentredString(width / 2, height - 20 * mm, spec["header"])
            canvas.setLineWidth(0.5)
            canvas.line(28 * mm, height - 21.5 * mm, width - 26 * mm, height - 21.5 * mm)
        canvas.setFont(CID_FONT, 12)
        canvas.drawCentredString(width / 2, 20 * mm, f"第{doc.page}页 共{total['n'] or doc.page}页")
        canvas.restoreState()

    def build(target):
        doc = BaseDocTemplate(target, pagesize=(width, height), leftMargin=28 * mm, rightMargin=26 * mm,
                              topMargin=37 * mm, bottomMargin=35 * mm, title="".join(spec["title_lines"]),
                              author="", creator="OA 公文系统", producer="ReportLab PDF Library", invariant=1)
        frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, leftPadding=0, rightPadding=0,
                      topPadding=0, bottomPadding=0)
        doc.addPageTemplates([PageTemplate("page", frames=[frame], onPage=furniture)])
        doc.build(make_story())
        return doc.page

    total["n"] = build(io.BytesIO())
    build(str(path))


def table_span(pages: list[str], spec: dict) -> tuple[int, int] | None:
    """(page of the table's first body row, page of its last), from the rows' second cells (their first
    8 characters: a wrapped cell may be read in another order than it was written)."""
    table = next((b for b in spec["body"] if b[0] == "table"), None)
    if table is None:
        return None
    rows = table[3]
    first, last = locate(pages, rows[0][1][:8]), locate(pages, rows[-1][1][:8])
    return (first[0], last[1]) if first and last else None


def row_split(pages: list[str], spec: dict) -> tuple[int, int, int] | None:
    """(row, page, cut) for the first of spec["split_row"]["rows"] that a page break cuts: its longest
    cell begins on that page and ends on the next (under the repeated header row); cut is where that
    cell's text goes on to the next page."""
    table = next(b for b in spec["body"] if b[0] == "table")
    for r in spec["split_row"]["rows"]:
        cell = norm(max(table[3][r], key=len))
        head, tail = locate(pages, cell[:8]), locate(pages, cell[-8:])
        if head and tail and head[0] == head[1] and tail[0] == tail[1] == head[0] + 1:
            # the cells (of 6 characters or more) that go on to the next page: at least min_cut_cells
            cut = [c for c in table[3][r] if len(norm(c)) >= 6 and norm(c) not in pages[head[0] - 1]]
            if len(cut) >= spec["split_row"].get("min_cut_cells", 1):
                return r, head[0], cell_cut(pages, head[0], cell)
    return None


def cell_cut(pages: list[str], page: int, cell: str) -> int | None:
    """Where a table cell (normalised) cut by the break after page goes on: the first k with cell[:k]
    on page and cell[k:] on the next page (pdftotext reads a wrapped cell's lines as one block)."""
    text = norm(cell)
    for k in range(1, len(text)):
        if text[:k] in pages[page - 1] and text[k:] in pages[page]:
            return k
    return None


def split_row_questions(spec: dict, row: int, page: int, pages: list[str]) -> list[tuple[str, str, list[str]]]:
    """The spec's questions on the table row cut by the page break after page."""
    cells = next(b for b in spec["body"] if b[0] == "table")[3][row]
    out = []
    for kind, template, col, part in spec["split_row"]["questions"]:
        if part == "whole":
            keys = [cells[col]]
        else:
            # the clause of the cell that the page break cuts (else the first whole one after the cut)
            text, cut = norm(cells[col]), cell_cut(pages, page, cells[col])
            if not cut:
                continue
            start = max(text.rfind(c, 0, cut) for c in CLAUSE_SEP) + 1
            ends = [j for j in (text.find(c, cut) for c in CLAUSE_SEP) if j != -1]
            key = text[start:min(ends) if ends else len(text)]
            if len(key) < 6 or start == cut:
                key = pick_clause(text[cut:], from_end=False, whole_edge=text[cut - 1] in CLAUSE_SEP)
            if not key:
                continue
            keys = [key]
        out.append((kind, template.format(*cells), keys))
    return out


def make_notice(notice: dict, variant: str, out: Path, lay: Path, profile: Path,
                also_convert: list[Path]) -> dict:
    """The notice into out (notice.docx, notice.pdf, notice.ofd, notice.doc), its layouts tried in lay
    (LibreOffice's user profile at profile); also_convert (the law's docx) is converted to PDF in lay
    with the first batch of layouts (before them where the notice PDF is reportlab's). Returns its
    questions, the verification rows, its page count, the layout (table gap, title padding), the
    table's pages, the row the page break cuts (or None) and the OFD's page count."""
    questions: list[dict] = []
    verify: list[tuple] = []
    texts, chosen = None, None
    own_pdf = notice.get("producer") == "reportlab"  # the notice PDF not from LibreOffice (variant e)
    if own_pdf:
        to_pdf(also_convert, lay, profile)
    for gap in range(4):
        docs = []
        for pad in range(8):
            p = lay / f"notice_{gap}_{pad}.docx"
            t = build_notice(notice, p, pad, gap)
            texts = texts or t
            docs.append(p)
            if own_pdf:
                build_notice_reportlab(notice, p.with_suffix(".pdf"), pad, gap)
        if not own_pdf:
            to_pdf(docs + (also_convert if gap == 0 else []), lay, profile)
        for pad in range(8):
            pdf = lay / f"notice_{gap}_{pad}.pdf"
            pages = page_texts(pdf, notice["header"])
            hits = []
            for q, keys in notice["break_candidates"]:
                para = next(x for x in texts if keys[0] in x)
                sent = sentence_of(para, keys[0])
                loc = crossing(pages, sent)
                if loc and all(h[2] != sent for h in hits):  # one question per sentence
                    hits.append((q, keys, sent, loc, locate(pages, keys[0])))
            span = table_span(pages, notice)
            if notice.get("table_style", {}).get("must_cross_page") and not (span and span[1] > span[0]):
                continue
            split = row_split(pages, notice) if "split_row" in notice else None
            if "split_row" in notice and split is None:
                continue
            if len(hits) >= 2 and len(pages) >= 3:
                chosen = ((gap, pad), pdf, pages, hits, span, split)
                break
        if chosen:
            break
    if chosen is None:
        raise RuntimeError("no layout puts two candidate sentences across a page boundary")
    pad, pdf, pages, hits, table_pages, split = chosen
    shutil.copy(pdf.with_suffix(".docx"), out / "notice.docx")
    shutil.copy(pdf, out / "notice.pdf")
    # the notice as OFD, converted from the PDF's text boxes; its text must be the PDF's, page by page
    ofd_pages = write_ofd(out / "notice.pdf", out / "notice.ofd", OFD_STYLE[variant], f"notice-{variant}")
    # (pdftotext's plain text drops a hyphen that ends a line, as in 0000-|7654321: hyphens aside)
    dehyphen = lambda texts: [t.replace("-", "") for t in texts]
    if ofd_pages != len(pages) or dehyphen(ofd_page_texts(out / "notice.ofd")) != dehyphen(
            page_texts(out / "notice.pdf", None, keep_furniture=True)):
        raise RuntimeError("notice.ofd: pages or text differ from notice.pdf")
    # the notice as Word 97 too (users still send .doc): LibreOffice saves the same docx
    legacy = subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                             "--convert-to", "doc", "--outdir", str(out), str(out / "notice.docx")],
                            capture_output=True, text=True, timeout=300)
    if not (out / "notice.doc").exists():
        raise RuntimeError(f"soffice did not save notice.doc: {legacy.stderr.strip()[-500:]}")
    notice_pages = len(pages)
    for q, keys, sent, loc, kloc in hits:
        questions.append({"file": "notice.pdf", "kind": "page_break", "question": q, "key_points": keys})
        verify.append(("notice.pdf", keys[0], sent, loc, kloc))
    for kind, q, keys in notice["questions"]:
        questions.append({"file": "notice.pdf", "kind": kind, "question": q, "key_points": keys})
    # questions on the table row cut by a page break, with the page the row starts on; the
    # verification table says where each key point lies (a page, or p->p+1 when the break cuts it)
    if split:
        split_row, split_page, _ = split
        cells = next(b for b in notice["body"] if b[0] == "table")[3][split_row]
        for kind, q, keys in split_row_questions(notice, split_row, split_page, pages):
            questions.append({"file": "notice.pdf", "kind": kind, "question": q, "key_points": keys,
                              "page": split_page})
            for k in keys:  # the key point's pages: before or after its cell's cut, or both
                cell = norm(next(c for c in cells if norm(k) in norm(c)))
                cut, at = cell_cut(pages, split_page, cell), cell.index(norm(k))
                first = split_page if cut is None or at < cut else split_page + 1
                last = split_page if cut is not None and at + len(norm(k)) <= cut else split_page + 1
                if cut is None:
                    last = split_page
                verify.append(("notice.pdf", k, "".join(cells), (split_page, split_page + 1), (first, last)))
    # every notice key point must be in the docx text and in the PDF's text
    joined_notice = norm("".join(texts))
    joined_pdf = "".join(pages)
    for q in questions:
        for k in q["key_points"]:
            if norm(k) not in joined_notice:
                raise RuntimeError(f"key point not in notice text: {k}")
            if norm(k) not in joined_pdf and "page" not in q:  # (a split row's cells are cut)
                print(f"WARNING: key point not found contiguous in notice.pdf text: {k}", file=sys.stderr)
    return {"questions": questions, "verify": verify, "pages": notice_pages, "layout": pad,
            "table_pages": table_pages, "split": split, "ofd_pages": ofd_pages}
