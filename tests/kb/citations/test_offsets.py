"""kb/citations/offsets.py and the offsets a citation carries (no knowledge base needed): a quote's
start/end reproduce it from the stored document text, or there are none."""
from __future__ import annotations

import pytest

from kb.citations.offsets import locate_quote, offsets_hold, page_span
from kb.citations.verify import CitationVerifier
from kb.models import Answer, Chunk, Citation, Draft, DraftQuestion, DraftSection, Hit

TEXT = (
    "干部考察工作办法\n\n"
    "第一条 考察组由三名以上工作人员组成。组长一般由组织部门的处级以上干部担任。\n\n"
    "第二条 考察组由三名以上工作人员组成。考察材料应当在考察结束后十五天内形成书面报告。"
)
REPEATED = "考察组由三名以上工作人员组成。"


def chunk_of(text: str, start: int, end: int, page=None, page_starts=None, doc_id="办法") -> Chunk:
    return Chunk(chunk_id=f"{doc_id}#v1#0001", doc_id=doc_id, title="干部考察工作办法", section="", article="",
                 page=page, start=start, end=end, text=text[start:end], page_starts=page_starts or [])


def second_article() -> Chunk:
    start = TEXT.index("第二条")
    return chunk_of(TEXT, start, len(TEXT))


def test_a_quote_of_a_chunk_has_its_offsets_in_the_document():
    chunk = second_article()
    quote = "考察材料应当在考察结束后十五天内形成书面报告。"
    span = locate_quote(quote, chunk, TEXT)
    assert span is not None and TEXT[span.start:span.end] == quote
    assert span.start == TEXT.index(quote) and span.page is None and span.pages is None


def test_a_sentence_said_twice_is_found_in_the_chunk_it_was_cited_from():
    # the same sentence stands in both articles: the offsets are those inside the cited chunk
    chunk = second_article()
    span = locate_quote(REPEATED, chunk, TEXT)
    assert span.start == TEXT.index(REPEATED, chunk.start) != TEXT.index(REPEATED)
    assert TEXT[span.start:span.end] == REPEATED


def test_the_callers_offset_in_the_chunk_picks_the_occurrence():
    start = TEXT.index("第一条")
    chunk = chunk_of(TEXT, start, len(TEXT))  # a chunk holding the sentence twice
    second = chunk.text.index(REPEATED, chunk.text.index(REPEATED) + 1)
    assert locate_quote(REPEATED, chunk, TEXT, at=second).start == chunk.start + second
    assert locate_quote(REPEATED, chunk, TEXT).start == TEXT.index(REPEATED)
    # a wrong hint is checked, never trusted
    assert locate_quote(REPEATED, chunk, TEXT, at=3).start == TEXT.index(REPEATED)


def test_a_chunk_that_does_not_match_the_stored_text_still_gets_true_offsets():
    chunk = second_article()
    moved = Chunk(**{**chunk.__dict__, "start": chunk.start + 5, "end": chunk.end + 5})  # offsets off by 5
    quote = "考察材料应当在考察结束后十五天内形成书面报告。"
    span = locate_quote(quote, moved, TEXT)
    assert TEXT[span.start:span.end] == quote


@pytest.mark.parametrize("quote", ["", "  ", "考察材料应当在考察结束后十五天内形成书面报告.", "不在文中的句子。"])
def test_no_offsets_for_a_quote_that_is_not_verbatim(quote):
    assert locate_quote(quote, second_article(), TEXT) is None


def test_no_offsets_without_the_document_text():
    assert locate_quote("考察材料", second_article(), None) is None


def test_page_span_of_a_quote_across_a_page_break():
    text = "第一页的内容到此为止，下一句跨页：考察组应当如实\n报告考察情况。第二页还有一句。第三页开头。"
    p2 = text.index("报告考察情况")
    p3 = text.index("第三页开头")
    chunk = chunk_of(text, 0, len(text), page=4, page_starts=[[p2, 5], [p3, 6]])
    quote = "考察组应当如实\n报告考察情况。"
    span = locate_quote(quote, chunk, text)
    assert (span.page, span.pages) == (4, [4, 5])
    assert text[span.start:span.end] == quote
    inside = locate_quote("第二页还有一句。", chunk, text)
    assert (inside.page, inside.pages) == (5, [5, 5])
    assert page_span(chunk, p3, len(text)) == (6, [6, 6])
    # a span outside the chunk: its page as the chunk knows it, no span
    assert page_span(chunk_of(text, p2, p3, page=5), 0, 3) == (5, None)


def test_offsets_hold():
    assert offsets_hold(TEXT, 0, 4, TEXT[:4])
    assert not offsets_hold(TEXT, 1, 5, TEXT[:4])
    assert not offsets_hold(TEXT, None, None, TEXT[:4])
    assert not offsets_hold(None, 0, 4, TEXT[:4])


# ---- citations carry them ------------------------------------------------------------------------
class DictStore:
    def __init__(self, texts: dict[str, str]):
        self.texts = texts

    def get_document_text(self, doc_id: str, version: str | None = None) -> str | None:
        return self.texts.get(doc_id)


def test_a_verified_citation_carries_its_offsets_and_pages():
    text = "考察组应当如实\n报告考察情况。第二页还有一句。"
    chunk = chunk_of(text, 0, len(text), page=1, page_starts=[[text.index("报告"), 2]])
    quote = "考察组应当如实\n报告考察情况。"
    c = CitationVerifier(DictStore({"办法": text})).cite(1, Hit(rank=1, chunk=chunk, score=1.0), quote)
    assert c.verified and (c.start, c.end) == (0, len(quote)) and text[c.start:c.end] == quote
    assert (c.page, c.pages) == (1, [1, 2])
    data = c.to_dict()
    assert {"pages", "start", "end", "doc_number", "quote", "verified"} <= set(data)


@pytest.mark.parametrize("store_texts", [{"办法": TEXT.replace("十五天", "十天")}, {}])
def test_an_unverified_citation_has_no_offsets(store_texts):
    # the stored text does not hold the quote, or there is no stored text
    chunk = second_article()
    c = CitationVerifier(DictStore(store_texts)).cite(1, Hit(rank=1, chunk=chunk, score=1.0),
                                                     "考察材料应当在考察结束后十五天内形成书面报告。")
    assert c.verified is False and c.start is None and c.end is None and c.pages is None


def test_old_citation_records_without_offsets_still_load():
    old = {"n": 1, "chunk_id": "办法#v1#0001", "doc_id": "办法", "title": "办法", "section": "", "article": "",
           "page": None, "quote": "考察组", "verified": True, "doc_number": ""}
    c = Citation(**old)
    assert c.start is None and c.end is None and c.pages is None
    draft = Draft(kind="interview", title="t", target="", interviewee="",
                  sections=[DraftSection("政治担当", [DraftQuestion("问？", citations=[c])])])
    assert Draft.from_dict(draft.to_dict()).sections[0].questions[0].citations[0] == c


# ---- the surfaces show the same citation -----------------------------------------------------------
def cited_answer() -> Answer:
    chunk = second_article()
    quote = "考察材料应当在考察结束后十五天内形成书面报告。"
    c = CitationVerifier(DictStore({"办法": TEXT})).cite(1, Hit(rank=1, chunk=chunk, score=1.0), quote)
    return Answer(question="考察材料何时形成报告？", answer=quote + "[1]", refused=False, mode="extractive",
                  citations=[c], contexts=[Hit(rank=1, chunk=chunk, score=1.0)])


def test_the_openai_api_and_mcp_give_the_citations_offsets():
    from kb.api.mcp_server import KnowledgeTools
    from kb.api.openai_compat import citations_of

    answer = cited_answer()
    api = citations_of(answer)[0]
    mcp = KnowledgeTools.citations(None, answer)[0]
    for data in (api, mcp, answer.to_dict()["citations"][0]):
        assert TEXT[data["start"]:data["end"]] == data["quote"] and data["verified"] is True
        assert {"doc_id", "title", "doc_number", "section", "page", "pages", "chunk_id"} <= set(data)
    assert api["doc"] == api["doc_id"] == "办法"
