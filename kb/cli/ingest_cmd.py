"""`kb ingest PATH... [--type T] [--collection C] [--replace] [--json]`"""
from __future__ import annotations

from kb.cli.common import log, print_json, settings_from_args
from kb.models import DOC_TYPES
from kb.web.page_checks import page_check_lines  # shared with the web app's upload view


def register(subparsers) -> None:
    p = subparsers.add_parser("ingest", help="ingest files or directories (recursive)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--type", dest="doc_type", choices=DOC_TYPES, help="document type (default: inferred from the title)")
    p.add_argument("--collection", default=None, help="collection name (default: 'default')")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--replace", action="store_true",
                   help="a file named like a stored document of another file replaces it "
                        "(default: it is stored as a new document beside it)")
    p.set_defaults(func=run)


def run(args) -> int:
    from kb.container import build_services
    from kb.storage.locking import LockHeld

    services = build_services(settings_from_args(args))
    try:
        summary = services.ingest.ingest_paths(
            args.paths, doc_type=args.doc_type, collection=args.collection, progress=not args.no_progress,
            replace=getattr(args, "replace", False),
        )
    except LockHeld as exc:
        log(f"error: {exc}")
        return 3
    finally:
        services.close()
    for failure in summary["failed"]:
        log(f"failed: {failure['path']}: {failure['error']}")
    if args.json:
        print_json(summary)
    else:
        print(
            f"新增 {summary['added']}，更新 {summary['updated']}，未变 {summary['unchanged']}，"
            f"{'并入已有文档 ' + str(summary['merged']) + '，' if summary.get('merged') else ''}"
            f"切分 {summary['chunks']} 段，清除无关行 {summary['removed_lines']}，"
            f"去除页眉页脚页码 {summary.get('furniture_lines', 0)} 行，失败 {len(summary['failed'])}"
        )
        # what identity decided (ingest/identity.py): kept beside a same-named document, merged, replaced
        for note in summary.get("notes", []):
            print(note)
        # pages to check (ingest/ocr.py): kept in the knowledge base as read, listed for a person
        for line in page_check_lines(summary.get("low_confidence", [])):
            print(line)
    nothing_good = summary["failed"] and not (summary["added"] or summary["updated"] or summary["unchanged"] or summary.get("merged"))
    return 1 if nothing_good else 0
