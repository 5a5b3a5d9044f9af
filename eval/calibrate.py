"""Fit the shipped answerability model (kb/data/answerability.json) on generated sets.

    python -m eval.calibrate                 # build the knowledge bases, collect, fit, write model + report
    python -m eval.calibrate --reuse         # refit from the examples collected last time (seconds)

The sets, all generated from ../shared (nothing hand-picked):
  cmrc     CMRC-2018 trial, leave-half-out: passages 0, 2, 4 … in the knowledge base; every question
           asked (present / absent), and perturbations of the present ones (year, number, person
           swapped for one the passage does not mention; a facet the passage does not state);
  law      the laws corpus with half of the law_clause_dev laws and of 300 generated clause questions'
           laws removed (every version of a removed law): present / absent;
  domain   the seeds: the dev questions (answerable, unanswerable), their perturbations (place, year,
           number swapped; unstated facets) and colloquial paraphrases, cloze questions made from the
           seed sentences, and cloze questions from two seeds left out of a second knowledge base;
  evidence the CMRC passages changed so they no longer answer their typed questions (the gold deleted,
           made a forecast, the year moved: eval/hard_negatives.py), each kind its own knowledge base,
           with the unchanged passages as control — what `--filled-only` fits filled_threshold on.
Examples (features + labels) are cached in --work, so `--reuse` refits without re-asking.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from pathlib import Path

from kb.answering.answerability import MODEL_FILE, AnswerabilityModel
from kb.answering.calibration import CalibrationItem, Example, auc, collect, fit, fit_filled_threshold, outcome_table, reliability_table
from kb.answering.generators import cloze_questions, paraphrases, perturbations, synonym_swaps

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
COMMAND = "python -m eval.calibrate"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def services_for(home: Path, **overrides):
    from kb.container import build_services
    from kb.settings import load_settings

    return build_services(load_settings("/nonexistent/settings.yaml", env={}, home=str(home), **overrides))


def ingest_once(home: Path, paths: list[Path]):
    services = services_for(home)
    marker = home / ".calibration-ingested"
    if not marker.is_file():
        started = time.monotonic()
        summary = services.ingest.ingest_paths(paths)
        log(f"  ingested into {home.name}: {summary['added']} documents, {summary['chunks']} chunks in {time.monotonic() - started:.0f} s")
        marker.write_text("ok")
    return services


# -- the sets ----------------------------------------------------------------------------------------
def cmrc_items(work: Path, rng: random.Random):
    data = json.loads((SHARED / "eval" / "cmrc2018_trial.json").read_text(encoding="utf-8"))
    docs = work / "cmrc-docs"
    docs.mkdir(parents=True, exist_ok=True)
    items: list[CalibrationItem] = []
    present_sources: list[tuple[str, str]] = []
    for n, p in enumerate(data):
        if n % 2 == 0:
            (docs / f"{p['context_id']}.txt").write_text(p["context_text"], encoding="utf-8")
        for q in p["qas"]:
            if not q["query_text"].strip():
                continue
            golds = [a for a in q["answers"] if isinstance(a, str) and a.strip()]
            if n % 2 == 0:
                items.append(CalibrationItem(q["query_text"], "cmrc-present", True, golds))
                present_sources.append((q["query_text"], p["context_text"]))
            else:
                items.append(CalibrationItem(q["query_text"], "cmrc-absent", False, []))
    services = ingest_once(work / "cmrc-kb", [docs])
    lex = services.answers.lex
    persons = sorted({w for q, _ in present_sources for w, f in services.tokenizer.segmenter.tag(q) if f.startswith("nr") and len(w) >= 2})
    for question, source in present_sources:
        for kind, variant in perturbations(question, source, lex, services.tokenizer, rng, persons):
            if kind != "facet" or rng.random() < 0.3:
                items.append(CalibrationItem(variant, f"cmrc-perturb-{kind}", None, []))
    return services, items


_ARTICLE = re.compile(r"^第([一二三四五六七八九十百零〇]+)条\s*(.{6,})", re.M)


def law_items(work: Path, rng: random.Random):
    from eval.datasets import load_dataset

    laws = SHARED / "corpus" / "laws"
    dev = load_dataset(SHARED / "eval" / "law_clause_dev.jsonl").items
    files = sorted(p for p in laws.rglob("*.md") if not p.name.startswith("_"))
    by_id = {str(p.relative_to(laws).with_suffix("")): p for p in files}

    def title_of(path: Path) -> str:
        # versions and 中华人民共和国-less spellings of one law are one law (as ClauseLocator reads them)
        return re.sub(r"\(\d{4}-\d{2}-\d{2}\)$", "", path.stem).replace("中华人民共和国", "")

    by_title: dict[str, list[Path]] = {}
    for p in files:
        by_title.setdefault(title_of(p), []).append(p)
    removed_titles: set[str] = set()
    items: list[CalibrationItem] = []
    dev_titles = []
    for n, item in enumerate(dev):
        doc = item["sources"][0]["doc"]
        title = title_of(by_id[doc]) if doc in by_id else doc.rsplit("/", 1)[-1]
        dev_titles.append(title)
        if n % 2 == 1:
            removed_titles.add(title)
    for item, title in zip(dev, dev_titles):
        present = title not in removed_titles
        # an absent law's sister laws (other provinces' versions, the national act) are still there:
        # such a question has related material, so it teaches the answer model, not relevance
        items.append(CalibrationItem(item["question"], "law-dev-present" if present else "law-dev-absent", True if present else None, item["key_points"] if present else []))
    templates = ("{t}第{a}条的内容是什么？", "请给出{t}第{a}条的原文。", "《{t}》第{a}条是怎么规定的？", "{t}中第{a}条规定了什么？")
    others = [t for t in sorted(by_title) if t not in set(dev_titles)]
    rng.shuffle(others)
    generated = 0
    for title in others:
        if generated >= 300:
            break
        text = by_title[title][0].read_text(encoding="utf-8", errors="replace")
        articles = _ARTICLE.findall(text)
        if len(articles) < 3:
            continue
        number, body = rng.choice(articles)
        present = generated % 2 == 0
        if not present:
            removed_titles.add(title)
        question = rng.choice(templates).format(t=title, a=number)
        items.append(CalibrationItem(question, "law-gen-present" if present else "law-gen-absent", True if present else None, [body[:12]] if present else []))
        generated += 1
    keep = [p for p in files if title_of(p) not in removed_titles]
    log(f"  laws: {len(keep)} of {len(files)} files kept, {len(removed_titles)} titles removed")
    services = ingest_once(work / "law-kb", keep)
    return services, items


def domain_items(work: Path, rng: random.Random):
    from eval.datasets import load_dataset

    seeds = SHARED / "corpus" / "seeds"
    dev = load_dataset(SHARED / "eval" / "domain_qa_dev.jsonl").items
    services = ingest_once(work / "seeds-kb", [seeds])
    lex = services.answers.lex
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(seeds.glob("*.txt"))}
    items: list[CalibrationItem] = []
    for item in dev:
        if item["answerable"]:
            kps = item["key_points"]
            need = kps[: max(1, math.ceil(len(kps) / 2))]
            items.append(CalibrationItem(item["question"], "domain-dev", True, need))
            source = " ".join(texts.get(s["doc"], "") for s in item["sources"])
            for kind, variant in perturbations(item["question"], source, lex, services.tokenizer, rng):
                items.append(CalibrationItem(variant, f"domain-perturb-{kind}", None, []))
            for variant in paraphrases(item["question"], services.thesaurus, rng, services.tokenizer):
                items.append(CalibrationItem(variant, "domain-paraphrase", True, need))
        else:
            items.append(CalibrationItem(item["question"], "domain-dev-unanswerable", None, []))
    for doc_id, text in texts.items():
        for question, gold in cloze_questions(text, lex, rng, limit=15):
            items.append(CalibrationItem(question, "domain-cloze", True, [gold]))
            for kind, variant in perturbations(question, text, lex, services.tokenizer, rng):
                if kind != "facet":
                    items.append(CalibrationItem(variant, f"domain-cloze-perturb-{kind}", None, []))
    _add_swaps(services, items, "domain-dev", "domain-swapped", rng)
    _add_swaps(services, items, "domain-cloze", "domain-cloze-swapped", rng)
    # leave-documents-out on the seeds: two documents missing from a second knowledge base
    names = sorted(texts)
    left_out = names[1::2]
    half = work / "seeds-half-docs"
    half.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name not in left_out:
            (half / f"{name}.txt").write_text(texts[name], encoding="utf-8")
    half_services = ingest_once(work / "seeds-half-kb", [half])
    half_items = []
    for name in left_out:
        for question, _gold in cloze_questions(texts[name], lex, random.Random(name), limit=15):
            # the other seeds speak of the same inspections: related material, not nothing
            half_items.append(CalibrationItem(question, "domain-cloze-absent", None, []))
    return [(services, items), (half_services, half_items)]


def evidence_items(work: Path):
    """Evidence-side hard negatives (eval/hard_negatives.py builds the same sets): the CMRC passages as
    they are (evidence-control: its typed questions, answerable) and changed so that they no longer
    answer them — the gold deleted, the clause made a forecast, the year asked moved (evidence-<kind>:
    unanswerable). One knowledge base per kind."""
    from eval.hard_negatives import build_sets

    data = json.loads((SHARED / "eval" / "cmrc2018_trial.json").read_text(encoding="utf-8"))
    probe = services_for(work / "evidence-probe")
    questions, passages = build_sets(data, probe)
    probe.close()
    runs = []
    for kind, texts in passages.items():
        docs = work / f"evidence-docs-{kind}"
        docs.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (docs / f"{name}.txt").write_text(text, encoding="utf-8")
        services = ingest_once(work / f"evidence-kb-{kind}", [docs])
        if kind == "control":
            items = [CalibrationItem(q["question"], "evidence-control", True, q["golds"]) for q in questions]
        else:
            items = [CalibrationItem(q["question"], f"evidence-{kind}", True, []) for q in questions if kind in q["kinds"]]
        runs.append((services, items))
    return runs


def _add_swaps(services, items: list[CalibrationItem], group: str, new_group: str, rng: random.Random, share: float = 1.0) -> None:
    """Answerable questions reworded with near words the knowledge base never uses: still answerable."""
    known = services.answers._known_term() or (lambda t: True)
    for item in [i for i in items if i.group == group]:
        if rng.random() > share:
            continue
        protect = [a.text for a in services.answers.analyse(item.question).anchors]
        variant = synonym_swaps(item.question, services.tokenizer, services.wordvectors, known, rng, swaps=2, protect=protect)
        if variant:
            items.append(CalibrationItem(variant, new_group, True, item.gold))


# -- caching of examples ---------------------------------------------------------------------------------
def save_examples(path: Path, examples: list[Example]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps({"question": e.item.question, "group": e.item.group, "relevant": e.item.relevant, "gold": e.item.gold,
                                 "features": e.features, "blocked": e.blocked, "correct": e.correct, "status": e.status,
                                 "filled": e.filled}, ensure_ascii=False) + "\n")


def load_examples(path: Path) -> list[Example]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append(Example(CalibrationItem(d["question"], d["group"], d["relevant"], d["gold"]), d["features"], d["blocked"], d["correct"], d.get("status", ""),
                           bool(d.get("filled", False))))
    return out


def gather(work: Path, sets: list[str]) -> list[Example]:
    examples: list[Example] = []
    for name in sets:
        rng = random.Random(f"calibrate-{name}")
        started = time.monotonic()
        log(f"{name}: building")
        if name == "cmrc":
            runs = [cmrc_items(work, rng)]
        elif name == "law":
            runs = [law_items(work, rng)]
        elif name == "domain":
            runs = domain_items(work, rng)
        elif name == "evidence":
            runs = evidence_items(work)
        else:
            raise SystemExit(f"unknown set {name!r} (cmrc | law | domain | evidence)")
        got: list[Example] = []
        for services, items in runs:
            got += collect(services.answers, items)
            services.close()
        save_examples(work / f"examples-{name}.jsonl", got)
        log(f"{name}: {len(got)} examples in {time.monotonic() - started:.0f} s")
        examples += got
    return examples


# -- report ------------------------------------------------------------------------------------------------
def _outcome_lines(rows: list[dict]) -> list[str]:
    lines = ["| set | n | refused | related | answered | answered and correct |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        n = r["n"]
        lines.append(f"| {r['group']} | {n} | {r['refused'] / n:.3f} | {r['related'] / n:.3f} | {r['answered'] / n:.3f} | {r['answered_correct'] / n:.3f} |")
    return lines


def report_markdown(model: AnswerabilityModel, examples: list[Example], info: dict, cross_validated=None, fitted: bool = True) -> str:
    lines = ["# Answerability calibration", "",
             f"Refit: `{COMMAND}` (examples cached in the work directory; `--reuse` refits from them). "
             f"Check the shipped model without refitting: `{COMMAND} --check` (run by `make eval`).", ""]
    if not fitted:
        lines += [f"Model checked: `{model.source}` (not refitted).", ""]
    lines.append(f"Relevance threshold {model.relevance.threshold:.3f} (AUC {info['auc_relevance']:.3f}), "
                 f"answer threshold {model.answer.threshold:.3f} (AUC {info['auc_answer']:.3f}); {len(examples)} generated questions.")
    lines += ["", "## Outcomes by generated set (in sample: the sets the model was fitted on)", ""]
    lines += _outcome_lines(outcome_table(model, examples))
    if cross_validated:
        lines += ["", "## Two-fold cross-validation (fitted on one half of the questions, deciding the other)", ""]
        lines += _outcome_lines(cross_validated)
    lines += [""] + filled_sweep_lines(model, examples)
    lines += ["## Reliability of the answer probability (questions passing relevance, not blocked)", "",
              "| predicted | n | mean predicted | observed correct |", "|---|---:|---:|---:|"]
    for r in reliability_table(model, examples):
        lines.append(f"| {r['bin']} | {r['n']} | {r['predicted']:.3f} | {r['observed']:.3f} |")
    lines += ["", "## Coefficients (standardised features)", "", "| feature | relevance | answer |", "|---|---:|---:|"]
    rel = dict(zip(model.relevance.features, model.relevance.coef))
    ans = dict(zip(model.answer.features, model.answer.coef))
    for f in model.answer.features:
        lines.append(f"| {f} | {('%+.3f' % rel[f]) if f in rel else ''} | {ans[f]:+.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=str(REPO / ".calibration"), help="working directory (knowledge bases, cached examples)")
    ap.add_argument("--out", default=str(MODEL_FILE))
    ap.add_argument("--report", default=str(REPO / "eval" / "report" / "calibration.md"))
    ap.add_argument("--sets", default="cmrc,law,domain,evidence")
    ap.add_argument("--reuse", action="store_true", help="refit from the cached examples")
    ap.add_argument("--filled-only", action="store_true",
                    help="keep the model at --out and refit only its filled_threshold (the answer probability a filled typed slot needs)")
    ap.add_argument("--check", action="store_true",
                    help="do not fit: report how the model at --out decides the generated sets (make eval)")
    ap.add_argument("--max-false-refusal", type=float, default=0.012)
    ap.add_argument("--max-false-answer", type=float, default=0.03)
    ap.add_argument("--l2", type=float, default=1.0)
    args = ap.parse_args(argv)
    if not (SHARED / "eval").is_dir():
        log("../shared not found: the generated sets are made from the shared corpus and eval sets")
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sets = [s for s in args.sets.split(",") if s]
    if args.reuse:
        examples = [e for s in sets for e in load_examples(work / f"examples-{s}.jsonl")]
    else:
        examples = gather(work, sets)
    if args.check:
        model = AnswerabilityModel.load(args.out)
        report = report_markdown(model, examples, _aucs(model, examples), fitted=False)
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(report, encoding="utf-8")
        print(report)
        return 0
    if args.filled_only:
        model = AnswerabilityModel.load(args.out)
        model.filled_threshold = fit_filled_threshold(model, examples, args.max_false_answer)
        model.save(args.out, filled_threshold_fitted_on=_counts(examples), filled_threshold_command=f"{COMMAND} --filled-only")
        report = report_markdown(model, examples, _aucs(model, examples), cross_validated=cross_validate(examples, args, filled_only=model))
        Path(args.report).write_text(report, encoding="utf-8")
        log(f"filled_threshold {model.filled_threshold} written to {args.out}; report {args.report}")
        print(report)
        return 0
    model = fit(examples, l2=args.l2, max_false_refusal=args.max_false_refusal, max_false_answer=args.max_false_answer)
    info = _aucs(model, examples)
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.item.group] = counts.get(e.item.group, 0) + 1
    model.save(args.out, version=1, command=COMMAND, fitted_on=counts,
               targets={"max_false_refusal": args.max_false_refusal, "max_false_answer": args.max_false_answer},
               auc={k: round(v, 4) for k, v in info.items()})
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    report = report_markdown(model, examples, info, cross_validated=cross_validate(examples, args))
    Path(args.report).write_text(report, encoding="utf-8")
    log(f"model written to {args.out}; report {args.report}")
    print(report)
    return 0


def _aucs(model: AnswerabilityModel, examples: list[Example]) -> dict[str, float]:
    rel = [e for e in examples if e.item.relevant is not None]
    ans = [e for e in examples if not e.blocked]
    return {
        "auc_relevance": auc([model.relevance.probability(e.features) for e in rel], [bool(e.item.relevant) for e in rel]) or 0.0,
        "auc_answer": auc([model.answer.probability(e.features) for e in ans], [e.correct for e in ans]) or 0.0,
    }


def filled_sweep_lines(model: AnswerabilityModel, examples: list[Example]) -> list[str]:
    """What each filled_threshold would do: per set of typed questions, the share answered and the share
    answered correctly (unanswerable sets: answered is wrong)."""
    from kb.answering.calibration import FILLED_GRID, predict_status

    groups = [g for g in ("cmrc-present", "evidence-control", "cmrc-absent", "evidence-filler_deleted", "evidence-forecast", "evidence-year_moved")
              if any(e.item.group == g for e in examples)]
    if not any(g.startswith("evidence") for g in groups):
        return []
    lines = ["## What a filled typed slot needs (filled_threshold)", "",
             f"Shipped: {model.filled_threshold:.3f}; the overlap model's own bar: {model.answer.threshold:.3f}. "
             "Cells: answered / answered correctly.", "",
             "| filled_threshold | " + " | ".join(groups) + " |", "|---:|" + "---:|" * len(groups)]
    for t in FILLED_GRID + (round(model.answer.threshold, 3),):
        trial = AnswerabilityModel(model.relevance, model.answer, filled_threshold=t)
        cells = []
        for g in groups:
            es = [e for e in examples if e.item.group == g]
            answered = [predict_status(trial, e) == "answered" for e in es]
            correct = [a and e.correct for a, e in zip(answered, es)]
            cells.append(f"{sum(answered) / len(es):.3f} / {sum(correct) / len(es):.3f}")
        lines.append(f"| {t:.3f} | " + " | ".join(cells) + " |")
    return lines + [""]


def _counts(examples: list[Example]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.item.group] = counts.get(e.item.group, 0) + 1
    return counts


def cross_validate(examples: list[Example], args, filled_only: AnswerabilityModel | None = None) -> list[dict]:
    """Two-fold estimate of how the fit generalises: fit on the questions of one half (split by a hash
    of the question), decide the other half, both ways; outcomes pooled over the two test halves.
    `filled_only`: the model whose logistic parts are kept; only its filled_threshold is fitted."""
    import hashlib

    def fold(e: Example) -> int:
        return hashlib.sha256(e.item.question.encode("utf-8")).digest()[0] % 2

    rows: dict[str, dict] = {}
    for k in (0, 1):
        train = [e for e in examples if fold(e) != k]
        test = [e for e in examples if fold(e) == k]
        if filled_only is not None:
            model = AnswerabilityModel(filled_only.relevance, filled_only.answer)
            model.filled_threshold = fit_filled_threshold(model, train, args.max_false_answer)
        else:
            model = fit(train, l2=args.l2, max_false_refusal=args.max_false_refusal, max_false_answer=args.max_false_answer)
        for r in outcome_table(model, test):
            acc = rows.setdefault(r["group"], {key: 0 for key in r if key != "group"} | {"group": r["group"]})
            for key, value in r.items():
                if key != "group":
                    acc[key] += value
    return [rows[g] for g in sorted(rows)]


if __name__ == "__main__":
    sys.exit(main())
