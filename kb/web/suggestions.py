"""Suggested questions the sources can answer: a welcome set drawn from the knowledge base (document
titles, section headings, numbered articles) and, after an answer, two or three next questions from
the documents it cited.

No suggestion is shown that our own answerer has not given the status ``answered`` — a suggestion the
sources cannot answer is worse than none. The checks run the reader's answer service (the caller's
scope: a restricted collection's headings are never suggested to someone who cannot read it), are
cached per (readable documents and their versions, question), and are bounded in time and number, so
the page stays fast; the app computes them after the page or the answer is shown.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable

WELCOME_COUNT = 4
NEXT_COUNT = 3
# a heading longer than this is a sentence, not a topic
MAX_HEADING_CHARS = 14
# headings that name the document's furniture, not a topic one asks about
_SKIP_HEADINGS = re.compile(r"^(依据文档|附件\d*|目录|前言|说明|备注|参考文献|附则|总则|落款|版记|附件说明)$")
_NUMBERING = re.compile(
    r"^\s*(#+\s*)?([（(]?[一二三四五六七八九十百零〇\d]+[）)、.．]\s*|第[一二三四五六七八九十百零〇\d]+[章节部分]\s*)"
)
_LIST_SUFFIXES = ("对象", "要求", "重点", "步骤", "方式", "方法", "内容", "措施", "问题", "程序", "职责", "任务", "原则", "标准", "条件", "环节")
_ARTICLE = re.compile(r"^第[一二三四五六七八九十百零〇\d]+条$")


def _strip_numbering(level: str) -> str:
    return _NUMBERING.sub("", level.strip()).strip(" #：:")


def _is_topic(text: str) -> bool:
    return bool(text) and len(text) <= MAX_HEADING_CHARS and not _SKIP_HEADINGS.match(text) \
        and not re.search(r"[，。；;,.!?！？]", text)


def heading_topic(section: str) -> tuple[str, str]:
    """(parent topic, topic) of a section path ("十六、访谈对象 > 班子成员" → ("访谈对象", "班子成员")),
    numbering removed; topic "" when it is no topic to ask about."""
    levels = [_strip_numbering(x) for x in (section or "").split(">") if x.strip()]
    if not levels or not _is_topic(levels[-1]):
        return "", ""
    parent = levels[-2] if len(levels) > 1 and _is_topic(levels[-2]) else ""
    return parent, levels[-1]


def heading_question(topic: str, parent: str = "") -> str:
    """A question a reader would type about a heading: a short, generic heading ("内涵", "常见问题")
    is asked about together with the heading above it."""
    if parent and len(topic) <= 4:
        subject = f"{parent}的{topic}"
        return f"{subject}有哪些？" if topic.endswith(_LIST_SUFFIXES) else f"{subject}是什么？"
    if topic.endswith(_LIST_SUFFIXES):
        return f"{topic}有哪些？"
    return f"什么是{topic}？"


def document_candidates(title: str, chunks: list[Any], articles: int = 1) -> list[str]:
    """Questions about one document, best first: its articles (up to `articles`), its headings, then
    the document itself."""
    out: list[str] = []
    for chunk in chunks:
        article = str(getattr(chunk, "article", "") or "").strip()
        if article and _ARTICLE.match(article) and title and articles > 0:
            out.append(f"《{title}》{article}规定了什么？")
            articles -= 1
    for chunk in chunks:
        parent, topic = heading_topic(str(getattr(chunk, "section", "") or ""))
        if topic and topic not in (title or ""):
            out.append(heading_question(topic, parent))
    if title:
        out.append(f"{title}的主要内容是什么？")
    return list(dict.fromkeys(out))


def _interleave(groups: Iterable[list[str]]) -> list[str]:
    """One from each group in turn (the suggestions span the documents, not one document's headings)."""
    groups = [list(g) for g in groups if g]
    out: list[str] = []
    while any(groups):
        for g in groups:
            if g:
                out.append(g.pop(0))
    return list(dict.fromkeys(out))


def _norm(text: str) -> str:
    return re.sub(r"[\s？?。！!，,、《》“”\"'：:]", "", str(text or ""))


class SuggestionService:
    """Per process; thread-safe. `clock` for tests."""

    def __init__(self, budget_s: float = 3.0, max_checks: int = 16, cache_size: int = 4096,
                 clock: Callable[[], float] = time.monotonic):
        self.budget_s = float(budget_s)
        self.max_checks = int(max_checks)
        self.cache_size = int(cache_size)
        self.clock = clock
        self._lock = threading.Lock()
        self._checked: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._welcome: dict[str, list[str]] = {}
        self.checks_run = 0  # answerer calls made (the cache's misses), for tests

    # -- the knowledge base as one reader sees it ------------------------------------------------
    @staticmethod
    def scope_key(reader) -> str:
        """Which documents (and versions) the reader sees: the welcome set and every check are valid for it."""
        versions = sorted(reader.store.doc_versions().items())
        return hashlib.sha256(repr(versions).encode("utf-8")).hexdigest()[:24]

    def answered(self, reader, key: str, question: str) -> bool:
        """Whether the reader's answerer gives `question` the status answered (cached)."""
        with self._lock:
            if (key, question) in self._checked:
                self._checked.move_to_end((key, question))
                return self._checked[(key, question)]
        try:
            ok = reader.answers.ask(question).status == "answered"
        except Exception:  # noqa: BLE001 - a failed check is no suggestion, never an error on the page
            ok = False
        with self._lock:
            self.checks_run += 1
            self._checked[(key, question)] = ok
            while len(self._checked) > self.cache_size:
                self._checked.popitem(last=False)
        return ok

    def _pick(self, reader, key: str, candidates: list[str], n: int, skip: Iterable[str] = ()) -> list[str]:
        skipped = {_norm(s) for s in skip}
        chosen: list[str] = []
        deadline = self.clock() + self.budget_s
        checks = 0
        for question in candidates:
            if len(chosen) >= n:
                break
            if _norm(question) in skipped:
                continue
            with self._lock:
                known = self._checked.get((key, question))
            if known is None:
                if checks >= self.max_checks or self.clock() > deadline:
                    continue  # out of time: only what is already known
                checks += 1
            if self.answered(reader, key, question):
                chosen.append(question)
                skipped.add(_norm(question))
        return chosen

    # -- what the page shows ---------------------------------------------------------------------
    def welcome(self, reader, n: int = WELCOME_COUNT) -> list[str]:
        """3–4 questions across the reader's documents, each answered by the sources; computed once per
        knowledge-base state the reader sees."""
        key = self.scope_key(reader)
        with self._lock:
            if key in self._welcome:
                return list(self._welcome[key])
        by_doc: dict[str, list[Any]] = {}
        titles: dict[str, str] = {}
        for chunk in reader.store.visible_chunks():
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
            titles.setdefault(chunk.doc_id, chunk.title)
        # the documents ingested by people first, then the built-in framework; each in its order
        groups = [document_candidates(titles[d], chunks) for d, chunks in sorted(by_doc.items())]
        chosen = self._pick(reader, key, _interleave(groups), n)
        complete = len(chosen) >= min(n, 3)
        with self._lock:
            if complete or self.budget_s <= 0:
                self._welcome[key] = list(chosen)
                while len(self._welcome) > 64:
                    self._welcome.pop(next(iter(self._welcome)))
        return chosen

    def next_questions(self, reader, answer: dict[str, Any], asked: Iterable[str] = (), n: int = NEXT_COUNT) -> list[str]:
        """Two or three questions after `answer`: the cited documents' other headings and articles,
        nearest the cited passage first, never one already asked."""
        key = self.scope_key(reader)
        cited_chunks = [c.get("chunk_id") for c in answer.get("citations") or [] if c.get("chunk_id")]
        contexts = [h.get("chunk_id") for h in answer.get("contexts") or [] if h.get("chunk_id")]
        doc_ids = list(dict.fromkeys(
            [c.get("doc_id") for c in answer.get("citations") or [] if c.get("doc_id")]
            + [h.get("doc_id") for h in answer.get("contexts") or [] if h.get("doc_id")]
        ))[:3]
        if not doc_ids:
            return []
        candidates: list[str] = []
        used = set(cited_chunks) or set(contexts[:1])
        for doc_id in doc_ids:  # the cited documents first, then those shown as related
            chunks = reader.store.document_chunks(doc_id)
            if not chunks:
                continue
            at = next((i for i, c in enumerate(chunks) if c.chunk_id in used), 0)
            # the passages after the cited one, then those before it; never the cited ones again
            ordered = [c for c in chunks[at + 1:] + list(reversed(chunks[:at])) if c.chunk_id not in used]
            title = chunks[0].title
            candidates += [q for q in document_candidates(title, ordered, articles=2) if not q.startswith(title or "\0")]
        skip = list(asked) + [answer.get("question") or "", answer.get("resolved_question") or ""]
        return self._pick(reader, key, candidates, n, skip=skip)
