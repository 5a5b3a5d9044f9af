"""Colloquial → official thesaurus for query expansion (kb/data/synonyms.txt).

Inspectors ask in plain words ("跟书记坐下来聊一场要多久"); documents are written in official
vocabulary ("谈话""访谈""时间"). BM25 only matches literally, so the retriever adds the official
terms of every colloquial form found in the question.

Matching is a leftmost-longest, non-overlapping scan over all colloquial forms *and* all protected
words (official terms plus the file's ``!`` lines): at each position the longest known word wins and
the scan jumps past it, so "整改" is consumed whole and the single-character form "改" inside it
never fires. Protected words expand to nothing. Words are indexed by first character with their
lengths, longest first, so a 50-character question costs a few hundred set look-ups (tens of µs);
one regex alternation over ~2,500 words measured ~0.7 ms.
"""
from __future__ import annotations

import threading
import unicodedata
from pathlib import Path

SYNONYMS_FILE = Path(__file__).resolve().parents[1] / "data" / "synonyms.txt"

_ARROW = "=>"


def _normalize(text: str) -> str:
    # Same normalisation as kb.retrieval.tokenizer.normalize (kept local so loading the thesaurus does not
    # import the segmenter).
    return unicodedata.normalize("NFKC", text).lower()


def _parse(path: Path) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Return (normalised colloquial form → official terms, protected words)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: thesaurus file not found") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None

    mapping: dict[str, dict[str, None]] = {}
    protected: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = _normalize(line).strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        if line.startswith("!"):
            words = [w.strip() for w in line[1:].split("|")]
            if not words or any(not w for w in words):
                raise ValueError(f"{where}: empty word in protected-word line {line!r}")
            protected.update(words)
            continue
        if line.count(_ARROW) != 1:
            raise ValueError(f"{where}: expected 'form1|form2 => term1,term2', got {line!r}")
        left, right = (part.strip() for part in line.split(_ARROW))
        forms = [f.strip() for f in left.split("|")]
        terms = [t.strip() for t in right.split(",")]
        if not left or any(not f for f in forms):
            raise ValueError(f"{where}: empty colloquial form in {line!r}")
        if not right or any(not t for t in terms):
            raise ValueError(f"{where}: empty official term in {line!r}")
        for item in forms + terms:
            if "|" in item or "," in item or "=>" in item:
                raise ValueError(f"{where}: misplaced separator in {item!r}")
        own = set(forms) & set(terms)
        if own:
            raise ValueError(f"{where}: form expands to itself: {', '.join(sorted(own))}")
        for form in forms:
            bucket = mapping.setdefault(form, {})
            bucket.update(dict.fromkeys(terms))
    if not mapping:
        raise ValueError(f"{path}: no entries")
    final = {form: tuple(terms) for form, terms in mapping.items()}
    for terms in final.values():
        protected.update(terms)
    return final, frozenset(protected)


class Thesaurus:
    _cache: dict[Path, "Thesaurus"] = {}
    _lock = threading.Lock()

    def __init__(self, mapping: dict[str, tuple[str, ...]], protected: frozenset[str] = frozenset()):
        self._map = dict(mapping)
        # A word that is both a form and protected is a form: the entry is the more specific fact.
        self._words: dict[str, tuple[str, ...]] = {w: () for w in protected if w}
        self._words.update(self._map)
        lengths: dict[str, set[int]] = {}
        for word in self._words:
            lengths.setdefault(word[0], set()).add(len(word))
        self._lengths = {ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()}

    @classmethod
    def load(cls, path: Path | None = None) -> "Thesaurus":
        """Parse the thesaurus file once per path (cached). Bad lines → ValueError naming file:line."""
        key = Path(path or SYNONYMS_FILE).resolve()
        with cls._lock:
            cached = cls._cache.get(key)
            if cached is None:
                mapping, protected = _parse(key)
                cached = cls._cache[key] = cls(mapping, protected)
            return cached

    @classmethod
    def clear_cache(cls) -> None:
        with cls._lock:
            cls._cache.clear()

    def __len__(self) -> int:
        return len(self._map)

    @property
    def forms(self) -> frozenset[str]:
        return frozenset(self._map)

    def matches(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """(form, official terms) for every colloquial form in ``text``, leftmost-longest, in order."""
        if not text:
            return []
        norm = _normalize(text)
        words, lengths = self._words, self._lengths
        found: list[tuple[str, tuple[str, ...]]] = []
        i, n = 0, len(norm)
        while i < n:
            step = 1
            for length in lengths.get(norm[i], ()):
                form = norm[i : i + length]
                terms = words.get(form)
                if terms is not None:
                    if terms:
                        found.append((form, terms))
                    step = length
                    break
            i += step
        return found

    def expansions(self, text: str) -> list[str]:
        """Official terms for every colloquial form in ``text`` (leftmost-longest matches), in order
        of appearance, without duplicates and without terms the text already contains."""
        norm = _normalize(text or "")
        out: dict[str, None] = {}
        for _, terms in self.matches(text):
            for term in terms:
                if term not in out and term not in norm:
                    out[term] = None
        return list(out)

    def equivalents(self, term: str) -> set[str]:
        """Official terms for one colloquial term (exact form); empty when it is not in the table."""
        return set(self._map.get(_normalize(term).strip(), ()))
