"""`kb users add|list|remove` — manage the accounts that may sign in to the web app."""
from __future__ import annotations

import argparse
import getpass
import sys

from kb.cli.common import print_json, settings_from_args
from kb.access.users import ROLES


def register(subparsers) -> None:
    users = subparsers.add_parser("users", help="manage user accounts (admin / inspector)")
    sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (passwords are never taken as arguments)",
    )
    add.add_argument("--group", dest="groups", action="append", default=[], metavar="G",
                     help="inspection group the account belongs to (repeatable; grants: kb collections)")
    add.add_argument("--json", action="store_true", help="print the new account as JSON")
    add.set_defaults(func=_add)

    groups = sub.add_parser("groups", help="show or change the inspection groups of an account")
    groups.add_argument("name")
    groups.add_argument("--add", action="append", default=[], metavar="G", help="join group G (repeatable)")
    groups.add_argument("--remove", action="append", default=[], metavar="G", help="leave group G (repeatable)")
    groups.add_argument("--json", action="store_true")
    groups.set_defaults(func=_groups)

    listing = sub.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true", help="print one JSON list")
    listing.set_defaults(func=_list)

    remove = sub.add_parser("remove", help="delete an account")
    remove.add_argument("name")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(func=_remove)


def _store(args: argparse.Namespace):
    from kb.access.users import UserStore

    settings = settings_from_args(args)
    return UserStore(settings.users_file, min_password_length=settings.security.min_password_length)


def _audit(args: argparse.Namespace, action: str, detail: str, **extra) -> None:
    """Account changes are security-relevant: log them with the OS account that ran the command."""
    from kb.access.audit import AuditLog

    try:
        operator = getpass.getuser()
    except Exception:  # no passwd entry (containers): still record the change
        operator = "unknown"
    AuditLog(settings_from_args(args).audit_db).record(f"cli:{operator}", action, detail, **extra)


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("repeat password: "):
            print("error: the passwords differ", file=sys.stderr)
            return None
        return first
    print("error: no terminal to ask for a password; pipe it in with --password-stdin", file=sys.stderr)
    return None


def _add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return 2
    if not password:
        print("error: empty password refused", file=sys.stderr)
        return 2
    from kb.access.users import PasswordPolicyError

    try:
        created = _store(args).add(args.name, password, args.role, groups=args.groups)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, PasswordPolicyError) else 1
    _audit(args, "user_add", args.name, role=args.role, groups=created.get("groups", []))
    if args.json:
        print_json(created)
    else:
        print(f"added user {created['name']} ({created['role']})")
    return 0


def _list(args: argparse.Namespace) -> int:
    try:
        users = _store(args).list()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(users)
        return 0
    if not users:
        print("no users (add one with: kb users add NAME --role admin --password-stdin)", file=sys.stderr)
        return 0
    from kb.cli.audit_cmd import format_table

    print(format_table(
        ["name", "role", "groups", "created_at"],
        [[u["name"], u["role"], "、".join(u.get("groups") or []), u["created_at"]] for u in users],
    ))
    return 0


def _groups(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        if args.add or args.remove:
            groups = store.set_groups(args.name, add=args.add, remove=args.remove)
            _audit(args, "user_groups", args.name, added=args.add, removed=args.remove, groups=groups)
        else:
            if store.role(args.name) is None:
                raise ValueError(f"no such user {args.name!r}")
            groups = store.groups(args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json({"name": args.name, "groups": groups})
    else:
        print(f"{args.name}: {'、'.join(groups) if groups else '（无分组）'}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    try:
        _store(args).remove(args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _audit(args, "user_remove", args.name)
    if args.json:
        print_json({"removed": args.name})
    else:
        print(f"removed user {args.name}")
    return 0
