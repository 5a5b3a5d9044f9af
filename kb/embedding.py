"""Embedding component with a mode: ``hash`` (default) | ``sentence-transformers`` | ``mock``.

``hash`` needs no model: character unigrams and bigrams are hashed into a fixed dimension and
L2-normalised. It gives Chroma a real vector index on any machine and finds near-verbatim text;
it is not semantic, which is why its weight in fusion is small (see RetrievalSettings).
``sentence-transformers`` loads a local model directory (e.g. a copied bge-small-zh-v1.5) — never a
hub name: loading is forced offline. ``mock`` returns deterministic noise, for tests.
"""
from __future__ import annotations

import hashlib
import unicodedata
from typing import Protocol, Sequence

import numpy as np

from kb.settings import EmbedderSettings


class Embedder(Protocol):
    mode: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


_P1 = np.uint64(0x9E3779B1)
_P2 = np.uint64(0x85EBCA77)
_P3 = np.uint64(0xC2B2AE3D)


class _TextVectorEmbedder:
    """Embedders that compute one vector per text with `_vector` (documents and queries alike)."""

    dim: int

    def _vector(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


class HashEmbedder(_TextVectorEmbedder):
    """Character n-gram feature hashing (unigrams + bigrams), vectorised with numpy."""

    mode = "hash"

    def __init__(self, dim: int = 256):
        self.dim = int(dim)

    def _vector(self, text: str) -> np.ndarray:
        text = unicodedata.normalize("NFKC", text).lower()
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        # keep letters, digits and CJK; punctuation and spaces say nothing about the topic
        keep = (codes >= 0x4E00) & (codes <= 0x9FFF) | (codes >= 0x30) & (codes <= 0x39) | (codes >= 0x61) & (codes <= 0x7A)
        codes = codes[keep]
        vec = np.zeros(self.dim, dtype=np.float32)
        if codes.size == 0:
            return vec
        uni = (codes * _P1) % np.uint64(self.dim)
        np.add.at(vec, uni.astype(np.int64), 0.5)
        if codes.size > 1:
            bi = (codes[:-1] * _P2 + codes[1:] * _P3) % np.uint64(self.dim)
            np.add.at(vec, bi.astype(np.int64), 1.0)
        vec = np.sqrt(vec)  # dampen frequent n-grams
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec



class MockEmbedder(_TextVectorEmbedder):
    """Deterministic pseudo-random unit vectors: noise with a fixed seed per text (for tests)."""

    mode = "mock"

    def __init__(self, dim: int = 32):
        self.dim = int(dim)

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vec = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return vec / np.linalg.norm(vec)



class SentenceTransformerEmbedder:
    """A local sentence-transformers model directory; the query gets the configured instruction prefix."""

    mode = "sentence-transformers"

    def __init__(self, model_path: str, query_instruction: str = "", batch_size: int = 64, device: str = "cpu"):
        import os
        from pathlib import Path

        if not model_path:
            raise ValueError("embedder.model_path must name a local model directory for mode sentence-transformers")
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"embedder.model_path {path} is not a directory: copy the model there (no download is attempted)"
            )
        # Loading must never reach a model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "embedder mode 'sentence-transformers' needs the semantic extra: pip install -e '.[semantic]'"
            ) from exc
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.query_instruction = query_instruction
        self.batch_size = batch_size
        self.dim = int(self.model.get_sentence_embedding_dimension())
        self.model_path = str(path)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(
            self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False),
            dtype=np.float32,
        )

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([self.query_instruction + text])[0]


def build_embedder(settings: EmbedderSettings) -> Embedder:
    if settings.mode == "hash":
        return HashEmbedder(settings.dim)
    if settings.mode == "mock":
        return MockEmbedder(settings.dim)
    if settings.mode == "sentence-transformers":
        return SentenceTransformerEmbedder(
            settings.model_path or "", settings.query_instruction, settings.batch_size, settings.device
        )
    raise ValueError(f"unknown embedder mode {settings.mode!r}")


def embedder_key(settings: EmbedderSettings) -> str:
    """Identifies the vector space from settings alone (no model load): chunks embedded with another
    embedder live in another Chroma collection and are rebuilt by `kb doctor --reembed`."""
    if settings.mode == "sentence-transformers":
        return f"{settings.mode}:{settings.model_path}"
    return f"{settings.mode}:{settings.dim}"
