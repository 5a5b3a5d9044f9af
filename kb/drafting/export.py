"""Export a drafted outline (kb.models.Draft) to Markdown or Word (.docx).

Both carry the same content: title, a meta line (考察对象 / 访谈对象 / 日期; for a talk outline
谈话人 / 谈话对象 / 日期), the opening (访谈说明 / 开场), the 谈后安排 of a talk outline, questions an
edit left unsupported marked 【依据待核实】 with their notes marked （待核实）, one numbered
section per dimension ("一、政治忠诚"), numbered questions with their 追问 and 考察意图, warnings for sections the knowledge base could not support, and every citation
as a note naming the document, its section/article/page and the quoted words.

Word output uses real footnotes: python-docx has no footnote API, so this module adds the
footnotes part (word/footnotes.xml) itself. ``notes="endnotes"`` instead writes a “来源” section at
the end with superscript numbers after each question, for consumers that drop footnotes.
Chinese fonts are set through ``w:rFonts/@w:eastAsia`` (Word ignores the Latin font name for CJK
text): 黑体 for the title and headings, 仿宋_GB2312 for the body.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kb.drafting.criteria import chinese_numeral
from kb.models import Citation, Draft, DraftSection

HEADING_FONT = "黑体"
BODY_FONT = "仿宋_GB2312"
LATIN_FONT = "Times New Roman"
PURPOSE_GREY = "595959"
UNVERIFIED_MARK = "（引文未经核验）"
PENDING_MARK = "（待核实）"  # a citation an edit left unsupported (DraftQuestion.to_check)
PENDING_QUESTION_MARK = "【依据待核实】"
OPENING_LABELS = {"interview": "访谈说明", "talk": "开场"}
CLOSING_TITLE = "谈后安排"
_END_PUNCT = ("。", "！", "？", "；", "…", ".", "!", "?")
_CLOSING_QUOTES = "”’」』\"'"
KIND_TITLES = {"interview": "深度访谈提纲", "talk": "谈话提纲"}
NO_QUESTIONS_TEXT = "知识库中未找到该方面的依据，本部分未生成问题。"

# XML 1.0 forbids these; OCR'd and scraped text sometimes carries them and python-docx would raise.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


class ExportError(ValueError):
    """The draft cannot be exported (nothing to write, or the target path is unusable)."""


def _clean(text: str) -> str:
    """One line of printable text: control characters dropped, line breaks folded into spaces."""
    text = _XML_ILLEGAL.sub("", str(text or ""))
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


@dataclass
class _Note:
    n: int
    text: str


class _Notes:
    """Citation → note number, numbered by first appearance; the same quote from the same chunk
    keeps its number so a source cited twice is listed once."""

    def __init__(self) -> None:
        self.notes: list[_Note] = []
        self._by_key: dict[tuple[str, str, str], int] = {}

    def number(self, citation: Citation, text: str | None = None) -> int:
        text = note_text(citation) if text is None else text
        key = (citation.doc_id or citation.title, citation.chunk_id, _clean(citation.quote), text)
        if key not in self._by_key:
            n = len(self.notes) + 1
            self._by_key[key] = n
            self.notes.append(_Note(n, text))
        return self._by_key[key]


_NUMBERING = re.compile(
    r"^(第[零〇一二三四五六七八九十百千万0-9]+[编章节]|[零〇一二三四五六七八九十百千]+、|[（(][零〇一二三四五六七八九十百千0-9]+[)）]|[0-9]{1,2}[.．、])"
)


def citation_label(citation: Citation | dict) -> str:
    """The place of a citation as an inspector writes it: 《标题》（某组发〔2024〕12号）三、（二）第N条，第N页.

    Numbered sections give their numbers only ("三、时间安排 > （二）严肃考察纪律" → "三、（二）"); a
    section without a number is named in full; the 发文字号 follows the title when the document has one.
    Takes a Citation or its to_dict() (the web app's citation dicts).
    """
    if isinstance(citation, dict):
        fields = {k: citation.get(k) for k in ("n", "chunk_id", "doc_id", "title", "section", "article", "page", "quote")}
        citation = Citation(**{**{k: v or "" for k, v in fields.items() if k not in ("n", "page")},
                               "n": fields["n"] or 0, "page": fields["page"], "verified": bool(citation.get("verified")),
                               "doc_number": citation.get("doc_number") or "",
                               "validity": citation.get("validity") or "", "validity_note": citation.get("validity_note") or ""})
    title = _clean(citation.title) or _clean(citation.doc_id) or "未知文档"
    label = f"《{title}》"
    number = _clean(getattr(citation, "doc_number", "") or "")
    if number:
        label += f"（{number}）"
    place = ""
    for part in [p.strip() for p in (citation.section or "").split(">") if p.strip()]:
        m = _NUMBERING.match(part)
        place += m.group(1) if m else part
    if citation.article:
        place += citation.article
    if place:
        label += place
    if citation.page:
        label += f"，第{citation.page}页"
    return label + citation.validity_label()  # （已修订，现行版本：《…》2021年） next to a superseded source


EXAMPLE_LABEL = "参考事例："  # another place's case narrative: shown for reference, never as the standard


def note_text(citation: Citation) -> str:
    """《标题》，章节 > 第N条 > 第N页：“原文”。 — plus a mark when the quote was not verified; a 公文
    (a citation with its 发文字号) as inspectors write it: 《标题》（某组发〔2024〕12号）三、（二），第N页：“原文”。"""
    title = _clean(citation.title) or _clean(citation.doc_id) or "未知文档"
    if _clean(getattr(citation, "doc_number", "") or ""):
        text = citation_label(citation)  # a 公文: 《标题》（某组发〔2024〕12号）三、（二），第N页
    else:
        parts = [f"《{title}》"]
        location = _clean(citation.location())
        if location:
            parts.append(location)
        text = "，".join(parts) + citation.validity_label()
    quote = _clean(citation.quote)
    if quote:
        text += f"：“{quote}”"
        # a quote that closes its own sentence takes no second full stop ("……。”。" is wrong)
        if not quote.rstrip(_CLOSING_QUOTES).endswith(_END_PUNCT):
            text += "。"
    else:
        text += "。"
    if not citation.verified:
        text += UNVERIFIED_MARK
    return text


def question_notes(question) -> list[tuple[Citation, str]]:
    """Each citation of a question with its note text; citations an edit left unsupported carry
    the 待核实 mark."""
    pending = set(getattr(question, "to_check", []) or [])
    examples = set(getattr(question, "examples", []) or [])
    return [(c, (EXAMPLE_LABEL if i in examples else "") + note_text(c) + (PENDING_MARK if i in pending else ""))
            for i, c in enumerate(question.citations)]


def question_line(question) -> str:
    text = _clean(question.text)
    return text + PENDING_QUESTION_MARK if getattr(question, "to_check", None) else text


def _title(draft: Draft) -> str:
    return _clean(draft.title) or KIND_TITLES.get(draft.kind, "提纲")


def _meta_line(draft: Draft) -> str:
    parts = []
    if draft.kind == "talk":
        if _clean(getattr(draft, "speaker", "")):
            parts.append(f"谈话人：{_clean(draft.speaker)}")
        if _clean(draft.target):
            parts.append(f"谈话对象：{_clean(draft.target)}")
        parts.append(f"日期：{_clean(draft.date) or '　　年　月　日'}")
        return "　".join(parts)
    if _clean(draft.target):
        parts.append(f"考察对象：{_clean(draft.target)}")
    if _clean(draft.interviewee):
        parts.append(f"访谈对象：{_clean(draft.interviewee)}")
    parts.append(f"日期：{_clean(draft.date) or '　　年　月　日'}")
    return "　".join(parts)


def _section_name(section: DraftSection) -> str:
    return _clean(section.dimension) or "其他"


def _split_warnings(draft: Draft) -> tuple[dict[int, list[str]], list[str]]:
    """Warnings that name a section's dimension go under that section; the rest are general."""
    by_section: dict[int, list[str]] = {}
    general: list[str] = []
    names = [_section_name(s) for s in draft.sections]
    for raw in draft.warnings:
        warning = _clean(raw)
        if not warning:
            continue
        hits = [i for i, name in enumerate(names) if name and name in warning]
        if hits:
            for i in hits:
                by_section.setdefault(i, []).append(warning)
        else:
            general.append(warning)
    return by_section, general


def _check(draft: Draft) -> None:
    if not isinstance(draft, Draft):
        raise ExportError(f"expected a kb.models.Draft, got {type(draft).__name__}")


# --- Markdown ---------------------------------------------------------------------------------
def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", _clean(text))


def draft_to_markdown(draft: Draft) -> str:
    """The draft as Markdown: numbered questions, 追问 as nested bullets, 考察意图 in italics and
    citations as footnotes ``[^n]``."""
    _check(draft)
    notes = _Notes()
    section_warnings, general_warnings = _split_warnings(draft)
    out = [f"# {_md(_title(draft))}", "", _md(_meta_line(draft)), ""]
    if _clean(draft.opening):
        out += [f"**{OPENING_LABELS.get(draft.kind, '说明')}**：{_md(draft.opening)}", ""]
    for i, section in enumerate(draft.sections):
        out += [f"## {chinese_numeral(i + 1)}、{_md(_section_name(section))}", ""]
        warnings = section_warnings.get(i, [])
        if not section.questions and not warnings:
            warnings = [NO_QUESTIONS_TEXT]
        for warning in warnings:
            out += [f"> 提示：{_md(warning)}", ""]
        for number, question in enumerate(section.questions, 1):
            refs = "".join(f"[^{notes.number(c, text)}]" for c, text in question_notes(question))
            out.append(f"{number}. {_md(question_line(question))}{refs}")
            for follow_up in question.follow_ups:
                if _clean(follow_up):
                    out.append(f"   - 追问：{_md(follow_up)}")
            if _clean(question.purpose):
                out.append(f"   - *考察意图：{_md(question.purpose)}*")
            out.append("")
    closing = [_clean(c) for c in getattr(draft, "closing", []) or [] if _clean(c)]
    if closing:
        out += [f"## {chinese_numeral(len(draft.sections) + 1)}、{CLOSING_TITLE}", ""] + [f"- {_md(c)}" for c in closing] + [""]
    if general_warnings:
        out += ["## 说明", ""] + [f"- {_md(w)}" for w in general_warnings] + [""]
    if notes.notes:
        out += [f"[^{note.n}]: {_md(note.text)}" for note in notes.notes] + [""]
    return "\n".join(out).rstrip() + "\n"


# --- Word -------------------------------------------------------------------------------------
def _set_fonts(rpr_parent, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Set w:rFonts on a run or style: explicit names, theme-font attributes removed (they win
    over explicit names in Word, which would put a Latin theme font on Chinese text)."""
    from docx.oxml.ns import qn

    rpr = rpr_parent.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), latin)
    rfonts.set(qn("w:hAnsi"), latin)
    rfonts.set(qn("w:cs"), latin)
    rfonts.set(qn("w:eastAsia"), east_asia)


def _setup_styles(document):
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    styles = document.styles

    def paragraph_style(name: str, base: str | None = "Normal"):
        try:
            style = styles[name]
        except KeyError:
            style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            if base:
                style.base_style = styles[base]
        return style

    normal = styles["Normal"]
    normal.font.size = Pt(14)
    _set_fonts(normal.element, BODY_FONT)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.25

    title = paragraph_style("提纲标题")
    title.font.size = Pt(22)
    title.font.bold = False
    _set_fonts(title.element, HEADING_FONT)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(12)

    meta = paragraph_style("提纲信息")
    meta.font.size = Pt(12)
    meta.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    meta.paragraph_format.space_after = Pt(12)

    heading = styles["Heading 1"]
    heading.font.size = Pt(16)
    heading.font.bold = False
    heading.font.color.rgb = RGBColor(0, 0, 0)
    _set_fonts(heading.element, HEADING_FONT)
    heading.paragraph_format.space_before = Pt(12)
    heading.paragraph_format.space_after = Pt(6)

    question = paragraph_style("提纲问题")
    question.paragraph_format.first_line_indent = None

    follow_up = paragraph_style("提纲追问")
    follow_up.paragraph_format.left_indent = Pt(28)

    purpose = paragraph_style("考察意图")
    purpose.font.size = Pt(10.5)
    purpose.font.color.rgb = RGBColor.from_string(PURPOSE_GREY)
    purpose.paragraph_format.left_indent = Pt(28)

    warning = paragraph_style("提纲提示")
    warning.font.size = Pt(12)
    warning.font.italic = True

    note_text_style = paragraph_style("footnote text")
    note_text_style.font.size = Pt(9)
    note_text_style.paragraph_format.space_after = Pt(0)
    note_text_style.paragraph_format.line_spacing = 1.0

    try:
        note_ref = styles["footnote reference"]
    except KeyError:
        note_ref = styles.add_style("footnote reference", WD_STYLE_TYPE.CHARACTER)
    note_ref.font.superscript = True
    return note_text_style, note_ref


def _add_run(paragraph, text: str, east_asia: str = BODY_FONT, **fmt):
    run = paragraph.add_run(_clean(text))
    _set_fonts(run._r, east_asia)
    for key, value in fmt.items():
        setattr(run.font, key, value)
    return run


class _Footnotes:
    """The word/footnotes.xml part, created on first use and wired to the document part."""

    def __init__(self, document, text_style, ref_style):
        self.document = document
        self.text_style_id = text_style.style_id
        self.ref_style_id = ref_style.style_id
        self._root = None
        self._next_id = 1

    def _part_root(self):
        if self._root is not None:
            return self._root
        from docx.opc.constants import CONTENT_TYPE as CT
        from docx.opc.constants import RELATIONSHIP_TYPE as RT
        from docx.opc.packuri import PackURI
        from docx.opc.part import XmlPart
        from docx.oxml import parse_xml
        from docx.oxml.ns import nsdecls, qn
        from docx.oxml.parser import OxmlElement

        doc_part = self.document.part
        for rel in doc_part.rels.values():
            if rel.reltype == RT.FOOTNOTES:  # a template that already has footnotes: append to it
                self._root = rel.target_part.element
                ids = [int(fn.get(qn("w:id"))) for fn in self._root.findall(qn("w:footnote"))]
                self._next_id = max([0, *ids]) + 1
                return self._root
        separators = "".join(
            f'<w:footnote w:type="{kind}" w:id="{fid}"><w:p><w:pPr><w:spacing w:after="0" w:line="240" '
            f'w:lineRule="auto"/></w:pPr><w:r><w:{kind}/></w:r></w:p></w:footnote>'
            for kind, fid in (("separator", -1), ("continuationSeparator", 0))
        )
        root = parse_xml(f"<w:footnotes {nsdecls('w', 'r')}>{separators}</w:footnotes>")
        part = XmlPart(PackURI("/word/footnotes.xml"), CT.WML_FOOTNOTES, root, doc_part.package)
        doc_part.relate_to(part, RT.FOOTNOTES)
        # Word expects the separator footnotes to be declared in settings; compat follows footnotePr
        # in the schema's element order.
        settings = self.document.settings.element
        if settings.find(qn("w:footnotePr")) is None:
            pr = OxmlElement("w:footnotePr")
            for fid in ("-1", "0"):
                ref = OxmlElement("w:footnote")
                ref.set(qn("w:id"), fid)
                pr.append(ref)
            compat = settings.find(qn("w:compat"))
            if compat is not None:
                compat.addprevious(pr)
        self._root = root
        return root

    def add(self, paragraph, text: str) -> int:
        """Put a footnote reference at the end of ``paragraph``; the note holds ``text``."""
        from docx.oxml.ns import qn
        from docx.oxml.parser import OxmlElement

        root = self._part_root()
        fid = self._next_id
        self._next_id += 1

        def ref_rpr():
            rpr = OxmlElement("w:rPr")
            style = OxmlElement("w:rStyle")
            style.set(qn("w:val"), self.ref_style_id)
            rpr.append(style)
            valign = OxmlElement("w:vertAlign")
            valign.set(qn("w:val"), "superscript")
            rpr.append(valign)
            return rpr

        run = OxmlElement("w:r")
        run.append(ref_rpr())
        ref = OxmlElement("w:footnoteReference")
        ref.set(qn("w:id"), str(fid))
        run.append(ref)
        paragraph._p.append(run)

        note = OxmlElement("w:footnote")
        note.set(qn("w:id"), str(fid))
        p = OxmlElement("w:p")
        ppr = OxmlElement("w:pPr")
        pstyle = OxmlElement("w:pStyle")
        pstyle.set(qn("w:val"), self.text_style_id)
        ppr.append(pstyle)
        p.append(ppr)
        mark = OxmlElement("w:r")
        mark.append(ref_rpr())
        mark.append(OxmlElement("w:footnoteRef"))
        p.append(mark)
        body = OxmlElement("w:r")
        rpr = OxmlElement("w:rPr")
        fonts = OxmlElement("w:rFonts")
        for attr, value in (("w:ascii", LATIN_FONT), ("w:hAnsi", LATIN_FONT), ("w:eastAsia", BODY_FONT), ("w:cs", LATIN_FONT)):
            fonts.set(qn(attr), value)
        rpr.append(fonts)
        body.append(rpr)
        t = OxmlElement("w:t")
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        t.text = " " + _clean(text)
        body.append(t)
        p.append(body)
        note.append(p)
        root.append(note)
        return fid


def draft_to_docx(draft: Draft, path: Path, notes: str = "footnotes") -> Path:
    """Write the draft as a Word document at ``path`` and return the path.

    ``notes``: "footnotes" (real Word footnotes, the default) or "endnotes" (superscript numbers
    after each question and a numbered “来源” section at the end).
    """
    _check(draft)
    if notes not in ("footnotes", "endnotes"):
        raise ExportError(f"notes must be 'footnotes' or 'endnotes', got {notes!r}")
    path = Path(path)
    if path.suffix.lower() != ".docx":
        raise ExportError(f"{path}: the output file must end in .docx")
    if path.exists() and path.is_dir():
        raise ExportError(f"{path}: is a directory")
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    try:
        from docx import Document
        from docx.shared import Pt
    except ImportError as exc:  # pragma: no cover - python-docx is a core dependency
        raise ImportError("Word export needs python-docx: pip install -e .") from exc

    document = Document()
    core = document.core_properties
    core.title = _title(draft)
    core.subject = KIND_TITLES.get(draft.kind, "")
    core.author = "考察知识库"
    note_text_style, note_ref_style = _setup_styles(document)
    footnotes = _Footnotes(document, note_text_style, note_ref_style) if notes == "footnotes" else None
    endnotes = _Notes()
    section_warnings, general_warnings = _split_warnings(draft)

    _add_run(document.add_paragraph(style="提纲标题"), _title(draft), HEADING_FONT)
    _add_run(document.add_paragraph(style="提纲信息"), _meta_line(draft))
    if _clean(draft.opening):
        p = document.add_paragraph(style="提纲问题")
        _add_run(p, f"{OPENING_LABELS.get(draft.kind, '说明')}：", HEADING_FONT)
        _add_run(p, draft.opening)

    for i, section in enumerate(draft.sections):
        heading = document.add_paragraph(style="Heading 1")
        _add_run(heading, f"{chinese_numeral(i + 1)}、{_section_name(section)}", HEADING_FONT)
        warnings = section_warnings.get(i, [])
        if not section.questions and not warnings:
            warnings = [NO_QUESTIONS_TEXT]
        for warning in warnings:
            _add_run(document.add_paragraph(style="提纲提示"), f"提示：{warning}")
        for number, question in enumerate(section.questions, 1):
            p = document.add_paragraph(style="提纲问题")
            _add_run(p, f"{number}. {question_line(question)}")
            for k, (citation, text) in enumerate(question_notes(question)):
                if footnotes is not None:
                    if k:  # footnote numbers side by side read as one number: "¹²" → "¹,²"
                        _add_run(p, ",", superscript=True)
                    footnotes.add(p, text)
                else:
                    _add_run(p, f"[{endnotes.number(citation, text)}]", superscript=True)
            for follow_up in question.follow_ups:
                if _clean(follow_up):
                    _add_run(document.add_paragraph(style="提纲追问"), f"追问：{follow_up}")
            if _clean(question.purpose):
                _add_run(document.add_paragraph(style="考察意图"), f"考察意图：{question.purpose}", size=Pt(10.5))

    closing = [_clean(c) for c in getattr(draft, "closing", []) or [] if _clean(c)]
    if closing:
        heading = document.add_paragraph(style="Heading 1")
        _add_run(heading, f"{chinese_numeral(len(draft.sections) + 1)}、{CLOSING_TITLE}", HEADING_FONT)
        for item in closing:
            _add_run(document.add_paragraph(style="提纲问题"), item)
    if general_warnings:
        _add_run(document.add_paragraph(style="Heading 1"), "说明", HEADING_FONT)
        for warning in general_warnings:
            _add_run(document.add_paragraph(style="提纲提示"), warning)
    if endnotes.notes:
        _add_run(document.add_paragraph(style="Heading 1"), "来源", HEADING_FONT)
        for note in endnotes.notes:
            p = document.add_paragraph(style="footnote text")
            _add_run(p, f"[{note.n}] {note.text}")

    try:
        document.save(str(path))
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path
