"""`kb docs list|chunks DOC_ID|remove DOC_ID`"""
from __future__ import annotations

from kb.cli.common import log, print_json, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("docs", help="list, inspect and remove documents")
    sub = p.add_subparsers(dest="docs_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="list documents")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    ch = sub.add_parser("chunks", help="a document's chunks in order")
    ch.add_argument("doc_id")
    ch.add_argument("--json", action="store_true")
    ch.set_defaults(func=run_chunks)
    rm = sub.add_parser("remove", help="delete a document everywhere")
    rm.add_argument("doc_id")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=run_remove)


def run_list(args) -> int:
    from kb.container import build_services

    services = build_services(settings_from_args(args))
    docs = [d.to_dict() for d in services.store.list_documents()]
    if args.json:
        print_json(docs)
    else:
        for d in docs:
            print(f"{d['doc_id']}\t{d['doc_type']}\t{d['collection']}\t{d['chunks']} 段\t{d['title']}")
    return 0


def run_chunks(args) -> int:
    from kb.container import build_services

    services = build_services(settings_from_args(args))
    if services.store.get_document(args.doc_id) is None:
        log(f"error: no document '{args.doc_id}'")
        return 1
    chunks = [c.to_dict() for c in services.store.document_chunks(args.doc_id)]
    if args.json:
        print_json(chunks)
    else:
        for c in chunks:
            where = " > ".join(p for p in (c["section"], c["article"]) if p)
            print(f"--- {c['chunk_id']} [{c['start']}:{c['end']}] {where}")
            print(c["text"])
    return 0


def run_remove(args) -> int:
    from kb.container import build_services
    from kb.storage.locking import LockHeld

    services = build_services(settings_from_args(args))
    try:
        removed = services.ingest.remove(args.doc_id)
    except LockHeld as exc:
        log(f"error: {exc}")
        return 3
    if args.json:
        print_json({"doc_id": args.doc_id, "removed": removed})
    elif removed:
        print(f"已删除 {args.doc_id}")
    if not removed:
        log(f"error: no document '{args.doc_id}'")
        return 1
    return 0
