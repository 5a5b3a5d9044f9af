"""`kb retrieve QUESTION [-k N] [--json]` and `kb retrieve --batch FILE.jsonl [-k N]`"""
from __future__ import annotations

from kb.cli.acting import acting_as, add_user_arg
from kb.cli.common import add_filter_args, filters_from_args, log, print_json, run_batch, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("retrieve", help="retrieve the chunks that best match a question")
    p.add_argument("question", nargs="?")
    p.add_argument("-k", type=int, default=None, help="number of hits (default: retrieval.top_k)")
    p.add_argument("--batch", help="JSON Lines file with id and question per line")
    p.add_argument("--json", action="store_true")
    add_filter_args(p)
    add_user_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from kb.container import build_services

    if not args.batch and not (args.question or "").strip():
        log("error: give a QUESTION or --batch FILE")
        return 2
    services = build_services(settings_from_args(args))
    filters = filters_from_args(args)
    try:
        retriever = acting_as(services, args.user)[0].retriever
    except ValueError as exc:
        log(f"error: {exc}")
        return 2
    if args.batch:

        def retrieve_line(obj):
            question = str(obj.get("question") or "").strip()
            if not question:
                return {"id": obj.get("id"), "error": "empty question", "hits": []}
            hits = retriever.search(question, k=obj.get("k") or args.k, filters=filters)
            return {"id": obj.get("id"), "hits": [h.to_dict() for h in hits]}

        return run_batch(args.batch, retrieve_line)
    hits = retriever.search(args.question, k=args.k, filters=filters)
    if args.json:
        print_json({"question": args.question, "hits": [h.to_dict() for h in hits]})
    else:
        for h in hits:
            d = h.to_dict()
            where = " > ".join(p for p in (d["section"], d["article"]) if p)
            print(f"[{d['rank']}] 《{d['title']}》 {where}  ({d['score']:.4f})  {d['chunk_id']}")
            print("    " + d["text"][:200].replace("\n", " "))
    return 0
