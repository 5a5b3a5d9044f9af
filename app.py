"""考察知识库 web app (Gradio): 问答, 提纲起草 and 知识库 administration.

A thin adapter: every function here reads the UI, calls `kb.webapp_service.WebAppService` (which
checks roles and writes the audit log) and formats the result. `python app.py` and `kb serve`
start the same app through `serve()`.

API endpoints for scripts (gradio_client): /ask, /draft, /ingest_files, /delete_document.
"""
from __future__ import annotations

import argparse
import atexit
import html
import json
import logging
import shutil
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gradio as gr

from kb.models import DOC_TYPES, FIVE_POLITICS, INTERVIEWEE_GROUPS
from kb.settings import Settings, load_settings
from kb.webapp_service import (
    DOC_TYPE_LABELS,
    DOCUMENT_COLUMNS,
    DRAFT_COLUMNS,
    INGEST_RESULT_COLUMNS,
    KIND_LABELS,
    WebAppService,
    answer_as_text,
    documents_table,
    draft_to_table,
    ingest_results_table,
    normalize_rows,
    render_answer_html,
    render_coverage_html,
    render_sources_html,
    render_sources_legend,
    render_statistics_markdown,
    table_to_draft,
)

log = logging.getLogger("kb.app")

EXAMPLE_QUESTIONS = [
    "党内政治监督谈话制度是什么？",
    "如何以党的政治建设为统领提高领导班子整体功能？",
    "深度访谈提纲一般包括哪些方面的问题？",
]

PAGE_CSS = """
.kb-chip { display:inline-block; min-width:1.4em; padding:0 .35em; margin:0 .1em; border-radius:.7em;
  background:#e0ecff; color:#1d4ed8; font-size:.8em; line-height:1.4em; text-align:center; cursor:pointer;
  vertical-align:super; font-weight:600; }
.kb-chip:hover { background:#1d4ed8; color:#fff; }
.kb-state { border-left:4px solid #16a34a; padding:.3em .7em; }
.kb-state-related { border-left-color:#f59e0b; background:#fffbeb; }
.kb-state-refused { border-left-color:#9ca3af; background:#f3f4f6; color:#374151; }
.kb-resolved { color:#6b7280; font-size:.85em; margin-bottom:.2em; }
.kb-badge { display:inline-block; font-size:.75em; font-weight:600; padding:.05em .55em; border-radius:.6em; margin-bottom:.25em; }
.kb-badge-answered { background:#dcfce7; color:#166534; }
.kb-badge-related { background:#fef3c7; color:#92400e; }
.kb-badge-refused { background:#e5e7eb; color:#374151; }
.kb-sources-title { font-weight:600; margin:.3em 0; }
.kb-source { border:1px solid #e5e7eb; border-radius:6px; padding:.3em .6em; margin:.35em 0; }
.kb-source summary { cursor:pointer; }
.kb-source.kb-flash { box-shadow:0 0 0 3px #93c5fd; }
.kb-where { color:#6b7280; margin-left:.5em; font-size:.9em; }
.kb-quote-line { color:#374151; margin:.3em 0; font-size:.9em; }
.kb-chunk { white-space:pre-wrap; color:#374151; font-size:.9em; background:#f9fafb; padding:.4em; }
mark.kb-quote { background:#fde68a; padding:0 .1em; }
.kb-unverified, .kb-unsupported { color:#b91c1c; font-size:.9em; }
.kb-warnings { color:#92400e; }
table.kb-coverage { border-collapse:collapse; margin:.3em 0; }
ul.kb-legend { list-style:none; padding-left:.5em; }
table.kb-coverage th, table.kb-coverage td { border:1px solid #e5e7eb; padding:.2em .5em; }
.kb-banner-local { background:#fff7ed; border:1px solid #fdba74; padding:.4em .8em; border-radius:6px; }
"""

# Citation chips in the chat open the matching source in the panel (event delegation: the chat
# is re-rendered on every streamed piece, so listeners on the chips themselves would be lost).
PAGE_HEAD = """
<script>
document.addEventListener('click', function (event) {
  const chip = event.target.closest && event.target.closest('.kb-chip');
  if (!chip || chip.closest('summary')) return;
  const n = chip.dataset.n || chip.textContent.trim();
  const owner = Array.from(chip.classList).find(function (c) { return c.indexOf('kb-a-') === 0; });
  // the chip's own answer's source (earlier answers keep theirs in the panel), else the panel's [n]
  const source = document.getElementById(owner ? 'kb-cite-' + owner.slice(5) + '-' + n : 'kb-cite-' + n);
  if (!source) return;
  for (let up = source.parentElement; up; up = up.parentElement) { if (up.tagName === 'DETAILS') up.open = true; }
  source.open = true;
  source.classList.add('kb-flash');
  source.scrollIntoView({block: 'nearest'});
  setTimeout(function () { source.classList.remove('kb-flash'); }, 1500);
});
</script>
"""


def message_text(message: dict) -> str:
    """The text of a chat message (Gradio gives a string, or a list of {"type": "text", "text": …} parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content.strip()
    parts = content if isinstance(content, list) else [content]
    return "".join(p.get("text", "") if isinstance(p, dict) else (p if isinstance(p, str) else "") for p in parts).strip()


@contextmanager
def shown_errors():
    """Turn refusals and bad input into a message the user sees; other errors stay generic."""
    from kb.export import ExportError
    from kb.locking import LockHeld

    try:
        yield
    except gr.Error:
        raise
    except PermissionError as exc:
        raise gr.Error(f"无权执行此操作：{exc}", title="权限不足") from exc
    except (ValueError, ExportError, LockHeld) as exc:
        raise gr.Error(str(exc)) from exc


def _username(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def _choices(values: list[str], labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    return [(labels.get(v, v) if labels else v, v) for v in values]


def build_app(webapp: WebAppService, login: bool) -> gr.Blocks:
    settings = webapp.services.settings
    export_dir = Path(tempfile.mkdtemp(prefix="kb-export-"))
    # downloads only need to outlive the request that made them, not the process
    atexit.register(shutil.rmtree, export_dir, True)
    answer_limit = settings.server.concurrency_limit
    ingest_limit = max(1, settings.server.ingest_concurrency)

    with gr.Blocks(title="考察知识库", analytics_enabled=False) as demo:
        with gr.Row():
            gr.Markdown("## 考察知识库")
            banner = gr.Markdown(elem_id="kb-user")
            gr.Button("退出登录", link="/logout", size="sm", scale=0, visible=login)
        if not login:
            gr.Markdown(
                "⚠ <b>未配置用户账号：本应用无需登录运行，仅限本机（127.0.0.1）访问，本机用户拥有管理员权限。</b>"
                "添加账号：`kb users add 用户名 --role admin`，然后重启。",
                elem_classes=["kb-banner-local"],
                elem_id="kb-local-mode",
            )

        # ---- 问答 ----------------------------------------------------------------------
        with gr.Tab("问答", id="ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="问答", height=460, elem_id="kb-chat", buttons=["copy"])
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="输入问题，例如：党内政治监督谈话制度是什么？",
                            show_label=False,
                            scale=5,
                            elem_id="kb-question",
                        )
                        ask_button = gr.Button("提问", variant="primary", scale=1, elem_id="kb-ask")
                    gr.Examples(EXAMPLE_QUESTIONS, inputs=[question], label="示例问题")
                    with gr.Accordion("筛选", open=False):
                        type_filter = gr.CheckboxGroup(
                            _choices(list(DOC_TYPES), DOC_TYPE_LABELS), label="文档类型（不选为全部）"
                        )
                        collection_filter = gr.CheckboxGroup([], label="集合（不选为全部）")
                    copy_box = gr.Textbox(
                        label="答案与来源（可复制）", lines=4, interactive=False, buttons=["copy"], elem_id="kb-copy"
                    )
                with gr.Column(scale=2):
                    sources = gr.HTML("<div class='kb-sources-title'>来源</div>", elem_id="kb-sources")
                    source_panels = gr.State([])  # the sources panel of every earlier answer in this chat

        # ---- 提纲起草 --------------------------------------------------------------------
        with gr.Tab("提纲起草", id="draft"):
            draft_state = gr.State({})
            selected_row = gr.State(-1)
            with gr.Row():
                kind = gr.Radio(
                    [(label, key) for key, label in KIND_LABELS.items()], value="interview", label="提纲类型"
                )
                target = gr.Textbox(label="考察对象", placeholder="如：某区委书记", elem_id="kb-target")
                interviewee = gr.Dropdown(
                    list(INTERVIEWEE_GROUPS), value=None, allow_custom_value=True, label="访谈对象"
                )
            with gr.Row():
                dimensions = gr.Dropdown(
                    list(FIVE_POLITICS), multiselect=True, allow_custom_value=True, label="考察维度"
                )
                count = gr.Number(
                    value=settings.draft.default_count,
                    precision=0,
                    minimum=1,
                    maximum=settings.draft.max_count,
                    label="每个维度的问题数",
                )
            draft_request = gr.Textbox(label="起草要求", lines=2, placeholder="如：侧重落实意识形态工作责任制", elem_id="kb-draft-request")
            draft_button = gr.Button("生成提纲", variant="primary", elem_id="kb-draft")
            draft_title = gr.Markdown()
            draft_table = gr.Dataframe(
                headers=DRAFT_COLUMNS,
                datatype=["str"] * len(DRAFT_COLUMNS),
                column_count=(len(DRAFT_COLUMNS), "fixed"),
                interactive=True,
                wrap=True,
                column_widths=["9%", "38%", "23%", "18%", "12%"],
                label="提纲（可直接编辑单元格；追问每行一条；来源按 [n] 编号对应下方列表）",
                elem_id="kb-draft-table",
            )
            with gr.Row():
                regenerate_button = gr.Button("重新生成选中的问题", elem_id="kb-regenerate")
                docx_button = gr.Button("导出 Word (.docx)", elem_id="kb-export-docx")
                md_button = gr.Button("导出 Markdown (.md)", elem_id="kb-export-md")
            export_file = gr.File(label="下载", interactive=False, height=90, elem_id="kb-export-file")
            coverage = gr.HTML(elem_id="kb-coverage")
            draft_sources = gr.HTML(elem_id="kb-draft-sources")

        # ---- 知识库 (administrators) -------------------------------------------------------
        with gr.Tab("知识库", id="admin", visible=False) as admin_tab:
            with gr.Row():
                uploads = gr.File(file_count="multiple", label="上传文件（可多选）", elem_id="kb-upload")
                with gr.Column():
                    upload_type = gr.Dropdown(
                        [("自动识别", "auto")] + _choices(list(DOC_TYPES), DOC_TYPE_LABELS),
                        value="auto",
                        label="文档类型",
                    )
                    upload_collection = gr.Textbox(label="集合", placeholder="default")
                    ingest_button = gr.Button("导入", variant="primary", elem_id="kb-ingest")
            ingest_summary = gr.Markdown()
            ingest_results = gr.Dataframe(headers=INGEST_RESULT_COLUMNS, interactive=False, label="导入结果")
            ingest_json = gr.JSON(visible=False)
            stats = gr.Markdown(elem_id="kb-stats")
            docs_table = gr.Dataframe(headers=DOCUMENT_COLUMNS, interactive=False, label="文档列表", elem_id="kb-docs")
            with gr.Row():
                delete_id = gr.Dropdown([], allow_custom_value=True, label="要删除的文档ID", scale=3)
                delete_button = gr.Button("删除文档", variant="stop", scale=1)
                rebuild_button = gr.Button("重建索引", scale=1)
            admin_message = gr.Markdown()

        # ---- handlers ----------------------------------------------------------------------
        def admin_views(user: str | None):
            docs = webapp.list_documents(user)
            return (
                documents_table(docs),
                render_statistics_markdown(webapp.statistics(user)),
                gr.Dropdown(choices=[d["doc_id"] for d in docs], value=None),
            )

        def on_load(request: gr.Request):
            user = _username(request)
            try:
                caller = webapp.caller(user)
            except PermissionError as exc:
                return (f"⚠ {exc}", gr.Tab(visible=False), gr.skip(), gr.skip(), gr.skip(), gr.skip())
            role = "管理员" if caller.is_admin else "考察员"
            who = f"当前用户：**{html.escape(caller.name)}**（{role}）" if login else "本机模式（管理员）"
            _, collections = webapp.filter_choices(user)
            if not caller.is_admin:
                return (who, gr.Tab(visible=False), gr.CheckboxGroup(choices=collections), gr.skip(), gr.skip(), gr.skip())
            table, statistics, delete_choices = admin_views(user)
            return (who, gr.Tab(visible=True), gr.CheckboxGroup(choices=collections), table, statistics, delete_choices)

        demo.load(
            on_load,
            None,
            [banner, admin_tab, collection_filter, docs_table, stats, delete_id],
            api_visibility="private",
            queue=False,
        )

        def on_ask(text: str, history: list, doc_types: list, collections: list, panels: list, request: gr.Request):
            user = _username(request)
            text = (text or "").strip()
            if not text:
                raise gr.Error("请输入问题")
            # the earlier questions of this chat: a follow-up ("那政治定力呢？") is read in their light
            earlier = [message_text(m) for m in (history or []) if isinstance(m, dict) and m.get("role") == "user"]
            earlier = [q for q in earlier if q]
            history = list(history or []) + [
                {"role": "user", "content": text},
                {"role": "assistant", "content": "检索中……"},
            ]
            yield history, gr.skip(), gr.skip(), "", gr.skip()
            streamed = ""
            answer: dict[str, Any] | None = None
            with shown_errors():
                for piece in webapp.ask_stream(user, text, doc_types, collections, history=earlier):
                    if isinstance(piece, str):
                        streamed += piece
                        history[-1] = {"role": "assistant", "content": html.escape(streamed)}
                        yield history, gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    else:
                        answer = piece
            assert answer is not None
            history[-1] = {"role": "assistant", "content": render_answer_html(answer)}
            # the panel keeps the sources of the chat's earlier answers too, so their chips still open
            # what they cited
            panel = render_sources_html(answer, webapp.chunk_text)
            earlier_panels = list(panels or [])
            shown = panel
            if earlier_panels:
                shown += '<details class="kb-earlier"><summary>之前回答的来源</summary>' + "".join(reversed(earlier_panels)) + "</details>"
            yield history, shown, answer_as_text(answer), gr.skip(), earlier_panels + [panel]

        # a cleared chat has no earlier answers whose sources the panel must keep
        chat.clear(lambda: [], None, [source_panels], api_visibility="private", queue=False)

        ask_events = dict(
            fn=on_ask,
            inputs=[question, chat, type_filter, collection_filter, source_panels],
            outputs=[chat, sources, copy_box, question, source_panels],
            api_visibility="private",
            concurrency_id="answer",
            concurrency_limit=answer_limit,
        )
        ask_button.click(**ask_events)
        question.submit(**ask_events)

        def ask_api(
            question: str,
            doc_types: list[str] | None = None,
            collections: list[str] | None = None,
            request: gr.Request = None,
        ) -> dict:
            """Answer one question; returns the answer JSON (answer, refused, citations, contexts)."""
            with shown_errors():
                return webapp.ask(_username(request), question, doc_types, collections)

        gr.api(ask_api, api_name="ask", concurrency_id="answer", concurrency_limit=answer_limit)

        def run_draft(request_fields: dict[str, Any], user: str | None):
            with shown_errors():
                draft = webapp.draft(user, request_fields)
            rows, cited = draft_to_table(draft)
            state = {"draft": draft.to_dict(), "request": request_fields, "sources": cited}
            title = f"### {html.escape(draft.title or KIND_LABELS.get(draft.kind, '提纲'))}"
            if draft.opening:
                title += f"\n\n**开场（总体评价）**：{html.escape(draft.opening)}"
            return state, title, rows, render_coverage_html(draft.coverage, draft.warnings), render_sources_legend(cited)

        def on_draft(kind_v, target_v, interviewee_v, dims, count_v, request_v, request: gr.Request):
            fields = {
                "kind": kind_v or "interview",
                "target": target_v or "",
                "interviewee": interviewee_v or "",
                "dimensions": list(dims or []),
                "count": int(count_v) if count_v else None,
                "request": request_v or "",
            }
            state, title, rows, cov, legend = run_draft(fields, _username(request))
            return state, title, rows, cov, legend, -1, None

        draft_button.click(
            on_draft,
            [kind, target, interviewee, dimensions, count, draft_request],
            [draft_state, draft_title, draft_table, coverage, draft_sources, selected_row, export_file],
            api_visibility="private",
            concurrency_id="draft",
            concurrency_limit=answer_limit,
        )

        def draft_api(
            kind: str = "interview",
            target: str = "",
            interviewee: str = "",
            dimensions: list[str] | None = None,
            count: int | None = None,
            request: str = "",
            request_json: str = "",
            http_request: gr.Request = None,
        ) -> dict:
            """Draft an outline from the fields, or from `request_json` (a JSON object with the same
            fields, which wins when given); returns the draft JSON."""
            with shown_errors():
                if request_json and request_json.strip():
                    try:
                        fields = json.loads(request_json)
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"request_json 不是合法的 JSON：{exc.msg}") from None
                else:
                    fields = {
                        "kind": kind,
                        "target": target,
                        "interviewee": interviewee,
                        "dimensions": dimensions or [],
                        "count": count,
                        "request": request,
                    }
                return webapp.draft(_username(http_request), fields).to_dict()

        gr.api(draft_api, api_name="draft", concurrency_id="draft", concurrency_limit=answer_limit)

        def on_select(event: gr.SelectData):
            index = event.index
            return int(index[0]) if isinstance(index, (list, tuple)) else int(index)

        draft_table.select(on_select, None, selected_row, api_visibility="private", queue=False)

        def on_regenerate(state: dict, rows, row_index: int, request: gr.Request):
            if not state.get("draft"):
                raise gr.Error("请先生成提纲")
            with shown_errors():
                new_rows, cited = webapp.regenerate_question(
                    _username(request), state["request"], rows, state.get("sources", []), int(row_index)
                )
            state = dict(state, sources=cited)
            return state, new_rows, render_sources_legend(cited)

        regenerate_button.click(
            on_regenerate,
            [draft_state, draft_table, selected_row],
            [draft_state, draft_table, draft_sources],
            api_visibility="private",
            concurrency_id="draft",
            concurrency_limit=answer_limit,
        )

        def export_as(fmt: str):
            def on_export(state: dict, rows, request: gr.Request):
                if not state.get("draft"):
                    raise gr.Error("请先生成提纲")
                with shown_errors():
                    edited = table_to_draft(normalize_rows(rows), state["draft"], state.get("sources", []))
                    path = webapp.export(_username(request), edited, fmt, export_dir / uuid.uuid4().hex)
                return str(path)

            return on_export

        for button, fmt in ((docx_button, "docx"), (md_button, "md")):
            button.click(export_as(fmt), [draft_state, draft_table], export_file, api_visibility="private")

        def on_ingest(files, doc_type, collection, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            user = _username(request)
            paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
            with shown_errors():
                webapp.require_admin(user)  # refuse before reporting any progress
                progress(0, desc="导入中……")
                summary = webapp.ingest_files(user, paths, doc_type, collection, progress=True)
                table, statistics, delete_choices = admin_views(user)
            ok = sum(1 for f in summary["files"] if f["status"] != "失败")
            failed = len(summary["files"]) - ok
            text = (
                f"新增 {summary['added']}，更新 {summary['updated']}，未变 {summary['unchanged']}，"
                f"切分 {summary['chunks']} 段，失败 {failed}"
            )
            return text, ingest_results_table(summary), summary, table, statistics, delete_choices

        ingest_button.click(
            on_ingest,
            [uploads, upload_type, upload_collection],
            [ingest_summary, ingest_results, ingest_json, docs_table, stats, delete_id],
            api_name="ingest_files",
            concurrency_id="ingest",
            concurrency_limit=ingest_limit,
        )

        def on_delete(doc_id: str, request: gr.Request):
            user = _username(request)
            with shown_errors():
                webapp.delete_document(user, doc_id)
                table, statistics, delete_choices = admin_views(user)
            return f"已删除 {html.escape(doc_id)}", table, statistics, delete_choices

        delete_button.click(
            on_delete,
            [delete_id],
            [admin_message, docs_table, stats, delete_id],
            api_name="delete_document",
            concurrency_id="ingest",
            concurrency_limit=ingest_limit,
        )

        def on_rebuild(request: gr.Request):
            user = _username(request)
            with shown_errors():
                webapp.rebuild_indexes(user)
                table, statistics, delete_choices = admin_views(user)
            return "索引已重建", table, statistics, delete_choices

        rebuild_button.click(
            on_rebuild,
            None,
            [admin_message, docs_table, stats, delete_id],
            api_name="rebuild_indexes",
            concurrency_id="ingest",
            concurrency_limit=ingest_limit,
        )

    demo.queue(
        max_size=settings.server.max_queue,
        default_concurrency_limit=settings.server.concurrency_limit,
    )
    return demo


def create_app(settings: Settings | None = None) -> tuple[gr.Blocks, WebAppService]:
    """Build the services (once per process) and the Blocks app around them."""
    from kb.container import build_services

    settings = settings or load_settings()
    services = build_services(settings)
    webapp = WebAppService(services)
    return build_app(webapp, login=webapp.login_required()), webapp


def _warm_up(webapp: WebAppService) -> None:
    """Load the index in the background so the first question does not pay for it."""
    try:
        webapp.services.retriever.refresh()
    except Exception as exc:  # a broken index is reported when someone asks, not at startup
        log.warning("index warm-up failed: %s", exc)


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None) -> None:
    """Start the app and block. Without user accounts it binds to 127.0.0.1 whatever was asked."""
    settings = settings or load_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    demo, webapp = create_app(settings)
    login = webapp.login_required()
    if not login and host not in ("127.0.0.1", "localhost"):
        print(
            f"no user accounts ({settings.users_file}): serving on 127.0.0.1 only, without login "
            f"(add one with `kb users add NAME --role admin`), not on {host}",
            file=sys.stderr,
            flush=True,
        )
        host = "127.0.0.1"
    try:
        from kb.locking import LockHeld

        webapp.services.ingest.ensure_framework()
    except LockHeld as exc:
        print(f"criteria framework not installed now: {exc}", file=sys.stderr, flush=True)
    threading.Thread(target=_warm_up, args=(webapp,), daemon=True, name="kb-warm-up").start()

    async def authenticate(username: str, password: str) -> bool:
        # scrypt takes tens of milliseconds: keep it off the event loop
        import anyio

        return await anyio.to_thread.run_sync(webapp.check_login, username, password)

    print(
        f"考察知识库 serving at http://{host}:{port} "
        f"({'login required' if login else 'no login, local only'}; data in {settings.home})",
        flush=True,
    )
    demo.launch(
        server_name=host,
        server_port=port,
        auth=authenticate if login else None,
        auth_message="请使用考察知识库账号登录" if login else None,
        show_error=False,
        quiet=False,
        footer_links=["api"],
        run_history=False,
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        css=PAGE_CSS,
        head=PAGE_HEAD,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="考察知识库 web app")
    parser.add_argument("--host", help="address to bind (default: server.host in settings)")
    parser.add_argument("--port", type=int, help="port (default: server.port in settings)")
    parser.add_argument("--settings", help="settings.yaml to load")
    parser.add_argument("--home", help="knowledge-base data directory (overrides KB_HOME)")
    args = parser.parse_args(argv)
    overrides = {"home": args.home} if args.home else {}
    serve(load_settings(args.settings, **overrides), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
