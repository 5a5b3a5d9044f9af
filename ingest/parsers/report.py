"""Reports, 通报 and inspection records: prose with tables (rows arrive from the loader as sentences
that repeat the column headers) and names (masking, when enabled)."""
from __future__ import annotations

import re

_REPORT_TITLE = re.compile(r"报告|通报|总结|汇报|实录|纪实")


def detect(title: str) -> bool:
    return bool(_REPORT_TITLE.search(title or ""))


def parse(doc) -> None:
    """A report's 署名 and date (and 附件, 抄送) are parts of their own, not body of its last section;
    the date is the document's issued_on."""
    from ingest.parsers.gongwen import closing_parts

    footer_at, attach_at, closing_at = closing_parts(doc)
    parts = [(0, "")]
    for offset, label in ((attach_at, "附件说明"), (closing_at, "落款"), (footer_at, "版记")):
        if offset is not None:
            parts.append((offset, label))
    doc.parts = sorted(parts) if len(parts) > 1 else []
    doc.meta = {k: v for k, v in doc.meta.items() if v and k == "issued_on"}
