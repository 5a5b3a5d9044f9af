"""Optional cross-encoder reranker (off by default): a sentence-transformers CrossEncoder from a local path."""
from __future__ import annotations

from typing import Protocol, Sequence

from kb.settings import RerankerSettings


class Reranker(Protocol):
    def score(self, question: str, texts: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    def __init__(self, model_path: str):
        import os
        from pathlib import Path

        path = Path(model_path or "").expanduser()
        if not model_path or not path.is_dir():
            raise FileNotFoundError(f"reranker.model_path {model_path!r} is not a local model directory")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("reranker mode 'cross-encoder' needs the semantic extra: pip install -e '.[semantic]'") from exc
        self.model = CrossEncoder(str(path), device="cpu", local_files_only=True)

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        return [float(s) for s in self.model.predict([(question, t) for t in texts], show_progress_bar=False)]


def build_reranker(settings: RerankerSettings) -> Reranker | None:
    if settings.mode == "none":
        return None
    if settings.mode == "cross-encoder":
        return CrossEncoderReranker(settings.model_path or "")
    raise ValueError(f"unknown reranker mode {settings.mode!r}")
