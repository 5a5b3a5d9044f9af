"""`kb doctor [--repair] [--json]` — compare the store, the registry and the lexical index.

A collection whose vector (HNSW) segment Chroma cannot load is a problem like any other (exit 1,
no traceback); --repair rebuilds it from the registry and the stored texts (kb/storage/store_recovery.py).

Exit codes: 0 consistent (or every problem repaired); 1 problems found and not repaired (or still
there after --repair); 3 an ingest is running on this knowledge base; 4 the check could not run
(the store is unavailable — Chroma server down, KB_HOME unreadable — or the disk is full): nothing
is known about consistency, which is not the same as "problems found".

The check runs under the IngestLock too, not only the repair: chunks an ingest has written but
not yet published look exactly like orphans, so a check beside a running ingest would report
problems that are not there (and, in embedded mode, open the Chroma directory a second process is
writing, which Chroma does not support). With a shared `chroma run` server the lock covers this
KB_HOME only: see docs/reliability.md before running --repair while another instance ingests.
"""
from __future__ import annotations

from typing import Any

from kb.cli.common import log, print_json, settings_from_args

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_LOCKED = 3
EXIT_CANNOT_CHECK = 4


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="check (and --repair) the consistency of the knowledge base")
    p.add_argument(
        "--repair", action="store_true",
        help="rebuild a damaged vector index, remove invisible chunks, drop incomplete documents, rebuild the index",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def problems_in(report: dict[str, Any]) -> list[str]:
    """Human-readable problems of an IngestService.check() report; empty when consistent."""
    problems = []
    for name, detail in (report.get("damaged_collections") or {}).items():
        problems.append(
            f"vector index of {name} cannot be loaded ({detail}); --repair rebuilds it from the stored documents"
        )
    if report.get("orphan_chunks"):
        problems.append(f"{len(report['orphan_chunks'])} orphan chunks (no document record names them)")
    if report.get("stale_chunks"):
        problems.append(f"{len(report['stale_chunks'])} stale chunks (an older version of a document)")
    if report.get("orphan_texts"):
        problems.append(f"{len(report['orphan_texts'])} orphan document texts (no document record names them)")
    if report.get("incomplete_documents"):
        names = ", ".join(report["incomplete_documents"][:5])
        more = "…" if len(report["incomplete_documents"]) > 5 else ""
        problems.append(f"{len(report['incomplete_documents'])} documents with missing chunks ({names}{more})")
    if not report.get("lexical_index_current", True):
        problems.append("lexical index does not match the store")
    if report.get("interrupted_ingest"):
        problems.append("an interrupted ingest left its marker (ingest.dirty)")
    return problems


def diagnose(services, repair: bool) -> dict[str, Any]:
    """Check (and optionally repair) under the ingest lock. Raises LockHeld when an ingest runs."""
    from kb.storage.locking import IngestLock

    with IngestLock(services.settings.lock_file):
        before = services.ingest.check()
        found = problems_in(before)
        result: dict[str, Any] = {
            "ok": not found,
            "problems": found,
            "check": before,
            "repaired": False,
            "after": None,
        }
        if found and repair:
            done = services.ingest.repair(take_lock=False)
            after = services.ingest.check()
            remaining = problems_in(after)
            result.update(ok=not remaining, repaired=True, after=after, remaining=remaining)
            if done.get("recovered"):
                result["recovered"] = done["recovered"]
        return result


def run(args) -> int:
    from kb.container import build_services
    from kb.storage.locking import LockHeld

    from kb.storage.errors import storage_problem

    settings = settings_from_args(args)
    try:
        services = build_services(settings)
    except Exception as exc:
        message = storage_problem(exc, settings)
        if message is None:
            raise
        log(f"error: 无法检查 (cannot check): {message}")
        return EXIT_CANNOT_CHECK
    try:
        result = diagnose(services, repair=args.repair)
        from kb.storage.permissions import doctor_check

        doctor_check(result, settings.home, repair=args.repair)  # KB_HOME 0700, its files 0600
    except LockHeld as exc:
        log(f"error: {exc}")
        return EXIT_LOCKED
    except Exception as exc:
        message = storage_problem(exc, settings)
        if message is None:
            raise
        if args.json:
            print_json({"ok": None, "cannot_check": message})
        log(f"error: 无法检查 (cannot check): {message}")
        return EXIT_CANNOT_CHECK
    finally:
        services.close()
    if args.json:
        print_json(result)
    else:
        _print_text(result)
    return EXIT_OK if result["ok"] else EXIT_PROBLEMS


def _print_text(result: dict[str, Any]) -> None:
    check = result["check"]
    if check.get("damaged_collections"):
        documents = "?" if check.get("documents") is None else check["documents"]
        print(f"文档 {documents} 篇，向量索引损坏 (vector index damaged)")
    else:
        print(f"文档 {check['documents']} 篇，可见切片 {check['chunks']} 段")
    if not result["problems"]:
        print("一致：未发现问题 (no problems found)")
        return
    print("发现问题 (problems found):")
    for problem in result["problems"]:
        print(f"  - {problem}")
    if result["repaired"]:
        after = result.get("after") or {}
        if after.get("documents") is not None and check.get("damaged_collections"):
            print(f"已重建向量索引 (vector index rebuilt): 文档 {after['documents']} 篇，可见切片 {after['chunks']} 段")
        if result["ok"]:
            print("已修复 (repaired)")
        else:
            print("修复后仍有问题 (still inconsistent after repair):")
            for problem in result.get("remaining", []):
                print(f"  - {problem}")
    else:
        print("运行 `kb doctor --repair` 修复 (run with --repair to fix)")
