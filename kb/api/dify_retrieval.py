"""Dify's External Knowledge API: ``POST /retrieval`` (and ``POST /dify/retrieval``).

Dify (外部知识库 / External Knowledge API) sends the question here and shows the records it gets
back as its knowledge; docs/api_dify.md says how to connect it. Served by `kb serve` next to the
OpenAI-compatible API (app.py), with the same API keys and the same machinery:

- ``Authorization: Bearer <key from kb apikeys create>``; the key acts as its user, whose
  collection grants apply (the search runs through ``services.for_user(user).retriever``, the
  scoped retriever of kb/access/scope.py: a collection the user may not read is not in the index that
  is searched). Keys are throttled per key and bad keys per address exactly as on /v1
  (ChatCompletions.authenticate, kb/access/login_guard.py); the search waits for a slot of the same fair
  queue as /v1 answers (kb/api/fair_queue.py) when app.py passes it; every call is audited
  (action ``retrieval``, via ``dify``, the key, the documents returned).
- Request: ``{"knowledge_id", "query", "retrieval_setting": {"top_k", "score_threshold"},
  "metadata_condition": {"logical_operator", "conditions": [{"name", "comparison_operator",
  "value"}]}}``. ``knowledge_id`` is a collection name, or ``*`` for every collection the key's user
  may read. A collection the user may not read is answered exactly like one that does not exist.
- Response: ``{"records": [{"content", "score", "title", "metadata"}]}`` in the retriever's order.
- Errors (Dify's convention): ``{"error_code", "error_msg"}`` — 403/1001 missing or malformed
  Authorization header, 403/1002 unknown, revoked or orphaned key, 404/2001 unknown (or unreadable)
  knowledge_id; 400 a malformed body, 413 a body over security.api_max_body_kb, 429/503 throttled.

Score (0..1): the chunk's BM25 score (in the index the user sees) over what a chunk of average
length holding each of the query's own terms once would score (their idf mass / (k1 + 1)), capped
at 1 — about "the share of the query's weighted terms the chunk holds"; times the collection's
weight when below 1
(retrieval.collection_weights: the shipped framework, ``builtin``, counts half). A chunk the
clause lookup found (《某条例》第十二条) scores 1.0; a chunk only the dense side found scores 0.
"""
# no `from __future__ import annotations`: FastAPI reads the route functions' annotations
import json
import logging
import re
from typing import Any

from kb.api.openai_compat import ApiError
from kb.models import Filters, Hit

log = logging.getLogger(__name__)

ROUTES = ("/retrieval", "/dify/retrieval")
ALL = "*"
MAX_TOP_K = 100
MAX_QUERY_CHARS = 2000
MAX_CONDITIONS = 32
# document metadata a metadata_condition may name (DocumentRecord fields)
DOC_FIELDS = ("doc_id", "title", "doc_type", "collection", "doc_number", "issuer", "issued_on")
STRING_OPS = {"contains", "not contains", "start with", "end with", "is", "is not", "in", "not in",
              "empty", "not empty", "null", "not null"}
NUMBER_OPS = {"=", "≠", "!=", ">", "<", "≥", ">=", "≤", "<="}
DATE_OPS = {"before", "after"}


class DifyError(Exception):
    def __init__(self, status: int, code: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    def body(self) -> dict[str, Any]:
        return {"error_code": self.code, "error_msg": self.message}


BAD_HEADER = (403, 1001, "Invalid Authorization header format. Expected 'Bearer <api-key>' format.")
BAD_KEY = (403, 1002, "Authorization failed")
NO_KNOWLEDGE = (404, 2001, "The knowledge does not exist")


def bearer_key(authorization: str | None) -> str | None:
    """The key of a well-formed ``Bearer <key>`` header, else None."""
    if not isinstance(authorization, str):
        return None
    parts = authorization.strip().split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


# ---- the request ---------------------------------------------------------------------------------
def _bad(message: str) -> DifyError:
    return DifyError(400, 400, message)


def parse_request(body: Any) -> dict[str, Any]:
    """Validate a retrieval body: knowledge_id, query, top_k, score_threshold, condition."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    kid = body.get("knowledge_id")
    if not isinstance(kid, str) or not kid.strip():
        raise _bad("'knowledge_id' must be a collection name, or '*' for every collection")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _bad("'query' must be a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise _bad(f"'query' is longer than {MAX_QUERY_CHARS} characters")
    setting = body.get("retrieval_setting")
    if setting is None:
        setting = {}
    if not isinstance(setting, dict):
        raise _bad("'retrieval_setting' must be an object")
    top_k = setting.get("top_k", 5)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise _bad("'retrieval_setting.top_k' must be a positive integer")
    threshold = setting.get("score_threshold", 0.0)
    if threshold is None:
        threshold = 0.0
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= float(threshold) <= 1.0:
        raise _bad("'retrieval_setting.score_threshold' must be a number from 0 to 1")
    return {
        "knowledge_id": kid.strip(),
        "query": query.strip(),
        "top_k": min(top_k, MAX_TOP_K),
        "score_threshold": float(threshold),
        "condition": parse_condition(body.get("metadata_condition")),
    }


def parse_condition(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("'metadata_condition' must be an object")
    logical = raw.get("logical_operator") or "and"
    if logical not in ("and", "or"):
        raise _bad("'metadata_condition.logical_operator' must be 'and' or 'or'")
    conditions = raw.get("conditions") or []
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        raise _bad(f"'metadata_condition.conditions' must be a list of at most {MAX_CONDITIONS} conditions")
    parsed = []
    for c in conditions:
        if not isinstance(c, dict):
            raise _bad("each metadata condition must be an object")
        names = c.get("name")
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise _bad("a metadata condition's 'name' must be a field name or a list of field names")
        op = c.get("comparison_operator")
        if op not in STRING_OPS | NUMBER_OPS | DATE_OPS:
            raise _bad(f"unsupported comparison_operator {op!r}")
        value = c.get("value")
        if value is not None and not isinstance(value, (str, int, float, list)):
            raise _bad("a metadata condition's 'value' must be a string, a number or a list of strings")
        parsed.append({"names": names, "op": op, "value": value})
    if not parsed:
        return None
    return {"logical": logical, "conditions": parsed}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date string or a Unix timestamp (what Dify sends for dates)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        from datetime import datetime, timezone

        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    m = re.match(r"\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})", str(value or ""))
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else None


def _matches(field: str, op: str, value: Any) -> bool:
    """One comparison on one field's value (strings; numbers for = ≠ > < ≥ ≤; dates for before/after)."""
    if op in ("empty", "null"):
        return not field
    if op in ("not empty", "not null"):
        return bool(field)
    if op in ("in", "not in"):
        values = value if isinstance(value, list) else [v.strip() for v in str(value or "").split(",")]
        found = field in {str(v) for v in values}
        return found if op == "in" else not found
    if op in DATE_OPS:
        mine, theirs = _date(field), _date(value)
        if mine is None or theirs is None:
            return False
        return mine < theirs if op == "before" else mine > theirs
    if op in NUMBER_OPS:
        mine, theirs = _number(field), _number(value)
        if mine is None or theirs is None:
            return op in ("≠", "!=") and field != str(value)
        return {"=": mine == theirs, "≠": mine != theirs, "!=": mine != theirs, ">": mine > theirs,
                "<": mine < theirs, "≥": mine >= theirs, ">=": mine >= theirs, "≤": mine <= theirs,
                "<=": mine <= theirs}[op]
    text = "" if value is None else str(value)
    return {
        "contains": text in field,
        "not contains": text not in field,
        "start with": field.startswith(text),
        "end with": field.endswith(text),
        "is": field == text,
        "is not": field != text,
    }[op]


def document_matches(record: dict[str, Any], condition: dict[str, Any]) -> bool:
    """Does a document's metadata satisfy the condition? A condition naming several fields holds
    when one of them does; a field the knowledge base does not have reads as empty."""
    results = []
    for c in condition["conditions"]:
        names = c["names"]
        if c["op"] in ("not contains", "is not", "not in", "empty", "null"):
            ok = all(_matches(str(record.get(n) or ""), c["op"], c["value"]) for n in names)
        else:
            ok = any(_matches(str(record.get(n) or ""), c["op"], c["value"]) for n in names)
        results.append(ok)
    return all(results) if condition["logical"] == "and" else any(results)


# ---- the search ----------------------------------------------------------------------------------
class DifyRetrieval:
    """The API's logic, independent of the web framework: authenticate, search as the key's user,
    score, audit. `api`: the ChatCompletions whose authenticate (key checks, throttles) is shared."""

    def __init__(self, services):
        from kb.api.openai_compat import ChatCompletions

        self.services = services
        self.chat = ChatCompletions(services)

    def authenticate(self, authorization: str | None, client: str | None = None) -> tuple[str, str]:
        if bearer_key(authorization) is None:
            raise DifyError(*BAD_HEADER)
        try:
            return self.chat.authenticate(authorization, client)
        except ApiError as exc:
            if exc.status == 401:
                raise DifyError(*BAD_KEY) from None
            raise DifyError(exc.status, exc.status, exc.message, exc.retry_after) from None

    def retrieve(self, user: str, key_name: str, req: dict[str, Any]) -> dict[str, Any]:
        reader = self.services.for_user(user)
        retriever = reader.retriever
        retriever.refresh()
        snap = retriever.snapshot_for(None)  # the index as this user sees it
        visible = set(snap.meta["collection"]) if snap is not None and len(snap) else set()
        kid = req["knowledge_id"]
        if kid != ALL and kid not in visible:
            self._audit(user, key_name, req, [], refused="unknown_knowledge")
            raise DifyError(*NO_KNOWLEDGE)
        documents = {r.doc_id: r for r in reader.store.list_documents()
                     if (kid == ALL or r.collection == kid) and r.collection in visible}
        filters = Filters(collections=[kid]) if kid != ALL else None
        if req["condition"] is not None:
            wanted = sorted(d for d, r in documents.items() if document_matches(r.to_dict(), req["condition"]))
            if not wanted:
                self._audit(user, key_name, req, [])
                return {"records": []}
            filters = Filters(collections=filters.collections if filters else None, doc_ids=wanted)
        hits = retriever.search(req["query"], k=req["top_k"], filters=filters)
        scores = self.scores(retriever, snap, req["query"], hits, filters)
        records = []
        for hit, score in zip(hits, scores):
            if score < req["score_threshold"]:
                continue
            records.append(self.record(hit, score, documents.get(hit.chunk.doc_id)))
        records = records[: req["top_k"]]
        self._audit(user, key_name, req, records)
        return {"records": records}

    def scores(self, retriever, snap, query: str, hits: list[Hit], filters: Filters | None) -> list[float]:
        """Each hit's score in 0..1 (see the module's docstring)."""
        from kb.answering.evidence import TermRarity
        from kb.retrieval.lexical import BM25_K1

        if not hits or snap is None or getattr(snap, "bm25", None) is None:
            return [1.0 if h.via_clause else 0.0 for h in hits]
        cfg = self.services.settings.retrieval
        n = max(cfg.candidate_k, len(hits))
        bm25 = dict(retriever.lexical_scores(query, n, filters, by="chunk_id"))
        idf = TermRarity(snap.bm25.vocab_dict, snap.bm25.scores["indptr"], len(snap))
        # the query's own terms (BM25 also counts the official terms query expansion adds for its
        # colloquial words, so such a match still counts, but they do not raise the bar)
        full = idf.mass(retriever.tokenizer.tokenize(query)) / (BM25_K1 + 1.0)
        weights = cfg.collection_weights or {}
        out = []
        for h in hits:
            if h.via_clause:
                out.append(1.0)
                continue
            raw = bm25.get(h.chunk.chunk_id, 0.0)
            score = min(1.0, raw / full) if full > 0 else 0.0
            score *= min(1.0, float(weights.get(h.chunk.collection, 1.0)))
            out.append(round(max(0.0, score), 4))
        return out

    @staticmethod
    def record(hit: Hit, score: float, doc) -> dict[str, Any]:
        c = hit.chunk
        return {
            "content": c.text,
            "score": score,
            "title": c.title,
            "metadata": {
                "doc_id": c.doc_id,
                "collection": c.collection,
                "doc_type": c.doc_type,
                "doc_number": c.doc_number or (doc.doc_number if doc else ""),
                "issuer": doc.issuer if doc else "",
                "issued_on": doc.issued_on if doc else "",
                "section": c.section,
                "article": c.article,
                "page": c.page,
                "pages": c.pages,  # [first page, last page] of the passage; None without pages
                # the passage's character offsets in the stored document text: text[start:end] == content
                "start": c.start,
                "end": c.end,
                "chunk_id": c.chunk_id,
            },
        }

    def _audit(self, user: str, key_name: str, req: dict[str, Any], records: list[dict[str, Any]], **extra: Any) -> None:
        shown = sorted({r["metadata"]["doc_id"] for r in records})
        self.services.audit.record(user, "retrieval", req["query"], shown, via="dify", key=key_name,
                                   knowledge_id=req["knowledge_id"], top_k=req["top_k"],
                                   score_threshold=req["score_threshold"], records=len(records),
                                   chunks=[r["metadata"]["chunk_id"] for r in records], **extra)


def router(services, max_body_kb: int = 256, queue=None):
    """The FastAPI routes (mounted by app.py next to the OpenAI-compatible ones). `queue`: the fair
    slot pool the search waits in — app.py passes the /v1 router's, so both APIs share one pool;
    None builds one from settings.server. Bodies are bounded before they are read by
    kb/api/request_limits.py (these paths count as API paths there: security.api_max_body_kb); the
    check here covers a router mounted alone."""
    from fastapi import APIRouter, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    from kb.api.fair_queue import FairQueue, QueueRefused

    api = DifyRetrieval(services)
    routes = APIRouter()
    if queue is None:
        settings = getattr(services, "settings", None)
        queue = FairQueue.from_settings(settings) if settings is not None else FairQueue()
    routes.fair_queue = queue

    def error(exc: DifyError) -> JSONResponse:
        headers = {"Retry-After": str(int(exc.retry_after) + 1)} if exc.retry_after else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def retrieval(request: Request):
        try:
            client = request.client.host if request.client else None
            key_name, user = await run_in_threadpool(api.authenticate, request.headers.get("authorization"), client)
            raw = await request.body()
            if len(raw) > max_body_kb * 1024:
                raise DifyError(413, 413, f"request body larger than {max_body_kb} KB")
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise _bad(f"the request body is not JSON ({exc})") from None
            req = parse_request(body)
            try:
                await queue.acquire(key_name)
            except QueueRefused as exc:
                raise DifyError(exc.status, exc.status, exc.message, exc.retry_after) from None
            try:
                result = await run_in_threadpool(api.retrieve, user, key_name, req)
            finally:
                queue.release()
            return JSONResponse(result)
        except DifyError as exc:
            return error(exc)

    for path in ROUTES:
        routes.add_api_route(path, retrieval, methods=["POST"])
    return routes
