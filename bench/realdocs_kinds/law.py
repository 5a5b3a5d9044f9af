"""The law (law.pdf): a 30-60 page law from ../shared/corpus/laws (one per variant, with its plain
questions) written as a docx with its title as running header and converted by LibreOffice; the
page-break questions are two articles that start on one page and end on the next, one about a quarter
and one about two thirds of the way in, their key points the whole clauses either side of the break."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from docx.enum.text import WD_ALIGN_PARAGRAPH

from .common import BODY_PT, LAWS, SANS, SERIF, add_para, new_document, norm, set_fonts
from .pdftext import CLAUSE_SEP, crossing, locate, page_texts, pick_clause

LAW_A = {"md": "社会法/安全生产法(2021-06-10).md", "short": "安全生产法", "footer": "dash",
         "plain": [("plain", "生产经营单位主要负责人未履行安全生产管理职责，导致发生较大事故的，处多少罚款？", ["上一年年收入百分之六十"]),
                   ("plain", "生产经营单位的特种作业人员上岗作业前必须满足什么条件？", ["专门的安全作业培训"])]}
LAW_B = {"md": "行政法/固体废物污染环境防治法(2020-04-29).md", "short": "固体废物污染环境防治法", "footer": "hyphen",
         "plain": [("plain", "医疗卫生机构产生的医疗废物应当交由谁处置？", ["医疗废物集中处置单位"]),
                   ("plain", "产生工业固体废物的单位应当取得什么许可证？", ["排污许可证"])]}
LAW_C = {"md": "行政法/药品管理法(2019-08-26).md", "short": "药品管理法", "footer": "of",
         "plain": [("plain", "药品上市许可持有人每年向省级药品监督管理部门报告生产销售等情况，应当建立什么制度？", ["年度报告制度"]),
                   ("quantity", "为假药、劣药提供储存、运输等便利条件，违法收入不足五万元的，罚款怎么计算？", ["按五万元计算"])]}
LAW_D = {"md": "行政法/海上交通安全法(2021-04-29).md", "short": "海上交通安全法", "footer": "dash",
         "plain": [("plain", "船舶、海上设施、航空器及人员在海上遇险的，应当向哪里报告？", ["立即报告海上搜救中心"]),
                   ("quantity", "船员未保持安全值班的，对船长、责任船员处多少罚款？", ["一千元以上一万元以下的罚款"])]}
LAW_E = {"md": "行政法/大气污染防治法(2018-10-26).md", "short": "大气污染防治法", "footer": "of",
         "plain": [("plain", "企业事业单位向大气排放污染物的，应当依照规定设置什么？", ["设置大气污染物排放口"]),
                   ("quantity", "使用排放不合格的非道路移动机械的，处多少罚款？", ["处五千元的罚款"])]}


ARTICLE = re.compile(r"^(第[一二三四五六七八九十百零]+条)[\s\u3000]+")


def read_law(md_path: Path) -> tuple[str, list[str], list[tuple[str, str]]]:
    """(title, preface lines, blocks) — blocks: ('title'|'chapter'|'section'|'p', text)."""
    lines = md_path.read_text(encoding="utf-8").splitlines()
    title, preface, blocks, in_info = "", [], [], True
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("<!--"):
            in_info = False
            continue
        if line.startswith("# "):
            title = line[2:].strip()
            continue
        if in_info:
            preface.append(line)
            continue
        if line.startswith("### "):
            blocks.append(("section", line[4:].strip()))
        elif line.startswith("## "):
            blocks.append(("chapter", line[3:].strip()))
        else:
            blocks.append(("p", line))
    return title, preface, blocks


def build_law(spec: dict, path: Path) -> tuple[str, list[dict]]:
    """Writes the law docx; returns (title, articles [{'num','text'}])."""
    title, preface, blocks = read_law(LAWS / spec["md"])
    doc = new_document(title, spec["footer"])
    add_para(doc, title, size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, exact=40)
    for line in preface:
        add_para(doc, line, size=BODY_PT, indent_chars=2)
    articles: list[dict] = []
    for kind, text in blocks:
        if kind in ("chapter", "section"):
            add_para(doc, text.replace("\u3000", "\u3000"), font=SANS if kind == "chapter" else SERIF,
                     bold=kind == "section", align=WD_ALIGN_PARAGRAPH.CENTER)
            continue
        m = ARTICLE.match(text)
        p = add_para(doc, indent_chars=2)
        if m:
            set_fonts(p.add_run(m.group(1)), SANS, BODY_PT)
            set_fonts(p.add_run("\u3000" + text[m.end():]), SERIF, BODY_PT)
            articles.append({"num": m.group(1), "text": m.group(1) + text[m.end():]})
        else:
            set_fonts(p.add_run(text), SERIF, BODY_PT)
            if articles:
                articles[-1]["text"] += text
    doc.save(str(path))
    return title, articles


def law_questions(law: dict, lay: Path, out: Path, law_title: str,
                  articles: list[dict]) -> tuple[list[str], list[dict], list[tuple]]:
    """Copies the law's PDF from lay to out (law.pdf) and picks its page-break questions; returns its
    page texts, its questions (page-break, then plain ones) and the verification rows."""
    questions: list[dict] = []
    verify: list[tuple] = []
    shutil.copy(lay / "law.pdf", out / "law.pdf")
    law_pages = page_texts(out / "law.pdf", law_title)
    law_md = norm((LAWS / law["md"]).read_text(encoding="utf-8"))
    picked = []
    n = len(law_pages)
    for target in (n // 4, (2 * n) // 3):
        for art in articles:
            loc = crossing(law_pages, art["text"])
            if not loc or loc[0] < target:
                continue
            if any(loc[0] == p[1][0] for p in picked):
                continue
            joined = "".join(law_pages)
            s = joined.find(norm(art["text"]))
            cut = sum(len(p) for p in law_pages[: loc[0]]) - s
            t = norm(art["text"])
            before, after = t[len(art["num"]):cut], t[cut:]
            at_sep = bool(before) and before[-1] in CLAUSE_SEP
            k1 = pick_clause(before, from_end=True, whole_edge=at_sep)
            k2 = pick_clause(after, from_end=False, whole_edge=at_sep)
            if not k1 or not k2 or len(before) < 20 or len(after) < 20:
                continue
            picked.append((art, loc, [k1, k2]))
            break
    if len(picked) < 2:
        raise RuntimeError("law: fewer than two articles cross a page boundary")
    for art, loc, keys in picked:
        questions.append({"file": "law.pdf", "kind": "page_break",
                          "question": f"{law['short']}{art['num']}是怎么规定的？", "key_points": keys})
        verify.append(("law.pdf", " / ".join(keys), art["text"], loc,
                       (locate(law_pages, keys[0])[0], locate(law_pages, keys[1])[0])))
    for kind, q, keys in law["plain"]:
        questions.append({"file": "law.pdf", "kind": kind, "question": q, "key_points": keys})
    for q in questions:
        if q["file"] == "law.pdf":
            for k in q["key_points"]:
                if norm(k) not in law_md:
                    raise RuntimeError(f"key point not in law text: {k}")
    return law_pages, questions, verify
