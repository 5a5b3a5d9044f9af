"""A held-out set made here (bench/make_realdocs.py: a 公文 of another issuer and layout, another law as a
long PDF, a report naming other people) read end to end by bench/realdocs.py: what the dev set's files
show must hold on files the code was not written against."""
from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["b", "c", "d", "e"])
def heldout(request, tmp_path_factory):
    for tool in ("soffice", "pdftoppm", "pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (make system-deps)")
    from bench.make_realdocs import LAWS, make

    if not LAWS.is_dir():
        pytest.skip(f"laws corpus not found at {LAWS} (../shared next to the repository)")
    # b: a 县政府办公室 通知 with a ruled table; c: a 县委办公室 实施意见 whose numbered table (wrapped
    # header cells, cells wrapped over three lines) crosses a page break with its header repeated; d: a
    # 市应急管理局 通知 whose numbered table has a row the page break cuts, and a contact table whose
    # first cells wrap; e: a 区政府办公室 通知 whose PDF reportlab writes (cells centred vertically,
    # rows numbered 一二三, a TAB-stop contact list in the .docx)
    out = tmp_path_factory.mktemp(f"heldout_{request.param}")
    make(out, request.param)
    return out


def test_heldout_notice_law_and_report_are_read_right(heldout):
    from bench.realdocs import run

    report = run(heldout, ocr=False)
    summary = report["summary"]
    # 公文 fields right in every format (.docx, .doc, .pdf, .ofd)
    assert {"notice.docx", "notice.doc", "notice.pdf", "notice.ofd"} <= set(summary["metadata_right"]), summary["metadata_right"]
    assert summary["metadata_right"] and all(all(v.values()) for v in summary["metadata_right"].values()), summary["metadata_right"]
    # running headers at most once per document, no name left when masking is on
    assert all(n <= 1 for n in summary["header_chunks"].values()), summary["header_chunks"]
    assert summary["masking"]["leaked"] == []
    misses = [q for f in report["files"] for q in f["questions"] if not q["correct"] or q["page_right"] is False]
    assert summary["correct"] >= 0.9 * summary["questions"], misses
    assert summary["page_right"] == summary["page_checked"], misses
