"""The ingest rules (kb/data/ingest_rules.yaml): page furniture, line joins and 公文 patterns, loaded once.

Rules are data so a new header form or 文种 is a one-line edit, not a code change."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

RULES_FILE = Path(__file__).resolve().parent.parent / "kb" / "data" / "ingest_rules.yaml"


@dataclass(frozen=True)
class IngestRules:
    page_number: tuple[re.Pattern[str], ...]
    edge_lines: int
    min_page_share: float
    full_width_share: float
    open_width_share: float
    break_before: tuple[re.Pattern[str], ...]
    doc_number: re.Pattern[str]
    issuer_mark: re.Pattern[str]
    date_line: re.Pattern[str]
    header_lines: tuple[re.Pattern[str], ...]
    doc_types: tuple[tuple[re.Pattern[str], str], ...]
    closing_start: tuple[re.Pattern[str], ...]
    footer_start: tuple[re.Pattern[str], ...]


def _all(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


@functools.lru_cache(maxsize=1)
def rules() -> IngestRules:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    pf, lj, gw = data["page_furniture"], data["line_joins"], data["gongwen"]
    return IngestRules(
        page_number=_all(pf["page_number"]),
        edge_lines=int(pf["edge_lines"]),
        min_page_share=float(pf["min_page_share"]),
        full_width_share=float(lj["full_width_share"]),
        open_width_share=float(lj["open_width_share"]),
        break_before=_all(lj["break_before"]),
        doc_number=re.compile(gw["doc_number"]),
        issuer_mark=re.compile(gw["issuer_mark"]),
        date_line=re.compile(gw["date_line"]),
        header_lines=_all(gw["header_lines"]),
        doc_types=tuple((re.compile(p), t) for p, t in gw["doc_types"]),
        closing_start=_all(gw["closing_start"]),
        footer_start=_all(gw["footer_start"]),
    )


def any_match(patterns: tuple[re.Pattern[str], ...], line: str) -> bool:
    return any(p.search(line) for p in patterns)
