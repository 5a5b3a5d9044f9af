"""The llama-index baseline ("peer") the benchmark compares our retriever with.

Two variants over the same passages:
  * ``defaults`` — `SentenceSplitter()` and `BM25Retriever.from_defaults()` exactly as shipped
    (English stemmer, English stop words, token pattern ``\\w\\w+``). On Chinese that pattern makes a
    whole clause between two punctuation marks one token, which is what an unadapted stack does;
  * ``jieba`` — the same splitter and retriever, but the text each node is indexed by (and the
    query) is pre-segmented with jieba's search mode and joined by spaces, stemming off. This is the
    fair "llama-index done right for Chinese" baseline.

A search returns ``(doc_id, original chunk text)`` in rank order, so the caller scores it exactly as
it scores our hits.
"""
from __future__ import annotations

from typing import Sequence

PEER_EXTRA_HINT = "pip install -e '.[dev]' (llama-index-retrievers-bm25)"


class PeerUnavailable(RuntimeError):
    """The peer's packages are not installed; the message says what to install."""


def _imports():
    try:
        from llama_index.core import Document
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.retrievers.bm25 import BM25Retriever
    except ImportError as exc:
        raise PeerUnavailable(f"the llama-index BM25 peer needs {PEER_EXTRA_HINT}: {exc}") from exc
    return Document, SentenceSplitter, BM25Retriever


def _segment(text: str) -> str:
    import jieba

    return " ".join(w for w in jieba.cut_for_search(text) if w.strip())


class LlamaIndexBM25Peer:
    """llama-index SentenceSplitter + BM25Retriever over (doc_id, title, text) passages."""

    VARIANTS = ("defaults", "jieba")

    def __init__(self, variant: str = "defaults", top_k: int = 10):
        if variant not in self.VARIANTS:
            raise ValueError(f"unknown peer variant {variant!r} ({' | '.join(self.VARIANTS)})")
        self.variant = variant
        self.top_k = top_k
        self._retriever = None
        self._original: dict[str, tuple[str, str]] = {}  # node id -> (doc_id, original text)
        self.n_nodes = 0

    def build(self, passages: Sequence[tuple[str, str, str]]) -> "LlamaIndexBM25Peer":
        Document, SentenceSplitter, BM25Retriever = _imports()
        import logging

        logging.getLogger("jieba").setLevel(logging.WARNING)
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        docs = [Document(text=text, id_=doc_id, metadata={"doc_id": doc_id, "title": title}) for doc_id, title, text in passages]
        nodes = SentenceSplitter().get_nodes_from_documents(docs)
        for node in nodes:
            self._original[node.node_id] = (node.metadata["doc_id"], node.get_content())
        if self.variant == "jieba":
            from llama_index.core.schema import TextNode

            nodes = [TextNode(id_=n.node_id, text=_segment(n.get_content()), metadata={"doc_id": n.metadata["doc_id"]}) for n in nodes]
            self._retriever = BM25Retriever.from_defaults(
                nodes=nodes, similarity_top_k=self.top_k, skip_stemming=True, language="en"
            )
        else:
            self._retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=self.top_k)
        self.n_nodes = len(nodes)
        return self

    def search(self, question: str) -> list[tuple[str, str]]:
        if self._retriever is None:
            raise RuntimeError("call build() before search()")
        query = _segment(question) if self.variant == "jieba" else question
        try:
            results = self._retriever.retrieve(query)
        except Exception:  # bm25s raises on a query with no known token; the peer found nothing
            return []
        return [self._original[r.node.node_id] for r in results if r.node.node_id in self._original]
