"""AnswerService in LLM mode against the fake OpenAI-compatible server (a real HTTP process on
127.0.0.1): verified citations, fall-backs for every kind of bad or missing model output, refusal,
and what the request carried.

The model replies are built from the context the service will number [1]: the test asks the
retriever the same question first (retrieval is deterministic for a fixed knowledge base).
"""
from __future__ import annotations

import json
import time

import pytest

from kb.generation.llm import build_llm
from kb.models import REFUSAL_TEXT, Answer
from kb.settings import LLMSettings
from kb.citations.verify import split_sentences
from tests.conftest import make_settings
from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAIServer
from tests.kb.answering.test_answering import assert_citations_verbatim, collect, write_corpus

QUESTION = "考察组由几名工作人员组成，组长由谁担任？"
TIMEOUT_S = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with FakeOpenAIServer([{"content": "ok"}], workdir=tmp_path_factory.mktemp("fake-openai")) as running:
        yield running


@pytest.fixture(scope="module")
def kb(tmp_path_factory, server):
    from kb.container import build_services

    root = tmp_path_factory.mktemp("answering-llm")
    settings = make_settings(
        root / "kb", llm__mode="openai", llm__base_url=server.base_url, llm__timeout=TIMEOUT_S, llm__model="test-model"
    )
    services = build_services(settings)
    summary = services.ingest.ingest_paths([write_corpus(root / "corpus")])
    assert summary["added"] == 2 and not summary["failed"], summary
    try:
        yield services
    finally:
        services.close()


@pytest.fixture(scope="module")
def context_1(kb):
    """What the service will number [1] for QUESTION, and its sentences worth quoting."""
    hits = kb.retriever.search(QUESTION, k=kb.settings.answer.context_k)
    assert hits, "the corpus must answer QUESTION"
    sentences = [s for s in split_sentences(hits[0].chunk.text) if len(s) >= 12 and s.endswith("。")]
    assert len(sentences) >= 2, f"context 1 needs two quotable sentences: {hits[0].chunk.text!r}"
    return hits, sentences


def ask_with(server, kb, steps, question=QUESTION):
    server.set_script(steps)
    before = len(server.requests())
    answer = kb.answers.ask(question)
    return answer, server.requests()[before:]


def assert_fell_back(kb, answer: Answer) -> None:
    assert answer.mode == "llm-fallback", (answer.mode, answer.notes)
    assert answer.notes and answer.notes[0].startswith("fell back to the extractive answer")
    assert not answer.refused and "原文摘录" in answer.answer  # the answer itself says it fell back
    assert answer.citations
    assert_citations_verbatim(kb, answer)


# -- a good answer ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mark_after_stop", [True, False], ids=["stop-then-mark", "mark-then-stop"])
def test_streamed_answer_quoting_context_1_is_verified(server, kb, context_1, mark_after_stop):
    hits, sentences = context_1
    quote = sentences[0]
    # the prompt asks for "……。[1]"; models also write "……[1]。" — both must verify
    reply = f"{quote}[1]" if mark_after_stop else f"{quote[:-1]}[1]。"
    server.set_script([{"content": reply, "chunk_size": 3}])
    before = len(server.requests())
    pieces, (answer,) = collect(kb.answers.stream(QUESTION))
    requests = server.requests()[before:]

    assert len(requests) == 1 and requests[0]["stream"] is True  # SSE
    assert len(pieces) > 1 and "".join(pieces) == reply  # streamed as it arrived
    assert answer.mode == "llm" and not answer.refused, answer.notes
    assert answer.answer == reply
    assert [c.n for c in answer.citations] == [1]
    citation = answer.citations[0]
    assert citation.chunk_id == hits[0].chunk.chunk_id
    assert quote in citation.quote or citation.quote in quote
    assert answer.unsupported == []
    assert_citations_verbatim(kb, answer)


def test_two_sentences_citing_two_contexts_keep_their_own_marks(server, kb, context_1):
    hits, sentences = context_1
    second = next(
        (s for h in hits[1:] for s in split_sentences(h.chunk.text) if len(s) >= 12 and s.endswith("。")
         and h.chunk.chunk_id != hits[0].chunk.chunk_id),
        None,
    )
    assert second is not None
    n2 = next(i for i, h in enumerate(hits, 1) if second in h.chunk.text and i > 1)
    reply = f"{sentences[0]}[1]{second}[{n2}]"
    answer, _ = ask_with(server, kb, [{"content": reply}])
    assert answer.mode == "llm", answer.notes
    assert [c.n for c in answer.citations] == [1, n2]
    assert answer.citations[1].chunk_id == hits[n2 - 1].chunk.chunk_id
    assert answer.unsupported == []
    assert_citations_verbatim(kb, answer)


def test_server_that_ignores_stream_true_is_read_as_one_completion(server, kb, context_1):
    # Some OpenAI-compatible servers answer a streaming request with one JSON completion.
    _, sentences = context_1
    reply = f"{sentences[0]}[1]"
    completion = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
    }
    answer, requests = ask_with(server, kb, [{"raw": json.dumps(completion, ensure_ascii=False)}])
    assert [r.get("stream") for r in requests] == [True, False]  # streamed first, then non-stream
    assert answer.mode == "llm", answer.notes
    assert answer.answer == reply
    assert_citations_verbatim(kb, answer)


def test_request_carries_numbered_contexts_and_the_refusal_phrase(server, kb, context_1):
    hits, sentences = context_1
    _, requests = ask_with(server, kb, [{"content": f"{sentences[0]}[1]"}])
    (body,) = requests
    assert body["model"] == "test-model"
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    assert REFUSAL_TEXT in system and REFUSAL_TEXT in user
    assert QUESTION in user
    positions = []
    for n, hit in enumerate(hits, 1):
        label = f"[{n}] 《{hit.chunk.title}》"
        assert label in user, f"context {n} is not numbered in the prompt"
        assert hit.chunk.text in user
        positions.append(user.index(label))
        assert user.index(hit.chunk.text, positions[-1]) > positions[-1]  # the text follows its number
    assert positions == sorted(positions)
    assert f"[{len(hits) + 1}] 《" not in user


# -- partly supported -------------------------------------------------------------------------------
def test_invented_sentence_is_flagged_unsupported(server, kb, context_1):
    _, sentences = context_1
    invented = "考察组每年还要到火星基地举办三次烟花晚会和篝火联欢。[1]"
    reply = f"{sentences[0]}[1]{sentences[1]}[1]{invented}"
    answer, _ = ask_with(server, kb, [{"content": reply}])
    assert answer.mode == "llm", answer.notes
    assert answer.unsupported == [invented]
    assert_citations_verbatim(kb, answer)


def test_answer_mostly_unsupported_by_its_citation_falls_back(server, kb, context_1):
    reply = "考察组每年还要到火星基地举办三次烟花晚会和篝火联欢。[1]水稻成熟前一周要邀请考察组品尝新米。[1]"
    answer, _ = ask_with(server, kb, [{"content": reply}])
    assert_fell_back(kb, answer)


# -- fall-backs -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "steps",
    [
        pytest.param("cite-9", id="citation-to-a-context-not-given"),
        pytest.param("no-citation", id="no-citation"),
        pytest.param([{"status": 500, "message": "boom"}], id="http-500"),
        pytest.param([{"content": ""}], id="empty-reply"),
        pytest.param([{"raw": "this is not json"}], id="malformed-body"),
    ],
)
def test_bad_model_output_falls_back_to_the_extractive_answer(server, kb, context_1, steps):
    _, sentences = context_1
    if steps == "cite-9":
        steps = [{"content": f"{sentences[0]}[1]{sentences[1]}[9]"}]
    elif steps == "no-citation":
        steps = [{"content": sentences[0] + sentences[1]}]
    answer, requests = ask_with(server, kb, steps)
    assert requests, "the model was asked"
    assert_fell_back(kb, answer)


def test_timeout_falls_back_within_the_timeout(server, kb, context_1):
    _, sentences = context_1
    started = time.monotonic()
    answer, _ = ask_with(server, kb, [{"delay": TIMEOUT_S + 2, "content": f"{sentences[0]}[1]"}])
    elapsed = time.monotonic() - started
    assert_fell_back(kb, answer)
    assert any("did not answer within" in note for note in answer.notes), answer.notes
    assert elapsed < TIMEOUT_S + 1.5, f"took {elapsed:.1f} s"


def test_connection_refused_falls_back(kb, monkeypatch):
    dead = build_llm(LLMSettings(mode="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=TIMEOUT_S))
    monkeypatch.setitem(kb.__dict__, "llm", dead)  # Services.llm is a cached property
    answer = kb.answers.ask(QUESTION)
    assert_fell_back(kb, answer)
    assert any("cannot connect" in note for note in answer.notes), answer.notes


@pytest.mark.parametrize("steps", [[{"status": 500}], [{"content": "没有引用的回答。"}]], ids=["http-500", "no-citation"])
def test_fall_back_stream_yields_pieces_then_one_answer(server, kb, steps):
    server.set_script(steps)
    pieces, (answer,) = collect(kb.answers.stream(QUESTION))
    assert answer.mode == "llm-fallback"
    assert "".join(pieces).strip()


# -- refusal ----------------------------------------------------------------------------------------
def test_refusal_phrase_from_the_model_is_a_refusal(server, kb):
    server.set_script([{"content": REFUSAL_TEXT}])
    pieces, (answer,) = collect(kb.answers.stream(QUESTION))
    assert "".join(pieces) == REFUSAL_TEXT
    assert answer.refused is True and answer.mode == "llm"
    assert answer.answer == REFUSAL_TEXT
    assert answer.citations == [] and answer.contexts


def test_off_topic_question_in_llm_mode_never_cites_unverified_text(server, kb):
    # the model invents an answer for a question the corpus cannot answer: it must not pass
    server.set_script([{"content": "火星上共有两百座火山。[1]"}])
    answer = kb.answers.ask("火星上有多少座火山？")
    assert answer.mode in ("llm-fallback", "extractive")
    assert answer.refused is True and answer.answer == REFUSAL_TEXT
    assert answer.citations == []


# -- related answers ---------------------------------------------------------------------------------
def test_a_related_answer_the_model_only_doubted_may_be_answered_with_verified_citations(server, kb, context_1, monkeypatch):
    hits, sentences = context_1
    # an answer threshold no evidence reaches: every question with relevant material is "related"
    # (also one whose typed slot a sentence fills: kb/answering/fillers.py)
    monkeypatch.setattr(kb.answers.model.answer, "threshold", 1.01)
    monkeypatch.setattr(kb.answers.model, "filled_threshold", 1.01)
    reply = f"{sentences[0]}[1]"
    answer, requests = ask_with(server, kb, [{"content": reply}])
    assert len(requests) == 1  # the model was given the related case
    assert answer.status == "answered" and answer.mode == "llm", answer.notes
    assert_citations_verbatim(kb, answer)
    # a reply with no verified citation leaves the related passages as they were
    answer, _ = ask_with(server, kb, [{"content": "考察组一般由三人组成。"}])
    assert answer.status == "related" and answer.mode == "llm-fallback"
    assert answer.answer.startswith("知识库中没有直接回答该问题的内容")


def test_a_related_answer_blocked_by_binding_never_reaches_the_model(server, kb):
    # the question names a province no document speaks of: whatever a model wrote, it would be
    # about the wrong place
    answer, requests = ask_with(server, kb, [{"content": "江苏考察组由五名工作人员组成。[1]"}], question="江苏省的考察组由几名工作人员组成？")
    assert requests == []
    assert answer.status in ("related", "refused") and answer.mode == "extractive"


# -- follow-ups ----------------------------------------------------------------------------------------
def test_a_follow_up_is_condensed_by_the_model_when_its_rewrite_can_be_used(server, kb):
    steps = [{"content": "考察组的组长由谁担任？"}, {"content": REFUSAL_TEXT}]
    server.set_script(steps)
    before = len(server.requests())
    answer = kb.answers.ask("那组长呢？", history=[QUESTION])
    requests = server.requests()[before:]
    assert len(requests) == 2  # the condense request, then the answer
    assert "那组长呢" in json.dumps(requests[0], ensure_ascii=False)
    assert answer.resolved_question == "考察组的组长由谁担任？" and answer.question == "那组长呢？"


@pytest.mark.parametrize("reply", ["考察组由三名工作人员组成。[1]", "第一行？\n第二行？"], ids=["answers-instead", "two-lines"])
def test_an_unusable_condensed_question_falls_back_to_the_rules(server, kb, reply):
    server.set_script([{"content": reply}, {"content": REFUSAL_TEXT}])
    answer = kb.answers.ask("那组长呢？", history=[QUESTION])
    assert answer.resolved_question != reply and "组长" in answer.resolved_question
    assert answer.resolved_question == kb.answers.follow_up.resolve("那组长呢？", [QUESTION])


def test_a_standalone_question_never_asks_the_model_to_condense(server, kb):
    server.set_script([{"content": REFUSAL_TEXT}])
    before = len(server.requests())
    kb.answers.ask(QUESTION, history=["深度访谈的对象有哪些？"])
    assert len(server.requests()) - before <= 1  # at most the answer itself
