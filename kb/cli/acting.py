"""`--user NAME` for the commands that read the knowledge base (ask, retrieve, draft): act as that
account — its collection grants apply (kb/access/scope.py) and the audit log names it.

Without --user the command runs as the operator of the machine (who can read KB_HOME anyway):
no grant applies, as before grants existed, and the audit log records ``cli``.
"""
from __future__ import annotations

CLI_USER = "cli"


def add_user_arg(parser) -> None:
    parser.add_argument(
        "--user",
        metavar="NAME",
        help="act as this account: its collection grants apply and the audit log names it "
        "(default: the operator, no grant applies)",
    )


def acting_as(services, name: str | None):
    """(the services as NAME sees the knowledge base, the name to audit). ValueError for a name
    that is not an account (once accounts exist)."""
    if not name:
        return services, CLI_USER
    users = services.users
    if users.has_users() and users.role(name) is None:
        raise ValueError(f"no such user {name!r} (see: kb users list)")
    return services.for_user(name), name
