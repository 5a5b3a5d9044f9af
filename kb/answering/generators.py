"""Question generators for calibrating answerability on any corpus (the shipped model and `kb calibrate`).

  cloze_questions   questions made from a document's own sentences: a number, a year or a listed item
                    becomes "多少…/哪一年/哪些" (the removed words are the gold answer);
  perturbations     an answerable question made unanswerable while keeping its topic: the place, year,
                    number or person it names swapped for one its source does not mention, or a facet the
                    source does not state asked of its topic;
  paraphrases       an answerable question reworded with the colloquial forms of its official words
                    (kb/data/synonyms.txt read backwards) — still answerable, by the same gold.
Each checks what it changes against the source text, so a swapped question really asks for something
the source does not say.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path

import yaml

from kb.answering.lexicon import AnswerLexicon
from kb.answering.numbers import quantities
from kb.answering.question_analysis import place_names
from kb.citations.verify import sentence_spans

GENERATORS_FILE = Path(__file__).resolve().parent.parent / "data" / "calibration_generators.yaml"
_LEADING = re.compile(r"^(?:其中|并且|并|而且|而|同时|此外|另外|但是|但|所以|因此|今年以来|近年来|目前)[,，]?")


@lru_cache(maxsize=1)
def generator_data(path: Path = GENERATORS_FILE) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "places" not in data or "facet_asks" not in data:
        raise ValueError(f"{path}: needs 'places' and 'facet_asks'")
    return data


def _clause_around(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause holding [start, end), with the clause before it when it is short."""
    cuts = [m.end() for m in re.finditer(r"[，,；;：:]", sentence)]
    s = max((c for c in cuts if c <= start), default=0)
    e = min((c - 1 for c in cuts if c > end), default=len(sentence))
    if e - s < 14:
        s = max((c for c in cuts if c < s), default=0)
    return s, e


def cloze_questions(text: str, lex: AnswerLexicon, rng: random.Random, limit: int = 12) -> list[tuple[str, str]]:
    """(question, gold) pairs from the sentences of one document."""
    out: list[tuple[str, str]] = []
    spans = sentence_spans(text)
    rng.shuffle(spans)
    for s, e in spans:
        sentence = text[s:e].rstrip("。！？；!?;")
        if not 12 <= len(sentence) <= 160 or "\n" in sentence:
            continue
        made = None
        # a count written in digits or a numeral other than 一 ("一项系统工程", "一批又一批" say no count)
        qs = [q for q in quantities(lex, sentence) if q.unit and q.family and not q.text.startswith(("一", "半"))]
        year = lex.year.search(sentence)
        listed = re.search(r"(?:包括|包含|分为)([^，。；、]{2,12})、([^，。；、]{2,12})", sentence)
        if qs:
            q = rng.choice(qs)
            cs, ce = _clause_around(sentence, q.start, q.end)
            clause = sentence[cs:ce]
            asked = "多少" + (q.unit if q.unit not in ("个",) else "个")
            made = (clause[: q.start - cs] + asked + clause[q.end - cs :], re.sub(r"\s", "", q.text))
        elif year:
            cs, ce = _clause_around(sentence, year.start(), year.end() + 1)
            clause = sentence[cs:ce]
            made = (clause[: year.start() - cs] + "哪一" + clause[year.end() - cs :], year.group(0))
        elif listed:
            cs, ce = _clause_around(sentence, listed.start(), listed.end())
            made = (sentence[cs : listed.start(1)] + "哪些", listed.group(1))
        if made is None:
            continue
        question, gold = made
        question = _LEADING.sub("", question.strip(" ，,、")).strip()
        if len(question) < 8 or not re.search(r"[\u4e00-\u9fff]{4}", question):
            continue
        out.append((question + "？", gold))
        if len(out) >= limit:
            break
    return out


def perturbations(question: str, source: str, lex: AnswerLexicon, tokenizer, rng: random.Random, persons: list[str] = ()) -> list[tuple[str, str]]:
    """(kind, question) variants of an answerable question that `source` (the text it is answered
    from: its document) does not answer."""
    data = generator_data()
    out: list[tuple[str, str]] = []
    # a place swapped for one the source never mentions
    for name in place_names(question, lex, tokenizer):
        if name not in source:
            continue
        pool = [p for p in (lex.provinces if name in lex.provinces else data["places"]) if p not in source and p != name]
        if pool:
            out.append(("place", question.replace(name, rng.choice(pool), 1)))
            break
    # a year moved to one the source never mentions
    for m in lex.year.finditer(question):
        year = int(m.group(0))
        options = [y for y in range(year - 6, year + 7) if y != year and str(y) not in source]
        if options:
            out.append(("year", question[: m.start()] + str(rng.choice(options)) + question[m.end() :]))
            break
    # a number changed (not a year)
    for q in quantities(lex, question):
        digits = re.match(r"\d+", q.text)
        if not digits or lex.year.fullmatch(digits.group(0)):
            continue
        value = int(digits.group(0))
        new = str(value * 2 + 3)
        if new not in source:
            out.append(("number", question[: q.start] + new + question[q.start + len(digits.group(0)) :]))
            break
    # a person swapped for someone the source never names
    for word, flag in tokenizer.segmenter.tag(question):
        if flag.startswith("nr") and len(word) >= 2 and word in source:
            pool = [p for p in persons if p not in source and p != word]
            if pool:
                out.append(("person", question.replace(word, rng.choice(pool), 1)))
            break
    # a facet the source does not state, asked of the question's topic
    topic = _topic(question, tokenizer)
    if topic:
        asks = [f for f in data["facet_asks"] if not any(w in source for w in f["words"])]
        if asks:
            out.append(("facet", rng.choice(asks)["ask"].format(topic=topic)))
    return out


def _topic(question: str, tokenizer) -> str:
    """The question's leading noun phrase: its first content words up to the first question word."""
    head = re.split(r"[，,？?。]|是什么|有哪些|哪些|什么|怎么|如何|为什么|多少|几", question)[0]
    words = [w for w in tokenizer.content_terms(head) if len(w) >= 2]
    if not words:
        return ""
    first = head.find(words[0])
    last_word = words[min(len(words), 3) - 1]
    end = head.find(last_word, first) + len(last_word)
    return head[first:end] if 2 <= end - first <= 16 else ""


def paraphrases(question: str, thesaurus, rng: random.Random, tokenizer=None, limit: int = 1) -> list[str]:
    """The question with up to two official words replaced by a colloquial form of theirs."""
    if thesaurus is None:
        return []
    reverse: dict[str, list[str]] = {}
    # sorted: a set's order changes with the interpreter's hash seed, and the choices below must not
    for form in sorted(thesaurus.forms):
        for term in sorted(thesaurus.equivalents(form)):
            # terms of three characters or more are specific (考察对象, 一岗双责); a two-character
            # official word (建设, 考察) stands in too many phrases for its colloquial form to fit
            if len(term) >= 3:
                reverse.setdefault(term, []).append(form)
    # only whole words of the question ("建设" inside "政治建设" is no word of its own), and only
    # colloquial forms of two characters or more
    words = set(tokenizer.segmenter.cut(question)) if tokenizer is not None else set()
    hits = [t for t in sorted(reverse, key=len, reverse=True) if t in question and (not words or t in words)]
    out = []
    for _ in range(limit):
        q, used = question, 0
        for term in hits:
            forms = [f for f in reverse[term] if len(f) >= 2]
            if term in q and used < 2 and forms:
                q = q.replace(term, rng.choice(forms), 1)
                used += 1
        if q != question:
            out.append(q)
    return out


def synonym_swaps(question: str, tokenizer, wordvectors, known, rng: random.Random, swaps: int = 3, protect=()) -> str | None:
    """The question with up to `swaps` of its words replaced by a near word (cosine ≥ 0.65 in the word
    vectors) that the knowledge base never uses — the way people ask in their own words ("交谈" for
    谈话, "调研" for 考察). Names of places and people (`protect`) stay. None when nothing can be swapped."""
    if wordvectors is None:
        return None
    words = [w for w in tokenizer.content_terms(question) if len(w) >= 2 and w in question and wordvectors.exact(w)]
    words = [w for w in words if not any(w in p or p in w for p in protect)]
    rng.shuffle(words)
    out, done = question, 0
    for word in words:
        if done >= swaps:
            break
        options = [n for n, sim in wordvectors.most_similar(word, 12) if sim >= 0.65 and n != word and len(n) >= 2
                   and not known(n) and re.fullmatch(r"[\u4e00-\u9fff]+", n)]
        if options:
            out = out.replace(word, rng.choice(options[:5]), 1)
            done += 1
    return out if done else None


# -- evidence-side hard negatives ------------------------------------------------------------------------
_YEAR_IN_TEXT = re.compile(r"(?<!\d)((?:19|20)\d{2})(?=\s*年)")


def evidence_negatives(passage: str, golds: list[str], question_years: list[str] = (), slot: str = "") -> list[tuple[str, str]]:
    """(kind, passage) variants of a passage that answers a question, each made to no longer answer it
    while keeping its topic and most of its words — the failure kinds of a typed answerer:
      filler_deleted   every occurrence of the gold answer removed (the relation is still stated);
      forecast         the clause stating the answer turned into a forecast (预计…) — for a date, year or
                       number, whose outcome a forecast does not give;
      year_moved       the year the question names moved to another one wherever the passage states it
                       (the answer is now said of another year).
    A kind is left out when it cannot be made (no gold in the passage, no year asked or stated)."""
    golds = sorted({g.strip() for g in golds if g and g.strip() and g.strip() in passage}, key=len, reverse=True)
    if not golds:
        return []
    out: list[tuple[str, str]] = []
    deleted = passage
    for g in golds:
        deleted = deleted.replace(g, "")
    if not any(g in deleted for g in golds):
        out.append(("filler_deleted", deleted))
    if slot in ("date", "year", "quantity"):
        at = passage.find(golds[0])
        lo = max(passage.rfind(c, 0, at) for c in "，,。；;！？!?\n") + 1
        out.append(("forecast", passage[:lo] + "预计" + passage[lo:]))
    for year in question_years:
        if year in passage and not any(year in g for g in golds):
            other = str(int(year) + 3 if str(int(year) + 3) not in passage else int(year) - 3)
            if other not in passage:
                out.append(("year_moved", re.sub(rf"(?<!\d){year}(?!\d)", other, passage)))
                break
    return out
