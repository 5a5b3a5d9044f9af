"""Chinese tokenizer used identically for documents and queries.

Tokens = segmenter words (search mode, so long words also yield their parts) + character bigrams
inside runs of Chinese characters + whole ASCII words/numbers. Question words and function words
are dropped. Terms of the domain dictionary (kb/data/domain_terms.txt) are added to the segmenter
so they come out whole ("五个政治", "一岗双责"), next to their parts.

Why bigrams: a segmenter disagrees with itself between a question and a document ("县市区班子成员"
vs "班子成员"), bigrams still match; measured on CMRC-2018 they lift hit@5 from ~0.85 to ~0.95.
Latin letters and digits: a model or season is written "GPT-3", "GPT3", "GPT 3", "CBA2019-2020" or
"CBA 2019-2020赛季"; each run of them also yields its joined form (gpt3, cba20192020), its letter and digit
parts and each letter part joined to the digits after it (cba2019), so every spelling meets every other.

Why rjieba: the Rust port of jieba gives the same segmentation ~15x faster (make bench measures
both), which is what lets the 20 M-character laws corpus ingest in about a minute.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

DOMAIN_TERMS_FILE = Path(__file__).resolve().parents[1] / "data" / "domain_terms.txt"
# Bumped whenever tokenize() changes: a lexical snapshot built with another version is rebuilt (kb/retrieval/lexical.py)
TOKENIZER_VERSION = "2"

# Question words: they say what kind of answer is wanted, never what it is about.
QUESTION_WORDS = (
    "为什么", "什么样", "怎么样", "怎么办", "是什么", "有哪些", "哪几个", "哪几项", "哪几类", "哪几种",
    "哪些", "哪个", "哪种", "哪里", "什么", "怎么", "怎样", "如何", "是否", "多少", "几个", "几次",
    "几种", "吗", "呢", "请问", "请给出", "请列出", "请说明", "原文", "规定了", "内容是", "是怎么规定的",
)
# Function words dropped as word tokens (they still sit inside bigrams, which BM25's idf discounts).
FUNCTION_WORDS = frozenset(
    "的 了 和 与 及 或 在 是 为 对 把 被 将 从 向 以 于 中 上 下 也 都 就 还 又 而 并 等 之 其 该 这 那 有 个 "
    "一 我 你 他 她 它 们 要 会 能 可 所 着 过 吧 啊 呀 么 则 即 且 如 若 但 并且 以及 或者 还是 就是 我们 "
    "你们 他们 这个 那个 这些 那些 一个 一些 进行 通过 对于 关于 由于 因为 所以 如果 可以 应当 应该 需要 "
    "主要 其他 以及 规定 内容 方面 问题 情况 工作 "
    # demonstratives that point at a document or item ("这份通知的发文字号"): they name nothing the
    # text itself says, so a question using them must not count them as words its evidence misses
    "这份 这篇 这项 这次 这条 这件 这款 该份 该项 此份 此项 本份".split()
)
# Words that carry meaning even though a generic list would drop them.
_KEEP_WORDS = frozenset({"问题", "情况", "工作", "规定", "内容", "方面"})
FUNCTION_WORDS = frozenset(FUNCTION_WORDS - _KEEP_WORDS)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_BIGRAM = re.compile(f"(?=([{_CJK}]{{2}}))")  # overlapping character bigrams inside Chinese runs
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[.\-_][a-z0-9]+)*")
# a run of Latin letters and digits with the marks and spaces that join them ("gpt-3", "mix 3", "cba2019-2020")
_LATIN_RUN = re.compile(r"[a-z0-9]+(?:[\s\-_.·+/]{0,2}[a-z0-9]+)*")
_LATIN_PART = re.compile(r"[a-z]+|[0-9]+")
_QUESTION_RE = re.compile("|".join(sorted(map(re.escape, QUESTION_WORDS), key=len, reverse=True)))
_TOKEN_OK = re.compile(f"[{_CJK}a-z0-9]")


def normalize(text: str) -> str:
    """NFKC (full-width → half-width) and lower case; the same for documents and queries."""
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=1)
def load_domain_terms(path: Path = DOMAIN_TERMS_FILE) -> tuple[str, ...]:
    if not path.is_file():
        return ()
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        terms.append(line.split()[0])
    return tuple(dict.fromkeys(terms))


class _Segmenter:
    """jieba or rjieba behind one `cut_for_search`, with the domain dictionary loaded once."""

    _lock = threading.Lock()
    _instances: dict[str, "_Segmenter"] = {}

    def __init__(self, kind: str):
        self.kind = kind
        terms = load_domain_terms()
        if kind == "rjieba":
            import rjieba

            self._impl = rjieba.Jieba()
            for term in terms:
                self._impl.add_word(term, 100000, None)
            self._cut = self._impl.cut_for_search
        elif kind == "jieba":
            import jieba

            self._impl = jieba.Tokenizer()
            self._impl.initialize()
            for term in terms:
                self._impl.add_word(term, freq=100000)
            self._cut = lambda text: list(self._impl.cut_for_search(text))
        else:
            raise ValueError(f"unknown segmenter {kind!r} (jieba | rjieba)")

    @classmethod
    def get(cls, kind: str) -> "_Segmenter":
        with cls._lock:
            seg = cls._instances.get(kind)
            if seg is None:
                import logging

                logging.getLogger("jieba").setLevel(logging.WARNING)
                seg = cls._instances[kind] = cls(kind)
            return seg

    def cut(self, text: str) -> list[str]:
        return self._cut(text)

    def tag(self, text: str) -> list[tuple[str, str]]:
        """(word, part of speech) pairs, jieba's tag set ("v" verb, "vn" verbal noun, "n" noun …)."""
        if self.kind == "rjieba":
            return list(self._impl.tag(text))
        import jieba.posseg

        return [(p.word, p.flag) for p in jieba.posseg.POSTokenizer(self._impl).cut(text)]


class ChineseTokenizer:
    """Tokenize Chinese text for BM25. `tokenize(text)` is used for documents and queries alike."""

    def __init__(self, segmenter: str = "rjieba", bigrams: bool = True):
        self.segmenter_kind = segmenter
        self.bigrams = bigrams
        self._segmenter: _Segmenter | None = None

    @property
    def segmenter(self) -> _Segmenter:
        if self._segmenter is None:
            self._segmenter = _Segmenter.get(self.segmenter_kind)
        return self._segmenter

    def tokenize(self, text: str) -> list[str]:
        text = _QUESTION_RE.sub(" ", normalize(text))
        # str.isalnum() is True for Chinese characters, letters and digits, False for punctuation and
        # spaces: one C call per word instead of a regex (this loop runs over every ingested character)
        tokens = [w for w in self.segmenter.cut(text) if w.isalnum() and w not in FUNCTION_WORDS]
        tokens.extend(latin_forms(text, set(tokens)))
        if self.bigrams:
            tokens.extend(_CJK_BIGRAM.findall(text))
        return tokens

    def verbs(self, text: str) -> list[str]:
        """The verbs of a phrase (two characters or more): what a sentence says happened."""
        text = _QUESTION_RE.sub(" ", normalize(text))
        return list(
            dict.fromkeys(
                w for w, flag in self.segmenter.tag(text) if flag.startswith("v") and len(w) >= 2 and w not in FUNCTION_WORDS
            )
        )

    def content_terms(self, text: str) -> list[str]:
        """Distinct meaningful words of a question (no bigrams): used for coverage checks."""
        text = _QUESTION_RE.sub(" ", normalize(text))
        seen: dict[str, None] = {}
        for word in self.segmenter.cut(text):
            word = word.strip()
            if not word or word in FUNCTION_WORDS or not _TOKEN_OK.search(word):
                continue
            if len(word) == 1 and not _ASCII_WORD.fullmatch(word):
                continue
            seen.setdefault(word, None)
        return list(seen)


def latin_forms(text: str, have: set[str] = frozenset()) -> list[str]:
    """The extra tokens of the Latin/digit runs of a normalised text: the joined form, the letter and
    digit parts, each letter part with the digits after it — those the segmenter did not give."""
    out: list[str] = []
    for m in _LATIN_RUN.finditer(text):
        run = m.group(0)
        parts = _LATIN_PART.findall(run)
        # a model or a season is joined ("gpt3", "cba20192020"); an English phrase stays in its words
        joined = ["".join(parts)] if len(parts) > 1 and (len(parts) <= 3 or any(p.isdigit() for p in parts)) else []
        forms = joined + [p for p in parts if len(p) >= 2 or p.isdigit()]
        forms += [a + b for a, b in zip(parts, parts[1:]) if a.isalpha() and b.isdigit()]
        for form in forms:
            if form and form not in have:
                have.add(form)
                out.append(form)
    return out


def tokenize_batch(texts: list[str], segmenter: str = "rjieba") -> list[list[str]]:
    """Top-level so a process pool can call it (ingest tokenises on every core)."""
    tokenizer = ChineseTokenizer(segmenter=segmenter)
    return [tokenizer.tokenize(t) for t in texts]
