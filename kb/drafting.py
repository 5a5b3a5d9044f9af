"""DraftService: interview outlines (深度访谈提纲) and talk outlines (谈话提纲) grounded in the knowledge base.

For every requested dimension the service gathers evidence — the shipped criteria framework
(meaning, observation points, typical problems, interview angles) as stored in the knowledge base,
plus sentences of retrieved clauses and past findings — and turns it into questions:

* extractive (the default, no model): each question weaves the key phrase of one evidence sentence
  into a question phrased for the interviewee, with a 考察意图 from the framework's observation
  points and 追问 built from the framework's typical problems. The cited quote is the evidence
  sentence itself, cut from the chunk text, never composed;
* with a language model: the model drafts from the same numbered evidence through
  ``prompts/draft.yaml``; every question must cite existing evidence, its quote is the chunk span
  that best supports it, and the quote is verified against the stored document. Anything that
  fails is replaced by an extractive question and the draft says so in ``warnings``.

Every citation goes through ``services.verifier.cite`` so ``verified`` is checked against the store.
A requested dimension is never dropped: without evidence it stays as an empty section with a warning.
"""
from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from kb.models import (
    FIVE_POLITICS,
    INTERVIEWEE_GROUPS,
    Citation,
    Draft,
    DraftQuestion,
    DraftRequest,
    DraftSection,
    Filters,
    Hit,
)
from kb.verify import bigrams, plain, split_sentences

log = logging.getLogger(__name__)

FRAMEWORK_DOC_ID = "内置/五个政治评价框架"  # = ingest.pipeline.FRAMEWORK_DOC_ID (not imported: no ingest deps here)
KINDS = ("interview", "talk")
KIND_LABELS = {"interview": "深度访谈提纲", "talk": "谈话提纲"}
RECTIFICATION_SECTION = "整改要求"
DEFAULT_TARGET = "考察对象"
DEFAULT_INTERVIEWEE = "考察对象本人"

# Words that mark a sentence as stating a problem or shortfall (talk outlines are built on these).
PROBLEM_MARKERS = (
    "问题", "不足", "不够", "不力", "不到位", "不健全", "不完善", "不严", "不畅", "不愿", "不敢", "不佳",
    "缺乏", "缺少", "没有", "薄弱", "短板", "少数", "个别", "有的", "部分", "存在", "流于形式", "偏少",
    "过于", "较少", "较多", "不高", "不强", "不紧", "不深", "难以", "隐患", "反弹", "亲清不分", "有待",
    "不宽", "不多", "不优", "偏重", "片面", "单一", "倦怠",
)
# Words that mark a sentence as a finding about what happened (not a rule about what should happen).
FINDING_MARKERS = ("发现", "有的", "少数", "个别", "部分", "一些", "存在", "暴露", "反映", "表明", "一是", "二是", "三是", "四是", "五是")
_NORMATIVE = re.compile(r"(?:^|[,，;；])(?:要|必须|应当|坚持|及时|严格|健全|完善|建立|加强|强化|推动|确保|探索)")
_REQUIREMENT_START = (
    "要", "坚持", "明确", "建立", "健全", "完善", "落实", "加强", "强化", "推动", "规范", "严格", "认真",
    "注重", "严把", "探索", "引导", "督促", "确保",
)
# Words of a request that say what to draft, not what to ask about.
_REQUEST_STOPWORDS = frozenset(
    "起草 一份 提纲 访谈 深度 谈话 补充 考察 面向 了解 重点 核实 开展 参照 做法 要求 写明 控制 结束 "
    "问题 情况 方面 其他 干部 群众 本人 班子 成员 领导 主要 负责人 负责 书记 县委 市委 省委 区委 "
    "某县 某市 某区 考察对象 对象 一个 以及 进行 有关 相关 市县 区县 党政 正职 既 又 并 请 座谈 座谈会 遇到 "
    "存在 发现 线索 一份 结束 提出".split()
)
_LEADING_JUNK = re.compile(r"^(?:\s|\d{1,3}、(?=\S)|[,，。；;:：、”’」』)）\]】]|[-—*·•])+")
_CLAUSE = re.compile(r"[^,，;；:：。！？!?…\n]+[,，;；:：。！？!?…]*")
_CONNECTIVES = (
    "但是", "然而", "同时", "此外", "另外", "其中", "例如", "比如", "于是", "并且", "而且", "因此", "所以",
    "尤其是", "特别是", "但", "而", "并", "还", "也", "即", "如",
)
_ORDINAL = re.compile(r"^(?:[一二三四五六七八九十]+是|首先|其次|再次|最后|第[一二三四五六七八九十]+[,，、])[,，、]?")
_DIGITS = re.compile(r"\d")
_ANGLE_SUFFIXES = (
    "的具体事例", "具体事例", "的事例", "事例", "的具体做法", "的做法", "做法", "的具体举措", "举措",
    "的情况", "情况", "的表现", "表现", "的措施", "措施",
)
_FULLWIDTH = str.maketrans({",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "?": "？", "!": "！"})
_QUOTE_MARKS = re.compile(r"[“”‘’\"'「」『』]")

MAX_QUOTE = 160  # a sentence longer than this is cut to its best run of clauses
WINDOW_QUOTE = 120
MAX_PHRASE = 40
TALK_MIN, TALK_MAX = 3, 4


class DraftError(ValueError):
    """A drafting request that cannot be served (unknown kind, nothing to draft about)."""


# --------------------------------------------------------------------------------------------
# small text helpers
# --------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


@lru_cache(maxsize=16384)
def _grams(text: str) -> frozenset[str]:
    # scoring compares the same sentences and framework items many times over
    return frozenset(bigrams(text))


def jaccard(a: str, b: str) -> float:
    """Character-bigram Jaccard similarity (punctuation and spaces ignored)."""
    ga, gb = _grams(a), _grams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def is_near_duplicate(text: str, others: list[str], threshold: float) -> bool:
    return any(jaccard(text, other) >= threshold for other in others)


def remove_near_duplicates(questions: list[DraftQuestion], threshold: float) -> tuple[list[DraftQuestion], int]:
    """Keep the first of every group of near-duplicate questions; return (kept, number dropped)."""
    kept: list[DraftQuestion] = []
    for q in questions:
        if not is_near_duplicate(q.text, [k.text for k in kept], threshold):
            kept.append(q)
    return kept, len(questions) - len(kept)


def _coverage(text: str, target: str) -> float:
    """Share of ``target``'s bigrams found in ``text``."""
    gt = _grams(target)
    if not gt:
        return 0.0
    return len(gt & _grams(text)) / len(gt)


def _display(text: str) -> str:
    """A phrase cut from a source, made fit to sit inside a question: full-width punctuation,
    no inner quote marks (the question puts its own around it), no stray spaces."""
    text = _QUOTE_MARKS.sub("", text.translate(_FULLWIDTH))
    text = re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text).strip()
    return text.strip("，、；：。 ")


def _question_mark(text: str) -> str:
    text = text.strip().rstrip("。．.；;，,！!")
    if text.endswith("?"):
        text = text[:-1]
    return text if text.endswith("？") else text + "？"


def _is_problem(text: str) -> bool:
    return any(m in text for m in PROBLEM_MARKERS)


def finding_score(text: str) -> float:
    """How much a sentence reads as a finding (a problem found, with who/what), not a norm."""
    found = any(m in text for m in FINDING_MARKERS)
    problem = _is_problem(text)
    score = 1.0 * found + 1.0 * problem
    if _NORMATIVE.search(text) and not (found and problem):
        score -= 1.5
    return score


def _strip_connectives(text: str) -> str:
    changed = True
    while changed and text:
        changed = False
        m = _ORDINAL.match(text)
        if m and m.end() < len(text):
            text, changed = text[m.end():], True
        for word in _CONNECTIVES:
            if text.startswith(word) and len(text) > len(word) + 4:
                text, changed = text[len(word):].lstrip("，,、"), True
                break
    return text


def _angle_core(angle: str) -> str:
    core = angle.strip().rstrip("。")
    for suffix in _ANGLE_SUFFIXES:
        if core.endswith(suffix) and len(core) > len(suffix) + 3:
            core = core[: -len(suffix)]
            break
    return core.rstrip("的、，")


def _clean_quote(quote: str) -> str:
    """Drop page markers ("10、") and punctuation a sentence split leaves at the start; still a
    substring of the original, so still verbatim."""
    quote = _LEADING_JUNK.sub("", quote).strip()
    return quote


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------
@dataclass
class _FrameworkLine:
    """One line of the stored framework document (a citable, verbatim span of a chunk)."""

    dimension: str  # dimension name, or "谈话提纲" / "访谈对象" for the other parts
    part: str  # 内涵 | 观察要点 | 常见问题 | 访谈切入点 | 谈话重点 | 整改要求 | …
    text: str
    hit: Hit


@dataclass
class _Evidence:
    hit: Hit
    quote: str  # verbatim span of hit.chunk.text
    score: float
    framework: bool
    part: str = ""  # framework part (常见问题 …) for framework lines

    @property
    def doc_id(self) -> str:
        return self.hit.chunk.doc_id


@dataclass
class _Dim:
    """A requested dimension, resolved against the framework when it knows it."""

    name: str  # as requested (shown as the section title)
    canonical: str
    known: Any = None  # kb.criteria.Dimension or None
    terms: list[str] = field(default_factory=list)  # name + aliases
    keywords: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return list(self.known.typical_problems) if self.known else []

    @property
    def observations(self) -> list[str]:
        return list(self.known.observation_points) if self.known else []

    @property
    def angles(self) -> list[str]:
        return list(self.known.interview_angles) if self.known else []


@dataclass
class _Plan:
    kind: str
    target: str
    interviewee: str
    dims: list[_Dim]
    count: int
    request: str
    request_terms: list[str]
    rectification: bool
    notes: list[str] = field(default_factory=list)


class _Citations:
    """Numbers citations across the draft; the same quote from the same chunk keeps its number."""

    def __init__(self, verifier):
        self.verifier = verifier
        self._numbers: dict[tuple[str, str], int] = {}

    def cite(self, hit: Hit, quote: str) -> Citation:
        key = (hit.chunk.chunk_id, quote)
        n = self._numbers.setdefault(key, len(self._numbers) + 1)
        return self.verifier.cite(n, hit, quote)


# --------------------------------------------------------------------------------------------
# the service
# --------------------------------------------------------------------------------------------
class DraftService:
    def __init__(self, services):
        self.services = services
        self.settings = services.settings.draft
        self._framework: Any = None
        self._framework_loaded = False
        self._fw_cache: tuple[str, list[_FrameworkLine]] | None = None
        self._filter_cache: tuple[str, Filters | None] | None = None

    # -- framework -------------------------------------------------------------------------------
    @property
    def framework(self):
        """The shipped criteria framework, or None when it cannot be loaded (drafting still works
        from the knowledge base alone)."""
        if not self._framework_loaded:
            self._framework_loaded = True
            try:
                from kb.criteria import CriteriaFramework

                self._framework = CriteriaFramework.load()
            except Exception as exc:  # the framework is an aid; a broken file must not stop drafting
                log.warning("criteria framework unavailable: %s", exc)
                self._framework = None
        return self._framework

    def _store_version(self) -> str:
        try:
            return str(self.services.store.version())
        except Exception:
            return ""

    def _framework_lines(self) -> list[_FrameworkLine]:
        """Lines of the framework document as stored in the knowledge base (empty when it is not there)."""
        version = self._store_version()
        if self._fw_cache is not None and self._fw_cache[0] == version:
            return self._fw_cache[1]
        lines: list[_FrameworkLine] = []
        seen: set[tuple[str, str, str]] = set()
        try:
            chunks = self.services.store.document_chunks(FRAMEWORK_DOC_ID)
        except Exception as exc:
            log.warning("framework document not readable: %s", exc)
            chunks = []
        for chunk in chunks:
            head, _, sub = chunk.section.partition(" > ")
            dimension = head.split("、", 1)[1] if "、" in head else head
            part = sub.split(" > ")[0] if sub else ""
            hit = Hit(rank=0, chunk=chunk, score=0.0)
            for raw in chunk.text.split("\n"):
                line = raw.strip()
                if line.startswith("## "):
                    title = line[3:].strip()
                    dimension = title.split("、", 1)[1] if "、" in title else title
                    part = ""
                    continue
                if line.startswith("### "):
                    part = line[4:].strip()
                    continue
                if not line or line.startswith("#"):
                    continue
                m = re.match(r"^(?:[-*]|\d+\.)\s+(.*)$", line)
                texts = [m.group(1).strip()] if m else split_sentences(line)
                for text in texts:
                    if len(plain(text)) < 4 or text not in chunk.text:
                        continue
                    key = (dimension, part, text)
                    if key in seen:
                        continue
                    seen.add(key)
                    lines.append(_FrameworkLine(dimension, part, text, hit))
        self._fw_cache = (version, lines)
        return lines

    def _kb_filter(self) -> Filters | None:
        """A filter that leaves out the framework document, or None when there is nothing else."""
        version = self._store_version()
        if self._filter_cache is not None and self._filter_cache[0] == version:
            return self._filter_cache[1]
        try:
            records = self.services.store.list_documents()
        except Exception:
            records = []
        others = [r for r in records if r.doc_id != FRAMEWORK_DOC_ID]
        filt: Filters | None = None
        if others:
            framework_collections = {r.collection for r in records if r.doc_id == FRAMEWORK_DOC_ID}
            collections = sorted({r.collection for r in others})
            # When the framework shares a collection with real documents, search everything and
            # drop framework hits afterwards.
            filt = Filters(collections=collections) if not (framework_collections & set(collections)) else Filters()
        self._filter_cache = (version, filt)
        return filt

    # -- request inference -------------------------------------------------------------------------
    def infer_request(self, req: DraftRequest) -> tuple[DraftRequest, list[str]]:
        """Fill the fields the request leaves empty from its free text; return it with notes
        saying what was assumed. Raises DraftError for an unknown kind."""
        text = (req.request or "").strip()
        notes: list[str] = []
        kind = (req.kind or "").strip()
        kind = {"interview_outline": "interview", "talk_outline": "talk", "深度访谈提纲": "interview",
                "访谈提纲": "interview", "谈话提纲": "talk", "auto": ""}.get(kind, kind)
        if kind not in ("", *KINDS):
            raise DraftError(f"unknown outline kind {req.kind!r} (expected interview or talk)")
        text_kind = infer_kind(text)
        if not kind:
            kind = text_kind or "interview"
        elif kind == "interview" and text_kind == "talk":
            # "interview" is also the default of DraftRequest; a request that names a talk outline wins.
            kind = "talk"
        target = (req.target or "").strip() or infer_target(text)
        if not target:
            target = DEFAULT_TARGET
            if text:
                notes.append(f"要求中未写明考察对象，按“{DEFAULT_TARGET}”起草。")
        interviewee = (req.interviewee or "").strip()
        framework = self.framework
        if interviewee and interviewee not in INTERVIEWEE_GROUPS and framework is not None:
            interviewee = framework.interviewee_group(interviewee, target) or interviewee
        if kind == "interview" and not interviewee:
            interviewee = self._infer_interviewee(text, target)
            if not interviewee:
                interviewee = DEFAULT_INTERVIEWEE
                notes.append(f"未指定访谈对象，按“{DEFAULT_INTERVIEWEE}”起草。")
        dimensions = [d.strip() for d in (req.dimensions or []) if d and str(d).strip()]
        if not dimensions:
            dimensions = self._infer_dimensions(text, kind)
        out = replace(req, kind=kind, target=target, interviewee=interviewee, dimensions=dimensions, request=text)
        return out, notes

    def _infer_interviewee(self, text: str, target: str) -> str:
        framework = self.framework
        if not text or framework is None:
            return ""
        # The person interviewed is usually named right after 面向/对/向/找 (…的访谈提纲).
        for m in re.finditer(r"(?:面向|针对|对|向|找|与)([^，。；,;]{1,24}?)(?:的|开展|进行|等人|谈)", text):
            group = framework.interviewee_group(m.group(1), target)
            if group:
                return group
        explicit = re.search(r"市级领导|市领导|考察对象本人|本人|班子成员|其他干部|干部群众", text)
        if explicit:
            return framework.interviewee_group(explicit.group(0), target) or ""
        return ""

    def _infer_dimensions(self, text: str, kind: str) -> list[str]:
        framework = self.framework
        if framework is None:
            return []
        found = framework.find_dimensions(text) if text else []
        if found:
            return found
        if kind == "talk":
            # The talk-outline practice names its own focus areas; map each to a dimension.
            out: list[str] = []
            for item in framework.talk_outline.focus_areas:
                names = framework.find_dimensions(item)
                if names and names[0] not in out:
                    out.append(names[0])
            if out:
                return out
        return list(framework.five_politics or FIVE_POLITICS)

    def _resolve_dims(self, names: list[str]) -> list[_Dim]:
        framework = self.framework
        dims: list[_Dim] = []
        seen: set[str] = set()
        for name in names:
            known = framework.dimension(name) if framework is not None else None
            canonical = known.name if known else _norm(name)
            if canonical in seen:
                continue
            seen.add(canonical)
            if known:
                dims.append(_Dim(name, canonical, known, known.terms(), list(known.keywords)))
            else:
                dims.append(_Dim(name, canonical, None, [name], []))
        return dims

    def _request_terms(self, text: str, target: str, interviewee: str) -> list[str]:
        if not text:
            return []
        try:
            terms = self.services.tokenizer.content_terms(text)
        except Exception:
            return []
        skip = _norm(target) + _norm(interviewee)
        return [
            t for t in terms
            if len(t) >= 2 and t not in _REQUEST_STOPWORDS and t not in skip and not re.search(r"提纲|访谈|谈话|起草", t)
        ]

    def _focus_keywords(self, text: str, requested: list[str]) -> list[str]:
        """Keywords of the focus areas a request names besides its dimensions ("重点了解民主集中制执行
        情况" → 集体领导, 三重一大, 责任清单 …): they steer which evidence each dimension uses."""
        framework = self.framework
        if framework is None or not text:
            return []
        requested_names = {d.canonical for d in self._resolve_dims(requested)}
        out: list[str] = []
        for name in framework.find_dimensions(text, use_keywords=False):
            if name in requested_names:
                continue
            out.extend(_norm(k) for k in framework.dimensions[name].keywords)
        return list(dict.fromkeys(out))

    # -- main entry ----------------------------------------------------------------------------
    def draft(self, req: DraftRequest) -> Draft:
        filled, notes = self.infer_request(req)
        if not filled.dimensions:
            raise DraftError("nothing to draft: give dimensions or a request naming what to ask about")
        count = filled.count if filled.count else self.settings.default_count
        count = max(1, min(int(count), self.settings.max_count))
        plan = _Plan(
            kind=filled.kind,
            target=filled.target,
            interviewee=filled.interviewee,
            dims=self._resolve_dims(filled.dimensions),
            count=count,
            request=filled.request,
            request_terms=self._request_terms(filled.request, filled.target, filled.interviewee)
            + self._focus_keywords(filled.request, filled.dimensions),
            rectification=filled.kind == "talk" and bool(re.search(r"整改", filled.request)),
            notes=notes,
        )
        draft = Draft(
            kind=plan.kind,
            title=f"{plan.target}{KIND_LABELS[plan.kind]}",
            target=plan.target,
            interviewee=plan.interviewee if plan.kind == "interview" else (req.interviewee or "").strip(),
            id=req.id,
        )
        draft.warnings.extend(plan.notes)
        cites = _Citations(self.services.verifier)
        evidence = {d.canonical: self._evidence(d, plan) for d in plan.dims}
        for dim in plan.dims:
            ev = evidence[dim.canonical]
            if not ev:
                draft.warnings.append(f"知识库中没有找到“{dim.name}”方面的依据，本部分未生成问题。")
            elif all(e.framework for e in ev):
                draft.warnings.append(f"“{dim.name}”方面除内置评价框架外，知识库中没有找到其他依据，问题依据框架条文起草。")
        if plan.kind == "talk":
            sections = self._talk(plan, evidence, cites, draft)
        else:
            sections = self._interview(plan, evidence, cites, draft)
        if self.services.llm is not None:
            sections = self._with_llm(plan, evidence, cites, draft, sections)
        draft.sections = sections
        draft.coverage = {
            s.dimension: {
                "questions": len(s.questions),
                "sources": sorted({c.doc_id for q in s.questions for c in q.citations if c.verified}),
            }
            for s in sections
        }
        return draft

    # -- evidence --------------------------------------------------------------------------------
    def _evidence(self, dim: _Dim, plan: _Plan) -> list[_Evidence]:
        """Evidence sentences for one dimension, best first: knowledge-base sentences that are about
        the dimension, then the framework's own lines for it."""
        kb = self._kb_evidence(dim, plan)
        fw = self._framework_evidence(dim, plan)
        return kb + fw

    def _queries(self, dim: _Dim, plan: _Plan) -> list[str]:
        queries = [" ".join([dim.name, *dim.keywords[:8], plan.target])]
        if plan.request:
            queries.append(f"{plan.request} {dim.name}")
        if dim.problems:
            queries.append(" ".join([dim.name, *dim.problems]))
        return queries

    def _kb_evidence(self, dim: _Dim, plan: _Plan) -> list[_Evidence]:
        filt = self._kb_filter()
        if filt is None:
            return []
        hits: dict[str, Hit] = {}
        for query in self._queries(dim, plan):
            try:
                found = self.services.retriever.search(query, k=8, filters=None if filt.is_empty() else filt)
            except Exception as exc:
                log.warning("draft search failed for %r: %s", query[:40], exc)
                continue
            for h in found:
                if h.chunk.doc_id == FRAMEWORK_DOC_ID:
                    continue
                prev = hits.get(h.chunk.chunk_id)
                if prev is None or h.rank < prev.rank:
                    hits[h.chunk.chunk_id] = h
        out: list[_Evidence] = []
        seen: set[str] = set()
        for hit in hits.values():
            for quote in self._candidate_quotes(hit.chunk.text, dim, plan):
                key = plain(quote)
                if key in seen:
                    continue
                score = self._score(quote, dim, plan)
                if score is None:
                    continue
                seen.add(key)
                out.append(_Evidence(hit, quote, score + 0.5 / hit.rank, framework=False))
        out.sort(key=lambda e: -e.score)
        return out

    def _candidate_quotes(self, text: str, dim: _Dim, plan: _Plan) -> list[str]:
        """Sentences of a chunk as candidate quotes. A short headline sentence ("一是考察程序不够优化。")
        takes the next sentence along, which says what it means; both are one verbatim span."""
        spans = []
        pos = 0
        for sentence in split_sentences(text):
            start = text.find(sentence, pos)
            if start < 0:
                continue
            spans.append((start, start + len(sentence)))
            pos = start + len(sentence)
        quotes = []
        for i, (start, end) in enumerate(spans):
            quote = _clean_quote(text[start:end])
            if len(plain(quote)) < 8:
                continue
            if len(plain(quote)) < 20 and i + 1 < len(spans) and spans[i + 1][1] - start <= MAX_QUOTE:
                quote = _clean_quote(text[start : spans[i + 1][1]])
            if len(quote) > MAX_QUOTE:
                quote = self._best_window(quote, dim, plan)
                if len(plain(quote)) < 8:
                    continue
            if quote in text:
                quotes.append(quote)
        return quotes

    def _best_window(self, sentence: str, dim: _Dim, plan: _Plan) -> str:
        spans = [(m.start(), m.end()) for m in _CLAUSE.finditer(sentence)]
        best, best_score = sentence[:WINDOW_QUOTE], float("-inf")
        for i in range(len(spans)):
            for j in range(i, min(len(spans), i + 5)):
                start, end = spans[i][0], spans[j][1]
                if end - start > WINDOW_QUOTE:
                    break
                window = _clean_quote(sentence[start:end].rstrip(",，;；:："))
                score = self._score(window, dim, plan, gate=False) or 0.0
                if score > best_score:
                    best, best_score = window, score
        return best

    def _score(self, quote: str, dim: _Dim, plan: _Plan, gate: bool = True) -> float | None:
        """How well a sentence serves as evidence for ``dim``; None when it is not about it."""
        norm = _norm(quote)
        term_hit = any(_norm(t) in norm for t in dim.terms)
        # A sentence that lists several dimensions ("从政治忠诚、政治定力、政治担当……等方面") is
        # about the framework in general, not about this dimension.
        listed = self._listed_dimensions(quote)
        if listed >= 3:
            term_hit = False
        kw = sum(1 for k in dim.keywords if _norm(k) in norm)
        fw = max(
            [_coverage(quote, item) for item in dim.problems] + [0.8 * _coverage(quote, item) for item in dim.observations],
            default=0.0,
        )
        req = sum(1 for t in plan.request_terms if t in norm)
        if gate:
            if dim.known is None:
                # a dimension the framework does not know: its name (or all its words) must appear
                words = [w for w in self._request_terms(dim.name, "", "")] or [dim.name]
                if not (_norm(dim.name) in norm or all(_norm(w) in norm for w in words)):
                    return None
            elif not (term_hit or kw or fw >= 0.3):
                return None
        score = 2.0 * term_hit + 1.5 * min(kw, 2) + 8.0 * fw + 1.0 * min(req, 4)
        finding = finding_score(quote)
        if plan.kind == "talk":
            score += 2.5 * finding + (0.5 if _DIGITS.search(quote) else 0.0)
        else:
            score += 0.7 * finding
        if listed >= 3:
            score -= 2.0
        if len(quote) < 16:
            score -= 1.0
        return score

    def _listed_dimensions(self, text: str) -> int:
        framework = self.framework
        if framework is None:
            norm = _norm(text)
            return sum(1 for name in FIVE_POLITICS if name in norm)
        return len(framework.find_dimensions(text, use_keywords=False))

    def _item_of(self, quote: str, dim: _Dim) -> str:
        """The framework item (typical problem / observation point) a sentence is about, if any."""
        items = dim.problems + dim.observations
        if not items:
            return ""
        best = max(items, key=lambda i: _coverage(quote, i))
        return best if _coverage(quote, best) >= 0.3 else ""

    def _select(self, pool: list[_Evidence], n: int, dim: _Dim, used_quotes: set[str]) -> list[_Evidence]:
        """Greedy pick of ``n`` evidence sentences: best score, but spread over framework items and
        documents so the questions of a section ask about different things."""
        chosen: list[_Evidence] = []
        items_used: list[str] = []
        docs_used: list[str] = []
        candidates = [e for e in pool if plain(e.quote) not in used_quotes][:40]
        item_of = {id(e): self._item_of(e.quote, dim) for e in candidates}

        def adjusted(e: _Evidence) -> float:
            item = item_of[id(e)]
            penalty = 2.0 * (bool(item) and item in items_used) + 1.0 * docs_used.count(e.doc_id)
            return e.score - penalty

        while candidates and len(chosen) < n:
            best = max(candidates, key=adjusted)
            candidates.remove(best)
            if any(jaccard(best.quote, c.quote) >= 0.4 for c in chosen):
                continue
            chosen.append(best)
            items_used.append(item_of[id(best)])
            docs_used.append(best.doc_id)
        return chosen

    def _framework_evidence(self, dim: _Dim, plan: _Plan) -> list[_Evidence]:
        if dim.known is None:
            return []
        order = {"常见问题": 0, "访谈切入点": 1, "观察要点": 2, "内涵": 3}
        if plan.kind == "talk":
            order = {"常见问题": 0, "观察要点": 1, "内涵": 2}
        lines = [l for l in self._framework_lines() if l.dimension == dim.canonical and l.part in order]
        out = []
        for line in lines:
            score = -order[line.part] + 0.1 * sum(1 for t in plan.request_terms if t in _norm(line.text))
            out.append(_Evidence(line.hit, line.text, score, framework=True, part=line.part))
        out.sort(key=lambda e: -e.score)
        return out

    # -- interview outlines ------------------------------------------------------------------------
    def _interview(self, plan: _Plan, evidence: dict[str, list[_Evidence]], cites: _Citations, draft: Draft) -> list[DraftSection]:
        threshold = self.settings.near_duplicate_jaccard
        used_quotes: set[str] = set()
        texts: list[str] = []
        sections = []
        for dim in plan.dims:
            section = DraftSection(dimension=dim.name)
            used_angles: list[str] = []
            pool = self._select(evidence[dim.canonical], 40, dim, used_quotes)
            for ev in pool:
                if len(section.questions) >= plan.count:
                    break
                if plain(ev.quote) in used_quotes:
                    continue
                support = self._supporting(ev, pool, dim, plan, used_quotes)
                question = self._interview_question(dim, ev, plan, cites, used_angles, support)
                if question is None or is_near_duplicate(question.text, texts, threshold):
                    continue
                if not any(c.verified for c in question.citations):
                    continue
                used_quotes.add(plain(ev.quote))
                if support is not None:
                    used_quotes.add(plain(support.quote))
                texts.append(question.text)
                section.questions.append(question)
            if evidence[dim.canonical] and len(section.questions) < plan.count:
                draft.warnings.append(
                    f"“{dim.name}”方面依据不足，只生成了{len(section.questions)}个问题（要求{plan.count}个）。"
                )
            sections.append(section)
        return sections

    def _pick(self, items: list[str], against: str, used: list[str]) -> str:
        """The item most similar to ``against``, preferring unused ones."""
        if not items:
            return ""
        fresh = [i for i in items if i not in used] or items
        return max(fresh, key=lambda i: (_coverage(against, i) + _coverage(i, against), -items.index(i)))

    def _phrase(self, quote: str, dim: _Dim, plan: _Plan, items: list[str] | None = None) -> str:
        """The key phrase of a quote: its best clause (joined with a short neighbour), fit for a question."""
        clauses = [_display(_strip_connectives(_clean_quote(m.group(0)))) for m in _CLAUSE.finditer(quote)]
        clauses = [c for c in clauses if len(c) >= 2]
        if not clauses:
            return _display(quote)[:MAX_PHRASE]

        def score(c: str) -> float:
            n = _norm(c)
            s = 3.0 * any(_norm(t) in n for t in dim.terms) + 1.5 * sum(1 for k in dim.keywords if _norm(k) in n)
            s += 3.0 * max((_coverage(c, p) for p in (items or dim.problems + dim.observations)), default=0.0)
            s += 1.0 * sum(1 for t in plan.request_terms if t in n)
            s += (1.5 if plan.kind == "talk" else 0.5) * _is_problem(c)
            s += (1.0 if plan.kind == "talk" and _DIGITS.search(c) else 0.0)
            s -= 2.0 if len(c) < 6 else 0.0
            s -= 0.02 * max(0, len(c) - MAX_PHRASE)
            return s

        best = max(range(len(clauses)), key=lambda i: score(clauses[i]))
        phrase = clauses[best]
        if len(phrase) < 10:
            nxt = clauses[best + 1] if best + 1 < len(clauses) else ""
            prv = clauses[best - 1] if best > 0 else ""
            if nxt and len(phrase) + len(nxt) < MAX_PHRASE:
                phrase = f"{phrase}，{nxt}"
            elif prv and len(phrase) + len(prv) < MAX_PHRASE:
                phrase = f"{prv}，{phrase}"
        if len(phrase) > MAX_PHRASE:
            cut = phrase[:MAX_PHRASE]
            comma = max(cut.rfind("，"), cut.rfind("、"))
            phrase = cut[:comma] if comma >= 12 else cut
        return phrase.strip("，、")

    def _lead(self, phrase: str, ev: _Evidence) -> str:
        if ev.framework and ev.part == "访谈切入点":
            return ""
        if _is_problem(phrase) or (ev.framework and ev.part == "常见问题"):
            return f"有的地方存在“{phrase}”的问题。"
        if phrase.startswith(_REQUIREMENT_START) or (ev.framework and ev.part == "观察要点"):
            return f"按照“{phrase.rstrip('。')}”的要求，"
        return f"围绕“{phrase}”，"

    def _supporting(self, ev: _Evidence, pool: list[_Evidence], dim: _Dim, plan: _Plan, used_quotes: set[str]) -> _Evidence | None:
        """A second knowledge-base sentence on the same matter (sharing its key terms), preferably of
        the other kind — the rule behind a finding, or a finding under a rule — for the second 追问."""
        if ev.framework:
            return None
        terms = [_norm(t) for t in [*dim.terms, *dim.keywords]] + plan.request_terms
        mine = {t for t in terms if t in _norm(ev.quote)}
        if not mine:
            return None
        is_finding = finding_score(ev.quote) > 0
        best, best_score = None, 0.0
        for other in pool:
            if other is ev or other.framework or plain(other.quote) in used_quotes:
                continue
            if plain(other.quote) in plain(ev.quote) or plain(ev.quote) in plain(other.quote):
                continue
            shared = sum(1 for t in mine if t in _norm(other.quote))
            if not shared:
                continue
            score = 2.0 * shared + other.score / 5 + 1.0 * ((finding_score(other.quote) > 0) != is_finding)
            if score > best_score:
                best, best_score = other, score
        return best

    def _interview_question(self, dim: _Dim, ev: _Evidence, plan: _Plan, cites: _Citations, used_angles: list[str],
                            support: _Evidence | None = None) -> DraftQuestion | None:
        phrase = self._phrase(ev.quote, dim, plan)
        if not phrase:
            return None
        if ev.framework and ev.part == "访谈切入点":
            angle = re.sub(r"^可询问", "", ev.quote).rstrip("。")
        else:
            angle = self._pick(dim.angles, ev.quote, used_angles) or f"{dim.name}方面的工作"
        used_angles.append(angle)
        core = _angle_core(angle)
        if plain(core) and plain(core) in plain(phrase):
            lead = ""  # the angle already says it; repeating it would only lengthen the question
        else:
            lead = self._lead(phrase, ev)
        group, ref = plan.interviewee, _third_person(plan.target)
        alt = len(used_angles) % 2 == 0
        if group == "考察对象本人":
            body = (f"在{core}方面，您遇到过哪些难题，是怎样推动解决的，能否举一个具体事例？" if alt
                    else f"请您谈谈您在{core}方面是怎样做的，能否举一个具体事例？")
            fu_event = "这件事当时是怎样研究决定的，您本人起了什么作用，结果怎样？"
        elif group == "班子成员":
            body = (f"据您观察，{ref}在{core}方面是怎样带领班子的，能否举一个您亲身经历的具体事例？" if alt
                    else f"您认为{ref}在{core}方面做得怎么样，能否举一个您亲历的具体事例？")
            fu_event = f"在这件事中，{ref}具体是怎么做的，班子成员的意见是怎样表达和处理的？"
        elif group == "市级领导":
            body = f"您认为{ref}在{core}方面表现如何，与同类地区相比有哪些长处和不足，能否举一两个例子？"
            fu_event = f"从这件事看，{ref}还有哪些需要改进的地方？"
        else:
            body = (f"据您了解，{ref}在{core}方面具体是怎样做的，能否讲一件您亲历或亲见的事情？" if not alt
                    else f"就{core}，您亲眼看到{ref}是怎样做的，能否讲一个具体事例，包括时间和经过？")
            fu_event = "这件事发生在什么时间，涉及哪些人，最后是怎样处理的？"
        text = _question_mark(lead + body)
        follow_ups = [_question_mark(fu_event)]
        who = "您" if group == "考察对象本人" else ref
        citations = [cites.cite(ev.hit, ev.quote)]
        if support is not None:
            second = self._phrase(support.quote, dim, plan)
            if finding_score(support.quote) > 0:
                follow_ups.append(_question_mark(f"有材料反映“{second}”，对这类情况{who}是怎样看待和处理的"))
            else:
                follow_ups.append(_question_mark(f"按照“{second}”的要求，{who}是怎样抓落实的，效果如何"))
            citations.append(cites.cite(support.hit, support.quote))
        else:
            problem = self._pick([p for p in dim.problems if plain(_display(p)) not in plain(phrase)], ev.quote + angle, [])
            if problem:
                follow_ups.append(_question_mark(f"对“{_display(problem)}”这类问题，{who}是怎样看待和处理的"))
                line = self._framework_support(dim, problem, ev)
                if line is not None:
                    citations.append(cites.cite(line.hit, line.text))
        observation = self._pick(dim.observations, ev.quote + angle, [])
        purpose = f"考察{dim.canonical}：{_display(observation)}" if observation else f"了解{plan.target}在{dim.name}方面的具体表现"
        return DraftQuestion(text=text, follow_ups=follow_ups[:2], purpose=purpose, citations=citations)

    def _framework_support(self, dim: _Dim, problem: str, ev: _Evidence) -> _FrameworkLine | None:
        """The framework line behind the 追问's typical problem, as a second citation."""
        if not problem or ev.framework:
            return None
        want = plain(_display(problem))
        for line in self._framework_lines():
            if line.dimension == dim.canonical and line.part == "常见问题" and plain(_display(line.text)) == want:
                return line
        return None

    # -- talk outlines -----------------------------------------------------------------------------
    def _talk(self, plan: _Plan, evidence: dict[str, list[_Evidence]], cites: _Citations, draft: Draft) -> list[DraftSection]:
        threshold = self.settings.near_duplicate_jaccard
        with_evidence = [d for d in plan.dims if evidence[d.canonical]]
        total = TALK_MAX if plan.rectification else min(TALK_MAX, max(TALK_MIN, len(with_evidence)))
        rect = self._rectification(plan, cites) if plan.rectification else None
        issues_wanted = total - (1 if rect else 0)
        # round-robin over the dimensions that have evidence
        allocation = {d.canonical: 0 for d in plan.dims}
        i = 0
        while sum(allocation.values()) < issues_wanted and with_evidence:
            d = with_evidence[i % len(with_evidence)]
            if allocation[d.canonical] < len(evidence[d.canonical]):
                allocation[d.canonical] += 1
            i += 1
            if i > 4 * TALK_MAX:
                break
        used_quotes: set[str] = set()
        texts: list[str] = []
        sections = []
        for dim in plan.dims:
            section = DraftSection(dimension=dim.name)
            # a talk outline rests on findings: problem sentences from real documents first
            pool = self._select(evidence[dim.canonical], 40, dim, used_quotes)
            for ev in pool:
                if len(section.questions) >= allocation[dim.canonical]:
                    break
                if plain(ev.quote) in used_quotes:
                    continue
                second = next(
                    (o for o in pool if o is not ev and not o.framework and finding_score(o.quote) >= 1.0
                     and plain(o.quote) not in used_quotes and plain(o.quote) != plain(ev.quote)
                     and jaccard(o.quote, ev.quote) < 0.5),
                    None,
                ) if not ev.framework else None
                question = self._talk_question(dim, ev, second, plan, cites)
                if is_near_duplicate(question.text, texts, threshold) or not any(c.verified for c in question.citations):
                    continue
                used_quotes.add(plain(ev.quote))
                if second is not None:
                    used_quotes.add(plain(second.quote))
                texts.append(question.text)
                section.questions.append(question)
            if evidence[dim.canonical] and not section.questions:
                draft.warnings.append(
                    f"谈话提纲一般只列{TALK_MIN}至{TALK_MAX}个问题，“{dim.name}”方面未单列问题。"
                )
            sections.append(section)
        if rect is not None:
            sections.append(DraftSection(dimension=RECTIFICATION_SECTION, questions=[rect]))
        n_questions = sum(len(s.questions) for s in sections)
        if n_questions < TALK_MIN:
            draft.warnings.append(f"知识库依据不足，谈话提纲只有{n_questions}个问题（一般为{TALK_MIN}至{TALK_MAX}个）。")
        named = [s.dimension for s in sections if s.questions and s.dimension != RECTIFICATION_SECTION]
        draft.opening = (
            f"{plan.target}同志在{'、'.join(named) or '各方面'}等方面做了大量工作，"
            f"总体是肯定的（结合综合考核和日常了解，列举成绩和亮点）；同时也存在一些需要重视的问题，"
            f"下面逐一点明{n_questions}个问题，请您作出说明。"
        )
        return sections

    def _talk_question(self, dim: _Dim, ev: _Evidence, second: _Evidence | None, plan: _Plan, cites: _Citations) -> DraftQuestion:
        phrase = self._phrase(ev.quote, dim, plan)
        if second is not None:
            lead = f"有关材料反映：一是{phrase}；二是{self._phrase(second.quote, dim, plan)}。"
        else:
            lead = f"有关材料反映，{phrase}。"
        text = _question_mark(f"{lead}您作为{_third_person(plan.target)}，怎样看待这一问题，原因在哪里，下一步打算怎样解决")
        problem = self._pick([p for p in dim.problems if plain(_display(p)) not in plain(phrase)], ev.quote, [])
        follow_ups = [_question_mark("在这一问题上，您本人负有哪些责任，打算怎样带头改进")]
        if problem:
            follow_ups.append(_question_mark(f"对“{_display(problem)}”这类问题，您打算采取哪些具体措施，何时见效"))
        focus = self._talk_focus(dim)
        purpose = f"点明{dim.name}方面的问题" + (f"，对应谈话重点“{focus}”" if focus else "")
        citations = [cites.cite(ev.hit, ev.quote)]
        if second is not None:
            citations.append(cites.cite(second.hit, second.quote))
        return DraftQuestion(text=text, follow_ups=follow_ups, purpose=purpose, citations=citations)

    def _talk_focus(self, dim: _Dim) -> str:
        """The talk-outline focus area (谈话重点) this dimension falls under, if any."""
        framework = self.framework
        if framework is None or dim.known is None:
            return ""
        about = " ".join([*dim.terms, *dim.keywords])
        best, best_score = "", 0.0
        for item in framework.talk_outline.focus_areas:
            score = _coverage(about, item)
            if score > best_score:
                best, best_score = item, score
        return best if best_score >= 0.3 else ""

    def _rectification(self, plan: _Plan, cites: _Citations) -> DraftQuestion | None:
        """The closing 整改要求: grounded in the knowledge base's own rectification practice."""
        framework = self.framework
        guide = [r.text for r in framework.talk_outline.rectification] if framework is not None else []
        fw_lines = [l for l in self._framework_lines() if l.part == "整改要求"]
        guide_texts = guide or [l.text for l in fw_lines]
        best: _Evidence | None = None
        filt = self._kb_filter()
        if filt is not None:
            query = " ".join([plan.request, "整改", *guide_texts])
            try:
                hits = self.services.retriever.search(query, k=8, filters=None if filt.is_empty() else filt)
            except Exception as exc:
                log.warning("draft search failed: %s", exc)
                hits = []
            relevance = [_coverage(plan.request, g) for g in guide_texts] or [0.0]
            ranked_lines = sorted(range(len(relevance)), key=lambda i: -relevance[i])
            # only a guide line the request clearly points at leads (margin over the runner-up)
            lead_line: int | None = ranked_lines[0]
            if len(ranked_lines) > 1 and relevance[ranked_lines[0]] - relevance[ranked_lines[1]] < 0.1:
                lead_line = None
            for hit in hits:
                if hit.chunk.doc_id == FRAMEWORK_DOC_ID:
                    continue
                for sentence in split_sentences(hit.chunk.text):
                    quote = _clean_quote(sentence)
                    if len(plain(quote)) < 12 or len(quote) > MAX_QUOTE or quote not in hit.chunk.text:
                        continue
                    raw = [_coverage(quote, g) for g in guide_texts] or [0.0]
                    if "整改" not in quote and max(raw) < 0.35:
                        continue
                    # the guide line closest to the request ("通报反馈考察结果") leads; the others follow
                    covered = sorted(raw, reverse=True)
                    if lead_line is not None:
                        score = 2.0 * raw[lead_line] + 0.5 * sum(covered[:2]) + 0.1 / hit.rank
                    else:
                        score = sum(covered[:2]) + 0.1 / hit.rank
                    if best is None or score > best.score:
                        best = _Evidence(hit, quote, score, framework=False)
        against = " ".join([plan.request, best.quote if best else ""])
        ranked = sorted(fw_lines, key=lambda l: -(_coverage(against, l.text) + 0.5 * _coverage(l.text, against)))
        chosen_lines = ranked[:2]
        if best is None and not chosen_lines:
            return None
        citations = []
        if best is not None:
            citations.append(cites.cite(best.hit, best.quote))
        if chosen_lines:
            citations.append(cites.cite(chosen_lines[0].hit, chosen_lines[0].text))
        if best is not None:
            dim = _Dim(RECTIFICATION_SECTION, RECTIFICATION_SECTION, None, ["整改"], ["整改"])
            phrase = self._phrase(best.quote, dim, plan, items=guide_texts)
            text = f"针对以上问题，按照“{phrase}”的要求，您准备怎样抓好整改落实，整改时限和跟踪方式怎样安排"
        else:
            text = "针对以上问题，您准备怎样抓好整改落实，整改时限和跟踪方式怎样安排"
        follow_ups = [_question_mark(f"{_display(l.text)}，您打算怎样落实") for l in chosen_lines]
        if not follow_ups:
            follow_ups = [_question_mark("整改进展怎样向上级报告，怎样防止一谈了之")]
        return DraftQuestion(
            text=_question_mark(text),
            follow_ups=follow_ups[:2],
            purpose="提出整改要求，明确问题、举措、时限和跟踪督促方式",
            citations=citations,
        )

    # -- language-model drafting -------------------------------------------------------------------
    def _with_llm(self, plan: _Plan, evidence: dict[str, list[_Evidence]], cites: _Citations, draft: Draft,
                  extractive: list[DraftSection]) -> list[DraftSection]:
        """Let the model draft each section from the same evidence; keep only questions that cite
        existing evidence with a verified quote, fill the rest from the extractive draft."""
        from kb.llm import LLMError

        threshold = self.settings.near_duplicate_jaccard
        by_dim = {s.dimension: s for s in extractive}
        out: list[DraftSection] = []
        for dim in plan.dims:
            fallback = by_dim.get(dim.name, DraftSection(dimension=dim.name))
            want = len(fallback.questions)
            if want == 0:
                out.append(fallback)
                continue
            contexts = self._llm_contexts(evidence[dim.canonical])
            try:
                raw = self._llm_call(plan, dim, contexts, want)
            except LLMError as exc:
                draft.warnings.append(f"语言模型调用失败（{exc}），本提纲全部改用摘录方式生成。")
                return extractive
            items = _parse_llm_items(raw)
            if items is None:
                draft.warnings.append(f"“{dim.name}”方面：模型输出无法解析为问题列表，本部分改用摘录生成的问题。")
                out.append(fallback)
                continue
            accepted: list[DraftQuestion] = []
            others = [q.text for s in out for q in s.questions]
            for i, item in enumerate(items, 1):
                if len(accepted) >= want:
                    break
                question, problem = self._llm_question(item, contexts, cites)
                if question is not None and is_near_duplicate(question.text, others + [q.text for q in accepted], threshold):
                    question, problem = None, "与其他问题重复"
                if question is None:
                    draft.warnings.append(f"“{dim.name}”方面：模型起草的第{i}个问题{problem}，已改用摘录生成的问题。")
                    continue
                accepted.append(question)
            for q in fallback.questions:
                if len(accepted) >= want:
                    break
                if not is_near_duplicate(q.text, others + [a.text for a in accepted], threshold):
                    accepted.append(q)
            out.append(DraftSection(dimension=dim.name, questions=accepted))
        out.extend(s for s in extractive if s.dimension not in {d.name for d in plan.dims})
        return out

    def _llm_contexts(self, evidence: list[_Evidence], limit: int = 6) -> list[Hit]:
        contexts: list[Hit] = []
        seen: set[str] = set()
        for ev in evidence:
            if ev.hit.chunk.chunk_id in seen:
                continue
            seen.add(ev.hit.chunk.chunk_id)
            contexts.append(ev.hit)
            if len(contexts) >= limit:
                break
        return contexts

    def _llm_call(self, plan: _Plan, dim: _Dim, contexts: list[Hit], count: int) -> str:
        prompt = self.services.prompts.get("draft")
        if dim.known is not None:
            k = dim.known
            framework = "\n".join(
                [f"内涵：{k.meaning}", "观察要点：", *[f"- {p}" for p in k.observation_points],
                 "常见问题：", *[f"- {p}" for p in k.typical_problems],
                 "访谈切入点：", *[f"- {a}" for a in k.interview_angles]]
            )
        else:
            framework = f"（框架中没有“{dim.name}”的条目，请只依据资料出题）"
        blocks = []
        for n, hit in enumerate(contexts, 1):
            c = hit.chunk
            where = " > ".join(p for p in (c.section, c.article) if p)
            blocks.append(f"[{n}]《{c.title}》{where}\n{c.text}")
        values = {
            "kind_label": KIND_LABELS[plan.kind],
            "target": plan.target,
            "interviewee": plan.interviewee or f"{plan.target}（谈话对象本人）",
            "dimension": dim.name,
            "count": str(count),
            "request": plan.request or "无",
            "framework": framework,
            "contexts": "\n\n".join(blocks),
        }
        return self.services.llm.complete(prompt.render(**values), system=prompt.render_system(**values))

    def _llm_question(self, item: Any, contexts: list[Hit], cites: _Citations) -> tuple[DraftQuestion | None, str]:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
            return None, "格式不符"
        raw_cites = item.get("cite")
        if isinstance(raw_cites, int):
            raw_cites = [raw_cites]
        numbers: list[int] = []
        for value in raw_cites if isinstance(raw_cites, list) else []:
            try:
                numbers.append(int(value))
            except (TypeError, ValueError):
                return None, f"引用编号“{value}”无效"
        if not numbers:
            return None, "没有注明依据"
        missing = [n for n in numbers if not 1 <= n <= len(contexts)]
        if missing:
            return None, "引用了不存在的资料" + "".join(f"[{n}]" for n in missing)
        text = _question_mark(item["text"])
        purpose = str(item.get("purpose") or "").strip()
        follow_ups = [_question_mark(str(f)) for f in (item.get("follow_ups") or []) if str(f).strip()][:2]
        if not follow_ups:
            follow_ups = [_question_mark("能否举一个具体事例，说明当时的经过和结果")]
        citations = []
        for n in dict.fromkeys(numbers):
            hit = contexts[n - 1]
            quote = self.services.verifier.best_span(f"{text}{purpose}", hit.chunk.text)
            quote = _clean_quote(quote)
            citation = cites.cite(hit, quote)
            if not citation.verified:
                return None, f"引用资料[{n}]的原文无法核验"
            citations.append(citation)
        return DraftQuestion(text=text, follow_ups=follow_ups, purpose=purpose, citations=citations, origin="llm"), ""


# --------------------------------------------------------------------------------------------
# free-text inference (module level so the CLI and the UI can use them without a service)
# --------------------------------------------------------------------------------------------
def infer_kind(text: str) -> str:
    """'talk' when the text asks for a 谈话提纲, 'interview' for a 访谈提纲, '' when it says neither."""
    norm = _norm(text)
    if not norm:
        return ""
    if re.search(r"访谈", norm):
        return "interview"
    if re.search(r"谈话提纲|监督谈话|反馈谈话|提醒谈话|约谈|(?<!访)谈话(?!函询)", norm):
        return "talk"
    return ""


_POST = (
    r"(?:(?:市直部门|县直部门|省直部门|市县|区县|县市区|县(?:级)?市|[省市县区州旗])(?:委|政府)?)?"
    r"(?:党政正职|主要负责人|党委书记|书记|县长|市长|区长|州长|一把手)"
)
_POST_RE = re.compile(_POST)
_TARGET_CUE = re.compile(r"(?:与|向|对|同|找|考察对象[（(]?|被考察的?|考察|核实|了解)某?$")


def infer_target(text: str) -> str:
    """The post of the person inspected, from a request: “…与某市委书记开展…谈话” → 市委书记."""
    norm = _norm(text)
    candidates = []
    for m in _POST_RE.finditer(norm):
        post = m.group(0)
        before = norm[max(0, m.start() - 7) : m.start()]
        if before.endswith(("副", "纪委", "纪委副")) or post in ("书记",) and before.endswith("委"):
            continue
        if re.search(r"纪委|监委|组织部|宣传部|政法委", post):
            continue
        cue = bool(_TARGET_CUE.search(before))
        candidates.append((not cue, m.start(), post))
    if not candidates:
        return ""
    return min(candidates)[2]


def _third_person(target: str) -> str:
    target = (target or "").strip()
    return target or DEFAULT_TARGET


def _parse_llm_items(raw: str) -> list[Any] | None:
    """The JSON list a model returned (code fences and chatter around it tolerated); None if unusable."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, list) or not data:
        return None
    return data
