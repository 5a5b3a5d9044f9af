"""`make bench`: measure retrieval quality, latency, memory and ingest speed; print a table; write JSON.

    python -m bench.run [--only cmrc,fusion,law,domain,latency,ingest,concurrency,recovery,load]
                        [--out bench.json] [--quick] [--shared ../shared] [--cmrc FILE]
                        [--no-load] [--load-seconds 20] [--workdir DIR]

Every knowledge base lives in a temporary KB_HOME (deleted at the end). Settings come from
`load_settings()` as usual (settings.yaml / KB_* variables apply), with `home` and the setting a
section varies overridden. One benchmark per module in bench/sections/ (what each measures is in its
docstring and in bench/README.md): cmrc, fusion (slow; only when named), law, domain, ingest, latency,
concurrency, recovery, realdocs, load (~2 minutes; --no-load skips it, --load-seconds sets the seconds
per level). The knowledge bases several sections use are built once per run (bench/context.py); the
targets, verdicts and table are bench/report.py.

This module is the runner: the options, which sections run and in what order, the report file
(written after every section, so a later crash keeps the earlier figures) and the exit status.
Item-level misses go to the JSON (``sections.<name>.misses``) so a failing target can be diagnosed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from bench.common import DEFAULT_SHARED, QUICK_CMRC_PASSAGES, QUICK_LAW_EXTRA_DOCS, BenchError, log
from bench.context import BenchContext
from bench.report import print_table, verdicts
from bench.sections import cmrc, concurrency, domain, fusion, ingest, latency, law, load, realdocs, recovery

ALL_SECTIONS = ("cmrc", "fusion", "law", "domain", "ingest", "latency", "concurrency", "recovery", "realdocs", "load")
# fusion embeds every CMRC chunk with MiniLM on the CPU (minutes); it runs only when named.
DEFAULT_SECTIONS = ("cmrc", "law", "domain", "ingest", "latency", "concurrency", "recovery", "realdocs", "load")
# the order --only sections run in (the default run goes in DEFAULT_SECTIONS' order)
SECTION_ORDER = ("cmrc", "fusion", "domain", "ingest", "law", "latency", "concurrency", "recovery", "realdocs", "load")
SECTIONS: dict[str, Callable[[BenchContext], dict[str, Any]]] = {
    "cmrc": cmrc.run,
    "fusion": fusion.run,
    "law": law.run,
    "domain": domain.run,
    "ingest": ingest.run,
    "latency": latency.run,
    "concurrency": concurrency.run,
    "recovery": recovery.run,
    "realdocs": realdocs.run,
    "load": load.run,
}


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        from kb.settings import load_settings

        s = load_settings()
        info["settings"] = {
            "embedder": s.embedder.mode,
            "segmenter": s.retrieval.segmenter,
            "dense_weight": s.retrieval.dense_weight,
            "clause_boost": s.retrieval.clause_boost,
            "chunk_target": s.ingest.chunk_target,
            "ingest_workers": s.ingest.workers,
        }
    except Exception as exc:
        info["settings_error"] = str(exc)
    return info


def write_report(path: Path, quick: bool, results: dict[str, Any], errors: dict[str, str], started: float) -> dict[str, Any]:
    report = {
        "environment": environment(),
        "quick": quick,
        "sections": results,
        "errors": errors,
        "targets": verdicts(results),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def parse_sections(text: str | None) -> list[str]:
    if not text:
        return list(DEFAULT_SECTIONS)
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in ALL_SECTIONS]
    if unknown:
        raise BenchError(f"unknown section(s) {', '.join(unknown)} (choose from {', '.join(ALL_SECTIONS)})")
    return [s for s in SECTION_ORDER if s in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--only", help=f"comma-separated sections ({','.join(ALL_SECTIONS)}); default: {','.join(DEFAULT_SECTIONS)}")
    parser.add_argument("--out", default="bench.json", help="JSON results file (default bench.json)")
    parser.add_argument("--quick", action="store_true", help=f"small subsets: {QUICK_CMRC_PASSAGES} CMRC passages, laws = gold documents + {QUICK_LAW_EXTRA_DOCS}")
    parser.add_argument("--shared", default=str(DEFAULT_SHARED), help="the shared data folder (default ../shared)")
    parser.add_argument("--cmrc", help="CMRC-format file (default SHARED/eval/cmrc2018_trial.json)")
    parser.add_argument(
        "--workdir",
        help="keep the knowledge bases in this folder instead of a temporary one; a laws KB already there "
        "is reused (its ingest is not re-measured), so retrieval can be re-run without a 20 M-character ingest",
    )
    parser.add_argument("--no-load", action="store_true", help="skip the load section (a served instance under API load; ~2 min)")
    parser.add_argument("--load-seconds", type=float, help="seconds per load level (default 20; 5 with --quick)")
    args = parser.parse_args(argv)
    try:
        sections = parse_sections(args.only)
    except BenchError as exc:
        parser.error(str(exc))
    if args.no_load:
        sections = [s for s in sections if s != "load"]
    shared = Path(args.shared).resolve()
    cmrc_path = Path(args.cmrc).resolve() if args.cmrc else shared / "eval" / "cmrc2018_trial.json"
    if not shared.is_dir() and not args.cmrc:
        print(f"bench: shared data folder {shared} not found; nothing to measure", file=sys.stderr)
        return 2
    keep = bool(args.workdir)
    workdir = Path(args.workdir).resolve() if keep else Path(tempfile.mkdtemp(prefix="kb-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = BenchContext(shared, cmrc_path, args.quick, workdir, reuse=keep)
    ctx.load_seconds = args.load_seconds
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    started = time.perf_counter()
    try:
        for name in sections:
            log(f"section {name} ...")
            t0 = time.perf_counter()
            try:
                results[name] = SECTIONS[name](ctx)
            except BenchError as exc:
                errors[name] = str(exc)
                log(f"section {name} failed: {exc}")
                continue
            except Exception as exc:  # one broken component must not hide the other figures
                import traceback

                errors[name] = f"{type(exc).__name__}: {exc}"
                log(f"section {name} crashed:\n{traceback.format_exc()}")
                continue
            results[name]["section_s"] = round(time.perf_counter() - t0, 1)
            log(f"section {name} done in {results[name]['section_s']} s")
            write_report(Path(args.out), args.quick, results, errors, started)  # partial: survives a later crash
    finally:
        ctx.close()
        if keep:
            log(f"knowledge bases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report = write_report(Path(args.out), args.quick, results, errors, started)
    print_table(results)
    for name, err in errors.items():
        print(f"section {name}: ERROR {err}")
    print(f"\nresults: {args.out} ({report['elapsed_s']} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
