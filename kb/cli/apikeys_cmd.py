"""`kb apikeys create|list|revoke` — keys for the OpenAI-compatible API (`/v1/chat/completions`).

A key acts as its user: that account's collection grants apply and the audit log names it.
"""
from __future__ import annotations

import argparse
import getpass

from kb.cli.common import log, print_json, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("apikeys", help="API keys for the OpenAI-compatible API served by kb serve")
    sub = p.add_subparsers(dest="apikeys_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a key acting as a user; the key is printed once")
    create.add_argument("name")
    create.add_argument("--user", required=True, metavar="U")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("name")
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(func=_revoke)


def _stores(args):
    from kb.access.apikeys import ApiKeyStore
    from kb.access.audit import AuditLog
    from kb.access.users import UserStore

    settings = settings_from_args(args)
    return ApiKeyStore(settings.apikeys_file), UserStore(settings.users_file), AuditLog(settings.audit_db)


def _operator() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:
        return "cli:unknown"


def _create(args: argparse.Namespace) -> int:
    keys, users, audit = _stores(args)
    try:
        if users.role(args.user) is None:
            raise ValueError(f"no such user {args.user!r} (see: kb users list)")
        key, record = keys.create(args.name, args.user)
    except ValueError as exc:
        log(f"error: {exc}")
        return 1
    audit.record(_operator(), "apikey_create", args.name, user_of_key=args.user, prefix=record["prefix"])
    if args.json:
        print_json({**record, "key": key})
    else:
        print(key)
        log(f"API key {args.name} for {args.user}: shown once, store it now (only its hash is kept)")
    return 0


def _list(args: argparse.Namespace) -> int:
    keys, _, _ = _stores(args)
    try:
        rows = keys.list()
    except ValueError as exc:
        log(f"error: {exc}")
        return 1
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        log("no API keys (create one with: kb apikeys create NAME --user U)")
        return 0
    from kb.cli.audit_cmd import format_table

    print(format_table(
        ["name", "user", "prefix", "created_at", "revoked_at"],
        [[r["name"], r["user"], r["prefix"] + "…", r["created_at"], r["revoked_at"] or ""] for r in rows],
    ))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    keys, _, audit = _stores(args)
    try:
        keys.revoke(args.name)
    except ValueError as exc:
        log(f"error: {exc}")
        return 1
    audit.record(_operator(), "apikey_revoke", args.name)
    if args.json:
        print_json({"revoked": args.name})
    else:
        print(f"revoked API key {args.name}")
    return 0
