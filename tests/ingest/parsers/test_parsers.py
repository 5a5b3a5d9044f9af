"""ingest.parsers: kind detection and what every parser shares (OCR confidence, nesting by format)."""
from __future__ import annotations

from ingest.parsers import parse
from kb.settings import IngestSettings


def _pages(n: int) -> list[tuple[str, int]]:
    return [(f"内部资料 注意保存\n第{i}部分讲考察工作的要求，内容各不相同之{i}。\n-{i}一", i) for i in range(1, n + 1)]


def test_low_confidence_ocr_lines_are_listed_but_misread_page_numbers_are_not():
    ocr = {
        1: {"confidence": 0.97, "low_lines": ["-1一"], "below": False, "low": True},
        2: {"confidence": 0.62, "low_lines": ["第2部分讲考察工作的要求，内容各不相同之2。"], "below": True, "low": True},
        3: {"confidence": 0.98, "low_lines": [], "below": False, "low": False},
    }
    parsed = parse(_pages(3), "pdf", "scan", None, None, IngestSettings(), ocr)
    assert "-1一" in parsed.furniture and "内部资料 注意保存" in parsed.furniture
    assert parsed.ocr_pages[1]["low"] is False and parsed.ocr_pages[1]["low_lines"] == []
    assert parsed.ocr_pages[2]["low"] is True and parsed.ocr_pages[2]["low_lines"]
    # the low-confidence line is kept in the text: listed for a person to check, never dropped
    assert "第2部分讲考察工作的要求" in parsed.text


def test_summary_lists_low_confidence_pages(tmp_path):
    from ingest.pipeline import IngestSummary

    summary = IngestSummary()
    summary.low_confidence.append({"doc_id": "scan", "page": 2, "confidence": 0.62, "low_lines": ["x"], "low": True})
    assert summary.to_dict()["low_confidence"][0]["page"] == 2
    assert "furniture_lines" in summary.to_dict()


def test_items_nest_only_in_document_formats():
    text = "（1）是否坚决贯彻落实；\n（2）是否冲锋在前；\n（3）是否存在推诿扯皮等问题。\n二、考察方式。"
    assert parse([(text, None)], "docx", "d", None, None, IngestSettings()).nest_items is True
    assert parse([(text, None)], "txt", "d", None, None, IngestSettings()).nest_items is False
    assert parse([(text, None)], "md", "d", None, None, IngestSettings()).nest_items is False
