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
    "collections_cmd",
    "apikeys_cmd",
    "doctor_cmd",
    "backup_cmd",
    "calibrate_cmd",
    "feedback_cmd",
    "mcp_cmd",
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
    except Exception as exc:
        # Chroma down, KB_HOME unreadable, disk full: one clear line naming the path, no traceback
        from kb.storage.errors import EXIT_STORAGE, storage_problem

        try:
            from kb.cli.common import settings_from_args

            settings = settings_from_args(args)
        except Exception:
            settings = None
        message = storage_problem(exc, settings)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_STORAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
