"""kb.web.page_checks: the pages of an ingested file to check against the original, one wording for the
CLI and the web app — every kind of check (未读取, 识别置信度低, 未识别区域) is listed, none dropped."""
from __future__ import annotations

from kb.web.page_checks import page_check_kinds, page_check_lines, page_check_note

# one page of each kind, as the ingest summary's ``low_confidence`` carries them (ingest/ocr.py, loaders.py)
UNREAD = {"doc_id": "通知", "page": 3, "confidence": None, "low_lines": [], "below": False, "missed": [],
          "low": True, "unread": "scanned page not read (install the ocr extra)"}
LOW = {"doc_id": "通知", "page": 1, "confidence": 0.612, "below": True, "missed": [], "low": True,
       "low_lines": [f"第{i}行" for i in range(1, 8)]}
BELOW_ONLY = {"doc_id": "通知", "page": 4, "confidence": 0.7, "below": True, "missed": [], "low": True, "low_lines": []}
MISSED = {"doc_id": "通知", "page": 2, "confidence": 0.97, "below": False, "low_lines": [], "low": True,
          "missed": [{"top": 0.31, "bottom": 0.33, "kind": "line"}, {"top": 0.7, "bottom": 0.85, "kind": "picture"}]}
BOTH = {"doc_id": "通知", "page": 5, "confidence": 0.9, "below": False, "low_lines": ["模糊的一行"], "low": True,
        "missed": [{"top": 0.5, "bottom": 0.52, "kind": "line"}]}


def test_every_kind_of_check_has_its_line():
    assert page_check_lines([LOW, MISSED, UNREAD, BELOW_ONLY, BOTH]) == [
        "识别置信度低：通知 第1页（平均 0.61）第1行；第2行；第3行；第4行；第5行（另 2 行）",
        "未识别区域：通知 第2页 距页顶 31%–33% 处有一行文字未被识别，请对照原件核实",
        "未识别区域：通知 第2页 距页顶 70%–85% 处有图片或印章未被识别，请对照原件核实",
        "未读取：通知 第3页：scanned page not read (install the ocr extra)",
        "识别置信度低：通知 第4页（平均 0.70）",
        "识别置信度低：通知 第5页（平均 0.90）模糊的一行",
        "未识别区域：通知 第5页 距页顶 50%–52% 处有一行文字未被识别，请对照原件核实",
    ]


def test_no_checks_no_lines_and_no_note():
    assert page_check_lines([]) == []
    assert page_check_note([]) == ""


def test_the_note_names_each_page_and_what_to_check_in_page_order():
    assert page_check_kinds(UNREAD) == ["未读取"]
    assert page_check_kinds(MISSED) == ["未识别区域 2 处"]
    assert page_check_kinds(BOTH) == ["识别置信度低", "未识别区域 1 处"]
    assert page_check_note([UNREAD, BOTH, MISSED, LOW]) == (
        "需核对：第1页（识别置信度低）、第2页（未识别区域 2 处）、第3页（未读取）、"
        "第5页（识别置信度低、未识别区域 1 处），请对照原件核实"
    )


def test_the_cli_and_the_web_view_use_this_one_formatter():
    import kb.cli.ingest_cmd as cli
    import kb.web.service as web

    assert cli.page_check_lines is page_check_lines
    assert web.page_check_lines is page_check_lines and web.page_check_note is page_check_note


def test_the_upload_view_shows_each_files_checks_as_text_and_notes_its_row():
    import html

    from kb.web.service import ingest_results_table, render_ingest_summary_markdown

    link = dict(BOTH, doc_id="扫描件", low_lines=["[点此](http://evil.example)"])
    summary = {
        "added": 2, "updated": 0, "unchanged": 0, "chunks": 5,
        "files": [
            {"file": "扫描件.pdf", "doc_id": "扫描件", "status": "新增", "error": "", "chunks": 3,
             "page_checks": [link, dict(UNREAD, doc_id="扫描件")]},
            {"file": "正文.txt", "doc_id": "正文", "status": "新增", "error": "", "chunks": 2, "page_checks": []},
        ],
        "other_page_checks": [MISSED],
    }
    text = render_ingest_summary_markdown(summary)
    shown = html.unescape(text)
    assert shown.startswith("新增 2，更新 0，未变 0，切分 5 段，失败 0")
    assert "**扫描件.pdf**（3 处需核对）" in shown and "**其他文档**（2 处需核对）" in shown
    for line in page_check_lines([link, dict(UNREAD, doc_id="扫描件"), MISSED]):
        assert f"- {line}" in shown
    assert "正文.txt" not in shown
    assert "](" not in text and "http:" not in text  # document text never becomes a live link
    rows = ingest_results_table(summary)
    assert rows[0][3] == "3 段；需核对：第3页（未读取）、第5页（识别置信度低、未识别区域 1 处），请对照原件核实"
    assert rows[1][3] == "2 段"
