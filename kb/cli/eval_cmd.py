"""`kb eval`: score the knowledge base on gold datasets and gate on thresholds.

Exit codes: 0 all gated metrics pass; 1 a metric misses its gate (named on stderr);
2 bad arguments or an unreadable dataset / thresholds file (the message names the file).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kb.cli.common import log, settings_from_args


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate retrieval, answers and drafts on gold datasets",
        description=(
            "Evaluate on gold datasets (kind detected from content: domain QA / law clause / drafting "
            "tasks JSON Lines, or a CMRC-2018 JSON list). Without --kb-home the --corpus directories "
            "are ingested into a temporary knowledge base; CMRC passages always get their own."
        ),
    )
    parser.add_argument("datasets", nargs="+", metavar="DATASET", help="dataset files (.jsonl or CMRC .json)")
    parser.add_argument(
        "--corpus", action="append", default=[], metavar="DIR", help="corpus directory to ingest (repeatable)"
    )
    parser.add_argument("--kb-home", metavar="DIR", help="evaluate this existing knowledge base as is")
    parser.add_argument("--json", dest="json_path", metavar="PATH", help="write the JSON report here ('-' = stdout)")
    parser.add_argument("--md", dest="md_path", metavar="PATH", help="write the Markdown report here")
    parser.add_argument("--no-items", action="store_true",
                        help="leave the worst items (which quote the dataset) out of the Markdown report")
    parser.add_argument(
        "--thresholds", metavar="FILE", help="gate file (default: eval/thresholds.yaml; CI: eval/ci_thresholds.yaml)"
    )
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="only the first N items of each dataset")
    parser.add_argument("--judge", action="store_true", help="add judge_* columns from the configured LLM")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    parser.set_defaults(func=run)


def _usage_error(message: str) -> int:
    log(f"kb eval: error: {message}")
    return 2


def run(args: argparse.Namespace) -> int:
    from eval.datasets import DatasetError, load_datasets
    from eval.report import (
        DEFAULT_THRESHOLDS,
        ThresholdsError,
        check_thresholds,
        failures,
        load_thresholds,
        render_json,
        render_markdown,
        summary_table,
    )
    from eval.runner import run_evaluation

    try:
        thresholds = load_thresholds(args.thresholds or DEFAULT_THRESHOLDS)
    except ThresholdsError as exc:
        return _usage_error(str(exc))
    try:
        datasets = load_datasets(args.datasets, limit=args.limit)
    except DatasetError as exc:
        return _usage_error(str(exc))

    if args.kb_home and args.corpus:
        return _usage_error("--corpus and --kb-home exclude each other (--kb-home evaluates that knowledge base as is)")
    for directory in args.corpus:
        if not Path(directory).is_dir():
            return _usage_error(f"{directory}: corpus directory not found")
    if args.kb_home and not Path(args.kb_home).is_dir():
        return _usage_error(f"{args.kb_home}: no knowledge base directory there")
    needs_kb = [str(d.path) for d in datasets if d.needs_corpus]
    if needs_kb and not (args.kb_home or args.corpus):
        return _usage_error(f"{', '.join(needs_kb)}: needs a knowledge base — give --corpus DIR or --kb-home DIR")

    settings = settings_from_args(args)
    report = run_evaluation(
        datasets,
        settings,
        corpus_dirs=[Path(c) for c in args.corpus],
        kb_home=args.kb_home,
        judge=args.judge,
        progress=not args.no_progress,
    )

    if args.json_path == "-":
        print(render_json(report), end="")
    elif args.json_path:
        Path(args.json_path).write_text(render_json(report), encoding="utf-8")
    if args.md_path:
        Path(args.md_path).write_text(render_markdown(report, thresholds, include_items=not args.no_items), encoding="utf-8")
    if args.json_path != "-":
        print(summary_table(report, thresholds), end="")

    failing = failures(check_thresholds(report, thresholds))
    for result in failing:
        log(result.message())
    return 1 if failing else 0
