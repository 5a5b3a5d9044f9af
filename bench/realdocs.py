"""Real documents (../shared/corpus/realdocs_dev or a held-out set of the same layout): what ingest makes
of a 公文 as .docx/.doc/.pdf/.ofd/scan, a law as a PDF and a report, measured end to end.

    python -m bench.realdocs [--dir ../shared/corpus/realdocs_dev] [--out realdocs.json] [--no-ocr]

Each file goes into its own temporary KB_HOME (the formats of one 公文 share a document id), after a
warm-up ingest that pays the process's first imports. Reported:
- questions (questions.jsonl): answered with every key point (spaces ignored), and the page of the
  citation that holds the key point — right when the loader's text of that page holds the quote's
  start (for a table row, the key point's start);
- running headers left: chunks of a paged file that still hold a line removed as page furniture;
- 公文 metadata per format: doc_number, issuer, issued_on, title against the README's values;
- OCR: seconds and peak RSS per page of the scan (the bench runs it in a child process).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO.parent / "shared" / "corpus" / "realdocs_dev"
GONGWEN_EXPECTED = {
    "doc_number": "某组发〔2024〕12号",
    "issuer": "中共某某省委组织部",
    "issued_on": "2024-03-15",
    "title": "关于进一步加强领导班子政治建设考察工作的通知",
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def _page_form(text: str) -> str:
    """For the page check only: the 发文字号's brackets as the record writes them (a scan reads 〔 as [)."""
    return re.sub(r"[\[［(（【]", "〔", re.sub(r"[\]］)）】]", "〕", _norm(text)))


def _settings(home: Path):
    from kb.settings import load_settings

    return load_settings("/nonexistent/kb-bench.yaml", env={}, home=str(home))


def _page_texts(path: Path) -> dict[int, str]:
    from ingest.loaders import load_file
    from kb.settings import IngestSettings

    loaded = load_file(path, IngestSettings())
    return {s.page: _norm(s.text) for s in loaded.segments if s.page is not None}


def evaluate_file(path: Path, questions: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    from kb.container import build_services

    home = workdir / path.name
    services = build_services(_settings(home))
    out: dict[str, Any] = {"file": path.name}
    try:
        t0 = time.perf_counter()
        summary = services.ingest.ingest_paths([path])
        out["ingest_s"] = round(time.perf_counter() - t0, 2)
        out["failed"] = summary["failed"]
        out["furniture_lines"] = summary["furniture_lines"]
        docs = services.store.list_documents()
        if not docs:
            return out
        record = docs[0] if docs[0].doc_id != "内置/五个政治评价框架" else docs[-1]
        out["metadata"] = {k: getattr(record, k) for k in ("title", "doc_type", "doc_number", "issuer", "issued_on")}
        chunks = services.store.document_chunks(record.doc_id)
        out["chunks"] = len(chunks)
        pages = _page_texts(path) if path.suffix.lower() in (".pdf", ".ofd") else {}
        # running headers left: chunks holding a line that repeats at the top of most pages
        if pages:
            from ingest.loaders import load_file
            from ingest.page_furniture import remove_furniture
            from kb.settings import IngestSettings

            loaded = load_file(path, IngestSettings())
            removed = {_norm(x) for x in remove_furniture([s.text.split("\n") for s in loaded.segments]).removed}
            removed = {x for x in removed if len(x) >= 4 and not re.fullmatch(r"[-—–－\d\s]+", x)}
            out["header_chunks"] = sum(1 for c in chunks if any(h in _norm(c.text) for h in removed))
        results = []
        for q in questions:
            answer = services.answers.ask(q["question"])
            text = _norm(answer.answer)
            # answered, with every key point: the same words shown as "possibly related" are no answer
            ok = answer.status == "answered" and all(_norm(k) in text for k in q["key_points"])
            page_ok = None
            if pages:
                page_ok = False
                for c in answer.citations:
                    if any(_norm(k) in _norm(c.quote) for k in q["key_points"]) and c.page in pages:
                        # the quote starts on the cited page; a table row (a sentence made from the
                        # cells) is right when its key point starts there
                        page_text = _page_form(pages[c.page])
                        page_ok = _page_form(c.quote)[:6] in page_text or any(
                            _page_form(k)[:5] in page_text for k in q["key_points"])
                        break
            results.append({"id": q["id"], "kind": q["kind"], "correct": ok, "page_right": page_ok, "status": answer.status,
                            "answer": answer.answer[:200], "pages": [c.page for c in answer.citations]})
        out["questions"] = results
    finally:
        services.close()
    return out


def _warm_up(workdir: Path) -> None:
    """Ingest and ask once in a throwaway KB, so each file's ingest_s is the work of that file and not
    the process's first imports (llama-index, chromadb, jieba: ~4 s once per process, which a running
    web app has paid before its first upload)."""
    from kb.container import build_services

    sample = workdir / "warm-up.txt"
    sample.write_text("第一条 为了规范考察工作，制定本办法。\n第二条 本办法自印发之日起施行。\n", encoding="utf-8")
    services = build_services(_settings(workdir / "warm-up"))
    try:
        services.ingest.ingest_paths([sample])
        services.answers.ask("本办法自什么时候起施行？")
    finally:
        services.close()


def ocr_per_page(path: Path) -> dict[str, Any]:
    """OCR of a scan in a child process: seconds per page and the child's peak RSS — read as VmHWM,
    which starts afresh at exec (getrusage's ru_maxrss keeps the forking parent's high-water mark, so it
    reported the bench process's own ~1 GB as OCR's)."""
    code = (
        "import sys,time,json;sys.path.insert(0,%r);from pathlib import Path;"
        "hwm=lambda:int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')));"
        "from ingest.loaders import load_file;from kb.settings import IngestSettings;t=time.perf_counter();"
        "d=load_file(Path(%r),IngestSettings());s=time.perf_counter()-t;n=len(d.segments);"
        "print(json.dumps({'pages':n,'seconds_per_page':round(s/max(1,n),2),"
        "'peak_rss_mb':round(hwm()/1024,1),"
        "'confidence':{p:v.get('confidence') for p,v in d.ocr_pages.items()}}))"
    ) % (str(REPO), str(path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] }
    return json.loads(done.stdout.strip().splitlines()[-1])


def _expected(directory: Path) -> tuple[str, dict[str, str], str | None]:
    """The notice's file stem, its metadata and the law PDF's name: from ``expected.json`` when the
    directory has one (a held-out set made by bench/make_realdocs.py), else the dev set's."""
    path = directory / "expected.json"
    if not path.is_file():
        return "gongwen", GONGWEN_EXPECTED, "huanghe.pdf"
    data = json.loads(path.read_text(encoding="utf-8"))
    notice = {k: data["notice"][k] for k in GONGWEN_EXPECTED if k in data.get("notice", {})}
    return data.get("notice_stem", "notice"), notice, data.get("law_file", "law.pdf")


def _masking_leaks(directory: Path, names: list[str], workdir: Path) -> dict[str, Any]:
    """Ingest the report with masking on: the names of expected.json that are still in the text."""
    from kb.container import build_services
    from kb.settings import load_settings

    report = directory / "report.docx"
    if not names or not report.is_file():
        return {}
    settings = load_settings("/nonexistent/kb-bench.yaml", env={}, home=str(workdir / "masked"),
                             ingest__mask_person_names=True)
    services = build_services(settings)
    try:
        services.ingest.ingest_paths([report])
        text = "".join(c.text for d in services.store.list_documents() for c in services.store.document_chunks(d.doc_id))
    finally:
        services.close()
    return {"names": len(names), "leaked": [n for n in names if n in text]}


def run(directory: Path, ocr: bool = True) -> dict[str, Any]:
    questions = [json.loads(line) for line in (directory / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    stem, expected, law_file = _expected(directory)
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in (".pdf", ".docx", ".doc", ".ofd", ".wps"))
    if not ocr:
        files = [p for p in files if "scan" not in p.name]
    report: dict[str, Any] = {"files": []}
    with tempfile.TemporaryDirectory(prefix="kb-realdocs-") as tmp:
        _warm_up(Path(tmp))
        for path in files:
            qs = [q for q in questions if q["file"] == path.name]
            if path.stem.startswith(stem) and path.name != f"{stem}.pdf":
                # the other formats of the notice answer the PDF's questions too
                qs = [dict(q, file=path.name) for q in questions if q["file"] == f"{stem}.pdf"]
            print(f"… {path.name}", file=sys.stderr)
            result = evaluate_file(path, qs, Path(tmp))
            if path.stem.startswith(stem) and "metadata" in result:
                result["metadata_right"] = {k: result["metadata"].get(k) == v for k, v in expected.items()}
            report["files"].append(result)
        expected_path = directory / "expected.json"
        if expected_path.is_file():
            names = json.loads(expected_path.read_text(encoding="utf-8")).get("report_names", [])
            report["masking"] = _masking_leaks(directory, names, Path(tmp))
    scans = [p for p in files if "scan" in p.name]
    if scans:
        report["ocr"] = ocr_per_page(scans[0])
    qs = [q for f in report["files"] for q in f.get("questions", [])]
    report["summary"] = {
        "questions": len(qs),
        "correct": sum(q["correct"] for q in qs),
        "page_checked": sum(q["page_right"] is not None for q in qs),
        "page_right": sum(bool(q["page_right"]) for q in qs),
        "header_chunks": {f["file"]: f.get("header_chunks") for f in report["files"] if "header_chunks" in f},
        "metadata_right": {f["file"]: f.get("metadata_right") for f in report["files"] if "metadata_right" in f},
    }
    if report.get("masking"):
        report["summary"]["masking"] = report["masking"]
    law = [f for f in report["files"] if f["file"] == law_file]
    if law:
        report["summary"]["text_pdf_ingest_s"] = law[0].get("ingest_s")
    return report


def section(directory: Path) -> dict[str, Any]:
    """The `make bench` section (bench/sections/realdocs.py): the summary figures, OCR per page, misses for diagnosis."""
    report = run(directory)
    out = dict(report["summary"])
    out["ocr"] = report.get("ocr", {})
    out["misses"] = [q for f in report["files"] for q in f.get("questions", []) if not q["correct"] or q["page_right"] is False]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-ocr", action="store_true", help="skip the scanned PDF (OCR takes minutes on 2 cores)")
    args = ap.parse_args(argv)
    report = run(args.dir, ocr=not args.no_ocr)
    for f in report["files"]:
        print(f"{f['file']:<20} ingest {f.get('ingest_s')} s, chunks {f.get('chunks')}, furniture {f.get('furniture_lines')}, "
              f"header chunks {f.get('header_chunks')}, metadata {f.get('metadata')}")
        for q in f.get("questions", []):
            print(f"   {q['id']} {q['kind']:<10} {'OK ' if q['correct'] else 'MISS'} page={q['page_right']} {q['status']} {q['answer'][:80]!r}")
    print(json.dumps(report["summary"], ensure_ascii=False))
    if "ocr" in report:
        print("ocr:", json.dumps(report["ocr"], ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
