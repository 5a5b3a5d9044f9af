"""Every citation of the answers to the dev sets reproduces its quote from its offsets (issue #27):
``document_text[start:end] == quote``, where document_text is the text the store keeps for the cited
document version, and `verified` is true exactly when the offsets are there.

Three knowledge bases, as the dev sets are meant to be read (../shared/README.md): the seed
documents with domain_qa_dev.jsonl, the CMRC 2018 trial passages (one document each) with a sample
of its questions, and the laws of law_clause_dev.jsonl plus as many other laws with
the questions about them. Drafting cites through the same verifier: the drafting dev set's
outlines are checked over the seeds too.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from kb.citations.verify import chunk_version
from tests.conftest import make_settings, read_jsonl, require_shared

pytestmark = pytest.mark.slow

CMRC_QUESTIONS = 120  # a sample of the 1,002 trial questions, spread over the passages
EXTRA_LAWS = 100  # laws not asked about, read alongside the ones the questions name


def check_citations(services, answers) -> int:
    """Every citation of `answers` against the stored text of its document version; the number checked."""
    texts: dict[tuple[str, str | None], str | None] = {}
    checked, problems = 0, []
    for label, citations in answers:
        for c in citations:
            key = (c.doc_id, chunk_version(c.chunk_id))
            if key not in texts:
                texts[key] = services.store.get_document_text(c.doc_id, key[1])
            text = texts[key]
            checked += 1
            if text is None:
                problems.append(f"{label} [{c.n}]: no stored text for {key}")
            elif not c.verified or c.start is None or c.end is None:
                # a quote is always a verbatim span of its document: an unverified one is a fault
                problems.append(f"{label} [{c.n}]: no offsets (verified={c.verified}) for {c.quote!r}")
            elif text[c.start:c.end] != c.quote:
                problems.append(f"{label} [{c.n}]: text[{c.start}:{c.end}] = {text[c.start:c.end]!r} != {c.quote!r}")
            elif c.pages is not None and not (c.pages[0] == c.page and c.pages[0] <= c.pages[1]):
                problems.append(f"{label} [{c.n}]: page {c.page} and page span {c.pages} disagree")
    assert not problems, f"{len(problems)} of {checked} citations:\n" + "\n".join(problems[:20])
    return checked


def ask_all(services, questions: list[tuple[str, str]]):
    out = []
    for label, question in questions:
        answer = services.answers.ask(question)
        out.append((label, answer.citations))
        # the JSON every surface builds from (kb ask --json, /v1, MCP) carries the same offsets
        for c, data in zip(answer.citations, answer.to_dict()["citations"]):
            assert (data["start"], data["end"], data["quote"]) == (c.start, c.end, c.quote)
        filler = answer.filler
        if filler and "doc_start" in filler:
            # the filler of a typed question stands at its offsets too: in its citation's quote and document
            c = answer.citations[filler["citation"] - 1]
            text = services.store.get_document_text(c.doc_id, chunk_version(c.chunk_id))
            assert c.quote[filler["quote_start"]:filler["quote_end"]] == filler["text"], (label, filler)
            assert text[filler["doc_start"]:filler["doc_end"]] == filler["text"], (label, filler)
    return out


# ---- the seed documents: domain QA and drafting ------------------------------------------------------
def test_domain_qa_citations_reproduce_their_quotes(seeded_services):
    items = read_jsonl(require_shared() / "eval" / "domain_qa_dev.jsonl")
    answers = ask_all(seeded_services, [(item["id"], item["question"]) for item in items])
    assert check_citations(seeded_services, answers) >= len([i for i in items if i["answerable"]])


def test_drafting_citations_reproduce_their_quotes(seeded_services):
    from kb.models import DraftRequest

    items = read_jsonl(require_shared() / "eval" / "domain_drafts_dev.jsonl")
    cited = []
    for item in items:
        request = DraftRequest(kind=item["kind"], target=item.get("target", ""), interviewee=item.get("interviewee", ""),
                               dimensions=list(item.get("dimensions") or []), request=item.get("request", ""))
        draft = seeded_services.drafts.draft(request)
        for s in draft.sections:
            for i, q in enumerate(s.questions):
                cited.append((f"{item['id']} {s.dimension} q{i + 1}", q.citations))
    assert check_citations(seeded_services, cited) > 0


# ---- CMRC 2018 trial -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cmrc(tmp_path_factory):
    from kb.container import build_services

    passages = json.loads((require_shared() / "eval" / "cmrc2018_trial.json").read_text(encoding="utf-8"))
    services = build_services(make_settings(tmp_path_factory.mktemp("cmrc-offsets") / "kb"))
    services.ingest.ingest_texts([(p["context_id"], p["title"], p["context_text"]) for p in passages])
    try:
        yield services, passages
    finally:
        services.close()


def test_cmrc_citations_reproduce_their_quotes(cmrc):
    services, passages = cmrc
    questions = [(q["query_id"], q["query_text"]) for p in passages for q in p["qas"]]
    sample = random.Random(27).sample(questions, CMRC_QUESTIONS)
    answers = ask_all(services, sample)
    assert check_citations(services, answers) >= CMRC_QUESTIONS // 2


# ---- laws ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def laws(tmp_path_factory):
    from kb.container import build_services

    root = require_shared() / "corpus" / "laws"
    items = read_jsonl(require_shared() / "eval" / "law_clause_dev.jsonl")
    asked = {item["sources"][0]["doc"] for item in items}
    everything = sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.md"))
    others = random.Random(27).sample([d for d in everything if d not in asked], EXTRA_LAWS)
    files = [root / f"{d}.md" for d in sorted(asked) + others]
    missing = [f for f in files if not f.is_file()]
    assert not missing, f"law files named by law_clause_dev.jsonl not found: {missing[:3]}"
    services = build_services(make_settings(tmp_path_factory.mktemp("laws-offsets") / "kb"))
    summary = services.ingest.ingest_paths(files, doc_type="policy")
    assert not summary["failed"], summary["failed"][:3]
    try:
        yield services, items
    finally:
        services.close()


def test_law_clause_citations_reproduce_their_quotes(laws):
    services, items = laws
    answers = ask_all(services, [(item["id"], item["question"]) for item in items])
    assert check_citations(services, answers) >= len(items) // 2


# ---- documents with pages: page spans ------------------------------------------------------------------
def test_paged_document_citations_carry_their_page_spans(tmp_path):
    """The PDFs of corpus/realdocs_dev (a 公文 whose sentences run over page breaks, a 44-page law):
    offsets as above, and each quote's page span is that of its offsets."""
    from kb.container import build_services

    root = require_shared() / "corpus" / "realdocs_dev"
    items = [i for i in read_jsonl(root / "questions.jsonl") if i["file"].endswith(".pdf") and "scan" not in i["file"]]
    services = build_services(make_settings(tmp_path / "kb"))
    try:
        summary = services.ingest.ingest_paths(sorted({root / i["file"] for i in items}))
        assert not summary["failed"], summary["failed"]
        answers = ask_all(services, [(i["id"], i["question"]) for i in items])
        assert check_citations(services, answers) > 0
        paged = [c for _, cs in answers for c in cs if c.pages is not None]
        assert paged, "no citation of a PDF carries a page span"
        assert any(c.pages[0] < c.pages[1] for c in paged), "no quote runs over a page break (rd-01, rd-04 do)"
        for c in paged:
            chunk = services.retriever.chunk(c.chunk_id)
            assert c.pages == [chunk.page_at(c.start), chunk.page_at(c.end - 1)]
    finally:
        services.close()
