"""Answerability: a measured, calibrated decision between three answer states.

    refused   nothing in the knowledge base is about the question;
    related   there is material on the topic, but no sentence says what was asked;
    answered  a sentence bound to the question's anchors states the facet asked for.

Two small logistic models decide, over general features of the question and its evidence (no word
list of any evaluation item, no per-question rule):

  relevance  P(the knowledge base holds the passage the question is about): how much of the question's
             idf mass the best chunks cover, the BM25 score over the question's own idf mass, the share of
             question words the index never saw, the margin of the best document over the next,
             semantic similarity of question and best passage;
  answer     P(the chosen sentences answer it): the above plus coverage of the best sentence and its
             window, of the words that distinguish it, the heaviest question word it misses, anchor
             binding, facet match, answer-type match, the predicate share of a quantity, soft
             (word-vector) coverage.

Their coefficients, feature scaling and thresholds are data (kb/data/answerability.json, or the
site's own model written by `kb calibrate`), fitted on generated sets — leave-passages-out on CMRC,
leave-documents-out on the laws corpus, perturbed domain questions (see kb/answering/calibration.py
and eval/calibrate.py). Binding (binding.py) is applied before the model: a sentence that does not name
the question's anchors, or a quantity question without a number of the asked unit in a bound clause,
can never make an answer "answered".
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.answering.binding import Binding
from kb.answering.evidence import Candidate
from kb.answering.lexicon import AnswerLexicon
from kb.answering.numbers import has_quantity
from kb.answering.question_analysis import QuestionAnalysis, place_names
from kb.models import Hit
from kb.citations.verify import sentence_spans

MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "answerability.json"

RELEVANCE_FEATURES = (
    "chunk_coverage",  # best idf-weighted coverage of the question's tokens by one of the top chunks
    "bm25_norm",  # top BM25 score / the question's idf mass
    "unknown_share",  # idf share of question words the index never saw
    "doc_margin",  # (best doc BM25 score - next doc's) / the question's idf mass
    "chunk_max_missing",  # weight share of the heaviest question word the best chunk misses
    "semantic_passage",  # cosine of question and best chunk (word vectors; 0 without them)
    "semantic_best",  # the highest cosine of question and any retrieved chunk
    "anchors_found",  # 1 when a place / person / term the question names is in a retrieved document, 0 when none is, 0.5 when it names none
    "rarest_in_chunk",  # the question's rarest word the index knows is in the best chunk
    "kb_focus",  # cosine of the question with what the knowledge base as a whole is about (topic.py)
    "soft_chunk_coverage",  # coverage allowing word-vector matches in the best chunk
    "pool_coverage",  # coverage by the top three chunks together (a question spanning two documents)
    "unknown_name_share",  # idf share of unknown question words that are no common word either (names)
)
ANSWER_FEATURES = RELEVANCE_FEATURES + (
    "sentence_coverage",  # coverage of the best chosen sentence (union over the chosen)
    "window_coverage",  # coverage of the best sentence with its neighbours
    "focus_coverage",  # coverage of what distinguishes the sentence from the other candidates
    "max_missing",  # weight share of the heaviest question word the window misses
    "anchors_bound",  # 1 named, 0.5 inherited, 0 unbound (1 when the question names none)
    "has_anchors",
    "facet_bound",  # 1 when the asked facet is stated (or none is asked)
    "has_facet",
    "type_match",  # the evidence has the answer type asked for (number+unit, list, definition, …)
    "predicate_share",  # share of a quantity clause's verbs the numbered sentence says (1 otherwise)
    "semantic_sentence",  # cosine of question and best sentence window
    "soft_coverage",  # coverage of the window allowing word-vector matches
    "is_quantity",
    "is_list",
    "is_definition",
)


@dataclass
class LogisticModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    def probability(self, values: dict[str, float]) -> float:
        x = np.array([values.get(f, 0.0) for f in self.features], dtype=float)
        z = float(((x - self.mean) / self.scale) @ self.coef + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "threshold": round(float(self.threshold), 6),
        }

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "LogisticModel":
        try:
            features = tuple(data["features"])
            arrays = [np.asarray(data[k], dtype=float) for k in ("mean", "scale", "coef")]
            intercept, threshold = float(data["intercept"]), float(data["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: malformed model ({exc})") from None
        if any(len(a) != len(features) for a in arrays):
            raise ValueError(f"{where}: mean/scale/coef must have one value per feature ({len(features)})")
        unknown = [f for f in features if f not in ANSWER_FEATURES]
        if unknown:
            raise ValueError(f"{where}: unknown features {unknown}")
        mean, scale, coef = arrays
        scale = np.where(scale <= 0, 1.0, scale)
        return cls(features, mean, scale, coef, intercept, threshold)


@dataclass
class AnswerabilityModel:
    relevance: LogisticModel
    answer: LogisticModel
    source: str = ""
    info: dict = field(default_factory=dict)
    # the answer probability a question whose typed slot a bound filler fills (fillers.py) needs: that
    # filler is the evidence, so the bar is lower than for questions answered by overlap alone
    filled_threshold: float = 0.0

    @classmethod
    def load(cls, path: Path | str | None = None) -> "AnswerabilityModel":
        path = Path(path or MODEL_FILE)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: answerability model not found (refit with `kb calibrate`)") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or "relevance" not in data or "answer" not in data:
            raise ValueError(f"{path}: an answerability model needs 'relevance' and 'answer' sections")
        return cls(
            LogisticModel.from_dict(data["relevance"], f"{path} relevance"),
            LogisticModel.from_dict(data["answer"], f"{path} answer"),
            source=str(path),
            info={k: v for k, v in data.items() if k not in ("relevance", "answer", "filled_threshold")},
            filled_threshold=float(data.get("filled_threshold", 0.0)),
        )

    def save(self, path: Path | str, **info) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**self.info, **info, "relevance": self.relevance.to_dict(), "answer": self.answer.to_dict(),
                "filled_threshold": round(float(self.filled_threshold), 6)}
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


@dataclass
class Decision:
    status: str  # answered | related | refused
    reason: str = ""
    p_relevant: float = 0.0
    p_answer: float = 0.0
    features: dict[str, float] = field(default_factory=dict)
    blocked: bool = False  # related because binding failed (no model or LLM may make it answered)
    ask: object = None  # the question's ask (kb/answering/ask.py)
    fill: object = None  # the SlotFill of the answer's first sentence when a typed slot is filled


def _name_like(term: str, wv) -> bool:
    """A word that is no common Chinese word: not in the word-vector vocabulary, and not a compound
    of common words (自我剖析) or a two-character segmentation fragment (那轮, 多稿)."""
    if re.search(r"[a-z]", term):
        return True
    if wv is None:
        return len(term) >= 3
    if wv.exact(term) or len(term) < 3:
        return False
    return not all(len(p) >= 2 and wv.exact(p) for p in wv.pieces(term))


class FeatureExtractor:
    """The features of one question and its evidence (names above; every value in [0, 1] or a ratio)."""

    def __init__(self, tokenizer, lexicon: AnswerLexicon, wordvectors=None, document_text=None, snapshot=None):
        from kb.answering.topic import KnowledgeBaseTopic

        self.tokenizer = tokenizer
        self.lex = lexicon
        self.wv = wordvectors
        self.document_text = document_text  # doc_id → stored text
        self.snapshot = snapshot or (lambda: None)  # the current lexical snapshot
        self.topic = KnowledgeBaseTopic(wordvectors)

    def _coverage(self, analysis: QuestionAnalysis, weights: dict[str, float], text: str) -> tuple[float, float]:
        """(coverage, weight share of the heaviest missing word) of `text` for the question."""
        total = sum(weights.values()) or 1.0
        toks = set(self.tokenizer.tokenize(text))
        covered = sum(w for t, w in weights.items() if analysis.covers(t, toks))
        missing = [w for t, w in weights.items() if not analysis.is_bigram_only(t) and not analysis.covers(t, toks)]
        return covered / total, (max(missing) / total if missing else 0.0)

    def _soft(self, analysis: QuestionAnalysis, weights: dict[str, float], text: str) -> float:
        """Coverage where a word may also be matched by its nearest word of the text (cosine ≥ 0.6),
        anchors excepted: 安徽 is "near" 江苏 in vector space, which is no match."""
        words = {t: w for t, w in weights.items() if not analysis.is_bigram_only(t) and len(t) >= 2}
        if not words:
            return 0.0
        total = sum(words.values())
        toks = set(self.tokenizer.tokenize(text))
        anchors = " ".join(a.text for a in analysis.anchors)
        pieces = [w for w in self.tokenizer.content_terms(text) if len(w) >= 2]
        got = 0.0
        for t, w in words.items():
            if analysis.covers(t, toks):
                got += w
            elif self.wv is not None and pieces and t not in anchors and t in self.wv:
                sim = self.wv.best_match(t, pieces)[1]
                if sim >= 0.6:
                    got += w * sim
        return got / total

    def _semantic(self, analysis: QuestionAnalysis, weights: dict[str, float], text: str) -> float:
        if self.wv is None:
            return 0.0
        q_words = [t for t in analysis.content_terms if len(t) >= 2]
        t_words = [w for w in self.tokenizer.content_terms(text) if len(w) >= 2]
        if not q_words or not t_words:
            return 0.0
        qv = self.wv.sentence_vector(q_words, [weights.get(t, 1.0) for t in q_words])
        tv = self.wv.sentence_vector(t_words)
        return float(max(0.0, qv @ tv))

    def _anchors_found(self, analysis: QuestionAnalysis, hits: list[Hit]) -> float:
        """Does the evidence know what the question names? Checked against the retrieved documents'
        texts (a place named in an article's opening counts)."""
        named = [a.text for a in analysis.anchors if a.kind in ("place", "person", "title")]
        if not named:
            return 0.5
        # all of them together in one document: "中国（南京）国际象棋超级大赛" is not found because one
        # passage names 中国 and another 南京
        docs = [h.chunk.title + h.chunk.text for h in hits[:8]]
        if self.document_text is not None:
            docs += [self.document_text(d) or "" for d in dict.fromkeys(h.chunk.doc_id for h in hits[:8])]
        return float(any(all(n in text for n in named) for text in docs))

    def _specific_anchor(self, analysis: QuestionAnalysis) -> bool:
        """Does the question name a place / person / term that only one document (or a few, in a large
        collection) speaks of? Then the knowledge base holds the passage about it, however the rest
        of the question is worded ("长沙县的当家人…比作去医院做什么检查"); "中国" or "美国", named by
        dozens of unrelated passages, says nothing of the kind."""
        snap = self.snapshot()
        bm25 = getattr(snap, "bm25", None) if snap is not None else None
        if bm25 is None:
            return False
        indptr, indices = bm25.scores["indptr"], bm25.scores["indices"]
        n_docs = len(snap.doc_vocab) or 1
        limit = max(1, int(0.05 * n_docs))
        for anchor in analysis.anchors:
            if anchor.kind not in ("place", "person"):
                continue
            tokens = [t for t in self.tokenizer.tokenize(anchor.text) if t in bm25.vocab_dict and len(t) >= 2]
            if not tokens:
                continue
            tid = bm25.vocab_dict[max(tokens, key=len)]
            rows = indices[indptr[tid] : indptr[tid + 1]]
            if 0 < len(set(snap.doc_codes[rows].tolist())) <= limit:
                return True
        return False

    @staticmethod
    def _window(cand: Candidate) -> str:
        text = cand.hit.chunk.text
        spans = sentence_spans(text)
        at = cand.start if cand.start >= 0 else text.find(cand.text)
        idx = next((i for i, (s, e) in enumerate(spans) if s <= at < e), None)
        if idx is None:
            return cand.text
        s = spans[max(0, idx - 1)][0]
        e = spans[min(len(spans) - 1, idx + 1)][1]
        return text[s:e]

    def type_match(self, analysis: QuestionAnalysis, chosen: list[Candidate]) -> float:
        lex = self.lex
        texts = [c.text for c in chosen[:3]]
        if not texts:
            return 0.0
        kind = analysis.answer_type
        if kind == "quantity":
            return float(any(has_quantity(lex, t, analysis.unit_class, analysis.answer_units) for t in texts[:2]))
        if kind == "list":
            return float(len(chosen) >= 2 or any(t.count("、") + t.count("；") + t.count(";") >= 2 for t in texts))
        if kind == "definition":
            return float(any(lex.definition_marker.search(t) for t in texts) or analysis.definition_subject in texts[0])
        if kind == "reason":
            return float(any(lex.reason_marker.search(t) for t in texts))
        if kind == "who":
            focus = analysis.who_focus
            return float(any((focus and focus in t) or any(f.startswith("nr") for _, f in self.tokenizer.segmenter.tag(t)) for t in texts[:2]))
        if kind == "when":
            return float(any(lex.date.search(t) for t in texts[:2]))
        if kind == "where":
            return float(any(place_names(t, lex, self.tokenizer) or "在" in t for t in texts[:2]))
        return 1.0

    def extract(
        self,
        analysis: QuestionAnalysis,
        weights: dict[str, float],
        hits: list[Hit],
        lexical: list[tuple[str, float]],
        idf_mass: float,
        chosen: list[Candidate],
        binding: Binding | None,
        predicate_share: float,
        focus: float,
        sentence_weights: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """`lexical`: (doc_id, BM25 score) of the top lexical hits; `idf_mass`: the question's idf sum.
        `weights` weigh the question's tokens for the passage (relevance) features; `sentence_weights`
        (default: the same) for the sentence features — for a question naming documents by title they
        weigh the titles' words down, which say where to look, not what the sentence must say."""
        f: dict[str, float] = {}
        # the best chunk of each of the first three documents: a question about two documents is
        # covered by the two together
        firsts: list[Hit] = []
        for h in hits:
            if len(firsts) < 3 and all(h.chunk.doc_id != t.chunk.doc_id for t in firsts):
                firsts.append(h)
        top = hits[:3]
        scored = [self._coverage(analysis, weights, h.chunk.text + " " + h.chunk.title) for h in top]
        covs = [c for c, _ in scored]
        f["chunk_coverage"] = max(covs, default=0.0)
        best_i = int(np.argmax(covs)) if covs else -1
        best_chunk = top[best_i] if covs else None
        f["chunk_max_missing"] = scored[best_i][1] if covs else 1.0
        f["bm25_norm"] = (lexical[0][1] / idf_mass) if lexical and idf_mass > 0 else 0.0
        f["pool_coverage"] = self._coverage(analysis, weights, " ".join(h.chunk.text + " " + h.chunk.title for h in firsts))[0] if firsts else 0.0
        total = sum(weights.values()) or 1.0
        unknown = set(analysis.unknown_terms)
        f["unknown_share"] = sum(w for t, w in weights.items() if t in unknown) / total
        # a word the knowledge base never uses may be a colloquial one (知情人) or a name it knows
        # nothing of (尤金袋鼠): only the second says the knowledge base is about something else
        wv = self.wv
        names = {t for t in unknown if _name_like(t, wv)}
        f["unknown_name_share"] = sum(w for t, w in weights.items() if t in names) / total
        if lexical and idf_mass > 0:
            # on the question's own scale: a lone match on one common word is no clear winner
            best_doc, best = lexical[0]
            other = next((s for d, s in lexical if d != best_doc), 0.0)
            f["doc_margin"] = (best - other) / idf_mass
        else:
            f["doc_margin"] = 0.0
        chunk_text = (best_chunk.chunk.text + " " + best_chunk.chunk.title) if best_chunk else ""
        f["semantic_passage"] = self._semantic(analysis, weights, chunk_text) if chunk_text else 0.0
        f["soft_chunk_coverage"] = self._soft(analysis, weights, chunk_text) if chunk_text else 0.0
        f["semantic_best"] = max([f["semantic_passage"]] + [self._semantic(analysis, weights, h.chunk.text) for h in hits[:8]])
        f["anchors_found"] = self._anchors_found(analysis, hits)
        f["specific_anchor"] = float(f["anchors_found"] == 1.0 and self._specific_anchor(analysis))
        f["kb_focus"] = self.topic.focus(self.snapshot(), analysis.content_terms)
        known = [t for t in analysis.content_terms if len(t) >= 2 and t not in unknown and t in weights]
        rarest = max(known, key=lambda t: weights[t], default="")
        f["rarest_in_chunk"] = float(bool(rarest) and bool(best_chunk) and rarest in set(self.tokenizer.tokenize(chunk_text)))
        weights = sentence_weights or weights
        if chosen:
            union = " ".join(c.text for c in chosen)
            f["sentence_coverage"] = max(self._coverage(analysis, weights, union)[0], chosen[0].coverage)
            window = self._window(chosen[0])
            f["window_coverage"], f["max_missing"] = self._coverage(analysis, weights, window + " " + chosen[0].hit.chunk.title)
            f["semantic_sentence"] = self._semantic(analysis, weights, window)
            f["soft_coverage"] = self._soft(analysis, weights, window)
        else:
            f["sentence_coverage"] = f["window_coverage"] = f["semantic_sentence"] = f["soft_coverage"] = 0.0
            f["max_missing"] = 1.0
        f["focus_coverage"] = focus
        f["has_anchors"] = float(bool(analysis.anchors))
        f["anchors_bound"] = binding.anchors if binding is not None else (0.0 if analysis.anchors else 1.0)
        f["has_facet"] = float(analysis.facet is not None)
        fb = binding.facet if binding is not None else (0.0 if analysis.facet is not None else None)
        f["facet_bound"] = 1.0 if fb is None else fb
        f["type_match"] = self.type_match(analysis, chosen)
        f["predicate_share"] = predicate_share
        f["is_quantity"] = float(analysis.answer_type == "quantity")
        f["is_list"] = float(analysis.answer_type == "list")
        f["is_definition"] = float(analysis.answer_type == "definition")
        return {k: float(v) for k, v in f.items()}


class AnswerabilityPolicy:
    """Hard binding rules first, then the calibrated models."""

    def __init__(self, model: AnswerabilityModel):
        self.model = model

    def decide(self, features: dict[str, float], blocked: str = "", no_evidence: bool = False, filled: bool = False) -> Decision:
        """`blocked`: why no sentence may answer (binding failed), or "" — such a question is at best
        related. `no_evidence`: nothing was retrieved at all. `filled`: a sentence fills the typed slot
        the question asks for, bound to its relation, target and qualifiers (fillers.py) — that is what
        answering such a question means, so the overlap model does not overrule it."""
        if no_evidence:
            return Decision("refused", "no evidence retrieved", 0.0, 0.0, features)
        p_rel = self.model.relevance.probability(features)
        p_ans = self.model.answer.probability(features)
        # a question naming what only one document of the knowledge base speaks of is about that
        # document: at most related, never "nothing relevant"
        if p_rel < self.model.relevance.threshold and not features.get("specific_anchor"):
            return Decision("refused", f"nothing relevant (relevance {p_rel:.2f} < {self.model.relevance.threshold:.2f})", p_rel, p_ans, features)
        if blocked:
            return Decision("related", blocked, p_rel, p_ans, features, blocked=True)
        if filled and p_ans >= self.model.filled_threshold:
            return Decision("answered", "", p_rel, p_ans, features)
        if p_ans < self.model.answer.threshold:
            return Decision(
                "related", f"no sentence answers the question (answer {p_ans:.2f} < {self.model.answer.threshold:.2f})", p_rel, p_ans, features
            )
        return Decision("answered", "", p_rel, p_ans, features)
