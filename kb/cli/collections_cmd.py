"""`kb collections list|grant|revoke` — which inspection groups may read a collection.

A collection without grants is readable by every user; once it has a grant, only admins and the
groups holding an unexpired grant read it (kb/access/grants.py, enforced inside retrieval: kb/access/scope.py).
"""
from __future__ import annotations

import argparse
import getpass
from datetime import date

from kb.cli.common import log, print_json, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("collections", help="list collections and grant inspection groups access to them")
    sub = p.add_subparsers(dest="collections_command", required=True, metavar="ACTION")

    listing = sub.add_parser("list", help="collections, their documents and grants")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    grant = sub.add_parser("grant", help="let a group read a collection (the collection becomes restricted)")
    grant.add_argument("collection")
    grant.add_argument("--group", required=True, metavar="G")
    grant.add_argument("--until", metavar="YYYY-MM-DD", help="last day the grant holds (default: no end)")
    grant.add_argument("--new", action="store_true",
                       help="the collection holds no documents yet: restrict it before its first ingest")
    grant.add_argument("--json", action="store_true")
    grant.set_defaults(func=_grant)

    revoke = sub.add_parser("revoke", help="end a group's grant (the collection stays restricted)")
    revoke.add_argument("collection")
    revoke.add_argument("--group", required=True, metavar="G")
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(func=_revoke)


def _operator() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:
        return "cli:unknown"


def _audit(settings, action: str, detail: str, **extra) -> None:
    from kb.access.audit import AuditLog

    AuditLog(settings.audit_db).record(_operator(), action, detail, **extra)


def _list(args: argparse.Namespace) -> int:
    from kb.container import build_services

    settings = settings_from_args(args)
    services = build_services(settings)
    try:
        try:
            grants = services.grants.all()
        except ValueError as exc:
            log(f"error: {exc}")
            return 1
        counts: dict[str, int] = {}
        for record in services.store.list_documents():
            counts[record.collection] = counts.get(record.collection, 0) + 1
    finally:
        services.close()
    today = date.today()
    rows = []
    for name in sorted(set(counts) | set(grants)):
        by_group = grants.get(name)
        rows.append(
            {
                "collection": name,
                "documents": counts.get(name, 0),
                "restricted": by_group is not None,
                "grants": [
                    {
                        "group": g,
                        "until": rec.get("until"),
                        "expired": bool(rec.get("until")) and date.fromisoformat(rec["until"]) < today,
                    }
                    for g, rec in sorted((by_group or {}).items())
                ],
            }
        )
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        log("no collections (ingest documents with: kb ingest PATH --collection NAME)")
        return 0
    from kb.cli.audit_cmd import format_table

    def grants_text(row) -> str:
        if not row["restricted"]:
            return "（所有用户）"
        parts = [
            f"{g['group']}{'≤' + g['until'] if g['until'] else ''}{'（已过期）' if g['expired'] else ''}" for g in row["grants"]
        ]
        return "、".join(parts) or "（仅管理员）"

    print(format_table(["collection", "documents", "readable by"], [[r["collection"], str(r["documents"]), grants_text(r)] for r in rows]))
    return 0


def _known_collections(settings) -> set[str]:
    """The collections the knowledge base holds documents in (a grant must name one of them)."""
    from kb.container import build_services

    services = build_services(settings)
    try:
        return {record.collection for record in services.store.list_documents()}
    finally:
        services.close()


def _grant(args: argparse.Namespace) -> int:
    from kb.access.grants import GrantStore, UnknownCollection

    settings = settings_from_args(args)
    try:
        known = None if args.new else _known_collections(settings)
        record = GrantStore(settings.grants_file).grant(args.collection, args.group, args.until, known=known, allow_new=args.new)
    except ValueError as exc:
        log(f"error: {exc}")
        return 2 if isinstance(exc, UnknownCollection) or "date" in str(exc) or "invalid" in str(exc) else 1
    _audit(settings, "grant", args.collection, group=args.group, until=record["until"])
    if args.json:
        print_json(record)
    else:
        until = f" until {record['until']}" if record["until"] else ""
        print(f"granted {args.collection} to group {args.group}{until}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from kb.access.grants import GrantStore

    settings = settings_from_args(args)
    try:
        GrantStore(settings.grants_file).revoke(args.collection, args.group)
    except ValueError as exc:
        log(f"error: {exc}")
        return 1
    _audit(settings, "revoke", args.collection, group=args.group)
    if args.json:
        print_json({"collection": args.collection, "revoked": args.group})
    else:
        print(f"revoked group {args.group} from {args.collection} (still restricted: admins and other granted groups)")
    return 0
