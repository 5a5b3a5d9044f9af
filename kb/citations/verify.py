"""CitationVerifier: a citation is only as good as the check behind it.

- a citation must resolve to a chunk that was actually retrieved for this answer;
- its quote must be a verbatim substring of the document's stored text (checked against the store,
  not assumed from the chunk); a verified citation carries the quote's character offsets in that text
  and its page span (kb/citations/offsets.py);
- each answer sentence gets a support score: character-bigram precision of the sentence against
  the quotes it cites (punctuation and spaces ignored). Sentences below the threshold are flagged.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict

from kb.citations.offsets import locate_quote
from kb.models import Citation, Hit

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*[”’」』\"')）]*")
CITATION_MARK = re.compile(r"\[(\d{1,3})\]")


def chunk_version(chunk_id: str) -> str | None:
    """Chunk ids are "doc_id#version#ordinal" (see ingest/pipeline.py)."""
    parts = chunk_id.rsplit("#", 2)
    return parts[1] if len(parts) == 3 else None


def plain(text: str) -> str:
    """NFKC, no punctuation, no spaces: the form used for all fuzzy comparisons."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()


def bigrams(text: str) -> set[str]:
    p = plain(text)
    if len(p) == 1:
        return {p}
    return {p[i : i + 2] for i in range(len(p) - 1)}


def bigram_precision(sentence: str, sources: list[str]) -> float:
    grams = bigrams(CITATION_MARK.sub("", sentence))
    if not grams:
        return 1.0
    pool: set[str] = set()
    for s in sources:
        pool |= bigrams(s)
    return len(grams & pool) / len(grams)


def split_sentences(text: str) -> list[str]:
    return [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]


_LEADING_MARKS = re.compile(r"^(?:\s*\[\d{1,3}\])+")


def split_claims(text: str) -> list[str]:
    """Sentences of a generated answer, each with the citation marks that belong to it.

    Models write the mark after the full stop ("……。[1]", as the answer prompt asks) as often as
    before it ("……[1]。"). `split_sentences` would hand a trailing mark to the next sentence, so
    every claim would be checked against the wrong source; here marks that open a sentence are
    moved back to the sentence before them.
    """
    claims: list[str] = []
    for sentence in split_sentences(text):
        m = _LEADING_MARKS.match(sentence)
        if m and claims:
            claims[-1] += m.group(0).strip()
            sentence = sentence[m.end() :].strip()
        if sentence:
            claims.append(sentence)
    return claims


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, surrounding spaces excluded."""
    spans = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


class CitationVerifier:
    def __init__(self, store, tokenizer=None, cache_size: int = 256):
        self.store = store
        self.tokenizer = tokenizer
        self._texts: OrderedDict[str, str | None] = OrderedDict()
        self._cache_size = cache_size
        self._validity: dict[str, tuple[str, str]] = {}  # doc_id → (state, note); cleared by invalidate()
        self._lock = threading.Lock()

    def document_text(self, doc_id: str, version: str | None = None) -> str | None:
        key = f"{doc_id}#{version}" if version else doc_id
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        text = self.store.get_document_text(doc_id, version) if version else self.store.get_document_text(doc_id)
        if text is None:
            return None  # not cached: the document may appear a moment later
        with self._lock:
            self._texts[key] = text
            while len(self._texts) > self._cache_size:
                self._texts.popitem(last=False)
        return text

    def invalidate(self) -> None:
        with self._lock:
            self._texts.clear()
            self._validity = {}

    def validity(self, doc_id: str) -> tuple[str, str]:
        """(已修订 | 已废止 | "", the note to show next to a citation) of a stored document (#28)."""
        with self._lock:
            known = self._validity.get(doc_id)
        if known is not None:
            return known
        try:
            record = self.store.get_document(doc_id)
        except Exception:  # a store without a registry (a fake): nothing to say
            record = None
        state = getattr(record, "validity", "") or ""
        known = ("", "") if state in ("", "现行有效") else (state, getattr(record, "validity_note", "") or "")
        with self._lock:
            self._validity[doc_id] = known
        return known

    def quote_is_verbatim(self, doc_id: str, quote: str, version: str | None = None) -> bool:
        if not quote or not quote.strip():
            return False
        text = self.document_text(doc_id, version)
        return text is not None and quote in text

    def cite(self, n: int, hit: Hit, quote: str, at: int | None = None) -> Citation:
        """A citation of `quote` from the hit's chunk, checked against the stored text of the chunk's
        document version: verified, with the quote's offsets in that text and its page span, only
        when it is a verbatim span of it (kb/citations/offsets.py). `at`: the quote's offset in the
        chunk's text, when the caller knows it."""
        c = hit.chunk
        text = self.document_text(c.doc_id, chunk_version(c.chunk_id)) if quote and quote.strip() else None
        span = locate_quote(quote, c, text, at=at)
        validity, note = self.validity(c.doc_id)
        return Citation(
            n=n,
            chunk_id=c.chunk_id,
            doc_id=c.doc_id,
            title=c.title,
            section=c.section,
            article=c.article,
            # the page the quote starts on (chunks may cross pages)
            page=span.page if span is not None else c.page_of_quote(quote),
            quote=quote,
            doc_number=getattr(c, "doc_number", ""),
            verified=span is not None,
            pages=span.pages if span is not None else None,
            start=span.start if span is not None else None,
            end=span.end if span is not None else None,
            validity=validity,
            validity_note=note,
        )

    @staticmethod
    def best_span(sentence: str, chunk_text: str) -> str:
        """The chunk sentence(s) that best support `sentence` — the quote for a generated claim.
        Candidates are spans of the chunk (one sentence, or two adjacent ones: a claim often merges
        two), so whatever is chosen is verbatim by construction."""
        target = bigrams(CITATION_MARK.sub("", sentence))
        spans = sentence_spans(chunk_text)
        candidates = spans + [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
        best, best_score = "", -1.0
        for s, e in candidates:
            cand = chunk_text[s:e]
            grams = bigrams(cand)
            if not grams:
                continue
            # overlap with the claim; among equals, the shorter span
            score = len(target & grams) / (len(target) or 1) - 0.001 * len(cand) / 100
            if score > best_score:
                best, best_score = cand, score
        return best

    def support(self, sentence: str, quotes: list[str]) -> float:
        return bigram_precision(sentence, quotes)
