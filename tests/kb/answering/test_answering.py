"""AnswerService in extractive mode (llm.mode none): verbatim citations, lists, refusal, odd input,
the stream() contract, and the dev-set figures over ../shared (slow)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from kb.models import REFUSAL_TEXT, Answer
from tests.conftest import make_settings, read_jsonl, require_shared

# A small corpus whose facts the tests know: one document about inspections, one far off topic.
CORPUS = {
    "干部考察工作办法.txt": """干部考察工作办法

第一条 考察组由三名以上工作人员组成，组长一般由组织部门的处级以上干部担任。考察组进驻后应当召开动员会，向考察单位的干部群众说明考察的目的和要求。

第二条 干部考察的方式包括个别谈话、民主测评、实地走访、查阅资料和听取述职。个别谈话应当逐一进行，谈话记录由两名考察组成员签字确认。

第三条 考察内容主要包括以下方面。政治素质方面，重点考察对党忠诚、坚定理想信念的情况。工作实绩方面，重点考察完成重点任务、推动高质量发展的情况。作风表现方面，重点考察联系群众、敢于担当的情况。廉洁自律方面，重点考察遵守廉洁纪律、管好家属子女的情况。

第四条 考察材料应当在考察结束后十五天内形成书面报告，报送党委组织部审核。
""",
    "水稻种植技术.txt": """水稻种植技术要点

水稻育秧应当选择排灌方便的田块，播种前用清水浸种两天。插秧时行距保持在二十五厘米左右，每穴插三到四株秧苗。

水稻分蘖期要浅水勤灌，孕穗期需要保持田间水层，成熟前一周排干田水。
""",
}


def write_corpus(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def assert_citations_verbatim(services: Any, answer: Answer) -> None:
    """Every citation is verified, resolves to a retrieved chunk and quotes the stored text verbatim."""
    retrieved = {h.chunk.chunk_id for h in answer.contexts}
    for c in answer.citations:
        assert c.verified is True, c
        assert c.chunk_id in retrieved, f"[{c.n}] cites a chunk that was not retrieved"
        text = services.store.get_document_text(c.doc_id)
        assert text is not None and c.quote and c.quote in text, f"[{c.n}] quote not verbatim: {c.quote!r}"
        # its offsets in the stored text reproduce it (kb/citations/offsets.py)
        assert text[c.start:c.end] == c.quote, f"[{c.n}] offsets {c.start}:{c.end} do not give {c.quote!r}"


def collect(stream) -> tuple[list[str], list[Answer]]:
    """Check the stream() contract (str pieces, then exactly one Answer, last) and split it."""
    items = list(stream)
    assert items and isinstance(items[-1], Answer), f"stream must end with an Answer: {items[-3:]!r}"
    answers = [x for x in items if isinstance(x, Answer)]
    assert len(answers) == 1, f"stream yielded {len(answers)} Answers"
    pieces = items[:-1]
    assert pieces and all(isinstance(p, str) for p in pieces), "stream must yield text pieces before the Answer"
    return pieces, answers


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from kb.container import build_services

    root = tmp_path_factory.mktemp("answering")
    services = build_services(make_settings(root / "kb"))
    summary = services.ingest.ingest_paths([write_corpus(root / "corpus")])
    assert summary["added"] == len(CORPUS) and not summary["failed"], summary
    try:
        yield services
    finally:
        services.close()


# -- extractive answers ---------------------------------------------------------------------------
def test_factoid_answer_is_made_of_verbatim_cited_sentences(kb):
    answer = kb.answers.ask("考察组的组长一般由什么级别的干部担任？")
    assert answer.mode == "extractive" and not answer.refused
    assert "处级以上干部担任" in answer.answer
    assert answer.citations
    assert_citations_verbatim(kb, answer)
    # each [n] in the text names one of the citations, and each citation is used in the text
    marks = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert marks == {c.n for c in answer.citations}
    # the answer text is the quotes themselves, each followed by its mark
    for c in answer.citations:
        assert f"{c.quote}[{c.n}]" in answer.answer


def test_list_question_gets_a_numbered_list_with_a_citation_per_item(kb):
    answer = kb.answers.ask("干部考察的内容包括哪些方面？")
    assert not answer.refused
    items = answer.answer.splitlines()
    assert len(items) >= 2, answer.answer
    for i, item in enumerate(items, 1):
        assert re.match(rf"^{i}\. .+\[\d+\]$", item), item
    assert_citations_verbatim(kb, answer)
    joined = answer.answer
    assert "政治素质方面" in joined and "工作实绩方面" in joined


@pytest.mark.parametrize(
    "question",
    [
        "干部考察的内容有哪些方面？",
        "干部考察的内容主要包括什么？",
        "干部考察的内容分为哪几个方面？",
    ],
)
def test_each_list_cue_gets_a_numbered_list(kb, question):
    answer = kb.answers.ask(question)
    assert not answer.refused
    assert answer.answer.startswith("1. ") and "\n2. " in answer.answer, answer.answer
    assert_citations_verbatim(kb, answer)


def test_off_topic_question_is_refused_with_the_exact_phrase_and_closest_sources(kb):
    answer = kb.answers.ask("火星上有多少座火山？")
    assert answer.refused is True
    assert answer.answer == REFUSAL_TEXT
    assert answer.citations == []
    assert answer.contexts, "a refusal lists the closest sources"
    data = answer.to_dict()
    assert data["answer"] == "知识库中没有找到能回答该问题的依据。" and data["refused"] is True
    assert data["contexts"] and {"chunk_id", "doc_id", "text", "score"} <= set(data["contexts"][0])


@pytest.mark.parametrize("question", ["", "   \n ", None])
def test_empty_question_does_not_crash(kb, question):
    answer = kb.answers.ask(question)
    assert isinstance(answer, Answer)
    assert answer.refused is True and answer.citations == []
    assert answer.answer


def test_ten_thousand_character_question_does_not_crash(kb):
    question = ("干部考察的方式包括哪些？" * 1000)[:10_000]
    assert len(question) == 10_000
    answer = kb.answers.ask(question)
    assert isinstance(answer, Answer)
    assert answer.question == question
    assert_citations_verbatim(kb, answer)


def test_filters_restrict_the_contexts(kb):
    from kb.models import Filters

    answer = kb.answers.ask("水稻插秧的行距是多少？", filters=Filters(doc_ids=["水稻种植技术"]))
    assert answer.contexts and {h.chunk.doc_id for h in answer.contexts} == {"水稻种植技术"}
    assert_citations_verbatim(kb, answer)


# -- stream() contract ----------------------------------------------------------------------------
@pytest.mark.parametrize("question", ["考察组的组长一般由什么级别的干部担任？", "火星上有多少座火山？", ""])
def test_stream_yields_text_pieces_then_exactly_one_answer(kb, question):
    pieces, (answer,) = collect(kb.answers.stream(question))
    assert "".join(pieces) == answer.answer
    assert answer.mode == "extractive"


def test_ask_returns_what_stream_ends_with(kb):
    question = "考察材料应当在考察结束后多长时间内形成书面报告？"
    _, (streamed,) = collect(kb.answers.stream(question))
    asked = kb.answers.ask(question)
    # the same answer, each with its own id (an answer is named once, when it is given)
    a, b = asked.to_dict(), streamed.to_dict()
    assert a.pop("answer_id") != b.pop("answer_id")
    assert a == b


# -- dev-set figures (../shared) ------------------------------------------------------------------
@pytest.mark.slow
def test_dev_set_figures(seeded_services):
    """Prints key-point recall, refusal rates and citation verbatim rate on domain_qa_dev.jsonl.

    Only verbatim citations and "no item crashes" are asserted here; quality thresholds are gated
    by `kb eval` (eval/thresholds.yaml).
    """
    from eval import metrics

    items = read_jsonl(require_shared() / "eval" / "domain_qa_dev.jsonl")
    services = seeded_services
    crashes: list[str] = []
    recalls: list[float] = []
    outcomes: list[tuple[bool, bool]] = []
    citations: list[dict[str, Any]] = []
    unverified: list[str] = []
    for item in items:
        try:
            answer = services.answers.ask(item["question"])
        except Exception as exc:  # noqa: BLE001 - every crash is reported, not just the first
            crashes.append(f"{item['id']}: {type(exc).__name__}: {exc}")
            continue
        outcomes.append((bool(item["answerable"]), answer.refused))
        if item["answerable"]:
            recall = metrics.key_point_recall(answer.answer, item["key_points"])
            if recall is not None:
                recalls.append(recall)
        for c in answer.citations:
            citations.append(c.to_dict())
            if not c.verified:
                unverified.append(f"{item['id']} [{c.n}]")

    verbatim = metrics.citation_verbatim_rate(citations, services.store.get_document_text)
    figures = {
        "items": len(items),
        "key_point_recall": metrics.mean(recalls),
        "refusal_rate_unanswerable": metrics.refusal_rate(outcomes),
        "false_refusal_rate": metrics.false_refusal_rate(outcomes),
        "citation_verbatim_rate": verbatim,
        "citations": len(citations),
    }
    print("\ndomain_qa_dev (extractive):")
    for name, value in figures.items():
        print(f"  {name:28s} {value:.3f}" if isinstance(value, float) else f"  {name:28s} {value}")

    assert not crashes, crashes
    assert citations, "no answer cited anything"
    assert verbatim == 1.0
    assert not unverified, unverified
