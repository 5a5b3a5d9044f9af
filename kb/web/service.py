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
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from kb.storage.doc_ids import doc_id_for, safe_doc_id
from kb.access.limits import check_question, recent_history
from kb.models import DOC_TYPES, Answer, Citation, Draft, DraftQuestion, DraftRequest, DraftSection, Filters
from kb.web.page_checks import CHECK_ORIGINAL, page_check_lines, page_check_note

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
CHUNK_COLUMNS = ["序号", "章节", "条", "页", "字数", "文本"]
FEEDBACK_COLUMNS = ["时间", "用户", "评价", "原因", "说明", "问题", "回答状态", "回答编号"]
CONVERSATION_TITLE_FALLBACK = "新对话"
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

    def __init__(self, services, uploads=None):
        self.services = services
        # kb/uploads.UploadStore of the web app's upload folder (app.serve sets it); None: files
        # handed to ingest_files are the caller's and never removed here
        self.uploads = uploads

    def discard_uploads(self, paths: Sequence[str | Path]) -> int:
        """Remove uploaded files once the ingest that used them ended (only files inside the
        upload folder: a path outside it is never touched)."""
        if self.uploads is None:
            return 0
        return self.uploads.remove(paths or [])

    # -- who is calling ------------------------------------------------------------------------
    def login_required(self) -> bool:
        return self.services.users.has_users()

    def check_login(self, name: str, password: str, client: str | None = None) -> bool:
        """The Gradio auth callable: verify the password and record the attempt. A locked name or
        client (kb/access/login_guard.py) is refused without checking the password; what a failed attempt
        writes to the audit log is bounded (name capped and hashed, rows per window capped)."""
        from kb.access.login_guard import current_client

        client = client or current_client.get()
        guard = getattr(self.services, "login_guard", None)
        wait = guard.refusal(name, client) if guard is not None else 0.0
        if wait > 0:
            self._audit_failed_login(name, client, "locked", retry_after_s=round(wait))
            return False
        ok = isinstance(name, str) and isinstance(password, str) and len(name) <= 64 and self.services.users.verify(name, password)
        if ok:
            if guard is not None:
                guard.succeeded(name, client)
            self.services.audit.record(name, "login", "web", client=client)
            return True
        if guard is not None:
            guard.failed(name, client)
        self._audit_failed_login(name, client, "wrong name or password")
        return False

    def _audit_failed_login(self, name: Any, client: str | None, reason: str, **extra: Any) -> None:
        from kb.access.audit import fingerprint

        guard = getattr(self.services, "login_guard", None)
        allowed, suppressed = guard.audit_allowed() if guard is not None else (True, 0)
        if not allowed:
            return
        if suppressed:
            extra["suppressed_since_last"] = suppressed
        self.services.audit.record(fingerprint(name), "login_failed", "web", reason=reason, client=fingerprint(client or ""), **extra)

    def _reader(self, caller: "Caller | None"):
        """The services as the caller sees the knowledge base: without the collections their groups
        hold no valid grant for (kb/access/scope.py); no caller = a user without groups."""
        for_user = getattr(self.services, "for_user", None)
        if for_user is None:
            return self.services
        return for_user(caller.name if caller is not None else None)

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
        import inspect

        try:
            caller = self.caller(username)
            if self.services.users.has_users():
                self.services.users.require_role(caller.name, "admin")
        except PermissionError as exc:
            # a refused admin call is a security event: who tried what
            frame = inspect.currentframe()
            what = frame.f_back.f_code.co_name if frame is not None and frame.f_back is not None else ""
            from kb.access.audit import fingerprint

            self.services.audit.record(fingerprint(username) if username else None, "denied", what, reason=str(exc))
            raise
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
        check_question(question, limits=self._limits())
        answer = self._reader(caller).answers.ask(question, filters=make_filters(doc_types, collections), k=_k(k))
        self._audit_answer(caller, answer)
        data = self._with_cited_texts(answer.to_dict(), caller)
        self.services.conversations.add_answer(caller.name, data)  # feedback may name its answer_id
        return data

    def ask_stream(
        self,
        username: str | None,
        question: str,
        doc_types: Sequence[str] | None = None,
        collections: Sequence[str] | None = None,
        history: Sequence[str] | None = None,
        conversation_id: str | None = None,
    ) -> Iterator[str | dict[str, Any]]:
        """Yield text pieces as they are generated, then the finished answer as a dict. `history`: the
        conversation's earlier questions (a follow-up is answered as the standalone question it means).
        With `conversation_id` the earlier questions are the stored conversation's, and the answer
        becomes its next turn."""
        caller = self.caller(username)
        question = _require_question(question)
        if conversation_id:
            # the stored conversation may have grown past the limits: its latest turns are kept
            history = recent_history(self._conversation(caller, conversation_id).questions(), self._limits())
        else:
            history = _names(history, "history") if history else []
        check_question(question, history, self._limits())
        filters = make_filters(doc_types, collections)
        answers = self._reader(caller).answers
        answer: Answer | None = None
        streamed: list[str] = []
        try:
            if hasattr(answers, "stream"):
                for piece in answers.stream(question, filters=filters, history=list(history)):
                    if isinstance(piece, Answer):
                        answer = piece
                    elif isinstance(piece, str) and piece:
                        streamed.append(piece)
                        yield piece
            if answer is None:
                answer = answers.ask(question, filters=filters)
        finally:
            if answer is None:
                # the reader closed the page (or the answer failed) mid-stream: what was shown is
                # still recorded, marked incomplete — a client must not read most of an answer unaudited
                self.services.audit.record(caller.name, "ask", question, [], status="incomplete", incomplete=True,
                                           streamed_chars=sum(len(p) for p in streamed), via="web")
        self._audit_answer(caller, answer)
        data = self._with_cited_texts(answer.to_dict(), caller)
        self.services.conversations.add_answer(caller.name, data, conversation_id or None)
        yield data

    def _limits(self):
        return getattr(getattr(self.services, "settings", None), "limits", None)

    def _audit_answer(self, caller: Caller, answer: Answer) -> None:
        cited = _unique(c.doc_id for c in answer.citations)
        shown = _unique(h.chunk.doc_id for h in answer.contexts)  # every document the answer showed
        self.services.audit.record(
            caller.name, "ask", answer.question, cited, refused=answer.refused, status=answer.status, mode=answer.mode,
            shown=shown, answer_id=answer.answer_id,
        )

    def _with_cited_texts(self, data: dict[str, Any], caller: "Caller | None" = None) -> dict[str, Any]:
        """The answer with the text of every cited chunk that is not among its contexts, so the stored
        answer can show each citation's passage from the version it cited, whatever happens later."""
        have = {h.get("chunk_id") for h in data.get("contexts", [])}
        missing = {c["chunk_id"] for c in data.get("citations", []) if c.get("chunk_id") and c["chunk_id"] not in have}
        texts = {cid: t for cid in sorted(missing) if (t := self._chunk_text(cid, caller)) is not None}
        if texts:
            data["cited_texts"] = texts
        return data

    def chunk_text(self, chunk_id: str, username: str | None = None) -> str | None:
        """The full text of one chunk (for highlighting a quote that is not among the contexts), as
        `username` may read it (without a name: as a user without groups)."""
        caller = None
        if username:
            try:
                caller = self.caller(username)
            except PermissionError:
                return None
        return self._chunk_text(chunk_id, caller)

    def _chunk_text(self, chunk_id: str, caller: "Caller | None") -> str | None:
        chunk = self._reader(caller).retriever.chunk(chunk_id)
        return chunk.text if chunk is not None else None  # deleted meanwhile (or not readable): the quote alone

    def filter_choices(self, username: str | None) -> tuple[list[str], list[str]]:
        """(document types, collections) present in the knowledge base, for the filter widgets."""
        caller = self.caller(username)
        docs = self._reader(caller).store.list_documents()
        types = [t for t in DOC_TYPES if any(d.doc_type == t for d in docs)]
        collections = sorted({d.collection for d in docs})
        return types, collections

    # -- drafting ------------------------------------------------------------------------------
    def draft_materials(self, username: str | None) -> list[tuple[str, str]]:
        """(label, value) of the collections and documents (by title) this user may pick as the target's
        materials for a talk outline."""
        return self._reader(self.caller(username)).drafts.material_choices()

    def draft(self, username: str | None, request: DraftRequest | dict[str, Any]) -> Draft:
        caller = self.caller(username)
        request = make_draft_request(request)
        draft = self._reader(caller).drafts.draft(request)
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
        drafts = self._reader(caller).drafts
        held = [r[1] for r in rows if r[1].strip()]  # the replaced question included: never returned
        if hasattr(drafts, "regenerate"):
            candidates = drafts.regenerate(request, dimension, exclude=held)
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

    def recheck_rows(
        self,
        username: str | None,
        base: Draft | dict[str, Any],
        rows: list[list[Any]],
        sources: list[dict[str, Any]],
        row_index: int | None = None,
    ) -> tuple[list[list[str]], list[dict[str, Any]]]:
        """Re-verify the citations of the (edited) table against each row's question text: those
        that no longer back it are marked 待核实 in the 来源 cell. With ``row_index``, that row's
        unsupported citations are replaced by evidence re-retrieved for its new text (the mark
        stays when nothing in the knowledge base backs it). Returns the new (rows, sources)."""
        caller = self.caller(username)
        rows = normalize_rows(rows)
        if row_index is not None and not 0 <= row_index < len(rows):
            raise ValueError("请先在表格中选中要重新核验的问题")
        drafts = self._reader(caller).drafts
        base = Draft.from_dict(base) if isinstance(base, dict) else base
        target = base.target
        registry = _SourceRegistry(list(sources or []))
        out = []
        for i, row in enumerate(rows):
            edited = table_to_draft([row], base, registry.sources)
            questions = [q for s in edited.sections for q in s.questions]
            if not questions:
                out.append(row)
                continue
            checked = drafts.recheck(questions[0], target, replace=(i == row_index))
            out.append(_row(row[0].strip() or "其他", checked, registry))
        return out, registry.sources

    def export(self, username: str | None, draft: Draft, fmt: str, out_dir: str | Path) -> Path:
        """Write the (edited) draft as .docx or .md under `out_dir` and return the file."""
        from kb.drafting.export import draft_to_docx, draft_to_markdown

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
        replace: bool = False,
    ) -> dict[str, Any]:
        """Ingest uploaded files; the summary plus one result per file (新增/更新/并入/未变/失败).
        ``replace``: a file named like a stored document of another file takes it over (#28)."""
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
            [str(p) for p in paths], doc_type=doc_type, collection=collection, progress=progress,
            **({"replace": True} if replace else {}),
        )
        after = {r.doc_id: r for r in store.list_documents()}
        failures = {str(f["path"]): f["error"] for f in summary.get("failed", [])}
        # where each file went (ingest/identity.py): a same-named file of other content is a new document
        placed = {str(f.get("path")): f for f in summary.get("files", [])}
        files = []
        for path in paths:
            doc_id = placed.get(str(path), {}).get("doc_id") or safe_doc_id(doc_id_for(path, None))
            error = failures.pop(str(path), None)
            if error is not None:
                files.append({"file": path.name, "doc_id": doc_id, "status": "失败", "error": error, "chunks": 0})
                continue
            new, old = after.get(doc_id), before.get(doc_id)
            action = placed.get(str(path), {}).get("action")
            if new is not None and action == "merged":
                status = "并入"  # another format of a stored document
            elif new is not None and action == "kept_both":
                status = "新增"
            elif new is None:
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
        # pages to check against the original (OCR / unread pages), under the file they belong to
        checks: dict[str, list[dict[str, Any]]] = {}
        for item in summary.get("low_confidence", []):
            checks.setdefault(item.get("doc_id", ""), []).append(item)
        for f in files:
            f["page_checks"] = checks.pop(f["doc_id"], []) if f["doc_id"] and f["status"] != "失败" else []
        summary = dict(summary)
        summary["files"] = files
        # checks of a document no uploaded file maps to are still shown (never dropped silently)
        summary["other_page_checks"] = [item for items in checks.values() for item in items]
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

    # -- conversations (each user sees only their own) ----------------------------------------
    def browser_state_secret(self) -> str:
        """The key the browser's copy of the open conversation id is sealed with: kept under KB_HOME so
        a refresh after a server restart still reopens it (the id is checked against the user anyway)."""
        import secrets

        path = self.services.settings.home / "browser_state.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process wrote it meanwhile
                pass
            else:
                with os.fdopen(fd, "w", encoding="ascii") as fh:
                    fh.write(secrets.token_hex(32))
        return path.read_text(encoding="ascii").strip()

    def _conversation(self, caller: Caller, conversation_id: str):
        try:
            return self.services.conversations.get(caller.name, str(conversation_id or ""))
        except KeyError:
            raise ValueError("该对话不存在或已被删除") from None

    def conversations(self, username: str | None) -> list[dict[str, Any]]:
        return self.services.conversations.list(self.caller(username).name)

    def new_conversation(self, username: str | None, title: str = "") -> dict[str, Any]:
        caller = self.caller(username)
        conversation = self.services.conversations.create(caller.name, title)
        return {"id": conversation.id, "title": conversation.title or "新对话", "turns": 0}

    def open_conversation(self, username: str | None, conversation_id: str) -> dict[str, Any]:
        """The conversation with each turn's stored answer and, per cited document, whether the
        knowledge base still holds the version the answer cited ("current" / "changed" / "removed")."""
        caller = self.caller(username)
        conversation = self._conversation(caller, conversation_id)
        everything = self.services.store.doc_versions()
        # what the caller may read today: a grant that has ended takes back what was cited under it
        readable = self._reader(caller).store.doc_versions()
        turns = []
        for turn in conversation.turns:
            states = {}
            for doc_id, v in turn.cited_versions.items():
                if doc_id in everything and doc_id not in readable:
                    states[doc_id] = "denied"
                elif doc_id not in everything:
                    states[doc_id] = "removed"
                else:
                    states[doc_id] = "current" if everything[doc_id] == v else "changed"
            answer = withhold_denied(turn.answer, states)
            turns.append({"answer": answer, "question": turn.question, "doc_states": states})
        return {"id": conversation.id, "title": conversation.title or "新对话", "turns": turns}

    def rename_conversation(self, username: str | None, conversation_id: str, title: str) -> None:
        caller = self.caller(username)
        try:
            self.services.conversations.rename(caller.name, str(conversation_id or ""), title)
        except KeyError:
            raise ValueError("该对话不存在或已被删除") from None

    def delete_conversation(self, username: str | None, conversation_id: str) -> None:
        caller = self.caller(username)
        try:
            self.services.conversations.delete(caller.name, str(conversation_id or ""))
        except KeyError:
            raise ValueError("该对话不存在或已被删除") from None

    # -- suggested questions (kb/web/suggestions.py) ---------------------------------------------
    def _suggestions(self):
        from kb.web.suggestions import SuggestionService

        if getattr(self, "_suggestion_service", None) is None:
            self._suggestion_service = SuggestionService()
        return self._suggestion_service

    def welcome_questions(self, username: str | None) -> list[str]:
        """3–4 questions drawn from what the caller may read, each answered by the sources."""
        return self._suggestions().welcome(self._reader(self.caller(username)))

    def warm_suggestions(self) -> list[str]:
        """Check the welcome questions of a reader without groups (what most inspectors see) at startup."""
        return self._suggestions().welcome(self._reader(None))

    def next_questions(self, username: str | None, answer_id: str, asked: Sequence[str] = ()) -> list[str]:
        """2–3 questions to ask after the caller's answer `answer_id`, each answered by the sources."""
        caller = self.caller(username)
        found = self.services.conversations.answer(str(answer_id or "").strip())
        if found is None or found[0] != caller.name:
            return []
        return self._suggestions().next_questions(self._reader(caller), found[1].answer, asked)

    # -- feedback --------------------------------------------------------------------------------
    def feedback(self, username: str | None, answer_id: str, rating: str, reason: str = "", comment: str = "") -> dict[str, Any]:
        """👍/👎 on one answer the caller was given (admins may judge any answer)."""
        from kb.conversations.feedback import normalise_feedback

        caller = self.caller(username)
        rating, reason, comment = normalise_feedback(rating, reason, comment)
        found = self.services.conversations.answer(str(answer_id or "").strip())
        if found is None or (found[0] != caller.name and not caller.is_admin):
            raise ValueError(f"没有编号为 {str(answer_id)[:40]} 的回答")
        entry_id = self.services.conversations.add_feedback(found[1].answer_id, caller.name, rating, reason, comment)
        self.services.audit.record(caller.name, "feedback", found[1].question, rating=rating, reason=reason,
                                   answer_id=found[1].answer_id)
        return {"id": entry_id, "answer_id": found[1].answer_id, "rating": rating, "reason": reason}

    def retract_feedback(self, username: str | None, answer_id: str) -> bool:
        """The caller took back their own 👍/👎 on an answer (clicked it again)."""
        caller = self.caller(username)
        found = self.services.conversations.answer(str(answer_id or "").strip())
        if found is None:
            raise ValueError(f"没有编号为 {str(answer_id)[:40]} 的回答")
        removed = self.services.conversations.remove_feedback(found[1].answer_id, caller.name)
        if removed:
            self.services.audit.record(caller.name, "feedback", found[1].question, rating="retracted",
                                       answer_id=found[1].answer_id)
        return bool(removed)

    def feedback_ratings(self, username: str | None, answer_ids: Sequence[str]) -> dict[str, str]:
        """answer_id → the caller's own rating ("up" / "down") of those answers they judged (shown on
        the chat's 👍/👎 after a reload)."""
        caller = self.caller(username)
        return self.services.conversations.ratings(caller.name, [str(a) for a in answer_ids if a])

    def feedback_entries(self, username: str | None, limit: int | None = 200) -> list[dict[str, Any]]:
        self.require_admin(username)
        return self.services.conversations.feedback(limit)

    def export_feedback(self, username: str | None, out_dir: str | Path) -> Path:
        """The feedback as domain-QA evaluation items (what `kb feedback export` writes)."""
        import json

        from kb.conversations.feedback import export_items

        caller = self.require_admin(username)
        items, pending = export_items(self.services.conversations.feedback())
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"feedback-eval-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl"
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
        self.services.audit.record(caller.name, "export", "feedback", items=len(items), pending=len(pending))
        return path

    # -- admin: why was this answer chosen -------------------------------------------------------
    def retrieval_test(self, username: str | None, question: str, k: int = 10) -> dict[str, Any]:
        """命中测试: the ranked chunks with their lexical / dense / clause evidence, and the answer's
        state with the reasons the answerability models gave."""
        self.require_admin(username)
        question = _require_question(question)
        retriever = self.services.retriever
        hits = retriever.search(question, k=_k(k) or 10)
        # the raw BM25 score of each chunk (rank fusion hides it)
        lexical = {cid: float(score) for cid, score in retriever.lexical_scores(question, max(50, len(hits)), by="chunk_id")}
        answer = self.services.answers.ask(question)
        cited = {c.chunk_id for c in answer.citations}
        rows = []
        for h in hits:
            c = h.chunk
            rows.append({
                "rank": h.rank,
                "chunk_id": c.chunk_id,
                "doc_id": c.doc_id,
                "title": c.title,
                "section": c.section,
                "article": c.article,
                "page": c.page,
                "score": round(float(h.score), 4),
                "lexical_rank": h.lexical_rank,
                "lexical_score": round(float(lexical[c.chunk_id]), 3) if c.chunk_id in lexical else None,
                "dense_rank": h.dense_rank,
                "clause": bool(h.via_clause),
                "cited": c.chunk_id in cited,
                "text": c.text,
            })
        return {"question": question, "status": answer.status, "resolved_question": answer.resolved_question,
                "answer": answer.answer, "why": list(answer.notes), "hits": rows}

    def document_chunks(self, username: str | None, doc_id: str) -> list[dict[str, Any]]:
        """A document's chunks in order, with section path, article and page (the chunk view)."""
        self.require_admin(username)
        doc_id = (doc_id or "").strip()
        if not doc_id or self.services.store.get_document(doc_id) is None:
            raise ValueError(f"没有文档 {doc_id}" if doc_id else "请选择文档")
        return [c.to_dict() for c in self.services.store.document_chunks(doc_id)]


def _k(k: Any) -> int | None:
    """A result count from the API: a positive integer (1–50) or None for the default."""
    if k is None or k == "":
        return None
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise ValueError(f"k 应为 1–50 的整数，收到：{str(k)[:20]!r}") from None
    if isinstance(k, float) and k != value or not 1 <= value <= 50:
        raise ValueError(f"k 应为 1–50 的整数，收到：{str(k)[:20]!r}")
    return value


# ---- input helpers ----------------------------------------------------------------------------
def _names(value: Any, what: str) -> list[str]:
    """A list of names from the API: one string is one name (not its letters); anything but strings is refused."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} 应为文本列表")
    return [v.strip() for v in value if v.strip()]


def make_filters(doc_types: Sequence[str] | str | None, collections: Sequence[str] | str | None) -> Filters | None:
    doc_types = _names(doc_types, "doc_types")
    collections = _names(collections, "collections")
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
        known = {"kind", "target", "interviewee", "dimensions", "count", "request", "id", "materials"}
        unknown = sorted(set(request) - known)
        if unknown:
            raise ValueError(f"未知的提纲请求字段：{', '.join(unknown)}")
        data = dict(request)
        dims = data.get("dimensions") or []
        if isinstance(dims, str):
            dims = [d for d in re.split(r"[,，、;；\s]+", dims) if d]
        data["dimensions"] = [str(d).strip() for d in dims if str(d).strip()]
        materials = data.get("materials") or []  # collections / document ids of the user's own materials
        if isinstance(materials, str):
            materials = [m for m in re.split(r"[,，、;；\s]+", materials) if m]
        data["materials"] = [str(m).strip() for m in materials if str(m).strip()]
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


# Longer than any question an inspector types; a pasted document is not a question.
MAX_QUESTION_CHARS = 2000


def _require_question(question: Any) -> str:
    if not isinstance(question, str):
        raise ValueError("问题应为文本")
    question = question.strip()
    if not question:
        raise ValueError("请输入问题")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"问题太长（{len(question)} 字，上限 {MAX_QUESTION_CHARS} 字）")
    return question


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def _safe_file_name(name: str) -> str:
    cleaned = re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("._")
    return cleaned[:60] or "提纲"


def _norm(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if not ch.isspace())


# ---- answers as HTML ---------------------------------------------------------------------------
# A source label keeps the last levels of the section path: the whole path of a deep 公文 section
# ("一、… > （二）… > 1.…") does not fit a label, and its last levels are what an inspector cites.
LABEL_SECTION_LEVELS = 2


def citation_location(citation: dict[str, Any]) -> str:
    """Where a quote sits: the section's last one or two levels, the article, the page."""
    levels = [p.strip() for p in str(citation.get("section") or "").split(" > ") if p.strip()]
    parts = levels[-LABEL_SECTION_LEVELS:]
    article = str(citation.get("article") or "").strip()
    if article and article not in parts:
        parts.append(article)
    if citation.get("page"):
        parts.append(f"第{citation['page']}页")
    return " > ".join(parts)


def document_label(item: dict[str, Any]) -> str:
    """《标题》 and, for a 公文, its 发文字号: 《关于…的通知》（某组发〔2024〕12号）."""
    label = f"《{item.get('title') or item.get('doc_id') or ''}》"
    if item.get("doc_number"):
        label += f"（{item['doc_number']}）"
    if item.get("validity") in ("已修订", "已废止"):  # a superseded source says so (#28): （已修订，现行版本：《…》2021年）
        label += f"（{item.get('validity_note') or item['validity']}）"
    return label


def merged_sources(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Passages listed once per (document, place): neighbouring chunks of one section read as one source."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        key = (str(item.get("doc_id") or item.get("title") or ""), citation_location(item))
        if key in seen:
            kept = seen[key]
            if item.get("text") and item.get("text") not in kept.get("text", ""):
                kept["text"] = (kept.get("text", "") + "\n……\n" + item["text"]).strip()
            continue
        seen[key] = dict(item)
    return list(seen.values())


# Characters that make Markdown (links, emphasis, code, tables, headings) or HTML out of text. Document
# text shown in the chat is written as character references, so a "[重新登录](http://…)" inside a document
# reads as those characters, never as a live link; bare URLs are broken up so they are not auto-linked.
_MARKDOWN_SPECIAL = {ch: f"&#{ord(ch)};" for ch in "\\`*_{}[]()#+-.!|~<>&\"'"}


def markdown_safe(text: str) -> str:
    """`text` for a Markdown-rendering component (the chat, gr.Markdown): shown as written."""
    out = "".join(_MARKDOWN_SPECIAL.get(ch, ch) for ch in str(text or ""))
    return out.replace(":", "&#58;").replace("\n", "<br>")


def render_answer_html(answer: dict[str, Any]) -> str:
    """The answer text with each [n] as a clickable chip (see the page script in app.py)."""
    text = answer.get("answer", "")
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

    # document text between the chips is shown as text, never as Markdown or HTML
    pieces, at = [], 0
    for match in _CITE_MARK.finditer(text):
        pieces += [markdown_safe(text[at:match.start()]), chip(match)]
        at = match.end()
    body = "".join(pieces + [markdown_safe(text[at:])])
    status = answer_status(answer)
    badge = f'<span class="kb-badge kb-badge-{status}">{STATE_LABELS[status]}</span>'
    resolved = answer.get("resolved_question") or ""
    understood = (
        f'<div class="kb-resolved">按“{markdown_safe(resolved)}”理解</div>' if resolved and resolved != answer.get("question") else ""
    )
    # the answer's id rides in a class of the whole answer too (a refusal has no chips), so 👍/👎 on
    # the message names this answer
    owner = f" kb-a-{aid}" if aid else ""
    return (f'<div class="kb-state kb-state-{status}{owner}">{badge}{understood}<div class="kb-answer-body">{body}</div>'
            f'{render_copy_text(answer)}</div>')


def render_user_text(text: str) -> str:
    """A question as the chat shows it: literally (typed `<b>x</b>` reads as those characters)."""
    return f'<span class="kb-user-text">{markdown_safe(text)}</span>'


def user_text_of(content: str) -> str:
    """The typed question back from `render_user_text` (or any chat message's text)."""
    text = str(content or "")
    match = re.fullmatch(r'<span class="kb-user-text">(.*)</span>', text, flags=re.S)
    if match:
        text = match.group(1)
    return html.unescape(text.replace("<br>", "\n")).strip()


def render_copy_text(answer: dict[str, Any]) -> str:
    """The answer as the chat's copy button puts it on the clipboard (answer_as_text: no markup, the
    numbered sources under it), carried hidden inside the message, one line per element."""
    lines = answer_as_text(answer).split("\n")
    return '<div class="kb-copy-text">' + "".join(f"<div>{markdown_safe(line)}</div>" for line in lines) + "</div>"


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
            # as an inspector cites it: 《标题》（某组发〔2024〕12号）三、（二），第N页
            from kb.drafting.export import citation_label

            lines.append(f"[{c['n']}] {citation_label(c)}：“{c.get('quote', '')}”")
    elif answer.get("refused") and answer.get("contexts"):
        lines += ["", "可能相关的来源："]
        for h in merged_sources(answer["contexts"]):
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


WITHHELD_ANSWER = "此回答引用了您目前无权查看的文档（授权已到期或已撤销），内容不再显示。"


def withhold_denied(answer: dict[str, Any], doc_states: dict[str, str]) -> dict[str, Any]:
    """A stored answer as its owner may see it today: when it rests on a document their groups may no
    longer read, its text and those sources are withheld (quotes of it are in the answer text too)."""
    from kb.conversations.history import version_of

    denied = {d for d, state in doc_states.items() if state == "denied"}
    if not denied:
        return answer
    cites_denied = any(c.get("doc_id") in denied for c in answer.get("citations", []))
    shown = dict(answer)
    shown["citations"] = [c for c in answer.get("citations", []) if c.get("doc_id") not in denied]
    shown["contexts"] = [h for h in answer.get("contexts", []) if h.get("doc_id") not in denied]
    shown["cited_texts"] = {k: v for k, v in (answer.get("cited_texts") or {}).items() if version_of(k)[0] not in denied}
    if cites_denied or answer.get("status") == "related":
        shown["answer"], shown["citations"] = WITHHELD_ANSWER, []
    return shown


# What an old answer's source says when the knowledge base no longer holds the version it cited.
DOC_STATE_NOTES = {
    "changed": "该文档已更新，以下为回答时引用的版本",
    "removed": "该文档已从知识库删除，以下为回答时引用的原文",
}


def render_sources_html(
    answer: dict[str, Any],
    chunk_text: Callable[[str], str | None] | None = None,
    doc_states: dict[str, str] | None = None,
) -> str:
    """One collapsible entry per citation: title, place, page and the chunk with the quote marked.
    For a refusal, the retrieved passages are listed as “possibly related”. `doc_states`
    (doc_id → current / changed / removed) marks sources of a stored answer whose document has
    moved on; their text is the one the answer was given (stored with it), never today's."""
    doc_states = doc_states or {}

    def state_note(doc_id: str) -> str:
        note = DOC_STATE_NOTES.get(doc_states.get(doc_id, ""))
        return f'<div class="kb-doc-state">⚠ {note}</div>' if note else ""

    contexts = {h.get("chunk_id"): h for h in answer.get("contexts", [])}
    citations = answer.get("citations", [])
    parts: list[str] = []
    if citations:
        title = "可能相关的原文（知识库中没有直接回答该问题的内容）" if answer_status(answer) == "related" else "来源"
        parts.append(f'<div class="kb-sources-title">{title}</div>')
        for c in citations:
            text = (contexts.get(c.get("chunk_id")) or {}).get("text")
            if text is None:
                text = (answer.get("cited_texts") or {}).get(c.get("chunk_id"))
            if text is None and chunk_text is not None and doc_states.get(c.get("doc_id", "")) in (None, "current"):
                text = chunk_text(c.get("chunk_id", ""))
            body = highlight_quote(text, c.get("quote", "")) if text else f'<mark class="kb-quote">{html.escape(c.get("quote", ""))}</mark>'
            where = citation_location(c)
            flag = "" if c.get("verified", True) else '<span class="kb-unverified">（引文未核实）</span>'
            parts.append(
                f'<details class="kb-source" id="{source_element_id(answer, c["n"])}" data-n="{c["n"]}">'
                f'<summary><span class="kb-chip">{c["n"]}</span> {html.escape(document_label(c))}'
                f'<span class="kb-where">{html.escape(where)}</span>{flag}</summary>'
                f'{state_note(c.get("doc_id", ""))}'
                f'<div class="kb-quote-line">引文：“{html.escape(c.get("quote", ""))}”</div>'
                f'<div class="kb-chunk">{body}</div></details>'
            )
    elif answer.get("refused"):
        related = answer.get("contexts", [])
        if related:
            parts.append('<div class="kb-sources-title">可能相关的来源（未能据此作答）</div>')
            for h in merged_sources(related):
                where = citation_location(h)
                parts.append(
                    f'<details class="kb-source kb-related"><summary>{html.escape(document_label(h))}'
                    f'<span class="kb-where">{html.escape(where)}</span></summary>'
                    f'{state_note(h.get("doc_id", ""))}'
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


PENDING_LABEL = "（待核实）"  # after a 来源 label whose citation no longer backs the edited question


def source_label(n: int, citation: dict[str, Any]) -> str:
    where = citation_location(citation)
    return f"[{n}]《{citation.get('title') or citation.get('doc_id', '')}》{where}"


def _row(dimension: str, question: DraftQuestion, registry: _SourceRegistry) -> list[str]:
    pending = set(question.to_check or [])
    labels = [
        source_label(registry.number(c), c.to_dict()) + (PENDING_LABEL if i in pending else "")
        for i, c in enumerate(question.citations)
    ]
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
        to_check: list[int] = []
        # each label is "[n]《标题》位置", "（待核实）" after it when an edit left it unsupported
        for label in re.split(r"[；;\n]+", source_cell):
            pending = PENDING_LABEL.strip("（）") in label
            for mark in _SOURCE_MARK.findall(label):
                n = int(mark)
                if 1 <= n <= len(sources):
                    c = Citation(**{k: sources[n - 1].get(k) for k in Citation.__dataclass_fields__})
                    if c not in citations:
                        citations.append(c)
                        if pending:
                            to_check.append(len(citations) - 1)
        question = DraftQuestion(
            text=text,
            follow_ups=[f.strip() for f in follow_ups.split(FOLLOW_UP_SEPARATOR) if f.strip()],
            purpose=purpose.strip(),
            citations=citations,
            to_check=to_check,
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
        speaker=base.speaker,
        closing=list(base.closing),
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


def conversation_choices(conversations: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, id) for the sidebar: the title and when it was last used."""
    out = []
    for c in conversations:
        when = str(c.get("updated_at") or "")[5:16].replace("T", " ")
        out.append((f"{c.get('title') or CONVERSATION_TITLE_FALLBACK}（{when}）", c["id"]))
    return out


def chunks_table(chunks: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [i + 1, c.get("section") or "", c.get("article") or "", c.get("page") or "", len(c.get("text") or ""), c.get("text") or ""]
        for i, c in enumerate(chunks)
    ]


# ratings as words: a machine without an emoji font shows 👍/👎 as empty boxes
WEB_RATING_LABELS = {"up": "赞", "down": "踩"}


def feedback_table_rows(entries: list[dict[str, Any]]) -> list[list[Any]]:
    from kb.conversations.feedback import REASON_LABELS

    return [
        [
            str(e.get("created_at") or "")[:19].replace("T", " "),
            e.get("user") or "",
            WEB_RATING_LABELS.get(e.get("rating"), e.get("rating") or ""),
            REASON_LABELS.get(e.get("reason"), e.get("reason") or ""),
            e.get("comment") or "",
            e.get("resolved_question") or e.get("question") or "",
            STATE_LABELS.get(e.get("status") or "", e.get("status") or ""),
            e.get("answer_id") or "",
        ]
        for e in entries
    ]


def render_retrieval_test_html(result: dict[str, Any]) -> str:
    """命中测试: the answer's state and why, then the ranked chunks with their scores."""
    status = answer_status(result)
    why = "；".join(result.get("why") or [])
    head = (
        f'<div class="kb-state kb-state-{status}"><span class="kb-badge kb-badge-{status}">{STATE_LABELS[status]}</span>'
        f'<div class="kb-where">依据：{html.escape(why or "—")}</div>'
        f'<div class="kb-answer-body">{html.escape(result.get("answer", "")).replace(chr(10), "<br>")}</div></div>'
    )
    rows = []
    for h in result.get("hits", []):
        lexical = "—" if h.get("lexical_rank") is None else f'#{h["lexical_rank"]}（{h.get("lexical_score") if h.get("lexical_score") is not None else "—"}）'
        dense = "—" if h.get("dense_rank") is None else f'#{h["dense_rank"]}'
        rows.append(
            "<tr>"
            f'<td>{h["rank"]}{" ✔" if h.get("cited") else ""}</td>'
            f'<td>《{html.escape(h.get("title") or h.get("doc_id", ""))}》<br><span class="kb-where">{html.escape(citation_location(h))}</span></td>'
            f'<td>{h.get("score")}</td><td>{html.escape(lexical)}</td><td>{dense}</td><td>{"是" if h.get("clause") else ""}</td>'
            f'<td class="kb-chunk">{html.escape((h.get("text") or "")[:300])}</td>'
            "</tr>"
        )
    table = (
        '<table class="kb-coverage kb-hits"><tr><th>名次（✔=被引用）</th><th>来源</th><th>融合得分</th><th>词匹配 名次（BM25）</th>'
        '<th>语义 名次</th><th>条款定位</th><th>段落</th></tr>' + "".join(rows) + "</table>"
        if rows else '<div class="kb-warnings">没有检索到段落。</div>'
    )
    return head + table


def documents_table(docs: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            d["doc_id"],
            d["title"],
            DOC_TYPE_LABELS.get(d["doc_type"], d["doc_type"]),
            collection_label(d["collection"]),
            d["chunks"],
            (d.get("ingested_at") or "")[:19].replace("T", " "),
        ]
        for d in docs
    ]


def ingest_results_table(summary: dict[str, Any]) -> list[list[Any]]:
    """One row per uploaded file; 说明 carries the error, the chunk count and "需核对：第N页（…）" for the
    pages to check against the original."""
    rows = []
    for f in summary.get("files", []):
        note = f["error"] or (f"{f['chunks']} 段" if f["chunks"] else "")
        check = page_check_note(f.get("page_checks", []))
        rows.append([f["file"], f["doc_id"], f["status"], "；".join(part for part in (note, check) if part)])
    return rows


def render_ingest_summary_markdown(summary: dict[str, Any]) -> str:
    """The upload view's summary: the counts, then under each file the pages to check against the
    original (the same lines `kb ingest` prints). File names and the OCR'd lines quoted are document
    text: shown as written, never as Markdown or links."""
    files = summary.get("files", [])
    failed = sum(1 for f in files if f["status"] == "失败")
    out = [
        f"新增 {summary.get('added', 0)}，更新 {summary.get('updated', 0)}，未变 {summary.get('unchanged', 0)}，"
        f"切分 {summary.get('chunks', 0)} 段，失败 {failed}"
    ]
    blocks = [(f["file"], f.get("page_checks", [])) for f in files if f.get("page_checks")]
    if summary.get("other_page_checks"):
        blocks.append(("其他文档", summary["other_page_checks"]))
    if blocks:
        out.append(f"**⚠ 以下页面已按识别结果导入，{CHECK_ORIGINAL}：**")
    for name, items in blocks:
        lines = page_check_lines(items)
        out.append(f"**{markdown_safe(name)}**（{len(lines)} 处需核对）\n\n" + "\n".join(f"- {markdown_safe(line)}" for line in lines))
    return "\n\n".join(out)


# collections the product ships, as a user reads their names
COLLECTION_LABELS = {"builtin": "内置评价框架", "default": "默认集合"}


def collection_label(name: str) -> str:
    return COLLECTION_LABELS.get(name, name)


def render_statistics_markdown(stats: dict[str, Any]) -> str:
    # collection names and types are user input: shown as text, never as Markdown or HTML
    types = "，".join(f"{markdown_safe(DOC_TYPE_LABELS.get(k, k))} {v}" for k, v in sorted(stats["by_type"].items())) or "—"
    collections = "，".join(
        f"{markdown_safe(collection_label(k))} {v}" for k, v in sorted(stats["by_collection"].items())
    ) or "—"
    last = (stats.get("last_ingest") or "—")[:19].replace("T", " ")
    return (
        f"**文档** {stats['documents']} 篇　**段落** {stats['chunks']} 段　**字数** {stats['chars']}\n\n"
        f"按类型：{types}\n\n按集合：{collections}\n\n最近导入：{last}"
    )
