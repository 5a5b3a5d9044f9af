"""Evaluation metrics: pure functions over plain values (no services, no I/O).

Every metric reported by ``kb eval`` is defined once in ``METRIC_DEFINITIONS``; the Markdown report
and ``eval/README.md`` both render that text, so the documented definition is the computed one.

Conventions: a function returns ``None`` when the metric does not apply to its input (an
unanswerable question has no gold source, an empty draft has no questions); aggregations skip
``None`` instead of counting it as 0 or 1.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

# ---------------------------------------------------------------------------------------------
# Definitions (single source of truth for the report and the README)
# ---------------------------------------------------------------------------------------------

METRIC_DEFINITIONS: dict[str, str] = {
    "source_hit@1": (
        "Fraction of items with a gold source whose top-ranked retrieved chunk is relevant. "
        "Relevant: domain QA — a chunk of a gold document whose normalised text contains the first "
        "20 characters of a normalised gold quote (the quote's start, because chunking may split a "
        "long quote); law clause — a chunk of the gold document containing the whole normalised "
        "quote; CMRC — a chunk containing a normalised gold answer (any passage)."
    ),
    "source_hit@5": "Like source_hit@1, with a relevant chunk anywhere in the top 5.",
    "mrr@10": (
        "Mean over items with a gold source of 1/rank of the first relevant chunk in the top 10 "
        "(0 when none)."
    ),
    "ndcg@10": (
        "Binary nDCG over the top 10: a chunk gains 1 when it is the first to match one of the item's "
        "gold sources (each gold source is credited once), discounted by 1/log2(rank+1); divided by "
        "the ideal DCG of min(number of gold sources, 10) relevant chunks at the top."
    ),
    "key_point_recall": (
        "Per answerable item with key points: the fraction of key points whose normalised form "
        "appears in the normalised answer (a refusal scores 0); averaged over those items."
    ),
    "answer_contains_gold": (
        "CMRC: fraction of questions whose answer span contains a normalised gold answer "
        "(a refusal scores 0)."
    ),
    "em": (
        "CMRC official exact match over the answer span: 1 when the span equals a gold answer after "
        "lower-casing and removing the official punctuation list; max over gold answers; averaged. "
        "The extractive answer is a whole sentence, so EM is expected to be low."
    ),
    "f1": (
        "CMRC official F1 over the answer span: mixed segmentation (each CJK character is a token, "
        "other runs are split into words and punctuation), official punctuation removed, "
        "precision/recall from the longest common substring of tokens; max over gold answers; "
        "averaged. The meaningful CMRC answer score for a sentence-level extractive answer."
    ),
    "refusal_rate": "Fraction of unanswerable items whose answer is an explicit refusal (status refused).",
    "not_answered_rate": (
        "Fraction of unanswerable items whose answer is not given as an answer: status refused, or "
        "related (the fixed line saying the knowledge base has no direct answer, then related passages)."
    ),
    "false_refusal_rate": "Fraction of answerable items that were refused (status refused; lower is better).",
    "answered_rate": "Fraction of answerable items whose status is answered (not related, not refused).",
    "answered_precision": (
        "Of the items given as answered (status answered), the fraction that are answerable and whose answer "
        "holds what they ask: every normalised key point (domain QA, law clauses), a normalised gold answer "
        "(CMRC). An unanswerable item given as answered counts against it. What the green 已回答 badge is worth."
    ),
    "standalone_unchanged_rate": (
        "Domain QA: fraction of questions (each asked after the previous item's question as its history) "
        "that follow-up resolution leaves exactly as written — standalone questions must not be rewritten."
    ),
    "resolved_mention_rate": (
        "Conversation pairs: fraction of follow-ups whose resolved (standalone) question contains every "
        "normalised word of resolved_should_mention."
    ),
    "pair_success_rate": (
        "Conversation pairs: fraction of follow-ups resolved as above whose answer (not refused) also "
        "contains every normalised key point."
    ),
    "citation_verbatim_rate": (
        "Over all citations of all answers: the fraction whose quote is a non-empty exact substring "
        "of the stored document text (store.get_document_text(doc_id)), recomputed here rather than "
        "trusting the citation's own 'verified' flag."
    ),
    "unsupported_sentence_rate": (
        "Over answered (not refused) items: the number of sentences the answerer reported as "
        "unsupported divided by the number of answer sentences (sentences split at 。！？!?；; and "
        "newlines, citation markers removed; lower is better)."
    ),
    "dimension_coverage": (
        "Per draft: the fraction of requested dimensions that are present as a section (normalised "
        "containment either way) or named in a warning; averaged over drafts."
    ),
    "topic_coverage": (
        "Per draft: the fraction of expected topics whose normalised form appears in a question's "
        "text, one of its follow-ups, its purpose, or the quote of one of its citations; averaged "
        "over drafts."
    ),
    "cited_question_rate": (
        "Over all draft questions: the fraction with at least one citation whose quote is a "
        "non-empty exact substring of its document's stored text."
    ),
    "near_duplicate_rate": (
        "Over all drafts: the number of question pairs within one draft whose normalised "
        "character-bigram Jaccard similarity is ≥ 0.6, divided by the number of questions "
        "(lower is better)."
    ),
    "format_ok_rate": (
        "Over all draft questions: the fraction that end with ？ or ?, are 8–200 characters long, "
        "and — for talk outlines — belong to a draft with 3 or 4 questions."
    ),
    "distinct_follow_up_rate": (
        "Per draft: distinct (normalised) follow-up questions / all follow-up questions; averaged "
        "over drafts with follow-ups. Low when the same 追问 is repeated under many questions."
    ),
    "distinct_follow_up_min": (
        "The lowest distinct_follow_up_rate of any single draft (the gate: every draft, not the mean)."
    ),
    "role_mention_rate": (
        "Per draft: the fraction of the request's roles — the target, and for talk outlines who talks "
        "when the request names it (kb.drafting.infer_speaker) — that appear in the draft's opening, "
        "questions, follow-ups or closing; averaged."
    ),
    "judge_faithfulness": (
        "Optional (--judge with an LLM configured): over answered items, the judge's supported "
        "claims / claims; averaged. Never mixed into the non-LLM metrics."
    ),
    "judge_correctness": (
        "Optional (--judge with an LLM configured): over answered answerable items, the judge's "
        "correctness score in [0, 1]; averaged."
    ),
}

# Metrics where a smaller value is better; the thresholds file gates these with `max`.
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "near_duplicate_rate", "unsupported_sentence_rate"})

TEXT_NORMALISATION = (
    "Text normalisation (used for every containment test): Unicode NFKC (full-width letters, digits "
    "and punctuation become half-width), the remaining Chinese punctuation mapped to one form "
    "(。→. “”→\" ‘’→' 【】→[] 〔〕→()), and all whitespace removed."
)


def definitions_markdown(names: Iterable[str] | None = None) -> str:
    """The metric definitions as a Markdown list (the README and the report both use this)."""
    chosen = list(METRIC_DEFINITIONS) if names is None else [n for n in METRIC_DEFINITIONS if n in set(names)]
    lines = [f"- **{name}**: {METRIC_DEFINITIONS[name]}" for name in chosen]
    lines.append("")
    lines.append(TEXT_NORMALISATION)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

# Characters that NFKC leaves alone but that documents write interchangeably with ASCII forms.
_PUNCT_MAP = str.maketrans(
    {
        "。": ".",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "‘": "'",
        "’": "'",
        "【": "[",
        "】": "]",
        "〔": "(",
        "〕": ")",
        "﹐": ",",
        "﹑": "、",
    }
)
_WHITESPACE = re.compile(r"[\s\u200b\u200c\u200d\ufeff]+")


def normalize_text(text: str | None) -> str:
    """NFKC, full/half-width punctuation unified, all whitespace removed."""
    if not text:
        return ""
    out = unicodedata.normalize("NFKC", text).translate(_PUNCT_MAP)
    return _WHITESPACE.sub("", out)


# ---------------------------------------------------------------------------------------------
# Retrieval
# ---------------------------------------------------------------------------------------------

QUOTE_PREFIX_CHARS = 20


@dataclass(frozen=True)
class GoldTarget:
    """One thing an item wants retrieved: a chunk of `doc` (any doc when None) containing a needle.

    Needles are stored already normalised.
    """

    doc: str | None
    needles: tuple[str, ...]

    def matches(self, doc_id: str, text: str) -> bool:
        if self.doc is not None and doc_id != self.doc:
            return False
        normalised = normalize_text(text)
        return any(needle and needle in normalised for needle in self.needles)


def qa_targets(sources: Sequence[Mapping[str, Any]]) -> list[GoldTarget]:
    """Domain QA: one target per source — its document, the first 20 normalised quote characters."""
    return [
        GoldTarget(doc=s.get("doc"), needles=(normalize_text(s.get("quote", ""))[:QUOTE_PREFIX_CHARS],))
        for s in sources
        if s.get("quote")
    ]


def law_targets(sources: Sequence[Mapping[str, Any]]) -> list[GoldTarget]:
    """Law clause lookup: the gold document and its whole (40-character) quote."""
    return [GoldTarget(doc=s.get("doc"), needles=(normalize_text(s.get("quote", "")),)) for s in sources[:1] if s.get("quote")]


def cmrc_targets(answers: Sequence[str]) -> list[GoldTarget]:
    """CMRC: a single target — any chunk containing one of the gold answers."""
    needles = tuple(n for n in (normalize_text(a) for a in answers) if n)
    return [GoldTarget(doc=None, needles=needles)] if needles else []


Ranked = Sequence[tuple[str, str]]  # (doc_id, chunk text) in rank order


def relevance_gains(ranked: Ranked, targets: Sequence[GoldTarget], k: int) -> list[int]:
    """Gain per rank (top k): 1 when the chunk is the first to match some not-yet-credited target."""
    credited: set[int] = set()
    gains = []
    for doc_id, text in list(ranked)[:k]:
        new = {i for i, t in enumerate(targets) if i not in credited and t.matches(doc_id, text)}
        gains.append(1 if new else 0)
        credited |= new
    return gains


def first_relevant_rank(ranked: Ranked, targets: Sequence[GoldTarget], k: int) -> int | None:
    """1-based rank of the first chunk matching any target within the top k, or None."""
    for rank, (doc_id, text) in enumerate(list(ranked)[:k], 1):
        if any(t.matches(doc_id, text) for t in targets):
            return rank
    return None


def source_hit_at_k(ranked: Ranked, targets: Sequence[GoldTarget], k: int) -> float | None:
    """1.0 when a relevant chunk is in the top k, 0.0 otherwise; None without targets."""
    if not targets:
        return None
    return 1.0 if first_relevant_rank(ranked, targets, k) is not None else 0.0


def mrr_at_k(ranked: Ranked, targets: Sequence[GoldTarget], k: int = 10) -> float | None:
    """Reciprocal rank of the first relevant chunk in the top k (0.0 when none); None without targets."""
    if not targets:
        return None
    rank = first_relevant_rank(ranked, targets, k)
    return 1.0 / rank if rank else 0.0


def ndcg_at_k(ranked: Ranked, targets: Sequence[GoldTarget], k: int = 10) -> float | None:
    """Binary nDCG@k with each gold target credited once; None without targets."""
    if not targets:
        return None
    gains = relevance_gains(ranked, targets, k)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(targets), k)))
    return dcg / ideal if ideal else 0.0


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------

_CITATION_MARKER = re.compile(r"[\[［【]\s*\d+(?:\s*[,，、\-–]\s*\d+)*\s*[\]］】]")


def strip_citation_markers(text: str) -> str:
    """Remove citation markers such as [1], [2,3], ［4］ or 【5】."""
    return _CITATION_MARKER.sub("", text or "")


def answer_span(answer_text: str) -> str:
    """The span scored against CMRC gold answers: the answer text without citation markers, stripped."""
    return strip_citation_markers(answer_text).strip()


def key_point_recall(answer: str, key_points: Sequence[str]) -> float | None:
    """Fraction of key points whose normalised form appears in the normalised answer; None if none."""
    points = [normalize_text(p) for p in key_points if normalize_text(p)]
    if not points:
        return None
    normalised = normalize_text(strip_citation_markers(answer))
    return sum(1 for p in points if p in normalised) / len(points)


def missing_key_points(answer: str, key_points: Sequence[str]) -> list[str]:
    normalised = normalize_text(strip_citation_markers(answer))
    return [p for p in key_points if normalize_text(p) and normalize_text(p) not in normalised]


def answer_contains_gold(span: str, gold_answers: Sequence[str]) -> float:
    """1.0 when the normalised span contains a normalised gold answer."""
    normalised = normalize_text(span)
    return 1.0 if any(normalize_text(g) and normalize_text(g) in normalised for g in gold_answers) else 0.0


# The punctuation list of the official CMRC 2018 evaluation script.
CMRC_PUNCTUATION = frozenset(
    ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？", "！", "“", "”",
     "；", "’", "《", "》", "……", "·", "、", "「", "」", "（", "）", "－", "～", "『", "』"]
)
_CJK = re.compile(r"[\u4e00-\u9fa5]")
# Stands in for nltk.word_tokenize (which needs downloaded data): words, numbers, single symbols.
_WORD = re.compile(r"\w+|[^\w\s]")


def mixed_segmentation(text: str, remove_punctuation: bool = False) -> list[str]:
    """Official CMRC tokenisation: each CJK character is a token; other runs split into words."""
    text = str(text).lower().strip()
    tokens: list[str] = []
    run = ""
    for char in text:
        if remove_punctuation and char in CMRC_PUNCTUATION:
            continue
        if _CJK.match(char) or char in CMRC_PUNCTUATION:
            if run:
                tokens.extend(_WORD.findall(run))
                run = ""
            tokens.append(char)
        else:
            run += char
    if run:
        tokens.extend(_WORD.findall(run))
    return tokens


def cmrc_remove_punctuation(text: str) -> str:
    """Official CMRC normalisation for EM: lower-case, strip, drop the official punctuation."""
    return "".join(c for c in str(text).lower().strip() if c not in CMRC_PUNCTUATION)


def longest_common_substring_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of tokens (dynamic programming, O(len a × len b))."""
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                if current[j + 1] > best:
                    best = current[j + 1]
        previous = current
    return best


def cmrc_f1(prediction: str, gold_answers: Sequence[str]) -> float:
    """Official CMRC F1: LCS-based precision/recall over mixed-segmentation tokens, max over golds."""
    scores = [0.0]
    predicted = mixed_segmentation(prediction, remove_punctuation=True)
    for gold in gold_answers:
        reference = mixed_segmentation(gold, remove_punctuation=True)
        common = longest_common_substring_length(reference, predicted)
        if common == 0:
            continue
        precision = common / len(predicted)
        recall = common / len(reference)
        scores.append(2 * precision * recall / (precision + recall))
    return max(scores)


def cmrc_em(prediction: str, gold_answers: Sequence[str]) -> float:
    """Official CMRC exact match: 1.0 when the punctuation-stripped prediction equals a gold answer."""
    predicted = cmrc_remove_punctuation(prediction)
    return 1.0 if any(cmrc_remove_punctuation(g) == predicted for g in gold_answers) else 0.0


def rate(flags: Iterable[bool]) -> float | None:
    """Fraction of true flags; None for an empty input."""
    values = list(flags)
    return sum(1 for f in values if f) / len(values) if values else None


def refusal_rate(outcomes: Iterable[tuple[bool, bool]]) -> float | None:
    """Over (answerable, refused) pairs: the fraction of unanswerable items that were refused."""
    return rate(refused for answerable, refused in outcomes if not answerable)


def not_answered_rate(outcomes: Iterable[tuple[bool, str]]) -> float | None:
    """Over (answerable, status) pairs: the fraction of unanswerable items not given as answered."""
    return rate(status != "answered" for answerable, status in outcomes if not answerable)


def answered_rate(outcomes: Iterable[tuple[bool, str]]) -> float | None:
    """Over (answerable, status) pairs: the fraction of answerable items given as answered."""
    return rate(status == "answered" for answerable, status in outcomes if answerable)


def answered_precision(outcomes: Iterable[tuple[bool, str, bool | None]]) -> float | None:
    """Over (answerable, status, holds what is asked) triples: of those answered, the fraction answerable
    and holding it (None when nothing was answered or no item says what it asks)."""
    return rate(bool(answerable and holds) for answerable, status, holds in outcomes
                if status == "answered" and (holds is not None or not answerable))


def false_refusal_rate(outcomes: Iterable[tuple[bool, bool]]) -> float | None:
    """Over (answerable, refused) pairs: the fraction of answerable items that were refused."""
    return rate(refused for answerable, refused in outcomes if answerable)


DocumentText = Callable[[str], "str | None"]


def quote_is_verbatim(quote: str, document_text: str | None) -> bool:
    """True when the quote is a non-empty exact substring of the document text."""
    return bool(quote) and bool(document_text) and quote in document_text


def verbatim_citation_count(citations: Sequence[Mapping[str, Any]], document_text: DocumentText) -> int:
    """How many citations quote their document verbatim (the 'verified' flag is ignored)."""
    return sum(1 for c in citations if quote_is_verbatim(c.get("quote", ""), document_text(c.get("doc_id", ""))))


def citation_verbatim_rate(citations: Sequence[Mapping[str, Any]], document_text: DocumentText) -> float | None:
    """Fraction of citations whose quote is verbatim in its document; None without citations."""
    if not citations:
        return None
    return verbatim_citation_count(citations, document_text) / len(citations)


_SENTENCE_END = re.compile(r"[。！？!?；;\n]+")


def split_sentences(answer: str) -> list[str]:
    """Answer sentences: split at 。！？!?；; and newlines, citation markers removed, empties dropped."""
    pieces = (strip_citation_markers(p).strip() for p in _SENTENCE_END.split(answer or ""))
    return [p for p in pieces if normalize_text(p)]


def unsupported_sentence_rate(answer: str, unsupported: Sequence[str]) -> float | None:
    """Unsupported sentences / answer sentences for one answer (capped at 1); None without sentences."""
    sentences = split_sentences(answer)
    if not sentences:
        return None
    return min(1.0, len(unsupported) / len(sentences))


# ---------------------------------------------------------------------------------------------
# Drafts (over Draft.to_dict() dictionaries)
# ---------------------------------------------------------------------------------------------

NEAR_DUPLICATE_JACCARD = 0.6
QUESTION_MIN_CHARS = 8
QUESTION_MAX_CHARS = 200
TALK_OUTLINE_QUESTIONS = (3, 4)


def draft_questions(draft: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [q for s in draft.get("sections", []) for q in s.get("questions", [])]


def dimension_coverage(draft: Mapping[str, Any], dimensions: Sequence[str]) -> float | None:
    """Fraction of requested dimensions present as a section or named in a warning; None if none requested."""
    wanted = [normalize_text(d) for d in dimensions if normalize_text(d)]
    if not wanted:
        return None
    sections = [normalize_text(s.get("dimension", "")) for s in draft.get("sections", [])]
    sections = [s for s in sections if s]
    warnings = [normalize_text(w) for w in draft.get("warnings", [])]
    covered = 0
    for dim in wanted:
        if any(dim in s or s in dim for s in sections) or any(dim in w for w in warnings):
            covered += 1
    return covered / len(wanted)


def question_fields(question: Mapping[str, Any]) -> list[str]:
    """The texts a topic may appear in: the question, its follow-ups, purpose and citation quotes."""
    fields = [question.get("text", ""), question.get("purpose", "")]
    fields.extend(question.get("follow_ups", []) or [])
    fields.extend(c.get("quote", "") for c in question.get("citations", []) or [])
    return [normalize_text(f) for f in fields if f]


def covered_topics(draft: Mapping[str, Any], topics: Sequence[str]) -> list[str]:
    fields = [f for q in draft_questions(draft) for f in question_fields(q)]
    return [t for t in topics if normalize_text(t) and any(normalize_text(t) in f for f in fields)]


def topic_coverage(draft: Mapping[str, Any], topics: Sequence[str]) -> float | None:
    """Fraction of expected topics appearing in some question's text/follow-up/purpose/citation quote."""
    wanted = [t for t in topics if normalize_text(t)]
    if not wanted:
        return None
    return len(covered_topics(draft, wanted)) / len(wanted)


def question_is_cited(question: Mapping[str, Any], document_text: DocumentText) -> bool:
    return verbatim_citation_count(question.get("citations", []) or [], document_text) > 0


def cited_question_rate(draft: Mapping[str, Any], document_text: DocumentText) -> float | None:
    """Fraction of questions with ≥1 citation quoting its document verbatim; None without questions."""
    return rate(question_is_cited(q, document_text) for q in draft_questions(draft))


def character_bigrams(text: str) -> set[str]:
    normalised = normalize_text(text)
    if len(normalised) < 2:
        return {normalised} if normalised else set()
    return {normalised[i : i + 2] for i in range(len(normalised) - 1)}


def bigram_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the normalised character-bigram sets (0.0 when both are empty)."""
    x, y = character_bigrams(a), character_bigrams(b)
    union = x | y
    return len(x & y) / len(union) if union else 0.0


def near_duplicate_pairs(texts: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if bigram_jaccard(texts[i], texts[j]) >= threshold
    ]


def near_duplicate_rate(draft: Mapping[str, Any], threshold: float = NEAR_DUPLICATE_JACCARD) -> float | None:
    """Near-duplicate question pairs / question count for one draft; None without questions."""
    texts = [q.get("text", "") for q in draft_questions(draft)]
    if not texts:
        return None
    return len(near_duplicate_pairs(texts, threshold)) / len(texts)


def distinct_follow_up_rate(draft: Mapping[str, Any]) -> float | None:
    """Distinct follow-ups (normalised) / all follow-ups of one draft; None without follow-ups.
    The same 追问 under every question is a sign of templated drafting."""
    follow_ups = [normalize_text(f) for q in draft_questions(draft) for f in (q.get("follow_ups") or []) if normalize_text(f)]
    if not follow_ups:
        return None
    return len(set(follow_ups)) / len(follow_ups)


def draft_text(draft: Mapping[str, Any]) -> str:
    """What a reader of the draft sees besides its title: opening, questions, 追问, closing."""
    parts = [draft.get("opening", "") or ""]
    for q in draft_questions(draft):
        parts.append(q.get("text", ""))
        parts.extend(q.get("follow_ups", []) or [])
    parts.extend(draft.get("closing", []) or [])
    return normalize_text(" ".join(parts))


def role_mention_rate(draft: Mapping[str, Any], roles: Sequence[str]) -> float | None:
    """Fraction of the request's roles (the person inspected / talked to, and who talks) named in
    the draft's text; None when the request names no role."""
    wanted = [normalize_text(r) for r in roles if normalize_text(r)]
    if not wanted:
        return None
    text = draft_text(draft)
    return sum(1 for r in wanted if r in text) / len(wanted)


def is_talk_outline(kind: str) -> bool:
    return kind in ("talk", "talk_outline", "谈话提纲")


def question_format_ok(text: str) -> bool:
    """Ends with ？ or ?, and is 8–200 characters long (after stripping surrounding whitespace)."""
    stripped = (text or "").strip()
    return stripped.endswith(("？", "?")) and QUESTION_MIN_CHARS <= len(stripped) <= QUESTION_MAX_CHARS


def format_problems(draft: Mapping[str, Any], kind: str) -> list[str]:
    """Human-readable reasons why questions of this draft fail the format check."""
    problems = []
    questions = draft_questions(draft)
    low, high = TALK_OUTLINE_QUESTIONS
    if is_talk_outline(kind) and not low <= len(questions) <= high:
        problems.append(f"talk outline has {len(questions)} questions (want {low}–{high})")
    for q in questions:
        if not question_format_ok(q.get("text", "")):
            problems.append(f"badly formed question: {q.get('text', '')[:60]!r}")
    return problems


def format_ok_count(draft: Mapping[str, Any], kind: str) -> int:
    """Questions passing the format check (none when a talk outline has the wrong question count)."""
    questions = draft_questions(draft)
    low, high = TALK_OUTLINE_QUESTIONS
    if is_talk_outline(kind) and not low <= len(questions) <= high:
        return 0
    return sum(1 for q in questions if question_format_ok(q.get("text", "")))


def format_ok_rate(draft: Mapping[str, Any], kind: str) -> float | None:
    """Fraction of the draft's questions passing the format check; None without questions."""
    questions = draft_questions(draft)
    if not questions:
        return None
    return format_ok_count(draft, kind) / len(questions)


# ---------------------------------------------------------------------------------------------
# Aggregation helpers
# ---------------------------------------------------------------------------------------------


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
