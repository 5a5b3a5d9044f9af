"""Laws and regulations: 第X章/第X条 structure (the splitter's article units); as PDFs they need the
shared page-furniture removal and line joins, which put a page-broken article back together."""
from __future__ import annotations

import re

_ARTICLE = re.compile(r"^\s*第[零〇一二三四五六七八九十百千0-9]+条", re.M)


def detect(text: str, title: str) -> bool:
    return len(_ARTICLE.findall(text[:200_000])) >= 3
