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

    PUBLIC_FIELDS = ("chunk_id", "doc_id", "title", "section", "article", "page", "start", "end", "text")

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.PUBLIC_FIELDS}


@dataclass
class Filters:
    """Restrict a search. Empty lists / None mean no restriction."""

    doc_types: list[str] | None = None
    collections: list[str] | None = None
    doc_ids: list[str] | None = None

    def is_empty(self) -> bool:
        return not (self.doc_types or self.collections or self.doc_ids)


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "follow_ups": list(self.follow_ups),
            "purpose": self.purpose,
            "citations": [c.to_dict() for c in self.citations],
        }


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

    def __post_init__(self) -> None:
        aliases = {"interview_outline": "interview", "talk_outline": "talk", "深度访谈提纲": "interview", "谈话提纲": "talk"}
        self.kind = aliases.get(self.kind, self.kind)
