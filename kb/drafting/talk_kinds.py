"""The kinds of 谈话/访谈 a request may ask for (kb/data/talk_kinds.yaml): 函询, 谈心谈话, 提醒谈话,
诫勉谈话, 任前谈话, 政治监督谈话, 自评, 个别谈话, 深度访谈 … — each with its purpose, who talks with whom,
its required parts (each citing where the knowledge base states it) and the questions of its own.

``TalkKinds.detect`` reads the kind from free text; ``kind_questions`` drafts a kind's own questions
from sentences of the user's knowledge base that speak of that kind (the sentence or its section names
it), so a site whose documents state its own rules for a 谈心谈话 gets those rules as 依据.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kb.drafting.evidence import MAX_QUOTE, Evidence, clause_windows, support
from kb.drafting.text import clean_quote, fill, has_placeholder, is_near_duplicate, norm, question_mark
from kb.models import DraftQuestion
from kb.citations.verify import plain, split_sentences

if TYPE_CHECKING:  # pragma: no cover
    from kb.drafting.request import Plan

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "talk_kinds.yaml"
_QUOTED = re.compile(r"[“\"]([^”\"]{2,12})[”\"]")


@dataclass
class KindSource:
    doc: str
    quote: str


@dataclass
class KindPart:
    name: str
    text: str
    count: str
    source: KindSource | None

    @property
    def most(self) -> int:
        """The largest count the part asks for ("3-4" → 4)."""
        numbers = [int(n) for n in re.findall(r"\d+", self.count)]
        return max(numbers) if numbers else 1


@dataclass
class KindQuestion:
    text: str
    seek: list[str]
    follow_ups: list[str]
    purpose: str


@dataclass
class TalkKind:
    key: str
    label: str
    outline: str  # talk | interview
    cues: list[str]
    names: list[str]
    purpose: str
    purpose_source: KindSource | None
    parts: list[KindPart]
    questions: list[KindQuestion] = field(default_factory=list)
    speaker: str = ""
    interviewee: str = ""
    rectification: bool = False
    escalation: bool = False
    count_min: int = 1
    count_max: int = 5
    own_questions: int = 0  # at most this many of an outline's questions are the kind's own
    patterns: list[str] = field(default_factory=list)  # cue patterns with gaps ("谈一次心")

    @property
    def question_part(self) -> str:
        """The part that holds the kind's questions (the first part asking for several items)."""
        return next((p.name for p in self.parts if p.most >= 2), f"{self.label}要点")

    def matched_by(self, text: str) -> bool:
        n = norm(text)
        return any(norm(c) in n for c in self.cues) or any(re.search(p, n) for p in self.patterns)


_CONNECTOR = re.compile(r"(?:要|准备|拟|将|想|需要|需)?(?:逐一|分别)?(?:和|与|同|找|约)")
_QUANTIFIER = re.compile(r"^(?:每位|每名|几位|一位|一名|该|这位|这名|某位|某)")


class TalkKinds:
    def __init__(self, kinds: list[TalkKind], role_words: list[str] | None = None):
        self.kinds = kinds
        self.role_words = sorted(role_words or [], key=len, reverse=True)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "TalkKinds":
        data = yaml.safe_load(Path(path or DEFAULT_PATH).read_text(encoding="utf-8")) or {}
        return cls([_kind(k) for k in data.get("kinds", [])], [str(w) for w in data.get("role_words") or []])

    def pair(self, text: str) -> tuple[str, str]:
        """(谈话人, 谈话对象) when the text says “甲与乙谈…” / “甲找乙…” with both named by a role word
        (“区委书记准备和常务副区长谈一次心” → 区委书记, 常务副区长); ('', '') otherwise."""
        if not self.role_words:
            return "", ""
        n = norm(text)
        words = "|".join(re.escape(w) for w in self.role_words)
        before_re = re.compile(rf"([\u4e00-\u9fa5]{{0,6}}?(?:{words}))$")
        after_re = re.compile(rf"^([\u4e00-\u9fa5]{{0,8}}?(?:{words}))")
        for m in _CONNECTOR.finditer(n):
            head = before_re.search(n[: m.start()])
            rest = _QUANTIFIER.sub("", n[m.end():])
            tail = after_re.search(rest)
            if head and tail:
                speaker = re.sub(r"^(?:为|由|请|帮|给)", "", head.group(1))
                target = _QUANTIFIER.sub("", tail.group(1))
                if speaker and target and speaker != target:
                    return speaker, target
        return "", ""

    def get(self, key: str) -> TalkKind | None:
        return next((k for k in self.kinds if k.key == key), None)

    def detect(self, text: str, outline: str = "") -> TalkKind | None:
        """The first kind (in the file's order) whose cue words the text uses, among the kinds of
        ``outline`` when given; None when none."""
        if not text:
            return None
        return next((k for k in self.kinds if (not outline or k.outline == outline) and k.matched_by(text)), None)


def _source(data) -> KindSource | None:
    if not isinstance(data, dict) or not data.get("doc") or not data.get("quote"):
        return None
    return KindSource(str(data["doc"]), str(data["quote"]))


def _kind(data: dict) -> TalkKind:
    purpose = data.get("purpose") or {}
    count = data.get("question_count") or {}
    return TalkKind(
        key=str(data["key"]), label=str(data["label"]), outline=str(data.get("outline") or "talk"),
        cues=[str(c) for c in data.get("cues") or []], names=[str(n) for n in data.get("names") or []],
        purpose=str(purpose.get("text") or ""), purpose_source=_source(purpose.get("source")),
        parts=[KindPart(str(p["name"]), str(p.get("text") or ""), str(p.get("count") or "1"), _source(p.get("source")))
               for p in data.get("parts") or []],
        questions=[KindQuestion(str(q["text"]), [str(s) for s in q.get("seek") or []],
                                [str(f) for f in q.get("follow_ups") or []], str(q.get("purpose") or ""))
                   for q in data.get("questions") or []],
        speaker=str(data.get("speaker") or ""), interviewee=str(data.get("interviewee") or ""),
        rectification=bool(data.get("rectification")), escalation=bool(data.get("escalation")),
        count_min=int(count.get("min", 1)), count_max=int(count.get("max", 5)),
        own_questions=int(data.get("own_questions", len(data.get("questions") or []))),
        patterns=[str(p) for p in data.get("cue_patterns") or []],
    )


# -- the knowledge base's own statements of a kind ---------------------------------------------------

def source_in_kb(parts: Any, source: KindSource | None) -> str:
    """(``parts`` is a ``DraftParts``: not imported, the parts module imports this one.)
    The title of the stored document that holds ``source.quote`` verbatim, '' when the knowledge base
    does not hold it (the part is then stated without a 依据)."""
    if source is None:
        return ""
    store = parts.services.store
    try:
        record = store.get_document(source.doc)
        text = store.get_document_text(source.doc) if record is not None else None
    except Exception:
        return ""
    if not text or plain(source.quote) not in plain(text):
        return ""
    return record.title or source.doc


def part_lines(parts: Any, kind: TalkKind) -> list[str]:
    """The kind's required parts as lines of the outline, each with its 依据 when the knowledge base
    states it."""
    out = []
    for part in kind.parts:
        line = f"{part.name}（{part.count}项）：{part.text}"
        title = source_in_kb(parts, part.source)
        if title:
            line += f"〔依据：《{title}》“{part.source.quote}”〕"
        out.append(line)
    return out


def kind_evidence(parts: Any, plan: "Plan", kind: TalkKind, question: KindQuestion) -> list[Evidence]:
    """Sentences of the knowledge base that speak of this kind (the sentence, its section or its
    document's title names it), best backing ``question`` first."""
    finder = parts.finder
    filt = finder.kb_filter()
    if filt is None or not kind.names:
        return []
    generic = parts.generic_for(plan)
    template = fill(question.text, who="", target="", terms="")
    out: list[Evidence] = []
    seen: set[str] = set()
    queries = [f"{name} {' '.join(question.seek)}" for name in kind.names[:2]] + [" ".join(question.seek + kind.names[:1])]
    for query in queries:
        for hit in finder.search(query, k=8, filters=filt):
            chunk = hit.chunk
            context = norm(f"{chunk.section} {getattr(chunk, 'title', '')}")
            for sentence in split_sentences(chunk.text):
                if sentence.lstrip().startswith("#"):
                    continue
                n = norm(sentence)
                if not any(norm(name) in n or norm(name) in context for name in kind.names):
                    continue
                for quote in _quotes(sentence, question.seek):
                    if quote not in chunk.text or plain(quote) in seen or has_placeholder(quote):
                        continue
                    seen.add(plain(quote))
                    nq = norm(quote)
                    seek_hits = sum(1 for s in question.seek if norm(s) in nq)
                    named = any(norm(name) in nq for name in kind.names)
                    score = 2.0 * seek_hits + 3.0 * support(f"{template}{''.join(question.seek)}", quote, generic)
                    score += 0.5 * named + 0.3 / max(hit.rank, 1)
                    out.append(Evidence(hit, quote, score, framework=False))
    out.sort(key=lambda e: -e.score)
    return out


def _quotes(sentence: str, seek: list[str]) -> list[str]:
    """The sentence (when short enough) and, for a long one, its runs of clauses holding a sought word."""
    sentence = clean_quote(sentence)
    if len(plain(sentence)) < 8:
        return []
    if len(sentence) <= MAX_QUOTE:
        return [sentence]
    windows = [w for w in clause_windows(sentence) if len(plain(w)) >= 12]
    return [w for w in windows if any(norm(s) in norm(w) for s in seek)] or windows[:1]


def standard_terms(quote: str, question: KindQuestion, kind: TalkKind) -> str:
    """The standard's own formulation to name in the question: a quoted term (“四必谈”) standing near
    what the question asks about, else the longest sought word the quote states, else the kind itself;
    never a word the question already says."""
    template = norm(question.text)
    n = norm(quote)
    spots = [n.find(norm(s)) for s in question.seek if norm(s) in n]
    quoted = []
    for m in _QUOTED.finditer(n):
        term = m.group(1)
        if has_placeholder(term) or term in template or term in quoted:
            continue
        if any(abs(m.start() - spot) <= 30 for spot in spots):
            quoted.append(term)
    if quoted:
        return "".join(f"“{q}”" for q in quoted[:2])
    stated = sorted((s for s in question.seek if norm(s) in n and norm(s) not in template), key=len, reverse=True)
    if stated:
        return f"“{stated[0]}”"
    return f"{kind.label}有关规定"


def kind_questions(parts: Any, plan: "Plan", kind: TalkKind, cites, used_quotes: set[str],
                   used_follow_ups: set[str], texts: list[str], want: int, who: str):
    """Up to ``want`` of the kind's own questions, each backed by a knowledge-base sentence about the
    kind; a question nothing in the knowledge base backs is left out."""
    target = (plan.target or "").strip()
    threshold = parts.settings.near_duplicate_jaccard
    generic = parts.generic_for(plan)
    out = []
    for question in kind.questions:
        if len(out) >= want:
            break
        pool = [ev for ev in kind_evidence(parts, plan, kind, question)
                if plain(ev.quote) not in used_quotes and ev.score >= 1.0]  # below: speaks of the kind only
        best, text = None, ""
        for ev in pool:
            text = question_mark(fill(question.text, who=who, target=target, terms=standard_terms(ev.quote, question, kind)))
            # the same bar a re-check applies: the 依据 must back the question as worded
            if support(text, ev.quote, generic) >= parts.settings.recheck_support:
                best = ev
                break
        if best is None:
            continue
        if is_near_duplicate(text, texts, threshold) or norm(text) in {norm(t) for t in plan.exclude}:
            continue
        citations = [cites.cite(best.hit, best.quote)]
        if not any(c.verified for c in citations):
            continue
        used_quotes.add(plain(best.quote))
        follow_ups = []
        for f in (question_mark(fill(f, who=who, target=target)) for f in question.follow_ups):
            if plain(f) not in used_follow_ups:  # no 追问 asked twice in one outline
                used_follow_ups.add(plain(f))
                follow_ups.append(f)
        texts.append(text)
        out.append(DraftQuestion(text=text, follow_ups=follow_ups, purpose=f"{kind.label}：{question.purpose}",
                                 citations=citations))
    return out
