"""`kb ask QUESTION [--json] [-k N] [--type T]` and `kb ask --batch FILE.jsonl` (lines: {"id", "question",
"history": [earlier questions, oldest first]})"""
from __future__ import annotations

from kb.cli.acting import acting_as, add_user_arg
from kb.cli.common import add_filter_args, filters_from_args, log, print_json, run_batch, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("ask", help="answer a question with verified citations")
    p.add_argument("question", nargs="?")
    p.add_argument("-k", type=int, default=None, help="number of contexts to answer from")
    p.add_argument("--batch", help="JSON Lines file with id and question per line")
    p.add_argument("--json", action="store_true")
    add_user_arg(p)
    add_filter_args(p)
    p.set_defaults(func=run)


STATE_LABELS = {
    "answered": "【已回答】",
    "related": "【未直接回答 · 以下为可能相关的原文】",
    "refused": "【未找到依据】",
}


def render_text(answer) -> str:
    """The answer's state, the answer, and its numbered sources under it."""
    lines = [STATE_LABELS.get(answer.status, answer.status), answer.answer, ""]
    if answer.resolved_question and answer.resolved_question != answer.question:
        lines.insert(0, f"（按“{answer.resolved_question}”理解）")
    if answer.refused:
        if answer.contexts:
            lines.append("可能相关的来源：")
            for h in answer.contexts[:3]:
                c = h.chunk
                where = " > ".join(p for p in (c.section, c.article) if p)
                lines.append(f"  - 《{c.title}》 {where}")
        return "\n".join(lines).rstrip()
    lines.append("来源：")
    for c in answer.citations:
        mark = "" if c.verified else "（未核验）"
        lines.append(f"[{c.n}] 《{c.title}》 {c.location()}{mark}{c.validity_label()}")  # 已修订/已废止 said here
        lines.append(f"    “{c.quote}”")
    if answer.unsupported:
        lines.append("以下句子未得到来源支持：")
        lines.extend(f"  ! {s}" for s in answer.unsupported)
    return "\n".join(lines)


def _audit(services, user: str, answer) -> None:
    try:
        shown = sorted({h.chunk.doc_id for h in answer.contexts})
        services.audit.record(
            user, "ask", answer.question, sorted({c.doc_id for c in answer.citations}),
            status=answer.status, shown=shown, answer_id=answer.answer_id, via="cli",
        )
    except Exception as exc:  # auditing must not break answering, but it must be visible
        log(f"warning: audit log not written: {exc}")


def run(args) -> int:
    from kb.container import build_services

    if not args.batch and not (args.question or "").strip():
        log("error: give a QUESTION or --batch FILE")
        return 2
    services = build_services(settings_from_args(args))
    try:
        return _run(services, args)
    finally:
        services.close()


def _line_k(obj, default):
    """A batch line's "k": a positive whole number, or the command's -k."""
    k = obj.get("k")
    if k is None:
        return default
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 200:
        raise ValueError(f'"k" must be a whole number from 1 to 200, got {k!r}')
    return k


def _run(services, args) -> int:
    filters = filters_from_args(args)
    try:
        reader, user = acting_as(services, args.user)
    except ValueError as exc:
        log(f"error: {exc}")
        return 2
    if args.batch:

        def answer_line(obj):
            history = obj.get("history") or []
            if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
                raise ValueError('"history" must be a list of earlier questions (strings, oldest first)')
            question = obj.get("question")
            if question is not None and not isinstance(question, str):
                raise ValueError(f'"question" must be text, got {type(question).__name__}')
            answer = reader.answers.ask(question or "", filters=filters, k=_line_k(obj, args.k), history=history)
            answer.id = obj.get("id")
            _audit(services, user, answer)
            return answer.to_dict()

        return run_batch(args.batch, answer_line)
    answer = reader.answers.ask(args.question, filters=filters, k=args.k)
    _audit(services, user, answer)
    if args.json:
        print_json(answer.to_dict())
    else:
        print(render_text(answer))
    return 0
