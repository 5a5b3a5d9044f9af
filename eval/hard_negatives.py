"""Evidence-side hard negatives at scale: does a typed question stay unanswered when the passage that
answered it no longer does?

    python -m eval.hard_negatives [--work DIR] [--report eval/report/hard_negatives.md]

From every passage of the CMRC-2018 trial set (../shared/eval/cmrc2018_trial.json) and each of its
questions that asks for a typed slot (a date, year, number, person, place, name, role …; kb/answering/
ask.py), generated variants of the passage (kb/answering/generators.py evidence_negatives):
filler_deleted (the gold answer removed), forecast (the clause stating it turned into 预计…), year_moved
(the year the question names moved). One knowledge base per kind holds every passage changed that way;
the control knowledge base holds the passages as they are. Reported: per kind, the share of questions not
given as answered (the goal: all of them); for the control, the share answered and the share of those
answers holding a gold answer. Nothing is fitted on these sets: they measure the fillers' rules.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
COMMAND = "python -m eval.hard_negatives"


def _norm(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text or "")).lower()


def _services(home: Path):
    from kb.container import build_services
    from kb.settings import load_settings

    return build_services(load_settings("/nonexistent/settings.yaml", env={}, home=str(home)))


def build_sets(data: list[dict], services) -> tuple[list[dict], dict[str, dict[str, str]]]:
    """The typed questions (with their passage id, golds, slot) and, per kind, the passages to ingest."""
    from kb.answering.generators import evidence_negatives

    questions: list[dict] = []
    passages: dict[str, dict[str, str]] = {"control": {}}
    for p in data:
        pid, text = p["context_id"], p["context_text"]
        passages["control"][pid] = text
        for q in p["qas"]:
            question = q["query_text"].strip()
            golds = [g for g in q["answers"] if g.strip()]
            if not question or not golds:
                continue
            ask = services.answers.ask_of(services.answers.analyse(question))
            if not ask.typed or ask.slot in ("list", "extreme", "category"):
                continue
            years = [x.value for x in ask.qualifiers if x.kind == "year"] + re.findall(r"(?<!\d)(?:19|20)\d{2}(?=\s*年)", question)
            # a passage with several typed questions is changed for all of them, one after the other: a
            # copy changed for one question only would still answer the others
            kinds = []
            for kind, _ in evidence_negatives(text, golds, years, ask.slot):
                current = passages.setdefault(kind, {}).get(pid, text)
                changed = dict(evidence_negatives(current, golds, years, ask.slot)).get(kind)
                if changed is not None:
                    passages[kind][pid] = changed
                    kinds.append(kind)
            questions.append({"question": question, "passage": pid, "golds": golds, "slot": ask.slot, "kinds": kinds})
    # a question whose gold a later change put back (another question's year move) is asked only where absent
    for q in questions:
        q["kinds"] = [k for k in q["kinds"] if k != "filler_deleted" or not any(g in passages[k][q["passage"]] for g in q["golds"])]
    return questions, passages


def run(work: Path) -> dict:
    data = json.loads((SHARED / "eval" / "cmrc2018_trial.json").read_text(encoding="utf-8"))
    work.mkdir(parents=True, exist_ok=True)
    probe = _services(work / "probe")
    questions, passages = build_sets(data, probe)
    results: dict[str, dict] = {}
    for kind, texts in passages.items():
        home = work / kind
        docs = work / f"docs_{kind}"
        docs.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (docs / f"{name}.txt").write_text(text, encoding="utf-8")
        services = _services(home)
        if not (home / ".ingested").is_file():
            started = time.monotonic()
            services.ingest.ingest_paths([docs])
            (home / ".ingested").write_text("ok")
            print(f"  {kind}: {len(texts)} passages in {time.monotonic() - started:.0f} s", file=sys.stderr)
        asked = [q for q in questions if kind == "control" or kind in q["kinds"]]
        rows = []
        for q in asked:
            answer = services.answers.ask(q["question"])
            holds = any(_norm(g) in _norm(answer.answer) for g in q["golds"])
            rows.append({"question": q["question"], "slot": q["slot"], "status": answer.status, "holds": holds,
                         "filler": (answer.filler or {}).get("text"), "answer": answer.answer[:200]})
        answered = [r for r in rows if r["status"] == "answered"]
        results[kind] = {
            "questions": len(rows),
            "not_answered": round(1 - len(answered) / len(rows), 3) if rows else None,
            "answered": round(len(answered) / len(rows), 3) if rows else None,
            "answered_holding_gold": round(sum(r["holds"] for r in answered) / len(answered), 3) if answered else None,
            "answered_items": [r for r in answered][:40],
        }
    return results


def report_markdown(results: dict) -> str:
    lines = [
        "# Evidence-side hard negatives (CMRC-2018 trial, typed questions)",
        "",
        f"Reproduce: `{COMMAND}` (default settings, no LLM). See the module docstring for how the sets are made.",
        "",
        "| set | questions | not answered | answered | answered holding a gold answer |",
        "|---|---|---|---|---|",
    ]
    for kind, r in results.items():
        lines.append(f"| {kind} | {r['questions']} | {r['not_answered']} | {r['answered']} | {r['answered_holding_gold']} |")
    lines += ["", "For the control set, *answered* should be high; for every other set, *not answered* should be 1.0."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/kb-hard-negatives"))
    ap.add_argument("--report", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    results = run(args.work)
    md = report_markdown(results)
    print(md)
    if args.report:
        args.report.write_text(md, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
