"""`kb audit` — show who asked, drafted, exported, ingested or deleted what."""
from __future__ import annotations

import argparse
import sys
import unicodedata

from kb.cli.common import print_json, settings_from_args

_DETAIL_WIDTH = 60


def register(subparsers) -> None:
    audit = subparsers.add_parser("audit", help="show the audit log")
    audit.add_argument("--since", metavar="DATE", help="only entries at or after DATE (YYYY-MM-DD or ISO datetime, UTC)")
    audit.add_argument("--user", metavar="U", help="only entries by this user")
    audit.add_argument("--action", metavar="A", help="only this action (ask, draft, export, ingest, delete, login, ...)")
    audit.add_argument("--limit", type=int, metavar="N", help="only the newest N entries")
    audit.add_argument("--json", action="store_true", help="print one JSON list")
    audit.set_defaults(func=_audit)
    sub = audit.add_subparsers(dest="audit_command", metavar="[verify|export]")
    verify = sub.add_parser("verify", help="check the hash chain: exit 0 when intact, 1 naming the first altered or missing row")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=_verify)
    export = sub.add_parser("export", help="every row with its chain hashes, for 保密 checks")
    export.add_argument("--jsonl", action="store_true", required=True, help="one JSON object per line (the only format)")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE (created 0600) instead of stdout")
    export.set_defaults(func=_export)


def _verify(args: argparse.Namespace) -> int:
    from kb.access.audit import AuditLog, AuditTampered, anchor_path_for

    settings = settings_from_args(args)
    if not settings.audit_db.is_file():
        if anchor_path_for(settings.audit_db).is_file():
            # the log's anchor is there, the log is not: it was deleted, not never written
            reason = f"the audit log {settings.audit_db.name} is missing but its anchor exists (deleted)"
            if args.json:
                print_json({"ok": False, "row": 1, "reason": reason})
            print(f"audit log NOT intact: {reason}", file=sys.stderr)
            return 1
        print(f"error: {settings.audit_db}: no audit log", file=sys.stderr)
        return 2
    try:
        result = AuditLog(settings.audit_db).verify()
    except AuditTampered as exc:
        if args.json:
            print_json({"ok": False, "row": exc.row, "reason": exc.reason})
        print(f"audit log NOT intact: row {exc.row}: {exc.reason}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print_json({"ok": True, **result})
    else:
        print(f"audit log intact: {result['rows']} rows, head {result['head']} (row {result['last_id']})")
        if result.get("unanchored"):
            print(f"note: the last {result['unanchored']} rows come after the anchor (a copy restored from a backup, "
                  "or rows appended while verifying); the next append anchors them")
    return 0


def _export(args: argparse.Namespace) -> int:
    import json
    import os

    from kb.access.audit import AuditLog

    settings = settings_from_args(args)
    try:
        rows = AuditLog(settings.audit_db).export()
        if args.output:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            out = os.fdopen(fd, "w", encoding="utf-8")
        else:
            out = sys.stdout
        try:
            n = 0
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        finally:
            if out is not sys.stdout:
                out.close()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"exported {n} audit rows", file=sys.stderr)
    return 0


def _display_width(text: str) -> int:
    # Chinese characters take two terminal columns; pad by columns so the table lines up.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _truncate(text: str, width: int) -> str:
    if _display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = _display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [_display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, _display_width(cell)) for w, cell in zip(widths, row)]

    def line(cells: list[str]) -> str:
        padded = [cell + " " * (w - _display_width(cell)) for cell, w in zip(cells, widths)]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _audit(args: argparse.Namespace) -> int:
    from kb.access.audit import AuditLog

    settings = settings_from_args(args)
    try:
        entries = AuditLog(settings.audit_db).query(
            since=args.since, user=args.user, action=args.action, limit=args.limit
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if "date" in str(exc) or "limit" in str(exc) else 1
    if args.json:
        print_json(entries)
        return 0
    if not entries:
        print("no audit entries match", file=sys.stderr)
        return 0
    rows = [
        [
            e["time"][:19].replace("T", " "),
            e["user"] or "",
            e["action"],
            ",".join(e["doc_ids"]),
            _truncate(" ".join((e["detail"] or "").split()), _DETAIL_WIDTH),
        ]
        for e in entries
    ]
    print(format_table(["time (UTC)", "user", "action", "doc_ids", "detail"], rows))
    return 0
