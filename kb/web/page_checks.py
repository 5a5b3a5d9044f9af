"""The pages of an ingested file a person must check against the original, in the words the CLI
(`kb ingest`) and the web app's upload view both show.

The ingest summary lists them in ``low_confidence`` (ingest/ocr.py, ingest/loaders.py): one item per
page, ``{"doc_id", "page", "confidence", "low_lines", "below", "missed", "low"}`` plus ``"unread"``
(why) for a page whose text is missing. Three kinds of check, none of which may be dropped:

- 未读取: a page whose text could not be read (a scanned page without the ocr extra, a broken page);
- 识别置信度低: OCR lines (or a page) below ``ingest.ocr_min_confidence``, kept in the text as read;
- 未识别区域: print no recognised line covers (a skipped line, a stamp or a picture), by its height.

Nothing here imports the CLI or Gradio.
"""
from __future__ import annotations

from typing import Any, Iterable

UNREAD = "未读取"
LOW_CONFIDENCE = "识别置信度低"
MISSED = "未识别区域"
CHECK_ORIGINAL = "请对照原件核实"


def _is_low(item: dict[str, Any]) -> bool:
    return bool(item.get("low_lines")) or (item.get("confidence") is not None and bool(item.get("below")))


def page_check_lines(items: list[dict]) -> list[str]:
    """One line per page a person should check: unread pages, OCR lines below the threshold, and print
    that no recognised line covers (a missed line, a stamp or a picture), by its height on the page."""
    out = []
    for item in items:
        where = f"{item['doc_id']} 第{item['page']}页"
        if item.get("unread"):
            out.append(f"{UNREAD}：{where}：{item['unread']}")
            continue
        low = item.get("low_lines", [])
        if _is_low(item):
            lines = "；".join(low[:5])
            more = f"（另 {len(low) - 5} 行）" if len(low) > 5 else ""
            out.append(f"{LOW_CONFIDENCE}：{where}（平均 {item['confidence']:.2f}）{lines}{more}")
        for region in item.get("missed", []):
            what = "图片或印章" if region.get("kind") == "picture" else "一行文字"
            out.append(f"{MISSED}：{where} 距页顶 {region['top']:.0%}–{region['bottom']:.0%} 处有{what}未被识别，{CHECK_ORIGINAL}")
    return out


def page_check_kinds(item: dict[str, Any]) -> list[str]:
    """What to check on one page, shortly: ["未读取"] or ["识别置信度低", "未识别区域 2 处"]."""
    if item.get("unread"):
        return [UNREAD]
    kinds = [LOW_CONFIDENCE] if _is_low(item) else []
    missed = len(item.get("missed", []))
    if missed:
        kinds.append(f"{MISSED} {missed} 处")
    return kinds


def page_check_note(items: Iterable[dict[str, Any]]) -> str:
    """One note for a file's row in a results table: "需核对：第2页（未识别区域 1 处）、第3页（未读取），
    请对照原件核实", or "" when no page needs checking."""
    pages = []
    for item in sorted(items, key=lambda i: i.get("page") or 0):
        kinds = page_check_kinds(item)
        if kinds:
            pages.append(f"第{item['page']}页（{'、'.join(kinds)}）")
    return f"需核对：{'、'.join(pages)}，{CHECK_ORIGINAL}" if pages else ""
