"""ingest.ocr: what OCR leaves out is listed, never lost silently — print no recognised line covers
(a skipped line), scanned pages inside a text PDF, and pages whose text could not be read."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.loaders import load_file
from ingest.ocr import uncovered_print

LINES = [
    "第七十九条 考察组应当在进驻后3日内制定深度访谈计划。",
    "第八十条 考察中发现的问题线索，应当及时报送干部监督处。",
    "第八十一条 对评价为一般的，整改期限一般为6个月。",
    "第八十二条 本办法自印发之日起施行。",
]


def _page(cjk_font: Path, lines: list[str], table: bool = False):
    """A page image with the lines drawn, and each line's box as OCR returns it (four corners)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1190, 1684), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(cjk_font), 30)
    boxes = []
    for i, text in enumerate(lines):
        x, y = 120, 300 + 60 * i
        draw.text((x, y), text, fill=0, font=font)
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
        boxes.append([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if table:  # a frame with rules around the lines, and a speck of dust
        draw.rectangle((100, 280, 1100, 300 + 60 * len(lines)), outline=0, width=2)
        for i in range(1, len(lines)):
            draw.line((100, 290 + 60 * i, 1100, 290 + 60 * i), fill=0, width=2)
        draw.line((500, 280, 500, 300 + 60 * len(lines)), fill=0, width=2)
        draw.ellipse((900, 1000, 903, 1003), fill=0)
    return np.asarray(image), boxes


def test_a_page_whose_lines_are_all_recognised_has_nothing_missed(cjk_font):
    gray, boxes = _page(cjk_font, LINES)
    assert uncovered_print(gray, boxes) == []


def test_a_line_the_recogniser_skipped_is_reported_where_it_is(cjk_font):
    gray, boxes = _page(cjk_font, LINES)
    missed = uncovered_print(gray, boxes[:1] + boxes[2:])  # 第八十条 came back empty
    assert len(missed) == 1
    top = boxes[1][0][1] / gray.shape[0]
    assert missed[0]["kind"] == "line" and abs(missed[0]["top"] - top) < 0.01


def test_table_rules_frames_and_dust_are_not_missed_lines(cjk_font):
    gray, boxes = _page(cjk_font, LINES, table=True)
    assert uncovered_print(gray, boxes) == []
    assert len(uncovered_print(gray, boxes[:3])) == 1


def _ruled_table(cjk_font: Path, cells: list[list[str]]):
    """A table as a scan prints it: a rule around every cell, the header centred, each other cell's
    text from its left rule plus a small inset; and the boxes OCR returns (one per cell)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1190, 1684), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(cjk_font), 30)
    xs = [100, 330, 555, 780, 1000]  # column lines; the second column's text fills its cell
    boxes = []
    for r, row in enumerate(cells):
        top = 200 + 56 * r
        for c, text in enumerate(row):
            x = xs[c] + 6
            if r == 0:  # the header row is centred: the gaps between its cells are short
                x = (xs[c] + xs[c + 1] - draw.textlength(text, font=font)) / 2
            draw.text((x, top + 12), text, fill=0, font=font)
            x0, y0, x1, y1 = draw.textbbox((x, top + 12), text, font=font)
            boxes.append(([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], text, 0.99))
    bottom = 200 + 56 * len(cells)
    for r in range(len(cells) + 1):
        draw.line((xs[0], 200 + 56 * r, xs[-1], 200 + 56 * r), fill=0, width=2)
    for x in xs:
        draw.line((x, 200, x, bottom), fill=0, width=2)
    return np.asarray(image), boxes


TABLE = [["督查组", "督查范围", "督查时间", "带队领导"],
         ["第四督查组", "北岭乡、县市场", "12月11日", "朱宏伟"],
         ["第五督查组", "东川镇、县卫健", "12月16日", "林小雨"]]


def test_the_rules_of_a_fully_read_table_are_not_a_missed_line(cjk_font):
    # blanking the recognised cells first cut the rules into stubs that passed for print
    gray, items = _ruled_table(cjk_font, TABLE)
    assert uncovered_print(gray, [box for box, _, _ in items]) == []


def test_cells_a_column_line_parts_stay_apart_however_narrow_the_gap(cjk_font):
    from ingest.ocr import column_rules, ocr_layout

    gray, items = _ruled_table(cjk_font, TABLE)
    gap = items[6][0][0][0] - items[5][0][1][0]  # 北岭乡、县市场 | 12月11日: under a character's width
    assert gap < 0.8 * 30
    columns = column_rules(gray, [box for box, _, _ in items])
    assert len(columns) == 5
    rows = [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in ocr_layout(items, columns).split("\n")]
    assert rows[1] == ["第四督查组", "北岭乡、县市场", "12月11日", "朱宏伟"]
    joined = ocr_layout(items).split("\n")[1]  # without the rules the two cells run together
    assert "北岭乡、县市场12月11日" in joined.replace(" ", "")


def test_a_page_number_the_recogniser_skipped_is_not_reported(cjk_font):
    from PIL import Image, ImageDraw, ImageFont

    gray, boxes = _page(cjk_font, LINES)
    image = Image.fromarray(gray.copy())
    ImageDraw.Draw(image).text((560, 1560), "— 1 —", fill=0, font=ImageFont.truetype(str(cjk_font), 30))
    assert uncovered_print(np.asarray(image), boxes) == []


def test_scanned_page_in_a_text_pdf_is_listed_when_ocr_is_missing(make_pdf, ingest_settings, tmp_path, cjk_font, monkeypatch):
    from PIL import Image, ImageDraw, ImageFont

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # the ocr extra is not installed
    picture = tmp_path / "scan.png"
    image = Image.new("RGB", (1200, 300), "white")
    ImageDraw.Draw(image).text((40, 90), "附件扫描件", fill="black", font=ImageFont.truetype(str(cjk_font), 100))
    image.save(picture)
    path = make_pdf(["第一页的正文。", "", "第三页的正文。"], images={1: picture})
    document = load_file(path, ingest_settings)
    assert [s.page for s in document.segments] == [1, 3]
    assert document.ocr_pages[2]["low"] is True
    assert "install the ocr extra" in document.ocr_pages[2]["unread"]


def test_an_unchanged_file_reports_its_pages_to_check_again(make_pdf, tmp_path, cjk_font, monkeypatch):
    # the second upload does not read the file again, but its page 2 still has not been read
    from PIL import Image, ImageDraw, ImageFont

    from kb.container import build_services
    from tests.conftest import make_settings

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    picture = tmp_path / "scan.png"
    image = Image.new("RGB", (1200, 300), "white")
    ImageDraw.Draw(image).text((40, 90), "附件扫描件", fill="black", font=ImageFont.truetype(str(cjk_font), 100))
    image.save(picture)
    path = make_pdf(["第一页的正文。", "", "第三页的正文。"], images={1: picture})
    services = build_services(make_settings(tmp_path / "kb"))
    try:
        first = services.ingest.ingest_paths([path])
        again = services.ingest.ingest_paths([path])
    finally:
        services.close()
    assert first["added"] == 1 and again["unchanged"] == 1
    checks = [(c["doc_id"], c["page"], "unread" in c) for c in again["low_confidence"]]
    assert checks == [(first["low_confidence"][0]["doc_id"], 2, True)]


def test_page_check_lines_name_the_page_and_what_to_check():
    from kb.cli.ingest_cmd import page_check_lines

    lines = page_check_lines([
        {"doc_id": "通知", "page": 2, "confidence": 0.97, "below": False, "low_lines": [],
         "missed": [{"top": 0.31, "bottom": 0.33, "kind": "line"}], "low": True},
        {"doc_id": "通知", "page": 3, "unread": "scanned page not read (install the ocr extra)", "low": True},
    ])
    assert lines[0].startswith("未识别区域：通知 第2页") and "31%" in lines[0]
    assert lines[1].startswith("未读取：通知 第3页")


@pytest.mark.slow
def test_a_line_lost_by_ocr_reaches_the_ingest_summary(tmp_path, cjk_font, monkeypatch):
    """End to end on a real scan: the recogniser's answer for one line is dropped (as RapidOCR drops a
    box whose text comes back empty) and the ingest summary lists that page and region."""
    pytest.importorskip("rapidocr_onnxruntime", reason="OCR extra not installed")
    from PIL import Image, ImageDraw, ImageFont

    import ingest.ocr as ocr
    from kb.container import build_services
    from tests.conftest import make_settings

    image = Image.new("RGB", (1190, 1684), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(cjk_font), 34)
    for i, text in enumerate(LINES):
        draw.text((100, 300 + 70 * i), text, fill="black", font=font)
    scan = tmp_path / "scan.pdf"
    image.save(scan, "PDF", resolution=144)

    real = ocr._ocr_engine()

    def losing_a_line(array):
        result, elapse = real(array)
        kept = [item for item in result if "八十条" not in item[1] or "八十一" in item[1] or "八十二" in item[1]]
        assert len(kept) == len(result) - 1
        return kept, elapse

    monkeypatch.setattr(ocr, "_ocr_engine", lambda: losing_a_line)
    services = build_services(make_settings(tmp_path / "home"))
    try:
        summary = services.ingest.ingest_paths([scan])
    finally:
        services.close()
    checks = [item for item in summary["low_confidence"] if item["page"] == 1]
    assert checks and len(checks[0]["missed"]) == 1 and checks[0]["missed"][0]["kind"] == "line"


def test_cells_of_a_ruled_column_line_up_in_the_layout_text():
    """A wrapped row's second line: its cells stand where OCR found their words (centred, or nearer the
    next column than the first line's cells), and the scan's rules stop short of the row's last line.
    In the layout text every cell of a column starts at one position, so the table reader finds them."""
    from ingest.ocr import ocr_layout

    def box(x0, y, text, unit=27):
        return ([[x0, y - 13], [x0 + unit * len(text), y - 13], [x0 + unit * len(text), y + 13], [x0, y + 13]], text, 0.99)

    rules = [(144, 212, 402), (212, 212, 380), (530, 210, 403), (746, 209, 367), (892, 208, 376), (1052, 209, 400)]
    items = [
        box(169, 314, "9"), box(222, 312, "建立干部担当作为正向激励"), box(577, 310, "县委宣传部"),
        box(769, 310, "收录案例"), box(910, 310, "收录案例不"),
        box(220, 347, "典型案例库，定期发布典型"), box(788, 345, "23个"), box(916, 344, "少于40个"),
        box(219, 382, "案例"),
        box(150, 430, "各责任单位应当于每年12月20日前将重点任务完成情况"),
    ]
    lines = ocr_layout(items, rules).split("\n")
    assert lines[1].index("23个") == lines[0].index("收录案例")
    assert lines[1].index("少于40个") == lines[0].index("收录案例不")
    assert lines[2].index("案例") == lines[1].index("典型案例库") == lines[0].index("建立")
    assert lines[3].startswith("各责任单位")  # text below the table is placed as before
    unruled = ocr_layout(items).split("\n")
    assert unruled[1].index("23个") != unruled[0].index("收录案例")
