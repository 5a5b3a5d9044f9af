"""Conversion and checks on the produced PDFs: LibreOffice (soffice) docx→PDF, page counts (pdfinfo),
each page's normalised text (pdftotext, running header and page number dropped), the sentence holding a
key, where a snippet lies (first and last page), whether a sentence crosses a page boundary, and the
whole clause next to a page boundary that makes a page-break question's key point."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .common import norm


def to_pdf(docx_paths: list[Path], outdir: Path, profile: Path) -> None:
    cmd = ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
           "--convert-to", "pdf", "--outdir", str(outdir)] + [str(p) for p in docx_paths]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    for p in docx_paths:
        if not (outdir / (p.stem + ".pdf")).exists():
            raise RuntimeError(f"soffice did not convert {p.name}: {done.stderr.strip()[-500:]}")


def page_count(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


FOOTER_LINE = re.compile(r"^([—\-–－]\d+[—\-–－]|第\d+页共\d+页)$")


def page_texts(pdf: Path, header: str | None, keep_furniture: bool = False) -> list[str]:
    """Normalised text of each page (pdftotext -f N -l N), running header and page number removed
    (all kept with keep_furniture)."""
    pages = []
    for n in range(1, page_count(pdf) + 1):
        raw = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
                             capture_output=True, text=True, check=True).stdout
        keep = [x for x in (norm(line) for line in raw.splitlines())
                if x and (keep_furniture or not FOOTER_LINE.match(x))]
        text = "".join(keep)
        if norm(header) and text.startswith(norm(header)):  # pdftotext may split the header line
            text = text[len(norm(header)):]
        pages.append(text)
    return pages


def sentence_of(text: str, key: str) -> str:
    """The sentence (up to 。；！？ or the paragraph's ends) of text holding key."""
    i = text.index(key)
    start = max(text.rfind(c, 0, i) for c in "。；！？：") + 1
    ends = [j for j in (text.find(c, i + len(key)) for c in "。；！？") if j != -1]
    end = min(ends) + 1 if ends else len(text)
    return text[start:end]


def locate(pages: list[str], snippet: str) -> tuple[int, int] | None:
    """(first page, last page) of snippet (normalised) in the concatenated pages, 1-based."""
    s = norm(snippet)
    joined = "".join(pages)
    i = joined.find(s)
    if i < 0:
        return None
    bounds, acc = [], 0
    for p in pages:
        acc += len(p)
        bounds.append(acc)

    def page_at(pos: int) -> int:
        for k, b in enumerate(bounds):
            if pos < b:
                return k + 1
        return len(pages)

    return page_at(i), page_at(i + len(s) - 1)


def crossing(pages: list[str], sentence: str) -> tuple[int, int] | None:
    loc = locate(pages, sentence)
    if loc and loc[1] == loc[0] + 1:
        return loc
    return None


CLAUSE_SEP = "，；。：、（）:;,"


def pick_clause(text: str, from_end: bool, whole_edge: bool) -> str | None:
    """A whole clause of text, nearest the page boundary (the last one when from_end, else the
    first) and 6-20 characters long where one is (else the nearest, cut to 16); the clause cut by the
    page boundary (at the end of the part before it, the start of the part after it) is skipped
    unless whole_edge."""
    parts = re.split("[" + CLAUSE_SEP + "]", text)
    if not whole_edge:
        parts = parts[:-1] if from_end else parts[1:]
    parts = [x for x in parts if len(x) >= 6]
    if from_end:
        parts = parts[::-1]
    if not parts:
        return None
    short = [x for x in parts[:3] if len(x) <= 20]
    if short:
        return short[0]
    return parts[0][-16:] if from_end else parts[0][:16]
