"""ingest: ingest speed of corpus/laws (with --quick: the gold documents plus 150 others) into an
empty KB — seconds, chars/s, chunks, failures, peak RSS and a stage breakdown (embed, chroma_write,
index_build, the rest waited for in the worker processes). The measurement is the run's laws KB being
built (BenchContext.laws_kb), shared with law / latency / concurrency; with --workdir and a laws KB
already there it says ``reused`` instead."""
from __future__ import annotations

from typing import Any

from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    ctx.laws_kb()
    return ctx.ingest_result
