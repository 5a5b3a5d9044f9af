"""`kb feedback list [--json]` and `kb feedback export --jsonl FILE` — the 👍/👎 inspectors gave in the
web app, and the evaluation items they become (domain-QA schema: `kb eval --kb-home KB_HOME FILE`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kb.cli.audit_cmd import _truncate, format_table
from kb.cli.common import print_json, settings_from_args


def register(subparsers) -> None:
    feedback = subparsers.add_parser("feedback", help="feedback on answers, and its export as evaluation items")
    sub = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="list feedback, newest first")
    listing.add_argument("--limit", type=int, metavar="N", help="only the newest N entries")
    listing.add_argument("--json", action="store_true", help="print one JSON list")
    listing.set_defaults(func=_list)
    export = sub.add_parser("export", help="write the feedback as domain-QA evaluation items (JSON Lines)")
    export.add_argument("--jsonl", required=True, metavar="FILE", help="file to write ('-' for stdout)")
    export.set_defaults(func=_export)


def _entries(args: argparse.Namespace, limit: int | None = None) -> list[dict]:
    from kb.conversations.history import ConversationStore

    settings = settings_from_args(args)
    if not settings.conversations_db.exists():
        return []
    return ConversationStore(settings.conversations_db).feedback(limit)


def _list(args: argparse.Namespace) -> int:
    from kb.conversations.feedback import RATING_LABELS, REASON_LABELS

    if args.limit is not None and args.limit < 0:
        print("error: --limit must not be negative", file=sys.stderr)
        return 2
    try:
        entries = _entries(args, args.limit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json([{k: v for k, v in e.items() if k != "answer"} | {"answer": (e.get("answer") or {}).get("answer", "")} for e in entries])
        return 0
    if not entries:
        print("no feedback yet")
        return 0
    rows = [
        [
            e["created_at"][:19].replace("T", " "),
            e["user"],
            RATING_LABELS.get(e["rating"], e["rating"]),
            REASON_LABELS.get(e["reason"], e["reason"]),
            e["status"],
            _truncate(e["resolved_question"] or e["question"], 40),
            _truncate(e["comment"], 30),
            e["answer_id"][:12],
        ]
        for e in entries
    ]
    print(format_table(["时间(UTC)", "用户", "评价", "原因", "状态", "问题", "说明", "answer_id"], rows))
    return 0


def _export(args: argparse.Namespace) -> int:
    from kb.conversations.feedback import export_items

    try:
        items, pending = export_items(_entries(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if args.jsonl == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(args.jsonl).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"error: {args.jsonl}: cannot write ({exc.strerror or exc})", file=sys.stderr)
            return 1
    print(f"exported {len(items)} evaluation item(s) to {args.jsonl}", file=sys.stderr)
    if pending:
        reasons = sorted({p["reason"] or p["rating"] for p in pending})
        print(
            f"{len(pending)} feedback entr{'y' if len(pending) == 1 else 'ies'} ({', '.join(reasons)}) name a problem "
            "but not the right answer: write their gold answers by hand (see `kb feedback list`)",
            file=sys.stderr,
        )
    return 0
