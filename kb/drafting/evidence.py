"""Evidence (依据) for drafted questions: sentences of the knowledge base, cut verbatim from stored
chunks, and the lines of the shipped criteria framework as stored in the knowledge base.

``EvidenceFinder.for_dimension`` gathers and scores candidate sentences for one dimension;
``support`` measures how much of a question a quote backs (character bigrams, like the answer
verifier), which decides what is attached to a question and what an edit leaves 待核实.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from kb.drafting.request import Dim, Plan
from kb.drafting.text import DIGITS, clean_quote, coverage, finding_score, grams, has_placeholder, jaccard, norm
from kb.models import FIVE_POLITICS, Filters, Hit
from kb.citations.verify import bigrams, plain, split_sentences

log = logging.getLogger(__name__)

FRAMEWORK_DOC_ID = "内置/五个政治评价框架"  # = ingest.pipeline.FRAMEWORK_DOC_ID (not imported: no ingest deps here)
MAX_QUOTE = 160  # a sentence longer than this is cut to its best run of clauses
WINDOW_QUOTE = 120
_CLAUSE = re.compile(r"[^,，;；:：。！？!?…\n]+[,，;；:：。！？!?…]*")


@dataclass
class FrameworkLine:
    """One line of the stored framework document (a citable, verbatim span of a chunk)."""

    dimension: str  # dimension name, or "谈话提纲" / "访谈对象" for the other parts
    part: str  # 内涵 | 观察要点 | 常见问题 | 访谈切入点 | 谈话重点 | 整改要求 | …
    text: str
    hit: Hit


@dataclass
class Evidence:
    hit: Hit
    quote: str  # verbatim span of hit.chunk.text
    score: float
    framework: bool
    part: str = ""  # framework part (常见问题 …) for framework lines
    material: bool = False  # from the user's own materials about this target

    @property
    def doc_id(self) -> str:
        return self.hit.chunk.doc_id


class Subject:
    """What counts as a question's subject: its content words (tokenizer), less generic question
    words and the target's post. Bigrams are taken inside each word, so function words between
    them ("和", "的") do not dilute the score."""

    def __init__(self, generic_words: frozenset[str], generic_grams: frozenset[str], tokenizer=None):
        self.generic_words = generic_words
        self.generic_grams = generic_grams
        self.tokenizer = tokenizer
        self._cache: dict[str, frozenset[str]] = {}

    def grams(self, text: str) -> frozenset[str]:
        cached = self._cache.get(text)  # shared by the web app's threads: one lookup, no check-then-get
        if cached is not None:
            return cached
        terms: list[str] | None = None
        if self.tokenizer is not None:
            try:
                terms = [t for t in self.tokenizer.content_terms(text) if len(t) >= 2]
            except Exception:
                terms = None
        out: set[str] = set()
        if terms is None:
            out = set(bigrams(text))
        else:
            for t in terms:
                if t in self.generic_words:
                    continue
                out |= bigrams(t)
        result = frozenset(g for g in out if g not in self.generic_grams)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[text] = result
        return result


def content_grams(text: str, generic) -> set[str]:
    """The bigrams of a question that carry its subject: generic question words left out."""
    if isinstance(generic, Subject):
        return set(generic.grams(text))
    return {g for g in bigrams(text) if g not in generic}


def support(question: str, quote: str, generic=frozenset()) -> float:
    """Share of the question's subject bigrams that the quote contains (0–1)."""
    q = content_grams(question, generic)
    if not q:
        return 0.0
    return len(q & grams(quote)) / len(q)


class EvidenceFinder:
    def __init__(self, services, framework):
        self.services = services
        self.framework = framework
        self._fw_cache: tuple[str, list[FrameworkLine]] | None = None
        self._filter_cache: tuple[str, Filters | None] | None = None

    # -- the store -------------------------------------------------------------------------------
    def _store_version(self) -> str:
        try:
            return str(self.services.store.version())
        except Exception:
            return ""

    def framework_lines(self) -> list[FrameworkLine]:
        """Lines of the framework document as stored in the knowledge base (empty when it is not there)."""
        version = self._store_version()
        if self._fw_cache is not None and self._fw_cache[0] == version:
            return self._fw_cache[1]
        lines: list[FrameworkLine] = []
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
                    lines.append(FrameworkLine(dimension, part, text, hit))
        self._fw_cache = (version, lines)
        return lines

    def kb_filter(self) -> Filters | None:
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

    def materials_filter(self, materials: list[str]) -> Filters | None:
        """The user's own materials (collections or document ids) as a filter; None when none given
        or none of them is in the knowledge base."""
        if not materials:
            return None
        try:
            records = self.services.store.list_documents()
        except Exception:
            return None
        wanted = {m.strip() for m in materials if m and m.strip()}
        titles = {norm(m).strip("《》") for m in wanted}
        # picked from a list or typed as the inspector sees them: a collection, a document id or a title
        doc_ids = sorted({r.doc_id for r in records
                          if r.doc_id in wanted or r.collection in wanted or (r.title and norm(r.title) in titles)}
                         - {FRAMEWORK_DOC_ID})
        return Filters(doc_ids=doc_ids) if doc_ids else None

    def material_choices(self) -> list[tuple[str, str]]:
        """What a user may pick as the target's materials: (label, value) for every collection and every
        document by title, from the documents this user may read (the store is the user's scoped view)."""
        try:
            records = [r for r in self.services.store.list_documents() if r.doc_id != FRAMEWORK_DOC_ID]
        except Exception:
            return []
        out: list[tuple[str, str]] = []
        for collection in sorted({r.collection for r in records}):
            n = sum(1 for r in records if r.collection == collection)
            out.append((f"集合：{collection}（{n}篇）", collection))
        for r in sorted(records, key=lambda r: (r.title or r.doc_id)):
            out.append((f"文档：《{r.title or r.doc_id}》", r.doc_id))
        return out

    def search(self, query: str, k: int = 8, filters: Filters | None = None) -> list[Hit]:
        try:
            hits = self.services.retriever.search(query, k=k, filters=None if filters is None or filters.is_empty() else filters)
        except Exception as exc:
            log.warning("draft search failed for %r: %s", query[:40], exc)
            return []
        return [h for h in hits if h.chunk.doc_id != FRAMEWORK_DOC_ID]

    # -- evidence for a dimension ------------------------------------------------------------------
    def for_dimension(self, dim: Dim, plan: Plan, extra_terms: list[str] | None = None) -> list[Evidence]:
        """Evidence sentences for one dimension, best first: knowledge-base sentences that are about
        the dimension, then the framework's own lines for it."""
        return self.kb_evidence(dim, plan, extra_terms) + self.framework_evidence(dim, plan)

    def queries(self, dim: Dim, plan: Plan, extra_terms: list[str] | None = None) -> list[str]:
        queries = [" ".join([dim.name, *dim.keywords[:8], plan.target])]
        if plan.request:
            queries.append(f"{plan.request} {dim.name}")
        if dim.problems:
            queries.append(" ".join([dim.name, *dim.problems]))
        if extra_terms:
            queries.append(" ".join([dim.name, *extra_terms[:12]]))
        return queries

    def kb_evidence(self, dim: Dim, plan: Plan, extra_terms: list[str] | None = None,
                    filters: Filters | None = None, material: bool = False) -> list[Evidence]:
        filt = filters if filters is not None else self.kb_filter()
        if filt is None:
            return []
        hits: dict[str, Hit] = {}
        for query in self.queries(dim, plan, extra_terms):
            for h in self.search(query, k=8, filters=filt):
                prev = hits.get(h.chunk.chunk_id)
                if prev is None or h.rank < prev.rank:
                    hits[h.chunk.chunk_id] = h
        out: list[Evidence] = []
        seen: set[str] = set()
        for hit in hits.values():
            for quote in self.candidate_quotes(hit.chunk.text, dim, plan):
                key = plain(quote)
                if key in seen:
                    continue
                score = self.score(quote, dim, plan, gate=not material)
                if score is None:
                    continue
                seen.add(key)
                out.append(Evidence(hit, quote, score + 0.5 / max(hit.rank, 1), framework=False, material=material))
        out.sort(key=lambda e: -e.score)
        return out

    def candidate_quotes(self, text: str, dim: Dim, plan: Plan) -> list[str]:
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
            if text[start:end].lstrip().startswith("#"):
                continue  # a Markdown heading is no evidence
            quote = clean_quote(text[start:end])
            if len(plain(quote)) < 8:
                continue
            if (len(plain(quote)) < 20 and i + 1 < len(spans) and spans[i + 1][1] - start <= MAX_QUOTE
                    and not text[spans[i + 1][0]:spans[i + 1][1]].lstrip().startswith("#")):
                quote = clean_quote(text[start : spans[i + 1][1]])
            if len(quote) > MAX_QUOTE:
                quote = self.best_window(quote, dim, plan)
                if len(plain(quote)) < 8:
                    continue
            if quote in text and not has_placeholder(quote):  # a blanked-out name ("xxx") is no 依据
                quotes.append(quote)
        return quotes

    def best_window(self, sentence: str, dim: Dim, plan: Plan) -> str:
        spans = [(m.start(), m.end()) for m in _CLAUSE.finditer(sentence)]
        best, best_score = sentence[:WINDOW_QUOTE], float("-inf")
        for i in range(len(spans)):
            for j in range(i, min(len(spans), i + 5)):
                start, end = spans[i][0], spans[j][1]
                if end - start > WINDOW_QUOTE:
                    break
                window = clean_quote(sentence[start:end].rstrip(",，;；:："))
                score = self.score(window, dim, plan, gate=False) or 0.0
                if score > best_score:
                    best, best_score = window, score
        return best

    def score(self, quote: str, dim: Dim, plan: Plan, gate: bool = True) -> float | None:
        """How well a sentence serves as evidence for ``dim``; None when it is not about it."""
        n = norm(quote)
        term_hit = any(norm(t) in n for t in dim.terms)
        # A sentence that lists several dimensions ("从政治忠诚、政治定力、政治担当……等方面") is
        # about the framework in general, not about this dimension.
        listed = self.listed_dimensions(quote)
        if listed >= 3:
            term_hit = False
        kw = sum(1 for k in dim.keywords if norm(k) in n)
        fw = max(
            [coverage(quote, item) for item in dim.problems] + [0.8 * coverage(quote, item) for item in dim.observations],
            default=0.0,
        )
        req = sum(1 for t in plan.request_terms if t in n)
        if gate:
            if dim.known is None:
                # a dimension the framework does not know: its name (or all its words) must appear
                words = [w for w in plan_terms(self.services, dim.name)] or [dim.name]
                if not (norm(dim.name) in n or all(norm(w) in n for w in words)):
                    return None
            elif not (term_hit or kw or fw >= 0.3):
                return None
        score = 2.0 * term_hit + 1.5 * min(kw, 2) + 8.0 * fw + 1.0 * min(req, 4)
        finding = finding_score(quote)
        if plan.kind == "talk":
            score += 1.5 * finding + (0.5 if DIGITS.search(quote) else 0.0)
        else:
            score += 0.7 * finding
        if listed >= 3:
            score -= 2.0
        if len(quote) < 16:
            score -= 1.0
        return score

    def listed_dimensions(self, text: str) -> int:
        framework = self.framework
        if framework is None:
            n = norm(text)
            return sum(1 for name in FIVE_POLITICS if name in n)
        return len(framework.find_dimensions(text, use_keywords=False))

    def framework_evidence(self, dim: Dim, plan: Plan) -> list[Evidence]:
        if dim.known is None:
            return []
        order = {"常见问题": 0, "访谈切入点": 1, "观察要点": 2, "内涵": 3}
        lines = [l for l in self.framework_lines() if l.dimension == dim.canonical and l.part in order]
        out = []
        for line in lines:
            score = -order[line.part] + 0.1 * sum(1 for t in plan.request_terms if t in norm(line.text))
            out.append(Evidence(line.hit, line.text, score, framework=True, part=line.part))
        out.sort(key=lambda e: -e.score)
        return out

    def lines(self, part: str) -> list[FrameworkLine]:
        return [l for l in self.framework_lines() if l.part == part]

    @staticmethod
    def window_for(sentence: str, text: str, generic) -> str:
        """The run of clauses of a long sentence that best supports ``text`` (a verbatim span)."""
        best, best_score = sentence[:WINDOW_QUOTE], -1.0
        for window in clause_windows(sentence):
            score = support(text, window, generic) - 0.001 * len(window)
            if score > best_score:
                best, best_score = window, score
        return best

    def phrase_evidence(self, phrase: str, plan: Plan, limit: int = 6) -> list[Evidence]:
        """Knowledge-base sentences that contain ``phrase`` (a focus the request names), findings first."""
        filt = self.kb_filter()
        if filt is None:
            return []
        out: list[Evidence] = []
        seen: set[str] = set()
        for hit in self.search(f"{phrase} {plan.request}", k=8, filters=filt):
            for sentence in split_sentences(hit.chunk.text):
                if sentence.lstrip().startswith("#"):
                    continue
                quote = clean_quote(sentence)
                if len(quote) > MAX_QUOTE:
                    continue
                if not speaks_of(quote, phrase) or quote not in hit.chunk.text or plain(quote) in seen or has_placeholder(quote):
                    continue
                seen.add(plain(quote))
                score = 6.0 + finding_score(quote) + 0.5 / max(hit.rank, 1)
                out.append(Evidence(hit, quote, score, framework=False))
        out.sort(key=lambda e: -e.score)
        return out[:limit]

    # -- evidence for a text (re-checks, closing items) ----------------------------------------------
    def for_text(self, text: str, generic: frozenset[str], k: int = 8, exclude: set[str] | None = None) -> list[Evidence]:
        """Sentences of the knowledge base (framework included) that best support ``text``."""
        exclude = exclude or set()
        filt = self.kb_filter()
        hits = self.search(text, k=k, filters=filt) if filt is not None else []
        out: list[Evidence] = []
        seen: set[str] = set()
        for hit in hits:
            for sentence in split_sentences(hit.chunk.text):
                if sentence.lstrip().startswith("#"):
                    continue
                quote = clean_quote(sentence)
                if len(quote) > MAX_QUOTE:
                    quote = self.window_for(quote, text, generic)
                if len(plain(quote)) < 8 or len(quote) > MAX_QUOTE or quote not in hit.chunk.text or has_placeholder(quote):
                    continue
                key = plain(quote)
                if key in seen or key in exclude:
                    continue
                seen.add(key)
                out.append(Evidence(hit, quote, support(text, quote, generic) + 0.05 / max(hit.rank, 1), framework=False))
        for line in self.framework_lines():
            key = plain(line.text)
            if key in seen or key in exclude:
                continue
            seen.add(key)
            out.append(Evidence(line.hit, line.text, support(text, line.text, generic) - 0.02, framework=True, part=line.part))
        out.sort(key=lambda e: -e.score)
        return out


def speaks_of(quote: str, phrase: str) -> bool:
    """Whether a sentence is about a phrase of the request: the phrase itself, or most of its
    bigrams (“保持发展思路连续性” ~ “发展思路保持连续性”)."""
    return norm(phrase) in norm(quote) or coverage(quote, phrase) >= 0.7


def clause_windows(sentence: str):
    spans = [(m.start(), m.end()) for m in _CLAUSE.finditer(sentence)]
    for i in range(len(spans)):
        for j in range(i, min(len(spans), i + 5)):
            start, end = spans[i][0], spans[j][1]
            if end - start > WINDOW_QUOTE:
                break
            yield clean_quote(sentence[start:end].rstrip(",，;；:："))


def plan_terms(services, text: str) -> list[str]:
    try:
        return [t for t in services.tokenizer.content_terms(text) if len(t) >= 2]
    except Exception:
        return []


def similar(a: Evidence, b: Evidence, threshold: float = 0.4) -> bool:
    return plain(a.quote) in plain(b.quote) or plain(b.quote) in plain(a.quote) or jaccard(a.quote, b.quote) >= threshold
