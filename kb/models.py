"""Plain data records shared by ingest, store, retrieval, answering, drafting and the UI."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DOC_TYPES = ("policy", "criteria", "report", "outline", "other")

REFUSAL_TEXT = "知识库中没有找到能回答该问题的依据。"
# The three states of an answer (kb/answering/answerability.py): the evidence says what was asked;
# the knowledge base has material on the topic but no sentence that answers; nothing relevant.
ANSWER_STATES = ("answered", "related", "refused")


@dataclass
class DocumentRecord:
    doc_id: str
    title: str
    doc_type: str
    collection: str
    source: str
    sha256: str
    chars: int
    chunks: int
    ingested_at: str
    # 公文 metadata (GB/T 9704) read from the document itself; empty when not a 公文
    doc_number: str = ""  # 发文字号, brackets normalised: 某组发〔2024〕12号
    issuer: str = ""  # 发文机关
    issued_on: str = ""  # 成文日期, ISO (2024-03-15)
    # the pages a person must check against the paper (OCR below the threshold, print OCR did not
    # read, pages not read), as JSON: kept so a later unchanged upload of the file reports them again
    page_checks: str = ""
    # identity (#28): the files this document is, one per format, as JSON [{"format", "file", "source",
    # "sha256", "text_key", "primary"}] ("" for a record from before: its source is its one format)
    formats: str = ""
    # validity (#28): 现行有效 | 已修订 | 已废止 ("" = not decided yet: read as 现行有效), the document that
    # supersedes it, and the short note a citation carries (已修订，现行版本：《…》2021年)
    validity: str = ""
    superseded_by: str = ""
    validity_note: str = ""
    version_date: str = ""  # ISO date ordering the versions of one title

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    section: str
    article: str
    page: int | None
    start: int
    end: int
    text: str
    doc_type: str = "other"
    collection: str = "default"
    # [offset, page] for every page that begins inside the chunk after its start (document offsets):
    # a chunk may run across pages; `page` is the page it starts on
    page_starts: list = field(default_factory=list)
    ocr_confidence: float | None = None  # mean OCR confidence of the chunk's first page (scans only)
    doc_number: str = ""  # the document's 发文字号 (公文), for citations written as inspectors write them

    PUBLIC_FIELDS = ("chunk_id", "doc_id", "title", "section", "article", "page", "start", "end", "text")

    @property
    def pages(self) -> list[int] | None:
        """[first page, last page] of a paged document's chunk, else None."""
        if self.page is None:
            return None
        return [self.page, int(self.page_starts[-1][1]) if self.page_starts else self.page]

    def page_at(self, offset: int) -> int | None:
        """The page of document offset `offset` inside this chunk."""
        page = self.page
        for start, number in self.page_starts:
            if offset >= start:
                page = int(number)
        return page

    def page_of_quote(self, quote: str) -> int | None:
        """The page a quote taken from this chunk starts on (the chunk's page if not found)."""
        at = self.text.find(quote) if quote else -1
        return self.page if at < 0 else self.page_at(self.start + at)

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.PUBLIC_FIELDS}
        if self.page is not None:
            out["pages"] = self.pages  # paged documents only: other chunks keep their keys as before
        return out


@dataclass
class Filters:
    """Restrict a search. Empty lists / None mean no restriction."""

    doc_types: list[str] | None = None
    collections: list[str] | None = None
    doc_ids: list[str] | None = None
    # The access filter (kb/access/scope.py): collections the reader may not see. Retrieval searches a
    # view of the index without them (kb/retrieval/lexical.py LexicalSnapshot.scoped), so they change no
    # score, title match or count; a caller never sets it by hand, the acting user's scope does.
    exclude_collections: list[str] | None = None

    def is_empty(self) -> bool:
        return not (self.doc_types or self.collections or self.doc_ids or self.exclude_collections)

    def selects(self) -> bool:
        """Does the caller narrow the search (type, collection, document), beyond access?"""
        return bool(self.doc_types or self.collections or self.doc_ids)


@dataclass
class Hit:
    rank: int
    chunk: Chunk
    score: float
    lexical_rank: int | None = None
    dense_rank: int | None = None
    via_clause: bool = False

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "rank": self.rank,
            "chunk_id": c.chunk_id,
            "doc_id": c.doc_id,
            "title": c.title,
            "section": c.section,
            "article": c.article,
            "page": c.page,
            "text": c.text,
            "score": round(float(self.score), 6),
        }


@dataclass
class Citation:
    n: int
    chunk_id: str
    doc_id: str
    title: str
    section: str
    article: str
    page: int | None
    quote: str
    verified: bool
    doc_number: str = ""  # 发文字号 of a 公文: 《标题》（某组发〔2024〕12号）三、（二）
    # where the quote stands (kb/citations/offsets.py): [first page, last page] of the quote in a paged
    # document, and its character offsets in the stored text of the cited document version —
    # text[start:end] == quote. None when unknown: a quote that is not verbatim has no offsets.
    pages: list[int] | None = None
    start: int | None = None
    end: int | None = None
    # 已修订 / 已废止 when the quoted document is superseded ("" when 现行有效), and what to say next to
    # the citation: validity_label() → （已修订，现行版本：《…》2021年）
    validity: str = ""
    validity_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validity_label(self) -> str:
        """（已修订，现行版本：《…》2021年） for a superseded document, else ""."""
        if not self.validity or self.validity == "现行有效":
            return ""
        return f"（{self.validity_note or self.validity}）"

    def location(self) -> str:
        """Human-readable place in the document: 第X条 / section path / page."""
        parts = [p for p in (self.section, self.article) if p]
        if self.page:
            parts.append(f"第{self.page}页")
        return " > ".join(parts)


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    mode: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    contexts: list[Hit] = field(default_factory=list)
    id: Any = None
    notes: list[str] = field(default_factory=list)
    status: str = ""  # answered | related | refused; derived from `refused` when not set
    resolved_question: str = ""  # the standalone question answered (a follow-up completed from the history)
    answer_id: str = ""  # names this answer for good: its citation chips, feedback, the audit
    slot: str = ""  # the typed slot the question asks for (date, quantity, person, place, name …), "" when none
    # what fills it when answered: {"text", "citation" (n), "quote_start", "quote_end" (offsets in that
    # citation's quote), "doc_start", "doc_end" (offsets in the stored document, when known)}
    filler: dict | None = None

    def __post_init__(self) -> None:
        if not self.status:
            self.status = "refused" if self.refused else "answered"
        if self.status not in ANSWER_STATES:
            raise ValueError(f"answer status must be one of {ANSWER_STATES}, got {self.status!r}")
        # `refused` is true exactly when the status is refused
        self.refused = self.status == "refused"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out.update(
            {
                "question": self.question,
                "answer": self.answer,
                "answer_id": self.answer_id,
                "resolved_question": self.resolved_question or self.question,
                "status": self.status,
                "refused": self.refused,
                "mode": self.mode,
                "citations": [c.to_dict() for c in self.citations],
                "unsupported": list(self.unsupported),
                "contexts": [h.to_dict() for h in self.contexts],
            }
        )
        if self.slot:
            out["slot"] = self.slot
        if self.filler:
            out["filler"] = dict(self.filler)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass
class DraftQuestion:
    text: str
    follow_ups: list[str] = field(default_factory=list)
    purpose: str = ""
    citations: list[Citation] = field(default_factory=list)
    origin: str = "extractive"  # extractive | llm
    # positions (in `citations`) of the citations an edit left unsupported: shown as 待核实 until re-verified
    to_check: list[int] = field(default_factory=list)
    # positions (in `citations`) of another place's case narrative: shown as 参考事例, not as the 依据
    examples: list[int] = field(default_factory=list)

    PENDING_MARK = "待核实"

    @property
    def pending(self) -> bool:
        return bool(self.to_check)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "follow_ups": list(self.follow_ups),
            "purpose": self.purpose,
            "citations": [c.to_dict() for c in self.citations],
        }
        if self.to_check:
            out["to_check"] = list(self.to_check)
        if self.examples:
            out["examples"] = list(self.examples)
        return out


@dataclass
class DraftSection:
    dimension: str
    questions: list[DraftQuestion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "questions": [q.to_dict() for q in self.questions]}


@dataclass
class Draft:
    kind: str  # interview | talk
    title: str
    target: str
    interviewee: str
    sections: list[DraftSection] = field(default_factory=list)
    coverage: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    opening: str = ""  # talk outlines: the opening line of overall assessment
    date: str = ""
    id: Any = None
    speaker: str = ""  # talk outlines: who talks (谈话人), e.g. 省委主要负责人
    closing: list[str] = field(default_factory=list)  # talk outlines: 谈后安排 (follow-up arrangements)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out.update(
            {
                "kind": self.kind,
                "title": self.title,
                "target": self.target,
                "interviewee": self.interviewee,
                "opening": self.opening,
                "date": self.date,
                "speaker": self.speaker,
                "closing": list(self.closing),
                "sections": [s.to_dict() for s in self.sections],
                "coverage": self.coverage,
                "warnings": list(self.warnings),
            }
        )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Draft":
        sections = []
        for s in data.get("sections", []):
            qs = []
            for q in s.get("questions", []):
                cits = [Citation(**c) for c in q.get("citations", [])]
                qs.append(
                    DraftQuestion(
                        text=q.get("text", ""),
                        follow_ups=list(q.get("follow_ups", [])),
                        purpose=q.get("purpose", ""),
                        citations=cits,
                        to_check=[int(n) for n in q.get("to_check", []) or []],
                        examples=[int(n) for n in q.get("examples", []) or []],
                    )
                )
            sections.append(DraftSection(dimension=s.get("dimension", ""), questions=qs))
        return cls(
            kind=data.get("kind", "interview"),
            title=data.get("title", ""),
            target=data.get("target", ""),
            interviewee=data.get("interviewee", ""),
            sections=sections,
            coverage=data.get("coverage", {}),
            warnings=list(data.get("warnings", [])),
            opening=data.get("opening", ""),
            date=data.get("date", ""),
            id=data.get("id"),
            speaker=data.get("speaker", ""),
            closing=list(data.get("closing", []) or []),
        )


INTERVIEWEE_GROUPS = ("市级领导", "考察对象本人", "班子成员", "其他干部群众")
FIVE_POLITICS = ("政治忠诚", "政治定力", "政治担当", "政治能力", "政治自律")


@dataclass
class DraftRequest:
    kind: str = "interview"  # interview | talk (interview_outline / talk_outline accepted)
    target: str = ""
    interviewee: str = ""
    dimensions: list[str] = field(default_factory=list)
    count: int | None = None
    request: str = ""
    id: Any = None
    # talk outlines: collections or document ids holding the user's own materials about this target
    # (a report, a collection of findings); only these may state a problem *of this target*
    materials: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        aliases = {"interview_outline": "interview", "talk_outline": "talk", "深度访谈提纲": "interview", "谈话提纲": "talk"}
        self.kind = aliases.get(self.kind, self.kind)
