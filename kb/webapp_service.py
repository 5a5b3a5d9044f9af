"""The web app's server-side layer: who may do what, the audit trail, and the conversions between
the knowledge-base records and what the UI shows (answer HTML, the editable draft table).

`app.py` only wires Gradio components to the methods here. Every method that changes or reveals
the knowledge base takes the caller's user name and checks the role itself, because a Gradio
event can be called directly through the API (gradio_client) without the UI that hides a tab.
Nothing here imports Gradio; errors are ``PermissionError`` (role) and ``ValueError`` (bad input),
which `app.py` turns into ``gr.Error``.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from kb.models import DOC_TYPES, Answer, Citation, Draft, DraftQuestion, DraftRequest, DraftSection, Filters

# The name the audit log records when the app runs without a users file (local, single person).
LOCAL_USER = "local"

DOC_TYPE_LABELS = {
    "policy": "政策文件",
    "criteria": "考察标准",
    "report": "考察报告",
    "outline": "提纲范本",
    "other": "其他",
}
KIND_LABELS = {"interview": "深度访谈提纲", "talk": "谈话提纲"}
DRAFT_COLUMNS = ["维度", "问题", "追问", "考察意图", "来源"]
DOCUMENT_COLUMNS = ["文档ID", "标题", "类型", "集合", "段数", "导入时间"]
INGEST_RESULT_COLUMNS = ["文件", "文档ID", "结果", "说明"]
COVERAGE_LABELS = {"questions": "问题数", "sources": "依据文档", "verified": "已核实", "covered": "已覆盖"}

# Follow-ups share one table cell, one per line.
FOLLOW_UP_SEPARATOR = "\n"
_SOURCE_MARK = re.compile(r"\[(\d+)\]")
_CITE_MARK = re.compile(r"\[(\d+)\]")


# ---- identity and roles -----------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    name: str
    role: str  # admin | inspector

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class WebAppService:
    """One per app process; wraps the lazily built `kb.container.Services`."""

    def __init__(self, services):
        self.services = services

    # -- who is calling ------------------------------------------------------------------------
    def login_required(self) -> bool:
        return self.services.users.has_users()

    def check_login(self, name: str, password: str) -> bool:
        """The Gradio auth callable: verify the password and record the attempt."""
        ok = self.services.users.verify(name, password)
        self.services.audit.record(name if isinstance(name, str) else None, "login" if ok else "login_failed", "web")
        return ok

    def caller(self, username: str | None) -> Caller:
        """Who is acting. Without any accounts the app is local-only and the local user is admin;
        once accounts exist an anonymous call is refused (a server started before the first
        `kb users add` must not keep serving anonymous admins)."""
        users = self.services.users
        if not users.has_users():
            return Caller(username or LOCAL_USER, "admin")
        if not username:
            raise PermissionError("请先登录")
        role = users.role(username)
        if role is None:
            raise PermissionError(f"用户 {username} 不存在或已被删除")
        return Caller(username, role)

    def require_admin(self, username: str | None) -> Caller:
        caller = self.caller(username)
        if self.services.users.has_users():
            self.services.users.require_role(caller.name, "admin")
        return caller

    def is_admin(self, username: str | None) -> bool:
        try:
            return self.caller(username).is_admin
        except PermissionError:
            return False

    # -- questions -----------------------------------------------------------------------------
    def ask(
        self,
        username: str | None,
        question: str,
        doc_types: Sequence[str] | None = None,
        collections: Sequence[str] | None = None,
        k: int | None = None,
    ) -> dict[str, Any]:
        caller = self.caller(username)
        question = _require_question(question)
        answer = self.services.answers.ask(question, filters=make_filters(doc_types, collections), k=k)
        self._audit_answer(caller, answer)
        return answer.to_dict()

    def ask_stream(
        self,
        username: str | None,
        question: str,
        doc_types: Sequence[str] | None = None,
        collections: Sequence[str] | None = None,
        history: Sequence[str] | None = None,
    ) -> Iterator[str | dict[str, Any]]:
        """Yield text pieces as they are generated, then the finished answer as a dict. `history`: the
        conversation's earlier questions (a follow-up is answered as the standalone question it means)."""
        caller = self.caller(username)
        question = _require_question(question)
        filters = make_filters(doc_types, collections)
        answers = self.services.answers
        answer: Answer | None = None
        if hasattr(answers, "stream"):
            for piece in answers.stream(question, filters=filters, history=list(history or [])):
                if isinstance(piece, Answer):
                    answer = piece
                elif isinstance(piece, str) and piece:
                    yield piece
        if answer is None:
            answer = answers.ask(question, filters=filters)
        self._audit_answer(caller, answer)
        yield answer.to_dict()

    def _audit_answer(self, caller: Caller, answer: Answer) -> None:
        cited = _unique(c.doc_id for c in answer.citations)
        self.services.audit.record(
            caller.name, "ask", answer.question, cited, refused=answer.refused, status=answer.status, mode=answer.mode
        )

    def chunk_text(self, chunk_id: str) -> str | None:
        """The full text of one chunk (for highlighting a quote that is not among the contexts)."""
        chunk = self.services.retriever.chunk(chunk_id)
        return chunk.text if chunk is not None else None  # deleted meanwhile: the quote alone is shown

    def filter_choices(self, username: str | None) -> tuple[list[str], list[str]]:
        """(document types, collections) present in the knowledge base, for the filter widgets."""
        self.caller(username)
        docs = self.services.store.list_documents()
        types = [t for t in DOC_TYPES if any(d.doc_type == t for d in docs)]
        collections = sorted({d.collection for d in docs})
        return types, collections

    # -- drafting ------------------------------------------------------------------------------
    def draft(self, username: str | None, request: DraftRequest | dict[str, Any]) -> Draft:
        caller = self.caller(username)
        request = make_draft_request(request)
        draft = self.services.drafts.draft(request)
        cited = _unique(c.doc_id for s in draft.sections for q in s.questions for c in q.citations)
        detail = " ".join(p for p in (KIND_LABELS.get(request.kind, request.kind), request.target, request.interviewee, request.request) if p)
        self.services.audit.record(
            caller.name, "draft", detail, cited, kind=request.kind, dimensions=list(request.dimensions)
        )
        return draft

    def regenerate_question(
        self,
        username: str | None,
        request: DraftRequest | dict[str, Any],
        rows: list[list[Any]],
        sources: list[dict[str, Any]],
        row_index: int,
    ) -> tuple[list[list[str]], list[dict[str, Any]]]:
        """Replace one table row with a different question for the same dimension.

        Asks the drafter for that dimension alone with the largest count and takes the first
        question the table does not already hold. Returns the new (rows, sources)."""
        caller = self.caller(username)
        rows = normalize_rows(rows)
        if not 0 <= row_index < len(rows):
            raise ValueError("请先在表格中选中要重新生成的问题")
        request = make_draft_request(request)
        dimension = rows[row_index][0].strip()
        if not dimension:
            raise ValueError("该行没有维度，无法重新生成")
        drafts = self.services.drafts
        if hasattr(drafts, "regenerate"):
            candidates = drafts.regenerate(request, dimension)
        else:
            max_count = self.services.settings.draft.max_count
            sub = DraftRequest(
                kind=request.kind,
                target=request.target,
                interviewee=request.interviewee,
                dimensions=[dimension],
                count=max_count,
                request=request.request,
            )
            result = drafts.draft(sub)
            candidates = [q for s in result.sections for q in s.questions]
        existing = {_norm(r[1]) for r in rows}
        fresh = next((q for q in candidates if _norm(q.text) and _norm(q.text) not in existing), None)
        if fresh is None:
            raise ValueError(f"知识库中没有更多关于“{dimension}”的不同问题")
        sources = list(sources or [])
        registry = _SourceRegistry(sources)
        rows[row_index] = _row(dimension, fresh, registry)
        self.services.audit.record(
            caller.name, "draft", f"重新生成：{dimension}", _unique(c.doc_id for c in fresh.citations), regenerate=True
        )
        return rows, registry.sources

    def export(self, username: str | None, draft: Draft, fmt: str, out_dir: str | Path) -> Path:
        """Write the (edited) draft as .docx or .md under `out_dir` and return the file."""
        from kb.export import draft_to_docx, draft_to_markdown

        caller = self.caller(username)
        if fmt not in ("docx", "md"):
            raise ValueError(f"unknown export format {fmt!r} (docx or md)")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = _safe_file_name(draft.title or KIND_LABELS.get(draft.kind, "提纲"))
        path = out_dir / f"{base}-{stamp}.{fmt}"
        if fmt == "docx":
            draft_to_docx(draft, path)
        else:
            path.write_text(draft_to_markdown(draft), encoding="utf-8")
        cited = _unique(c.doc_id for s in draft.sections for q in s.questions for c in q.citations)
        questions = sum(len(s.questions) for s in draft.sections)
        self.services.audit.record(
            caller.name, "export", f"{fmt}：{draft.title or draft.target}", cited, format=fmt, questions=questions
        )
        return path

    # -- administration ------------------------------------------------------------------------
    def ingest_files(
        self,
        username: str | None,
        paths: Sequence[str | Path],
        doc_type: str | None = None,
        collection: str | None = None,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Ingest uploaded files; the summary plus one result per file (新增/更新/未变/失败)."""
        caller = self.require_admin(username)
        paths = [Path(p) for p in paths or []]
        if not paths:
            raise ValueError("请选择要导入的文件")
        if doc_type in ("", "auto", None):
            doc_type = None
        elif doc_type not in DOC_TYPES:
            raise ValueError(f"未知的文档类型 {doc_type!r}（可选：{', '.join(DOC_TYPES)}）")
        collection = (collection or "").strip() or None
        store = self.services.store
        before = {r.doc_id: r for r in store.list_documents()}
        summary = self.services.ingest.ingest_paths(
            [str(p) for p in paths], doc_type=doc_type, collection=collection, progress=progress
        )
        after = {r.doc_id: r for r in store.list_documents()}
        failures = {str(f["path"]): f["error"] for f in summary.get("failed", [])}
        files = []
        for path in paths:
            doc_id = _doc_id_for(path)
            error = failures.pop(str(path), None)
            if error is not None:
                files.append({"file": path.name, "doc_id": doc_id, "status": "失败", "error": error, "chunks": 0})
                continue
            new, old = after.get(doc_id), before.get(doc_id)
            if new is None:
                status, error = "失败", "未能导入"
            elif old is None:
                status = "新增"
            elif (old.sha256, old.ingested_at) != (new.sha256, new.ingested_at):
                status = "更新"
            else:
                status = "未变"
            files.append(
                {"file": path.name, "doc_id": doc_id, "status": status, "error": error or "", "chunks": new.chunks if new else 0}
            )
        for failed_path, error in failures.items():  # failures not tied to an uploaded path
            files.append({"file": Path(failed_path).name, "doc_id": "", "status": "失败", "error": error, "chunks": 0})
        summary = dict(summary)
        summary["files"] = files
        ok_ids = [f["doc_id"] for f in files if f["status"] in ("新增", "更新")]
        self.services.audit.record(
            caller.name,
            "ingest",
            "、".join(p.name for p in paths),
            ok_ids,
            added=summary.get("added", 0),
            updated=summary.get("updated", 0),
            failed=len(summary.get("failed", [])),
            doc_type=doc_type,
            collection=collection,
        )
        return summary

    def delete_document(self, username: str | None, doc_id: str) -> bool:
        caller = self.require_admin(username)
        doc_id = (doc_id or "").strip()
        if not doc_id:
            raise ValueError("请选择要删除的文档")
        if self.services.store.get_document(doc_id) is None:
            raise ValueError(f"没有文档 {doc_id}")
        removed = bool(self.services.ingest.remove(doc_id))
        self.services.audit.record(caller.name, "delete", doc_id, [doc_id], removed=removed)
        return removed

    def rebuild_indexes(self, username: str | None) -> dict[str, Any]:
        caller = self.require_admin(username)
        snapshot = self.services.retriever.rebuild()
        stats = self.statistics(username)
        self.services.audit.record(caller.name, "rebuild", "重建索引", chunks=stats["chunks"])
        del snapshot
        return stats

    def list_documents(self, username: str | None) -> list[dict[str, Any]]:
        self.require_admin(username)
        docs = sorted(self.services.store.list_documents(), key=lambda d: d.ingested_at, reverse=True)
        return [d.to_dict() for d in docs]

    def statistics(self, username: str | None) -> dict[str, Any]:
        self.require_admin(username)
        docs = self.services.store.list_documents()
        by_type: dict[str, int] = {}
        by_collection: dict[str, int] = {}
        for d in docs:
            by_type[d.doc_type] = by_type.get(d.doc_type, 0) + 1
            by_collection[d.collection] = by_collection.get(d.collection, 0) + 1
        return {
            "documents": len(docs),
            "chunks": sum(d.chunks for d in docs),
            "chars": sum(d.chars for d in docs),
            "by_type": by_type,
            "by_collection": by_collection,
            "last_ingest": max((d.ingested_at for d in docs), default=""),
        }


# ---- input helpers ----------------------------------------------------------------------------
def make_filters(doc_types: Sequence[str] | None, collections: Sequence[str] | None) -> Filters | None:
    doc_types = [t for t in (doc_types or []) if t]
    collections = [c for c in (collections or []) if c]
    for t in doc_types:
        if t not in DOC_TYPES:
            raise ValueError(f"未知的文档类型 {t!r}（可选：{', '.join(DOC_TYPES)}）")
    if not doc_types and not collections:
        return None
    return Filters(doc_types=doc_types or None, collections=collections or None)


def make_draft_request(request: DraftRequest | dict[str, Any]) -> DraftRequest:
    if isinstance(request, DraftRequest):
        req = request
    elif isinstance(request, dict):
        known = {"kind", "target", "interviewee", "dimensions", "count", "request", "id"}
        unknown = sorted(set(request) - known)
        if unknown:
            raise ValueError(f"未知的提纲请求字段：{', '.join(unknown)}")
        data = dict(request)
        dims = data.get("dimensions") or []
        if isinstance(dims, str):
            dims = [d for d in re.split(r"[,，、;；\s]+", dims) if d]
        data["dimensions"] = [str(d).strip() for d in dims if str(d).strip()]
        count = data.get("count")
        if count in ("", None):
            data["count"] = None
        else:
            try:
                data["count"] = int(count)
            except (TypeError, ValueError):
                raise ValueError(f"问题数量必须是整数，收到 {count!r}") from None
        req = DraftRequest(**data)
    else:
        raise ValueError("提纲请求必须是 JSON 对象")
    if req.kind not in KIND_LABELS:
        raise ValueError(f"未知的提纲类型 {req.kind!r}（interview 或 talk）")
    if req.count is not None and req.count < 1:
        raise ValueError("问题数量至少为 1")
    if not (req.target.strip() or req.request.strip() or req.dimensions):
        raise ValueError("请至少填写考察对象、考察维度或起草要求之一")
    return req


def _require_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise ValueError("请输入问题")
    if len(question) > 2000:
        raise ValueError("问题太长（超过 2000 字）")
    return question


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def _doc_id_for(path: Path) -> str:
    try:
        from ingest.pipeline import _safe_doc_id, doc_id_for

        return _safe_doc_id(doc_id_for(path, None))
    except ImportError:  # pragma: no cover - ingest ships with kb
        return path.stem


def _safe_file_name(name: str) -> str:
    cleaned = re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("._")
    return cleaned[:60] or "提纲"


def _norm(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if not ch.isspace())


# ---- answers as HTML ---------------------------------------------------------------------------
def citation_location(citation: dict[str, Any]) -> str:
    parts = [p for p in (citation.get("section"), citation.get("article")) if p]
    if citation.get("page"):
        parts.append(f"第{citation['page']}页")
    return " > ".join(parts)


def render_answer_html(answer: dict[str, Any]) -> str:
    """The answer text with each [n] as a clickable chip (see the page script in app.py)."""
    text = html.escape(answer.get("answer", ""))
    numbers = {c.get("n") for c in answer.get("citations", [])}
    aid = _safe_id(answer.get("answer_id") or "")

    def chip(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        # the chat's sanitizer keeps classes, not data-*: the answer's id rides in a class, so a chip of
        # an earlier answer opens that answer's source, never the latest answer's [n]
        owner = f" kb-a-{aid}" if aid else ""
        return f'<span class="kb-chip{owner}" data-n="{n}" title="查看来源 {n}">{n}</span>'

    body = _CITE_MARK.sub(chip, text).replace("\n", "<br>")
    status = answer_status(answer)
    badge = f'<span class="kb-badge kb-badge-{status}">{STATE_LABELS[status]}</span>'
    resolved = answer.get("resolved_question") or ""
    understood = (
        f'<div class="kb-resolved">按“{html.escape(resolved)}”理解</div>' if resolved and resolved != answer.get("question") else ""
    )
    return f'<div class="kb-state kb-state-{status}">{badge}{understood}<div class="kb-answer-body">{body}</div></div>'


# How each answer state reads in the UI and on the clipboard (kb/answering/answerability.py).
STATE_LABELS = {"answered": "已回答", "related": "未直接回答 · 可能相关的原文", "refused": "未找到依据"}


def answer_status(answer: dict[str, Any]) -> str:
    status = answer.get("status")
    if status in STATE_LABELS:
        return status
    return "refused" if answer.get("refused") else "answered"


def answer_as_text(answer: dict[str, Any]) -> str:
    """Plain text for the clipboard: the answer's state, the answer, then its sources."""
    lines = [f"【{STATE_LABELS[answer_status(answer)]}】", answer.get("answer", "").strip()]
    citations = answer.get("citations", [])
    if citations:
        lines += ["", "来源："]
        for c in citations:
            where = citation_location(c)
            lines.append(f"[{c['n']}] 《{c.get('title') or c.get('doc_id')}》{('，' + where) if where else ''}：“{c.get('quote', '')}”")
    elif answer.get("refused") and answer.get("contexts"):
        lines += ["", "可能相关的来源："]
        for h in answer["contexts"]:
            where = citation_location(h)
            lines.append(f"- 《{h.get('title') or h.get('doc_id')}》{('，' + where) if where else ''}")
    return "\n".join(lines).strip()


def highlight_quote(text: str, quote: str) -> str:
    """Escape `text` for HTML and wrap `quote` in <mark>, matching across full/half-width
    punctuation and spaces (the way citations are verified). Unfound quotes are left unmarked."""
    if not quote:
        return html.escape(text)
    span = find_quote_span(text, quote)
    if span is None:
        return html.escape(text)
    start, end = span
    return (
        html.escape(text[:start])
        + '<mark class="kb-quote">'
        + html.escape(text[start:end])
        + "</mark>"
        + html.escape(text[end:])
    )


def find_quote_span(text: str, quote: str) -> tuple[int, int] | None:
    norm_chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for n in unicodedata.normalize("NFKC", ch):
            if n.isspace():
                continue
            norm_chars.append(n)
            origin.append(i)
    target = _norm(quote)
    if not target:
        return None
    at = "".join(norm_chars).find(target)
    if at < 0:
        return None
    return origin[at], origin[at + len(target) - 1] + 1


def _safe_id(value: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]", "", value)


def source_element_id(answer: dict[str, Any], n: int) -> str:
    """The id of citation n's entry in the sources panel — unique per answer."""
    aid = _safe_id(answer.get("answer_id") or "")
    return f"kb-cite-{aid}-{n}" if aid else f"kb-cite-{n}"


def render_sources_html(answer: dict[str, Any], chunk_text: Callable[[str], str | None] | None = None) -> str:
    """One collapsible entry per citation: title, place, page and the chunk with the quote marked.
    For a refusal, the retrieved passages are listed as “possibly related”."""
    contexts = {h.get("chunk_id"): h for h in answer.get("contexts", [])}
    citations = answer.get("citations", [])
    parts: list[str] = []
    if citations:
        title = "可能相关的原文（知识库中没有直接回答该问题的内容）" if answer_status(answer) == "related" else "来源"
        parts.append(f'<div class="kb-sources-title">{title}</div>')
        for c in citations:
            text = (contexts.get(c.get("chunk_id")) or {}).get("text")
            if text is None and chunk_text is not None:
                text = chunk_text(c.get("chunk_id", ""))
            body = highlight_quote(text, c.get("quote", "")) if text else f'<mark class="kb-quote">{html.escape(c.get("quote", ""))}</mark>'
            where = citation_location(c)
            flag = "" if c.get("verified", True) else '<span class="kb-unverified">（引文未核实）</span>'
            parts.append(
                f'<details class="kb-source" id="{source_element_id(answer, c["n"])}" data-n="{c["n"]}">'
                f'<summary><span class="kb-chip">{c["n"]}</span> 《{html.escape(c.get("title") or c.get("doc_id", ""))}》'
                f'<span class="kb-where">{html.escape(where)}</span>{flag}</summary>'
                f'<div class="kb-quote-line">引文：“{html.escape(c.get("quote", ""))}”</div>'
                f'<div class="kb-chunk">{body}</div></details>'
            )
    elif answer.get("refused"):
        related = answer.get("contexts", [])
        if related:
            parts.append('<div class="kb-sources-title">可能相关的来源（未能据此作答）</div>')
            for h in related:
                where = citation_location(h)
                parts.append(
                    f'<details class="kb-source kb-related"><summary>《{html.escape(h.get("title") or h.get("doc_id", ""))}》'
                    f'<span class="kb-where">{html.escape(where)}</span></summary>'
                    f'<div class="kb-chunk">{html.escape(h.get("text", ""))}</div></details>'
                )
        else:
            parts.append('<div class="kb-sources-title">知识库中没有相关的段落。</div>')
    if answer.get("unsupported"):
        items = "".join(f"<li>{html.escape(s)}</li>" for s in answer["unsupported"])
        parts.append(f'<div class="kb-unsupported">以下内容未找到依据，已删去：<ul>{items}</ul></div>')
    return "\n".join(parts)


# ---- the draft as an editable table ------------------------------------------------------------
class _SourceRegistry:
    """Numbers citations for the 来源 column; the numbers are the link back to full citations
    when an edited table is exported, so rows may be moved, added or deleted freely."""

    def __init__(self, sources: list[dict[str, Any]] | None = None):
        self.sources: list[dict[str, Any]] = list(sources or [])
        self._by_key = {self._key(s): i + 1 for i, s in enumerate(self.sources)}

    @staticmethod
    def _key(c: dict[str, Any]) -> tuple:
        return (c.get("chunk_id"), c.get("quote"))

    def number(self, citation: Citation | dict[str, Any]) -> int:
        data = citation.to_dict() if isinstance(citation, Citation) else dict(citation)
        key = self._key(data)
        if key not in self._by_key:
            self.sources.append(data)
            self._by_key[key] = len(self.sources)
        return self._by_key[key]


def source_label(n: int, citation: dict[str, Any]) -> str:
    where = citation_location(citation)
    return f"[{n}]《{citation.get('title') or citation.get('doc_id', '')}》{where}"


def _row(dimension: str, question: DraftQuestion, registry: _SourceRegistry) -> list[str]:
    labels = [source_label(registry.number(c), c.to_dict()) for c in question.citations]
    return [
        dimension,
        question.text,
        FOLLOW_UP_SEPARATOR.join(f for f in question.follow_ups if f),
        question.purpose,
        "；".join(labels),
    ]


def draft_to_table(draft: Draft) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """Rows (维度, 问题, 追问, 考察意图, 来源) and the numbered citations the 来源 cells refer to."""
    registry = _SourceRegistry()
    rows = [_row(s.dimension, q, registry) for s in draft.sections for q in s.questions]
    return rows, registry.sources


def normalize_rows(rows: Any) -> list[list[str]]:
    """Table value from the UI (list of lists, a pandas DataFrame or {"data": ...}) as string rows."""
    if rows is None:
        return []
    if hasattr(rows, "values") and hasattr(rows, "columns"):  # pandas.DataFrame
        rows = rows.values.tolist()
    elif isinstance(rows, dict):
        rows = rows.get("data", [])
    out = []
    for row in rows:
        cells = ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in list(row)]
        cells = (cells + [""] * len(DRAFT_COLUMNS))[: len(DRAFT_COLUMNS)]
        out.append(cells)
    return out


def table_to_draft(rows: Any, base: Draft | dict[str, Any], sources: list[dict[str, Any]] | None) -> Draft:
    """The edited table as a Draft: rows grouped by 维度 in order of appearance; citations from the
    [n] marks left in each 来源 cell; title, coverage, warnings and opening from the original."""
    base = Draft.from_dict(base) if isinstance(base, dict) else base
    sources = sources or []
    sections: dict[str, DraftSection] = {}
    for dimension, text, follow_ups, purpose, source_cell in normalize_rows(rows):
        text = text.strip()
        if not text:
            continue  # a cleared row is a deleted question
        dimension = dimension.strip() or "其他"
        citations = []
        for mark in _SOURCE_MARK.findall(source_cell):
            n = int(mark)
            if 1 <= n <= len(sources):
                c = Citation(**{k: sources[n - 1].get(k) for k in Citation.__dataclass_fields__})
                if c not in citations:
                    citations.append(c)
        question = DraftQuestion(
            text=text,
            follow_ups=[f.strip() for f in follow_ups.split(FOLLOW_UP_SEPARATOR) if f.strip()],
            purpose=purpose.strip(),
            citations=citations,
        )
        sections.setdefault(dimension, DraftSection(dimension=dimension)).questions.append(question)
    # dimensions the drafter could not fill keep their (empty) section so the export shows the gap
    for s in base.sections:
        if not s.questions and s.dimension not in sections:
            sections[s.dimension] = DraftSection(dimension=s.dimension)
    return Draft(
        kind=base.kind,
        title=base.title,
        target=base.target,
        interviewee=base.interviewee,
        sections=list(sections.values()),
        coverage=base.coverage,
        warnings=list(base.warnings),
        opening=base.opening,
        date=base.date,
        id=base.id,
    )


def render_sources_legend(sources: list[dict[str, Any]]) -> str:
    """The numbered citations under the draft table, with their quoted words."""
    if not sources:
        return ""
    items = []
    for n, c in enumerate(sources, 1):
        where = citation_location(c)
        items.append(
            f'<li id="kb-draft-src-{n}"><b>[{n}]</b> 《{html.escape(c.get("title") or c.get("doc_id", ""))}》'
            f'{html.escape(where)}：<mark class="kb-quote">{html.escape(c.get("quote", ""))}</mark></li>'
        )
    return '<div class="kb-sources-title">来源</div><ul class="kb-legend">' + "".join(items) + "</ul>"


def render_coverage_html(coverage: dict[str, Any], warnings: Sequence[str]) -> str:
    """Coverage as a table (dimension × whatever the drafter measured) and the warnings."""
    parts: list[str] = []
    if warnings:
        items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
        parts.append(f'<div class="kb-warnings"><b>提示</b><ul>{items}</ul></div>')
    if coverage:
        parts.append("<b>覆盖情况</b>")  # dimension rows × the measures the drafter reports
        matrix = {k: v for k, v in coverage.items() if isinstance(v, dict)}
        if matrix:
            columns = _unique(c for row in matrix.values() for c in row)
            head = "".join(f"<th>{html.escape(COVERAGE_LABELS.get(str(c), str(c)))}</th>" for c in columns)
            body = "".join(
                f"<tr><th>{html.escape(str(k))}</th>"
                + "".join(f"<td>{html.escape(_cell(v.get(c)))}</td>" for c in columns)
                + "</tr>"
                for k, v in matrix.items()
            )
            parts.append(f'<table class="kb-coverage"><tr><th></th>{head}</tr>{body}</table>')
        rest = {k: v for k, v in coverage.items() if not isinstance(v, dict)}
        if rest:
            body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_cell(v))}</td></tr>" for k, v in rest.items())
            parts.append(f'<table class="kb-coverage">{body}</table>')
    return "\n".join(parts)


def _cell(value: Any) -> str:
    if value is True:
        return "✓"
    if value is False or value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.0%}" if 0 <= value <= 1 else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


def documents_table(docs: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            d["doc_id"],
            d["title"],
            DOC_TYPE_LABELS.get(d["doc_type"], d["doc_type"]),
            d["collection"],
            d["chunks"],
            (d.get("ingested_at") or "")[:19].replace("T", " "),
        ]
        for d in docs
    ]


def ingest_results_table(summary: dict[str, Any]) -> list[list[Any]]:
    return [[f["file"], f["doc_id"], f["status"], f["error"] or (f"{f['chunks']} 段" if f["chunks"] else "")] for f in summary.get("files", [])]


def render_statistics_markdown(stats: dict[str, Any]) -> str:
    types = "，".join(f"{DOC_TYPE_LABELS.get(k, k)} {v}" for k, v in sorted(stats["by_type"].items())) or "—"
    collections = "，".join(f"{k} {v}" for k, v in sorted(stats["by_collection"].items())) or "—"
    last = (stats.get("last_ingest") or "—")[:19].replace("T", " ")
    return (
        f"**文档** {stats['documents']} 篇　**段落** {stats['chunks']} 段　**字数** {stats['chars']}\n\n"
        f"按类型：{types}\n\n按集合：{collections}\n\n最近导入：{last}"
    )
