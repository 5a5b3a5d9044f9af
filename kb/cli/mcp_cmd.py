"""`kb mcp [--user NAME]` — serve the knowledge base to an MCP client (Claude Desktop, Cherry Studio,
an agent) over stdin/stdout; the client starts this command. Read-only tools: search, ask,
list_collections, list_documents, get_passage (kb/api/mcp_server.py, docs/api_mcp.md).

The same server over HTTP is ``/mcp`` under ``kb serve``, authenticated by API keys.
"""
from __future__ import annotations

from kb.cli.acting import acting_as, add_user_arg
from kb.cli.common import log, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("mcp", help="serve the knowledge base to an MCP client over stdio (read-only tools)")
    add_user_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from kb.api.mcp_server import VIA_STDIO, McpCaller, run_stdio
    from kb.container import build_services

    services = build_services(settings_from_args(args))
    try:
        try:
            audit_name = acting_as(services, args.user)[1]  # refuses a name that is not an account
        except ValueError as exc:
            log(f"error: {exc}")
            return 2
        caller = McpCaller(user=args.user or None, audit_user=audit_name, via=VIA_STDIO)
        run_stdio(services, caller)
    finally:
        services.close()
    return 0
