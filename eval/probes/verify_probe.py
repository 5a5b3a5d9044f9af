"""Check seeds_probe.jsonl against the seed documents.

For every answerable item: each quote must be a substring of its document and
each key point a substring of at least one of the item's quoted documents
(and of one of its quotes), after NFKC normalisation and whitespace removal.
Also checks schema, ids, key-point lengths and type counts.
Usage: python eval/probes/verify_probe.py [--corpus /work/shared/corpus/seeds]
"""
import argparse, collections, json, pathlib, re, sys, unicodedata

def norm(s):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))

def main():
    ap = argparse.ArgumentParser()
    here = pathlib.Path(__file__).resolve().parent
    ap.add_argument("--corpus", default="/work/shared/corpus/seeds")
    ap.add_argument("--probe", default=str(here / "seeds_probe.jsonl"))
    a = ap.parse_args()
    docs = {p.stem: p.read_text(encoding="utf-8") for p in pathlib.Path(a.corpus).glob("*.txt")}
    ndocs = {k: norm(v) for k, v in docs.items()}
    errors, types, ids = [], collections.Counter(), set()
    keys = ["id", "question", "type", "answerable", "answer", "key_points", "sources"]
    for ln, line in enumerate(open(a.probe, encoding="utf-8"), 1):
        it = json.loads(line)
        iid = it.get("id")
        if list(it) != keys: errors.append(f"{iid}: keys {list(it)}")
        if iid in ids: errors.append(f"{iid}: duplicate id")
        ids.add(iid); types[it["type"]] += 1
        if not it["answerable"]:
            if it["type"] != "unanswerable" or it["answer"] or it["key_points"] or it["sources"]:
                errors.append(f"{iid}: malformed unanswerable")
            continue
        if not it["sources"]: errors.append(f"{iid}: no sources")
        if not 1 <= len(it["key_points"]) <= 4: errors.append(f"{iid}: {len(it['key_points'])} key points")
        quotes = []
        for s in it["sources"]:
            if s["doc"] not in docs: errors.append(f"{iid}: unknown doc {s['doc']}"); continue
            q = norm(s["quote"]); quotes.append(q)
            if q not in ndocs[s["doc"]]: errors.append(f"{iid}: quote not in {s['doc']}: {s['quote']}")
            elif s["quote"] not in docs[s["doc"]]: print(f"note {iid}: quote matches only after normalisation")
        if it["type"] == "multi_doc" and len({s["doc"] for s in it["sources"]}) < 2:
            errors.append(f"{iid}: multi_doc with one doc")
        for kp in it["key_points"]:
            n = len(norm(kp))
            if not 2 <= n <= 12: errors.append(f"{iid}: key point length {n}: {kp}")
            if not any(norm(kp) in q for q in quotes): errors.append(f"{iid}: key point not in quotes: {kp}")
    print(dict(types), "total", sum(types.values()))
    for e in errors: print("FAIL", e)
    print("OK" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0

if __name__ == "__main__":
    sys.exit(main())
