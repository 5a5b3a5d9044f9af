"""kb/web/suggestions.py: questions drawn from headings and articles, shown only when our answerer
gives them `answered`; checks cached per knowledge-base state, bounded in number and time."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from kb.web.suggestions import SuggestionService, document_candidates, heading_question, heading_topic


@dataclass
class FakeChunk:
    chunk_id: str
    doc_id: str
    title: str
    section: str = ""
    article: str = ""


CHUNKS = [
    FakeChunk("a#1#0", "a", "谈话办法", article="第一条"),
    FakeChunk("a#1#1", "a", "谈话办法", article="第二条"),
    FakeChunk("a#1#2", "a", "谈话办法", article="第三条"),
    FakeChunk("b#1#0", "b", "考察要点", section="一、政治忠诚"),
    FakeChunk("b#1#1", "b", "考察要点", section="一、政治忠诚 > 内涵"),
    FakeChunk("b#1#2", "b", "考察要点", section="二、依据文档"),
    FakeChunk("b#1#3", "b", "考察要点", section="三、访谈对象"),
]


class FakeReader:
    def __init__(self, answered: set[str], versions=None, chunks=CHUNKS):
        self.answered = answered
        self.asked: list[str] = []
        self.chunks = chunks
        versions = versions or {"a": "1", "b": "1"}
        self.store = SimpleNamespace(
            doc_versions=lambda: dict(versions),
            visible_chunks=lambda: list(self.chunks),
            document_chunks=lambda doc_id: [c for c in self.chunks if c.doc_id == doc_id],
        )
        self.answers = SimpleNamespace(ask=self._ask)

    def _ask(self, question):
        self.asked.append(question)
        return SimpleNamespace(status="answered" if question in self.answered else "related")


def test_headings_become_questions_a_reader_would_type():
    assert heading_topic("十六、访谈对象 > 班子成员") == ("访谈对象", "班子成员")
    assert heading_topic("## 三、政治自律") == ("", "政治自律")
    assert heading_topic("依据文档") == ("", "")  # the document's furniture
    assert heading_topic("谈话由上级党委主要负责人与下级党委主要负责人一对一进行") == ("", "")  # a sentence
    assert heading_question("政治忠诚") == "什么是政治忠诚？"
    assert heading_question("访谈对象") == "访谈对象有哪些？"
    assert heading_question("内涵", "政治忠诚") == "政治忠诚的内涵是什么？"
    assert heading_question("常见问题", "政治忠诚") == "政治忠诚的常见问题有哪些？"
    assert document_candidates("谈话办法", CHUNKS[:3], articles=2) == [
        "《谈话办法》第一条规定了什么？", "《谈话办法》第二条规定了什么？", "谈话办法的主要内容是什么？"]


def test_only_answered_questions_are_suggested_and_the_checks_are_cached():
    answered = {"《谈话办法》第一条规定了什么？", "什么是政治忠诚？", "政治忠诚的内涵是什么？", "访谈对象有哪些？"}
    reader = FakeReader(answered)
    service = SuggestionService()
    welcome = service.welcome(reader)
    assert 3 <= len(welcome) <= 4 and set(welcome) <= answered
    # across the documents, not one document's headings first
    assert welcome[:2] == ["《谈话办法》第一条规定了什么？", "什么是政治忠诚？"]
    runs = service.checks_run
    assert service.welcome(reader) == welcome and service.checks_run == runs  # cached
    # another state of the knowledge base (a document updated, or another reader's scope) is checked again
    assert service.welcome(FakeReader(answered, versions={"a": "2", "b": "1"})) == welcome
    assert service.checks_run > runs


def test_nothing_is_suggested_when_the_sources_answer_nothing():
    service = SuggestionService()
    assert service.welcome(FakeReader(set())) == []


def test_next_questions_follow_the_cited_passage_and_skip_what_was_asked():
    everything = {q for c in CHUNKS for q in document_candidates(c.title, [c], articles=1)}
    everything |= {"什么是政治忠诚？", "政治忠诚的内涵是什么？", "访谈对象有哪些？"}
    reader = FakeReader(everything)
    answer = {"question": "谈话每年几次？", "citations": [{"chunk_id": "a#1#1", "doc_id": "a"}],
              "contexts": [{"chunk_id": "b#1#0", "doc_id": "b"}]}
    following = SuggestionService().next_questions(reader, answer, asked=["《谈话办法》第三条规定了什么？"])
    # the cited document's next article was asked already; then the one before, then the related document
    assert following[0] == "《谈话办法》第一条规定了什么？"
    assert "《谈话办法》第二条规定了什么？" not in following  # the cited passage itself
    assert "《谈话办法》第三条规定了什么？" not in following
    assert 2 <= len(following) <= 3


def test_checks_are_bounded_in_number_and_time():
    reader = FakeReader(set())  # nothing answered: every candidate would be checked
    many = [FakeChunk(f"d#1#{i}", "d", "长文档", section=f"{i + 1}. 主题{i}") for i in range(50)]
    reader.chunks = many
    service = SuggestionService(max_checks=5)
    assert service.welcome(reader) == []
    assert len(reader.asked) == 5
    ticks = iter(range(0, 1000, 10))  # every look at the clock is 10 s later
    slow = SuggestionService(budget_s=15.0, clock=lambda: next(ticks))
    reader.asked.clear()
    slow.welcome(reader)
    assert len(reader.asked) <= 2


def test_a_failing_check_is_no_suggestion():
    reader = FakeReader(set())

    def broken(question):
        raise RuntimeError("index unavailable")

    reader.answers = SimpleNamespace(ask=broken)
    assert SuggestionService().welcome(reader) == []
