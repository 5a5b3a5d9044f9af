"""Running headers, footers and page numbers of paged text (PDF, OFD, OCR), found and removed.

A line is furniture when it sits at a page edge (the first/last ``edge_lines`` lines) and the same
line — digits ignored in page/issue numbering, so "第3页 共5页" matches "第4页 共5页" — is at that edge on at least
``min_page_share`` of the pages and on two pages or more. Page-number forms ("— 3 —", "-3-") at an
edge count as one repeated line. A line that occurs once is never removed: a document's own title
on page 1 below the running header of the same words stays (only one line per edge and page goes);
nor is a line that is all its page says.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.rules import any_match, rules

_DIGITS = re.compile(r"[0-9０-９]+")
_SPACES = re.compile(r"[\s\u3000]+")
_NUMBERED = re.compile(r"页|期|[Pp]age")


@dataclass
class FurnitureResult:
    pages: list[list[str]]  # the pages' lines without furniture
    removed: list[str] = field(default_factory=list)  # removed lines, in page order


def _key(line: str) -> str:
    stripped = _SPACES.sub("", line)
    if any_match(rules().page_number, stripped) or any_match(rules().page_number, line.strip()):
        return "<page-number>"
    # digits count as one only in lines that number pages or issues ("第3页 共5页", "2024年第3期"):
    # elsewhere a body line at a page edge that differs only in a number is no furniture
    return _DIGITS.sub("#", stripped) if _NUMBERED.search(stripped) else stripped


def _edges(lines: list[str], k: int) -> tuple[list[int], list[int]]:
    idx = [i for i, line in enumerate(lines) if line.strip()]
    return idx[:k], idx[-k:] if len(idx) > k else idx[k:] or []


def remove_furniture(pages: list[list[str]]) -> FurnitureResult:
    """Remove running headers/footers and page numbers from `pages` (each a list of lines)."""
    r = rules()
    k = r.edge_lines
    top: Counter[str] = Counter()
    bottom: Counter[str] = Counter()
    for lines in pages:
        heads, feet = _edges(lines, k)
        top.update({_key(lines[i]) for i in heads})
        bottom.update({_key(lines[i]) for i in feet})
    need = max(2, r.min_page_share * len(pages))
    top_keys = {key for key, n in top.items() if n >= need}
    bottom_keys = {key for key, n in bottom.items() if n >= need}
    out: list[list[str]] = []
    removed: list[str] = []
    for lines in pages:
        heads, feet = _edges(lines, k)
        drop: set[int] = set()
        used: set[str] = set()
        for i in heads:  # top down: at most one line per key and page (the title below stays)
            key = _key(lines[i])
            if key in top_keys and key not in used:
                drop.add(i)
                used.add(key)
        used = set()
        for i in reversed(feet):
            key = _key(lines[i])
            if key in bottom_keys and key not in used and i not in drop:
                drop.add(i)
                used.add(key)
        # a running header is printed above a page's body: a line that is all the page says (a short
        # page whose only sentence starts "第3页…") is the body itself, whatever repeats elsewhere
        if drop and all(i in drop for i, line in enumerate(lines) if line.strip()):
            drop = {i for i in drop if _key(lines[i]) == "<page-number>"}
        removed.extend(lines[i].strip() for i in sorted(drop))
        out.append([line for i, line in enumerate(lines) if i not in drop])
    return FurnitureResult(out, removed)
