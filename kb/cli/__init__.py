"""The `kb` command line: a thin adapter over the services in `kb/`.

Each sub-command lives in its own module exposing ``register(subparsers)``; the handler it sets
with ``set_defaults(func=...)`` receives the parsed arguments and returns an exit code.
`--json` output is one JSON value on stdout; logs and progress go to stderr.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "ingest_cmd",
    "docs_cmd",
    "retrieve_cmd",
    "ask_cmd",
    "draft_cmd",
    "eval_cmd",
    "serve_cmd",
    "users_cmd",
    "audit_cmd",
    "doctor_cmd",
    "calibrate_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kb", description="考察知识库 — offline Chinese knowledge base")
    parser.add_argument("--settings", help="settings.yaml to load (default: ./settings.yaml or $KB_SETTINGS)")
    parser.add_argument("--home", help="knowledge-base data directory (overrides KB_HOME)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"kb.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
