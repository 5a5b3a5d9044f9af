"""realdocs: 公文 / law / report files as users have them (corpus/realdocs_dev; the measuring is
bench/realdocs.py): questions answered, pages, running headers left, 公文 metadata per format, a
44-page text PDF's ingest time and OCR seconds / peak RSS per page of the scan."""
from __future__ import annotations

from typing import Any

from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    from bench.realdocs import section

    return section(ctx.require(ctx.shared / "corpus" / "realdocs_dev", "corpus/realdocs_dev"))
