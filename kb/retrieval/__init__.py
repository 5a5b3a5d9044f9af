"""Retrieval: finding the passages a question needs.

- ``tokenizer``: the Chinese tokenizer used identically for documents and queries (``ChineseTokenizer``).
- ``lexical``: the BM25 index over token ids, persisted and memory-mapped (``LexicalIndex``).
- ``synonyms``: the colloquial → official thesaurus for query expansion (``Thesaurus``).
- ``wordvectors``: offline Chinese word vectors and synonym groups (``WordVectors``).
- ``embedding``: the embedder component with a mode (``build_embedder``).
- ``clauses``: "《某条例》第十二条" found in a question and resolved (``ClauseLocator``).
- ``rerank``: the optional cross-encoder reranker (``build_reranker``).
- ``hybrid``: BM25 + dense fused by weighted reciprocal rank, with clause lookup (``HybridRetriever``).
"""
