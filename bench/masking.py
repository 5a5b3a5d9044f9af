"""How well masking hides people: `python -m bench.masking [--corpus FILE.jsonl] [--mode lac|rules] [--json]`.

The corpus (default: tests/ingest/data/masking_names.jsonl, written before masking was tuned on it) holds
texts with the names, 身份证号 and phone numbers they contain, and words that must survive. Each text is
masked as ingest masks a document (one NameMasker per document: learn, then mask), and counted:

  names_left        gold names still present in the masked text (distinct, and their occurrences)
  false_positives   strings the masker took for names that are not a gold name or a part of one
                    (on the corpus's policy text every masked string is one), and `keep` words destroyed
  ids_left / phones_left   身份证号 and phone numbers still present

Exit status 0 when nothing is left and nothing was wrongly masked, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "ingest" / "data" / "masking_names.jsonl"


def load_corpus(path: str | Path = DEFAULT_CORPUS) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate(corpus: list[dict[str, Any]], make_masker) -> dict[str, Any]:
    """`make_masker()` gives a fresh masker per document (learn(text), mask(text), .names)."""
    names_left: list[dict[str, Any]] = []
    false_positives: list[dict[str, Any]] = []
    ids_left: list[str] = []
    phones_left: list[str] = []
    total_names = 0
    chars = 0
    t0 = time.perf_counter()
    for doc in corpus:
        text = doc["text"]
        chars += len(text)
        masker = make_masker()
        masker.learn(text)
        masked = masker.mask(text)
        total_names += len(doc["names"])
        for name in doc["names"]:
            if name in masked:
                names_left.append({"doc": doc["id"], "name": name, "occurrences": masked.count(name)})
        gold = doc["names"]
        for found in sorted(masker.names):
            if not any(found == g or found in g for g in gold):
                false_positives.append({"doc": doc["id"], "masked": found})
        for word in doc.get("keep", []):
            if word not in masked:
                false_positives.append({"doc": doc["id"], "destroyed": word})
        ids_left += [x for x in doc.get("ids", []) if x in masked]
        phones_left += [x for x in doc.get("phones", []) if x in masked]
    seconds = time.perf_counter() - t0
    return {
        "documents": len(corpus),
        "names": total_names,
        "names_left": len(names_left),
        "occurrences_left": sum(x["occurrences"] for x in names_left),
        "false_positives": len(false_positives),
        "ids_left": len(ids_left),
        "phones_left": len(phones_left),
        "ids": sum(len(d.get("ids", [])) for d in corpus),
        "phones": sum(len(d.get("phones", [])) for d in corpus),
        "chars_per_s": round(chars / seconds) if seconds else None,
        "left": names_left,
        "wrong": false_positives,
        "ids_phones_left": ids_left + phones_left,
    }


def _masker_factory(mode: str | None):
    from ingest.masking import NameMasker

    if mode is None:
        return NameMasker
    return lambda: NameMasker(finder_mode=mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.masking", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--mode", choices=("lac", "rules"), help="ingest.mask_ner (default: the settings')")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = evaluate(load_corpus(args.corpus), _masker_factory(args.mode))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(f"{report['documents']} texts, {report['names']} names: left {report['names_left']} "
              f"({report['occurrences_left']} occurrences), false positives {report['false_positives']}, "
              f"身份证号 left {report['ids_left']}/{report['ids']}, phones left {report['phones_left']}/{report['phones']}, "
              f"{report['chars_per_s']} chars/s")
        for item in report["left"]:
            print(f"  left   {item['doc']}: {item['name']} ×{item['occurrences']}")
        for item in report["wrong"]:
            print(f"  wrong  {item['doc']}: {item.get('masked') or 'destroyed ' + item['destroyed']}")
        for item in report["ids_phones_left"]:
            print(f"  left   {item}")
    clean = not (report["names_left"] or report["false_positives"] or report["ids_left"] or report["phones_left"])
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
