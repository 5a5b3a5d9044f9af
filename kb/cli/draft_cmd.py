"""`kb draft` — draft an interview outline (深度访谈提纲) or a talk outline (谈话提纲).

    kb draft --kind interview --target 县委书记 --interviewee 班子成员 --dimension 政治担当 [--count 3]
             [--request TEXT] [--json] [--docx PATH] [--md PATH]
    kb draft --request "请为县委书记起草一份面向班子成员的深度访谈提纲，重点了解民主集中制执行情况"
    kb draft --request "县委书记与乡镇党委书记谈话，写明整改要求" [--material 本人材料]
    kb draft --batch FILE.jsonl        # one JSON object per input line on stdout, each with its "id"

Fields left out are inferred from --request (kind, target, interviewee, dimensions; for a talk
outline who talks to whom). --material names the collections or documents with your own findings
about the person talked to: only those are put to him as problems, quoted whole.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kb.cli.common import log, print_json, run_batch, settings_from_args

AUDIT_USER = "cli"


def register(subparsers) -> None:
    p = subparsers.add_parser("draft", help="draft an interview outline or a talk outline with cited sources")
    p.add_argument("--kind", help="interview | talk (interview_outline / talk_outline accepted); default: from --request, else interview")
    p.add_argument("--target", help="被考察对象, e.g. 县委书记")
    p.add_argument("--interviewee", help="访谈对象: 市级领导 | 考察对象本人 | 班子成员 | 其他干部群众 (interview only)")
    p.add_argument("--dimension", dest="dimensions", action="append", metavar="D",
                   help="考察维度, e.g. 政治担当 (repeatable; default: from --request)")
    p.add_argument("--count", type=int, help="questions per dimension (default: draft.default_count)")
    p.add_argument("--request", help="the inspector's request in free text")
    p.add_argument("--material", dest="materials", action="append", metavar="COLLECTION_DOC_OR_TITLE",
                   help="talk outlines: a collection, document id or document title holding your own materials about "
                        "the target (only these may state a problem of this person; repeatable)")
    p.add_argument("--batch", help="JSON Lines file: id, kind, request, target, interviewee, dimensions[, count] per line")
    p.add_argument("--json", action="store_true", help="print Draft.to_dict() as JSON")
    p.add_argument("--docx", metavar="PATH", help="also write the outline as a Word document")
    p.add_argument("--md", metavar="PATH", help="also write the outline as Markdown")
    from kb.cli.acting import add_user_arg

    add_user_arg(p)
    p.set_defaults(func=run)


def _request_from(obj: dict[str, Any]):
    """A DraftRequest from one batch line; ValueError names the field that is wrong."""
    from kb.models import DraftRequest

    dims = obj.get("dimensions") or []
    if isinstance(dims, str):
        dims = [d for d in dims.replace("，", ",").replace("、", ",").split(",") if d.strip()]
    if not isinstance(dims, list) or not all(isinstance(d, str) for d in dims):
        raise ValueError("'dimensions' must be a list of names")
    count = obj.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError("'count' must be a positive integer")
    for key in ("kind", "target", "interviewee", "request"):
        if obj.get(key) is not None and not isinstance(obj.get(key), str):
            raise ValueError(f"'{key}' must be text")
    materials = obj.get("materials") or []
    if isinstance(materials, str):
        materials = [materials]
    if not isinstance(materials, list) or not all(isinstance(m, str) for m in materials):
        raise ValueError("'materials' must be a list of collections or document ids")
    return DraftRequest(
        kind=obj.get("kind") or "",
        target=obj.get("target") or "",
        interviewee=obj.get("interviewee") or "",
        dimensions=dims,
        count=count,
        request=obj.get("request") or "",
        id=obj.get("id"),
        materials=materials,
    )


def _record(services, draft, request_text: str, user: str = AUDIT_USER) -> None:
    doc_ids = sorted({c.doc_id for s in draft.sections for q in s.questions for c in q.citations})
    try:
        services.audit.record(user, "draft", request_text, doc_ids)
    except Exception as exc:  # an unusable audit log is reported, but the draft is still printed
        log(f"warning: could not write the audit log: {exc}")


def _describe(req) -> str:
    parts = [req.request] if req.request else []
    parts += [f"kind={req.kind}" if req.kind else "", f"target={req.target}" if req.target else "",
              f"interviewee={req.interviewee}" if req.interviewee else "",
              f"dimensions={'、'.join(req.dimensions)}" if req.dimensions else ""]
    return " ".join(p for p in parts if p)


def run(args) -> int:
    from kb.container import build_services
    from kb.drafting import DraftError
    from kb.models import DraftRequest

    if not args.batch and not any([args.request, args.target, args.dimensions]):
        log("error: give --request, --target/--dimension, or --batch FILE")
        return 2
    if args.count is not None and args.count < 1:
        log("error: --count must be at least 1")
        return 2
    if args.batch and not Path(args.batch).is_file():
        log(f"error: {args.batch}: no such file")
        return 2
    services = build_services(settings_from_args(args))
    try:
        from kb.cli.acting import acting_as

        try:
            reader, user = acting_as(services, getattr(args, "user", None))
        except ValueError as exc:
            log(f"error: {exc}")
            return 2
        drafts = reader.drafts
        if args.batch:
            return _run_batch(args.batch, services, drafts, user)
        req = DraftRequest(
            kind=args.kind or "",
            target=args.target or "",
            interviewee=args.interviewee or "",
            dimensions=list(args.dimensions or []),
            materials=list(getattr(args, "materials", None) or []),
            count=args.count,
            request=args.request or "",
        )
        try:
            draft = drafts.draft(req)
        except DraftError as exc:
            log(f"error: {exc}")
            return 2
        _record(services, draft, _describe(req), user)
        status = _export(draft, args)
        if args.json:
            print_json(draft.to_dict())
        else:
            sys.stdout.write(format_outline(draft))
            sys.stdout.flush()
        return status
    finally:
        services.close()


def _run_batch(path: str, services, drafts, user: str = AUDIT_USER) -> int:
    def draft_line(obj):
        req = _request_from(obj)
        draft = drafts.draft(req)  # DraftError is a ValueError: that line gets an error object
        _record(services, draft, _describe(req), user)
        return draft.to_dict()

    return run_batch(path, draft_line)


def _export(draft, args) -> int:
    status = 0
    if args.md:
        from kb.drafting.export import draft_to_markdown

        try:
            Path(args.md).write_text(draft_to_markdown(draft), encoding="utf-8")
            log(f"wrote {args.md}")
        except OSError as exc:
            log(f"error: {args.md}: {exc.strerror or exc}")
            status = 1
    if args.docx:
        from kb.drafting.export import ExportError, draft_to_docx

        try:
            draft_to_docx(draft, Path(args.docx))
            log(f"wrote {args.docx}")
        except (ExportError, OSError) as exc:
            log(f"error: {exc}")
            status = 1
    return status


def format_outline(draft) -> str:
    """The draft as plain text for a terminal: numbered questions, 追问, 考察意图, sources."""
    from kb.drafting.criteria import chinese_numeral

    lines = [draft.title]
    if draft.kind == "talk":
        meta = [f"谈话人：{draft.speaker}"] if draft.speaker else []
        meta.append(f"谈话对象：{draft.target}")
    else:
        meta = [f"考察对象：{draft.target}"]
        if draft.interviewee:
            meta.append(f"访谈对象：{draft.interviewee}")
    lines += ["　".join(meta), ""]
    if draft.opening:
        lines += [f"{'开场' if draft.kind == 'talk' else '访谈说明'}：{draft.opening}", ""]
    for i, section in enumerate(draft.sections, 1):
        lines.append(f"{chinese_numeral(i)}、{section.dimension}")
        if not section.questions:
            lines.append("　（知识库中未找到该方面的依据，本部分未生成问题）")
        for n, q in enumerate(section.questions, 1):
            refs = "".join(f"[{c.n}]" for c in q.citations)
            pending = "【依据待核实】" if q.to_check else ""
            lines.append(f"　{n}. {q.text}{pending}{refs}")
            for f in q.follow_ups:
                lines.append(f"　　追问：{f}")
            if q.purpose:
                lines.append(f"　　考察意图：{q.purpose}")
        lines.append("")
    if draft.closing:
        lines += [f"{chinese_numeral(len(draft.sections) + 1)}、谈后安排"] + [f"　- {c}" for c in draft.closing] + [""]
    notes: dict[int, str] = {}
    for section in draft.sections:
        for q in section.questions:
            for c in q.citations:
                where = c.location()
                mark = "" if c.verified else "（引文未经核验）"
                notes.setdefault(c.n, f"[{c.n}] 《{c.title}》{(' ' + where) if where else ''}{c.validity_label()}：“{c.quote}”{mark}")
    if notes:
        lines += ["来源："] + [notes[n] for n in sorted(notes)] + [""]
    if draft.warnings:
        lines += ["提示："] + [f"- {w}" for w in draft.warnings] + [""]
    return "\n".join(lines).rstrip() + "\n"
