"""A held-out set of real documents, of the kinds in ../shared/corpus/realdocs_dev, with invented content.

    python -m bench.make_realdocs --out DIR [--variant a|b|c|d|e]

Writes into DIR: notice.docx and notice.doc (a 公文 in GB/T 9704 layout: 份号, 密级, 紧急程度, red 发文机关标志,
发文字号, two-line title, 主送机关, 一、（一）1.（1） body, a captioned table, 附件说明, 署名, 成文日期,
附注, 版记; running header and "— N —" / "第N页 共M页" page-number fields; variant c: a 实施意见 without
份号/密级/running header, 发文字号 with （）, ①② items, "-N-", a five-column table with wrapped cells whose
rows may split, across a page break; variant d: a 市应急管理局 通知 with 发文字号 typed as [2025], a 序号 table
whose header cells wrap and one of whose rows the page break cuts — its first printed line at the foot of one
page, the rest of its cells under the repeated header on the next, the questions on that row recording the
page it starts on — and a contact table without 序号 whose first-column cells wrap; variant e: a 区政府办公室 印发通知 of a 工作方案
with 成文日期 in Chinese numerals, a 序号 table numbered 一、二、三, a borderless contact list and ① items), notice.pdf
(LibreOffice; for e written by reportlab, see build_notice_reportlab), notice.ofd (GB/T 33190, written from the PDF's text boxes in one of two converter styles, see write_ofd), notice_scan.pdf (image only, no text
layer), law.pdf (a 30-60 page law from ../shared/corpus/laws with its
title as running header), report.docx (an inspection report naming invented people, with a 民主测评 table),
questions.jsonl and expected.json.

The page_break questions are checked against the produced PDFs: the key point's sentence (a law
article for law.pdf) must start on one page and end on the next; a verification table is printed.
The notice is laid out with 0..7 extra blank lines before the title (and 0..3 lines of space before
its table) and the first layout where at least two candidate sentences cross a page boundary (and, for d, a
page break cuts one of the table rows after its first printed line) is kept. Deterministic: no randomness but a
seeded generator for the scan noise. Needs python-docx, lxml, Pillow, numpy, soffice and poppler-utils.

Each kind's generator is a module of bench/realdocs_kinds (notice, ofd, scan, law, report; shared helpers
in common and pdftext); this runner picks the variant, calls them in turn and writes questions.jsonl and
expected.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench.realdocs_kinds.common import LAWS, norm  # noqa: F401  (LAWS: the laws corpus, for callers)
from bench.realdocs_kinds.law import LAW_A, LAW_B, LAW_C, LAW_D, LAW_E, build_law, law_questions
from bench.realdocs_kinds.notice import make_notice
from bench.realdocs_kinds.notice_specs import NOTICE_A, NOTICE_B, NOTICE_C, NOTICE_D, NOTICE_E
from bench.realdocs_kinds.ofd import OFD_STYLE
from bench.realdocs_kinds.pdftext import page_count
from bench.realdocs_kinds.report import REPORT_A, REPORT_B, REPORT_C, REPORT_D, REPORT_E, make_report
from bench.realdocs_kinds.scan import make_notice_scan

VARIANTS = {"a": (NOTICE_A, REPORT_A, LAW_A), "b": (NOTICE_B, REPORT_B, LAW_B), "c": (NOTICE_C, REPORT_C, LAW_C),
            "d": (NOTICE_D, REPORT_D, LAW_D), "e": (NOTICE_E, REPORT_E, LAW_E)}


def make(out: Path, variant: str) -> dict:
    notice, report, law = VARIANTS[variant]
    out.mkdir(parents=True, exist_ok=True)
    questions: list[dict] = []
    verify: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="mkrealdocs-") as tmp:
        tmp = Path(tmp)
        profile = tmp / "profile"
        # the notice with 0..7 blank lines before the title (and, if need be, 1..3 lines of space
        # before the table), eight layouts per soffice call; the first layout where >= 2 candidate
        # sentences cross a page boundary is kept; the law's docx is converted along with them
        lay = tmp / "layouts"
        lay.mkdir()
        law_docx = tmp / "law.docx"
        law_title, articles = build_law(law, law_docx)
        made = make_notice(notice, variant, out, lay, profile, also_convert=[law_docx])
        questions += made["questions"]
        verify += made["verify"]
        notice_pages, ofd_pages, pad = made["pages"], made["ofd_pages"], made["layout"]
        table_pages, split = made["table_pages"], made["split"]

        # scan
        make_notice_scan(out, tmp, variant)

        # law
        law_pages, law_qs, law_verify = law_questions(law, lay, out, law_title, articles)
        questions += law_qs
        verify += law_verify

        # report
        questions += make_report(report, out)

    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for i, q in enumerate(questions, start=1):
            fh.write(json.dumps({"id": f"ho{variant}-{i:02d}", **q}, ensure_ascii=False) + "\n")
    expected = {
        "notice": {"doc_number": notice["doc_number_norm"], "doc_number_as_printed": notice["doc_number"],
                   "issuer": notice["issuer"], "issued_on": notice["issued_on"],
                   "title": "".join(notice["title_lines"]), "doc_type": "policy"},
        "report_names": report["names"],
        "report_masked_names": report["masked"],
        "running_headers": [h for h in (notice["header"], law_title) if h],
        "law_title": law_title,
        "notice_formats": ["notice.docx", "notice.doc", "notice.pdf", "notice.ofd", "notice_scan.pdf"],
        "pages": {"notice.pdf": notice_pages, "notice.ofd": ofd_pages,
                  "notice_scan.pdf": page_count(out / "notice_scan.pdf"), "law.pdf": len(law_pages)},
        "notice_layout": {"table_gap_lines": pad[0], "title_padding_lines": pad[1]},
        "notice_ofd_style": OFD_STYLE[variant],
        "notice_table_pages": list(table_pages) if table_pages else None,
    }
    if split:
        expected["notice_split_row"] = {"row": split[0] + 1, "pages": [split[1], split[1] + 1]}
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1), encoding="utf-8")
    return {"expected": expected, "verify": verify, "questions": questions, "table_pages": table_pages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="a")
    args = ap.parse_args(argv)
    for tool in ("soffice", "pdftoppm", "pdftotext", "pdfinfo"):
        if not shutil.which(tool):
            print(f"missing {tool} (make system-deps)", file=sys.stderr)
            return 2
    res = make(args.out, args.variant)
    print(f"wrote {args.out}: pages {res['expected']['pages']}, {len(res['questions'])} questions")
    print("page-crossing key points (sentence pages; key point pages):")
    print(f"{'file':<11} {'pages':<7} {'key pages':<9} key point | sentence start … end")
    for file, key, sent, loc, kloc in res["verify"]:
        s = norm(sent)
        print(f"{file:<11} {loc[0]}->{loc[1]:<4} {str(kloc[0]) + '-' + str(kloc[1]):<9} {key} | {s[:14]}…{s[-12:]}")
    if res["table_pages"]:
        print(f"notice table: pages {res['table_pages'][0]}-{res['table_pages'][1]}; "
              f"notice.ofd: {res['expected']['notice_ofd_style']} style, {res['expected']['pages']['notice.ofd']} pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
