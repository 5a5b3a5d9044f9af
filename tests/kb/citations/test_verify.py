"""CitationVerifier and the sentence/support helpers of kb/citations/verify.py (no knowledge base needed)."""
from __future__ import annotations

import pytest

from kb.models import Chunk, Hit
from kb.citations.verify import CitationVerifier, bigram_precision, split_claims, split_sentences

DOC_TEXT = (
    "干部考察工作办法\n\n"
    "第一条 考察组由三名以上工作人员组成，组长一般由组织部门的处级以上干部担任。"
    "考察组进驻后应当召开动员会，向考察单位的干部群众说明考察的目的和要求。\n\n"
    "第二条 考察材料应当在考察结束后十五天内形成书面报告。"
)


class DictStore:
    """The one store method the verifier uses, over a dict; counts reads to check the cache."""

    def __init__(self, texts: dict[str, str]):
        self.texts = texts
        self.reads = 0

    def get_document_text(self, doc_id: str, version: str | None = None) -> str | None:
        self.reads += 1
        return self.texts.get(doc_id)


def make_hit(doc_id: str = "办法", text: str = DOC_TEXT, rank: int = 1) -> Hit:
    chunk = Chunk(
        chunk_id=f"{doc_id}#v1#0000", doc_id=doc_id, title="干部考察工作办法", section="", article="第一条",
        page=None, start=0, end=len(text), text=text,
    )
    return Hit(rank=rank, chunk=chunk, score=1.0)


@pytest.fixture
def verifier() -> CitationVerifier:
    return CitationVerifier(DictStore({"办法": DOC_TEXT}))


def test_verbatim_quote_is_verified_and_carries_the_chunk_location(verifier):
    quote = "组长一般由组织部门的处级以上干部担任。"
    citation = verifier.cite(1, make_hit(), quote)
    assert citation.verified is True
    assert (citation.n, citation.doc_id, citation.chunk_id, citation.article) == (1, "办法", "办法#v1#0000", "第一条")
    assert citation.quote == quote


@pytest.mark.parametrize(
    "quote",
    [
        "组长一般由组织部门的厅级以上干部担任。",  # one character changed
        "组长一般由组织部门的处级以上干部担任.",  # half-width full stop: not verbatim
        "考察组由三名以上工作人员组成,组长",  # half-width comma
        "",
        "   ",
    ],
)
def test_quote_not_verbatim_in_the_document_is_not_verified(verifier, quote):
    assert verifier.cite(1, make_hit(), quote).verified is False


def test_quote_of_an_unknown_document_is_not_verified(verifier):
    # the chunk claims a document the store does not hold: the check is against the store
    assert verifier.cite(1, make_hit(doc_id="不存在"), "考察组由三名以上工作人员组成").verified is False


def test_document_texts_are_cached_until_invalidated():
    store = DictStore({"办法": DOC_TEXT})
    verifier = CitationVerifier(store)
    for _ in range(3):
        assert verifier.quote_is_verbatim("办法", "第二条")
    assert store.reads == 1
    store.texts["办法"] = "新的文本"
    verifier.invalidate()
    assert not verifier.quote_is_verbatim("办法", "第二条")
    assert store.reads == 2


def test_support_is_one_for_a_sentence_equal_to_its_quote(verifier):
    quote = "考察组进驻后应当召开动员会，向考察单位的干部群众说明考察的目的和要求。"
    assert verifier.support(quote, [quote]) == 1.0
    # the citation mark and punctuation/width differences do not count against a sentence
    assert verifier.support(quote.replace("，", ",") + "[1]", [quote]) == 1.0


def test_support_is_low_for_an_unrelated_sentence(verifier):
    quote = "考察组进驻后应当召开动员会，向考察单位的干部群众说明考察的目的和要求。"
    assert verifier.support("水稻分蘖期要浅水勤灌，成熟前一周排干田水。", [quote]) < 0.1
    # half invented: in between, and below the default threshold of 0.5
    mixed = "考察组进驻后应当召开动员会，并在火星基地举办三次烟花晚会和篝火联欢。"
    assert 0.2 < verifier.support(mixed, [quote]) < 0.5


def test_support_pools_all_cited_quotes():
    a = "考察组由三名以上工作人员组成。"
    b = "考察材料应当在十五天内形成书面报告。"
    sentence = "考察组由三名以上工作人员组成，考察材料应当在十五天内形成书面报告。"
    assert bigram_precision(sentence, [a]) < 0.6
    assert bigram_precision(sentence, [a, b]) > 0.9


def test_best_span_is_a_verbatim_sentence_of_the_chunk(verifier):
    claim = "组长一般由处级以上干部担任[1]。"
    span = verifier.best_span(claim, DOC_TEXT)
    assert span in DOC_TEXT
    assert "处级以上干部担任" in span
    assert verifier.cite(1, make_hit(), span).verified


def test_split_claims_attaches_trailing_marks_to_the_sentence_before():
    # the answer prompt asks for "……。[1]"; a plain sentence split hands [1] to the next sentence
    text = "考察组由三名以上工作人员组成。[1]组长由处级以上干部担任。[1][2]报告十五天内形成[3]。"
    assert split_sentences(text)[1].startswith("[1]")  # why split_claims exists
    assert split_claims(text) == [
        "考察组由三名以上工作人员组成。[1]",
        "组长由处级以上干部担任。[1][2]",
        "报告十五天内形成[3]。",
    ]


def test_split_claims_keeps_list_items_and_leading_marks_of_the_first_sentence():
    assert split_claims("1. 个别谈话[1]\n2. 民主测评[2]") == ["1. 个别谈话[1]", "2. 民主测评[2]"]
    # nothing before it to attach to: the mark stays with the first sentence
    assert split_claims("[1]考察组由三名以上工作人员组成。") == ["[1]考察组由三名以上工作人员组成。"]
    assert split_claims("") == []
