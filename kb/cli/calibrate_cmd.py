"""`kb calibrate [--json]`: refit answerability on this knowledge base's own documents."""
from __future__ import annotations

from kb.cli.common import log, print_json, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="refit the answered / related / refused decision on your own documents (writes KB_HOME/answerability.json)",
    )
    p.add_argument("--questions-per-document", type=int, default=15, help="generated questions per document (default 15)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from kb.answering.site_calibration import CalibrationError, calibrate_site
    from kb.container import build_services

    services = build_services(settings_from_args(args))
    try:
        report = calibrate_site(services, args.questions_per_document, log=log)
    except CalibrationError as exc:
        log(f"error: {exc}")
        return 1
    finally:
        services.close()
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"model written to {report.path}")
    print(f"{report.documents} documents, {report.questions} generated questions; "
          f"{report.changed} decided differently from the shipped model")
    print(f"thresholds: relevance {report.relevance_threshold}, answer {report.answer_threshold}")
    print("generated set | n | refused | related | answered | answered and correct")
    for r in report.outcomes:
        print(f"{r['group']} | {r['n']} | {r['refused']} | {r['related']} | {r['answered']} | {r['answered_correct']}")
    return 0
