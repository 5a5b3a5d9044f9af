"""A drafted and edited outline as a .docx opened in LibreOffice: it renders (PDF, then PNG), with
footnote numbers kept apart and no doubled punctuation after quotations."""
import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from kb.drafting.export import PENDING_MARK, PENDING_QUESTION_MARK, draft_to_docx
from kb.models import DraftRequest, DraftSection

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed"),
]


def _pdf(docx, tmp_path):
    profile = (tmp_path / "lo_profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)],
        check=True, capture_output=True, timeout=240,
    )
    pdf = docx.with_suffix(".pdf")
    assert pdf.is_file() and pdf.stat().st_size > 5_000
    return pdf


def test_talk_outline_renders_with_marks_separated_numbers_and_clean_punctuation(small_kb, tmp_path):
    draft = small_kb.drafts.draft(DraftRequest(
        request="市委书记与某县委书记开展党内政治监督谈话，重点谈政治担当和民主集中制，写明整改要求和整改不力时的后续措施"))
    # edit one question so that its evidence no longer backs it
    first = draft.sections[0]
    edited = small_kb.drafts.recheck(replace(first.questions[0], text="你怎样抓网络安全和信息化工作？"), draft.target)
    assert edited.to_check
    draft.sections[0] = DraftSection(first.dimension, [edited, *first.questions[1:]])
    multi = [q for s in draft.sections for q in s.questions if len(q.citations) >= 2]
    assert multi, "some question cites two sources"
    pdf = _pdf(draft_to_docx(draft, tmp_path / "talk.docx"), tmp_path)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        flat = re.sub(r"\s+", "", text)
        assert "谈话人：市委书记" in flat and "谈话对象：县委书记" in flat
        assert PENDING_QUESTION_MARK in flat and PENDING_MARK in flat
        assert "”。”。" not in flat and "。”。" not in flat and "。。" not in flat
        # two footnote numbers after one question are printed apart ("？1,2"), never run together
        assert re.search(r"？\d+,\d+", flat), flat[:400]
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed: PDF made, PNG rendering skipped")
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert pngs and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pngs[0].stat().st_size > 10_000
    shutil.copy(pngs[0], "/tmp/kb-talk-render.png") if __import__("os").environ.get("KB_KEEP_RENDER") else None
