"""考察知识库 web app (Gradio): 问答, 提纲起草 and 知识库 administration.

A thin adapter: every function here reads the UI, calls `kb.web.service.WebAppService` (which
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
import os
import re
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
from kb.conversations.feedback import REASON_LABELS
from kb.web.service import (
    CHUNK_COLUMNS,
    DOC_TYPE_LABELS,
    FEEDBACK_COLUMNS,
    DOCUMENT_COLUMNS,
    DRAFT_COLUMNS,
    INGEST_RESULT_COLUMNS,
    KIND_LABELS,
    MAX_QUESTION_CHARS,
    WebAppService,
    answer_as_text,
    collection_label,
    chunks_table,
    conversation_choices,
    documents_table,
    feedback_table_rows,
    markdown_safe,
    draft_to_table,
    ingest_results_table,
    normalize_rows,
    render_answer_html,
    render_user_text,
    user_text_of,
    render_coverage_html,
    render_ingest_summary_markdown,
    render_retrieval_test_html,
    render_sources_html,
    render_sources_legend,
    render_statistics_markdown,
    table_to_draft,
)

log = logging.getLogger("kb.app")

# suggested questions (kb/web/suggestions.py): up to this many buttons under the chat
SUGGESTION_SLOTS = 4
WELCOME_TITLE = "可以这样问（点击即发送，均已核实知识库中有依据）："
NEXT_TITLE = "接着问："
CHAT_PLACEHOLDER = "**欢迎使用考察知识库**<br>输入问题，或点击下方推荐的问题。每个回答都注明依据的原文。"

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
.kb-copy-text { display:none; }
#kb-suggestions { gap:.4em; flex-wrap:wrap; }
#kb-suggestions button { flex:0 1 auto; min-width:0; white-space:normal; text-align:left; }
.kb-feedback-for { color:#374151; font-size:.9em; }
/* a phone (390 px): the chat and its input first and above the fold, the conversation list after it */
@media (max-width: 640px) {
  #kb-main { order: -1; }
  #kb-sidebar { order: 1; }
  #kb-sources-col { order: 2; }
  #kb-chat { height: 38vh !important; min-height: 0 !important; }
  #kb-header { flex-wrap: nowrap; gap: .4em; align-items: center; }
  #kb-product h2 { font-size: 1.15em; margin: 0; white-space: nowrap; }
  #kb-user, #kb-user p { font-size: .8em; margin: 0; }
  #kb-header button { min-width: 0; flex: 0 0 auto; }
  #kb-suggestions button { font-size: .8em; }
}
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
    """The text of a chat message (Gradio gives a string, or a list of {"type": "text", "text": …} parts),
    as typed (the chat shows a question through render_user_text)."""
    content = message.get("content")
    if isinstance(content, str):
        return user_text_of(content)
    parts = content if isinstance(content, list) else [content]
    return user_text_of("".join(p.get("text", "") if isinstance(p, dict) else (p if isinstance(p, str) else "") for p in parts))


EMPTY_SOURCES = "<div class='kb-sources-title'>来源</div>"
# the chat's feedback buttons (Gradio's "Like"/"Dislike" options) ↔ the stored rating
FEEDBACK_OPTION = {"up": "Like", "down": "Dislike"}
_ANSWER_ID = re.compile(r"kb-a-([0-9A-Za-z_-]+)")


def answer_id_in(message: Any) -> str:
    """The answer id an assistant message carries (render_answer_html puts it in a class)."""
    found = _ANSWER_ID.search(json.dumps(message, ensure_ascii=False) if not isinstance(message, str) else message)
    return found.group(1) if found else ""


def question_problem(text: str) -> str:
    """Why a question cannot be asked as typed, in the words shown under the box; "" when it can."""
    if not text:
        return "请输入问题"
    if len(text) > MAX_QUESTION_CHARS:
        return f"问题太长（{len(text)} 字，上限 {MAX_QUESTION_CHARS} 字），请精简后再问；原文仍保留在输入框中"
    return ""


def friendly_error(exc: BaseException, settings: Settings | None = None) -> str:
    """An error as the user should read it: what the service said for refusals and bad input, the
    storage's state ("知识库存储不可用：…", "磁盘已满：…") when it failed, a generic line (details in the
    server log) for anything unexpected."""
    from kb.drafting.export import ExportError
    from kb.storage.locking import LockHeld
    from kb.storage.errors import storage_problem

    storage = storage_problem(exc, settings)
    if storage:
        log.error("storage failure: %s", exc)
        return storage
    if isinstance(exc, gr.Error):
        return str(exc.message)
    if isinstance(exc, PermissionError):
        return f"无权执行此操作：{exc}"
    if isinstance(exc, (ValueError, KeyError, ExportError, LockHeld)):
        return str(exc.args[0]) if exc.args else exc.__class__.__name__
    log.exception("request failed")
    return "服务内部错误，请稍后重试（详情见服务器日志）"


@contextmanager
def shown_errors():
    """Turn refusals, bad input and storage failures into a message the user (or API caller) sees;
    other errors stay generic."""
    from kb.drafting.export import ExportError
    from kb.storage.locking import LockHeld
    from kb.storage.errors import storage_problem

    try:
        yield
    except gr.Error:
        raise
    except Exception as exc:  # noqa: BLE001
        storage = storage_problem(exc)
        if storage:
            raise gr.Error(storage, title="存储错误") from exc
        if isinstance(exc, PermissionError):
            raise gr.Error(f"无权执行此操作：{exc}", title="权限不足") from exc
        if isinstance(exc, (ValueError, ExportError, LockHeld)):
            raise gr.Error(str(exc), title="提示") from exc
        raise


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
    api_limit = max(1, settings.server.api_concurrency)
    ingest_limit = max(1, settings.server.ingest_concurrency)

    # Gradio's own copies (uploads it stored, downloads it serves) older than uploads.max_age_s are
    # deleted every 10 minutes; an ingest removes its uploaded files at once (on_ingest)
    max_age = max(1, int(settings.uploads.max_age_s))
    with gr.Blocks(title="考察知识库", analytics_enabled=False, delete_cache=(min(600, max_age), max_age)) as demo:
        with gr.Row(elem_id="kb-header"):
            gr.Markdown("## 考察知识库", elem_id="kb-product")
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
            # the open conversation survives a refresh or back/forward (the browser keeps its id; the
            # server keeps the conversation, so a lost or foreign id falls back to the user's latest one)
            conversation_id = gr.BrowserState("", storage_key="kb-conversation", secret=webapp.browser_state_secret())
            with gr.Row():
                with gr.Column(scale=1, min_width=200, elem_id="kb-sidebar"):
                    new_chat_button = gr.Button("＋ 新对话", size="sm", elem_id="kb-new-chat")
                    conversation_list = gr.Radio([], label="我的对话", elem_id="kb-conversations")
                    with gr.Accordion("管理当前对话", open=False, elem_id="kb-manage-chat"):
                        rename_box = gr.Textbox(label="新名称", show_label=False, placeholder="新名称", elem_id="kb-rename-box")
                        rename_button = gr.Button("重命名", size="sm", elem_id="kb-rename")
                        delete_chat_button = gr.Button("删除当前对话", size="sm", variant="stop", elem_id="kb-delete-chat")
                        with gr.Group(visible=False, elem_id="kb-delete-chat-confirm") as delete_chat_confirm:
                            gr.Markdown("确定删除当前对话？删除后不能恢复。")
                            with gr.Row():
                                confirm_delete_chat = gr.Button("确认删除", size="sm", variant="stop", elem_id="kb-delete-chat-yes")
                                cancel_delete_chat = gr.Button("取消", size="sm", elem_id="kb-delete-chat-no")
                    conversation_message = gr.Markdown(elem_id="kb-conversation-message")
                with gr.Column(scale=3, elem_id="kb-main"):
                    chat = gr.Chatbot(
                        label="问答", height=460, elem_id="kb-chat", buttons=["copy"], feedback_options=("Like", "Dislike"),
                        placeholder=CHAT_PLACEHOLDER,
                    )
                    suggest_title = gr.Markdown(elem_id="kb-suggest-title")
                    with gr.Row(elem_id="kb-suggestions"):
                        suggest_buttons = [
                            gr.Button("", visible=False, size="sm", elem_id=f"kb-suggest-{i}", elem_classes=["kb-suggest"])
                            for i in range(SUGGESTION_SLOTS)
                        ]
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="输入问题，例如：党内政治监督谈话制度是什么？",
                            label="问题",
                            show_label=False,
                            scale=5,
                            elem_id="kb-question",
                        )
                        ask_button = gr.Button("提问", variant="primary", scale=1, elem_id="kb-ask")
                    question_message = gr.Markdown(elem_id="kb-question-message")
                    with gr.Group(visible=False, elem_id="kb-feedback-form") as feedback_form:
                        feedback_answer = gr.State("")
                        feedback_for = gr.Markdown(elem_id="kb-feedback-for", elem_classes=["kb-feedback-for"])
                        feedback_reason = gr.Radio(
                            [(label, key) for key, label in REASON_LABELS.items()],
                            label="问题在于",
                            elem_id="kb-feedback-reason",
                        )
                        feedback_comment = gr.Textbox(
                            label="说明（可选）", placeholder="如：应引用第三条", elem_id="kb-feedback-comment"
                        )
                        with gr.Row():
                            feedback_submit = gr.Button("提交反馈", size="sm", variant="primary", elem_id="kb-feedback-submit")
                            feedback_cancel = gr.Button("取消", size="sm", elem_id="kb-feedback-cancel")
                    feedback_message = gr.Markdown(elem_id="kb-feedback-message")
                    with gr.Accordion("筛选", open=False):
                        type_filter = gr.CheckboxGroup(
                            _choices(list(DOC_TYPES), DOC_TYPE_LABELS), label="文档类型（不选为全部）"
                        )
                        collection_filter = gr.CheckboxGroup([], label="集合（不选为全部）")
                    copy_box = gr.Textbox(
                        label="答案与来源（可复制）", lines=4, interactive=False, buttons=["copy"], elem_id="kb-copy"
                    )
                with gr.Column(scale=2, elem_id="kb-sources-col"):
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
            # picked from what this user may read, by collection or document title (ids are never typed)
            draft_materials = gr.Dropdown(
                [], multiselect=True, allow_custom_value=True,
                label="谈话对象本人的材料（从知识库中选择集合或文档；只有这些材料反映的问题才会当面点明）",
                elem_id="kb-draft-materials",
            )
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
                recheck_button = gr.Button("重新核验选中的问题（更换依据）", elem_id="kb-recheck")
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
                    upload_collection = gr.Textbox(label="集合", placeholder="不填则放入默认集合")
                    ingest_button = gr.Button("导入", variant="primary", elem_id="kb-ingest")
            ingest_summary = gr.Markdown(elem_id="kb-ingest-summary")
            ingest_results = gr.Dataframe(
                headers=INGEST_RESULT_COLUMNS, interactive=False, wrap=True, label="导入结果", elem_id="kb-ingest-results"
            )
            ingest_json = gr.JSON(visible=False)
            stats = gr.Markdown(elem_id="kb-stats")
            docs_table = gr.Dataframe(
                headers=DOCUMENT_COLUMNS, interactive=False, label="文档列表（点选一行即选中该文档）", elem_id="kb-docs"
            )
            with gr.Row():
                delete_id = gr.Dropdown([], allow_custom_value=True, label="选中的文档ID", scale=3, elem_id="kb-doc-id")
                chunks_button = gr.Button("查看分段", scale=1, elem_id="kb-view-chunks")
                delete_button = gr.Button("删除文档", variant="stop", scale=1, elem_id="kb-delete-doc")
                rebuild_button = gr.Button("重建索引", scale=1)
            with gr.Group(visible=False, elem_id="kb-delete-doc-confirm") as delete_confirm:
                delete_prompt = gr.Markdown()
                with gr.Row():
                    confirm_delete = gr.Button("确认删除", variant="stop", size="sm", elem_id="kb-delete-doc-yes")
                    cancel_delete = gr.Button("取消", size="sm", elem_id="kb-delete-doc-no")
            admin_message = gr.Markdown(elem_id="kb-admin-message")
            doc_chunks = gr.Dataframe(
                headers=CHUNK_COLUMNS, interactive=False, wrap=True, visible=False, label="文档分段", elem_id="kb-doc-chunks"
            )
            with gr.Accordion("命中测试（问题 → 检索到的段落、得分与回答状态）", open=False, elem_id="kb-hit-test"):
                with gr.Row():
                    hit_question = gr.Textbox(label="问题", show_label=False, placeholder="输入一个问题", scale=5, elem_id="kb-hit-question")
                    hit_button = gr.Button("测试", scale=1, elem_id="kb-hit-run")
                hit_result = gr.HTML(elem_id="kb-hit-result")
            with gr.Accordion("用户反馈", open=False, elem_id="kb-feedback-admin"):
                with gr.Row():
                    feedback_refresh = gr.Button("刷新", size="sm", elem_id="kb-feedback-refresh")
                    feedback_export = gr.Button("导出为评测集 (.jsonl)", size="sm", elem_id="kb-feedback-export")
                feedback_table = gr.Dataframe(
                    headers=FEEDBACK_COLUMNS, interactive=False, wrap=True, elem_id="kb-feedback-table"
                )
                feedback_file = gr.File(label="评测集下载", interactive=False, height=90, elem_id="kb-feedback-file")

        # ---- handlers ----------------------------------------------------------------------
        def admin_views(user: str | None):
            docs = webapp.list_documents(user)
            return (
                documents_table(docs),
                render_statistics_markdown(webapp.statistics(user)),
                gr.Dropdown(choices=[d["doc_id"] for d in docs], value=None),
            )

        def conversation_view(user: str | None, conversation_id: str):
            """(chat messages, sources panel, clipboard text, earlier panels) of a stored conversation:
            every answer with its own sources, from the document versions it cited."""
            opened = webapp.open_conversation(user, conversation_id)
            messages, panels, last = [], [], None
            for turn in opened["turns"]:
                last = turn["answer"]
                messages.append({"role": "user", "content": render_user_text(turn["question"])})
                messages.append({"role": "assistant", "content": render_answer_html(last)})
                panels.append(render_sources_html(last, None, turn["doc_states"]))
            shown = sources_view(panels) if panels else EMPTY_SOURCES
            # the 👍/👎 this user gave each answer shows again after a reload
            ids = [t["answer"].get("answer_id") or "" for t in opened["turns"]]
            ratings = webapp.feedback_ratings(user, ids) if ids else {}
            judged = [FEEDBACK_OPTION.get(ratings.get(a, "")) for a in ids]
            chat_value = gr.Chatbot(value=messages, feedback_value=judged)
            return chat_value, shown, answer_as_text(last) if last else "", panels[:-1] if panels else []

        def empty_chat():
            # no messages, and no 👍/👎 state left from the conversation shown before
            return gr.Chatbot(value=[], feedback_value=[])

        def sources_view(panels: list[str]) -> str:
            # the latest answer's sources first; the earlier answers' stay in the panel so their chips
            # still open what they cited
            shown = panels[-1]
            if len(panels) > 1:
                shown += '<details class="kb-earlier"><summary>之前回答的来源</summary>' + "".join(reversed(panels[:-1])) + "</details>"
            return shown

        def conversation_radio(user: str | None, selected: str | None):
            choices = conversation_choices(webapp.conversations(user))
            ids = {value for _, value in choices}
            return gr.Radio(choices=choices, value=selected if selected in ids else None)

        def on_load(stored_id: str, request: gr.Request):
            user = _username(request)
            try:
                caller = webapp.caller(user)
            except PermissionError as exc:
                return (f"⚠ {exc}", gr.Tab(visible=False)) + (gr.skip(),) * 10
            role = "管理员" if caller.is_admin else "考察员"
            who = f"当前用户：**{html.escape(caller.name)}**（{role}）" if login else "本机模式（管理员）"
            _, collections = webapp.filter_choices(user)
            # a refresh reopens the conversation the browser had open; an id that is not this user's
            # (another account in the same browser) or is gone opens an empty chat (the list has the rest)
            listed = webapp.conversations(user)
            opened = stored_id if stored_id in {c["id"] for c in listed} else ""
            if opened:
                messages, shown, copy_text, panels = conversation_view(user, opened)
            else:
                messages, shown, copy_text, panels = empty_chat(), EMPTY_SOURCES, "", []
            chat_parts = (
                gr.Radio(choices=conversation_choices(listed), value=opened or None),
                messages, shown, copy_text, panels, opened,
            )
            if not caller.is_admin:
                return (who, gr.Tab(visible=False), gr.CheckboxGroup(choices=[(collection_label(c), c) for c in collections]), gr.skip(), gr.skip(), gr.skip()) + chat_parts
            table, statistics, delete_choices = admin_views(user)
            return (who, gr.Tab(visible=True), gr.CheckboxGroup(choices=[(collection_label(c), c) for c in collections]), table, statistics, delete_choices) + chat_parts

        loaded = demo.load(
            on_load,
            [conversation_id],
            [banner, admin_tab, collection_filter, docs_table, stats, delete_id,
             conversation_list, chat, sources, copy_box, source_panels, conversation_id],
            api_visibility="private",
            queue=False,
        )

        def on_ask(text: str, history: list, doc_types: list, collections: list, panels: list, conv_id: str, request: gr.Request):
            # Bad input and failures are said under the question box; the question stays in the box,
            # no placeholder is left behind and no other component is marked as failed.
            user = _username(request)
            text = (text or "").strip()
            keep = (gr.skip(),) * 5
            problem = question_problem(text)
            if problem:
                yield (gr.skip(),) * 5 + (f"⚠ {problem}", gr.skip(), gr.skip())
                return
            try:
                if not conv_id or conv_id not in {c["id"] for c in webapp.conversations(user)}:
                    conv_id = webapp.new_conversation(user)["id"]
            except Exception as exc:  # noqa: BLE001 - the store's failure is shown, not raised
                yield keep + (f"⚠ {friendly_error(exc, settings)}", gr.skip(), gr.skip())
                return
            # the earlier questions of this chat (the stored conversation's are used when it exists)
            earlier = [message_text(m) for m in (history or []) if isinstance(m, dict) and m.get("role") == "user"]
            earlier = [q for q in earlier if q]
            history = list(history or []) + [
                {"role": "user", "content": render_user_text(text)},
                {"role": "assistant", "content": "检索中……"},
            ]
            yield history, gr.skip(), gr.skip(), "", gr.skip(), "", conv_id, gr.skip()
            streamed = ""
            answer: dict[str, Any] | None = None
            try:
                for piece in webapp.ask_stream(user, text, doc_types, collections, history=earlier, conversation_id=conv_id):
                    if isinstance(piece, str):
                        streamed += piece
                        history[-1] = {"role": "assistant", "content": markdown_safe(streamed)}
                        yield history, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    else:
                        answer = piece
                if answer is None:
                    raise RuntimeError("no answer came back")
            except Exception as exc:  # noqa: BLE001
                message = friendly_error(exc, settings)
                history[-1] = {"role": "assistant", "content": f'<div class="kb-state kb-state-refused">⚠ 未能回答：{html.escape(message)}</div>'}
                yield history, gr.skip(), gr.skip(), text, gr.skip(), f"⚠ {message}", gr.skip(), gr.skip()
                return
            history[-1] = {"role": "assistant", "content": render_answer_html(answer)}
            panel = render_sources_html(answer, lambda chunk_id: webapp.chunk_text(chunk_id, user))
            earlier_panels = list(panels or [])
            yield (
                history, sources_view(earlier_panels + [panel]), answer_as_text(answer), gr.skip(),
                earlier_panels + [panel], "", conv_id, conversation_radio(user, conv_id),
            )

        # a cleared chat starts a new conversation (the old one stays in the list)
        cleared = chat.clear(lambda: ([], "", EMPTY_SOURCES), None, [source_panels, conversation_id, sources],
                             api_visibility="private", queue=False)

        ask_events = dict(
            fn=on_ask,
            inputs=[question, chat, type_filter, collection_filter, source_panels, conversation_id],
            outputs=[chat, sources, copy_box, question, source_panels, question_message, conversation_id, conversation_list],
            api_visibility="private",
            concurrency_id="answer",
            concurrency_limit=answer_limit,
        )
        # ---- suggested questions: computed after the page / the answer is shown ---------------------
        suggest_outputs = [suggest_title] + suggest_buttons

        def suggestion_view(title: str, questions: list[str]):
            questions = list(questions)[:SUGGESTION_SLOTS]
            buttons = [gr.Button(value=q, visible=True) for q in questions]
            buttons += [gr.Button(value="", visible=False)] * (SUGGESTION_SLOTS - len(buttons))
            return (title if questions else "", *buttons)

        def no_suggestions():
            return suggestion_view("", [])

        def on_suggest(history: list, request: gr.Request):
            """The welcome questions on an empty chat; after an answer, the next questions for it."""
            user = _username(request)
            messages = [m for m in (history or []) if isinstance(m, dict)]
            try:
                if not messages:
                    return suggestion_view(WELCOME_TITLE, webapp.welcome_questions(user))
                last = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
                answer_id = answer_id_in(last) if last else ""
                if not answer_id:
                    return no_suggestions()
                asked = [message_text(m) for m in messages if m.get("role") == "user"]
                return suggestion_view(NEXT_TITLE, webapp.next_questions(user, answer_id, asked))
            except Exception:  # noqa: BLE001 - no suggestions is never an error on the page
                log.exception("suggestions failed")
                return no_suggestions()

        suggest_events = dict(fn=on_suggest, inputs=[chat], outputs=suggest_outputs, api_visibility="private",
                              concurrency_id="answer", concurrency_limit=answer_limit, show_progress="hidden")
        hide_events = dict(fn=no_suggestions, inputs=None, outputs=suggest_outputs, api_visibility="private", queue=False,
                           show_progress="hidden")

        loaded.then(**suggest_events)
        cleared.then(**suggest_events)
        for trigger in (ask_button.click, question.submit):
            trigger(**hide_events)
            trigger(**ask_events).then(**suggest_events)
        for button in suggest_buttons:
            # a suggestion is sent as it reads, like a typed question
            button.click(lambda text: text, [button], [question], api_visibility="private", queue=False).then(
                **hide_events).then(**ask_events).then(**suggest_events)

        def ask_api(
            question: str,
            doc_types: list[str] | None = None,
            collections: list[str] | None = None,
            request: gr.Request = None,
        ) -> dict:
            """Answer one question; returns the answer JSON (answer, status, answer_id, citations, contexts)."""
            with shown_errors():
                return webapp.ask(_username(request), question, doc_types, collections)

        # scripts' /ask and /draft run in their own group with server.api_concurrency slots, so a batch
        # client cannot take the interactive UI's slots (kb/api/fair_queue.py explains)
        gr.api(ask_api, api_name="ask", concurrency_id="api", concurrency_limit=api_limit)

        def feedback_api(answer_id: str, rating: str, reason: str = "", comment: str = "", request: gr.Request = None) -> dict:
            """👍/👎 on an answer: rating up | down; reason (for down) wrong_citation | incomplete |
            should_refuse | should_answer | other; an optional comment."""
            with shown_errors():
                return webapp.feedback(_username(request), answer_id, rating, reason, comment)

        gr.api(feedback_api, api_name="feedback")

        # ---- conversations in the sidebar ------------------------------------------------------
        def on_new_chat(request: gr.Request):
            # the conversation is created by its first question: an unused "new" leaves nothing behind
            return empty_chat(), EMPTY_SOURCES, "", [], "", gr.Radio(value=None), ""

        new_chat_button.click(
            on_new_chat, None,
            [chat, sources, copy_box, source_panels, conversation_id, conversation_list, conversation_message],
            api_visibility="private", queue=False,
        ).then(**suggest_events)

        def on_open_chat(selected: str, request: gr.Request):
            user = _username(request)
            try:
                messages, shown, copy_text, panels = conversation_view(user, selected)
            except Exception as exc:  # noqa: BLE001
                return (gr.skip(),) * 5 + (conversation_radio(user, None), f"⚠ {friendly_error(exc, settings)}")
            return messages, shown, copy_text, panels, selected, gr.skip(), ""

        conversation_list.input(
            on_open_chat, [conversation_list],
            [chat, sources, copy_box, source_panels, conversation_id, conversation_list, conversation_message],
            api_visibility="private",
        ).then(**suggest_events)

        def on_rename_chat(conv_id: str, title: str, request: gr.Request):
            user = _username(request)
            if not conv_id:
                return gr.skip(), gr.skip(), "⚠ 请先打开或开始一个对话"
            try:
                webapp.rename_conversation(user, conv_id, title)
            except Exception as exc:  # noqa: BLE001
                return gr.skip(), gr.skip(), f"⚠ {friendly_error(exc, settings)}"
            return conversation_radio(user, conv_id), "", "已重命名"

        rename_button.click(
            on_rename_chat, [conversation_id, rename_box], [conversation_list, rename_box, conversation_message],
            api_visibility="private",
        )

        def on_delete_chat_asked(conv_id: str):
            if not conv_id:
                return gr.Group(visible=False), "⚠ 请先打开一个对话"
            return gr.Group(visible=True), ""

        delete_chat_button.click(
            on_delete_chat_asked, [conversation_id], [delete_chat_confirm, conversation_message],
            api_visibility="private", queue=False,
        )
        cancel_delete_chat.click(lambda: gr.Group(visible=False), None, [delete_chat_confirm], api_visibility="private", queue=False)

        def on_delete_chat(conv_id: str, request: gr.Request):
            user = _username(request)
            try:
                webapp.delete_conversation(user, conv_id)
            except Exception as exc:  # noqa: BLE001
                return (gr.skip(),) * 6 + (gr.Group(visible=False), f"⚠ {friendly_error(exc, settings)}")
            return empty_chat(), EMPTY_SOURCES, "", [], "", conversation_radio(user, None), gr.Group(visible=False), "已删除对话"

        confirm_delete_chat.click(
            on_delete_chat, [conversation_id],
            [chat, sources, copy_box, source_panels, conversation_id, conversation_list, delete_chat_confirm, conversation_message],
            api_visibility="private",
        ).then(**suggest_events)

        # ---- feedback on an answer (the chat's 👍/👎 buttons) ---------------------------------------
        def judged_answer(history: list, index: Any) -> str:
            """Which answer a 👍/👎 is for, as the form says it: 第N条回答（问题“…”）."""
            at = index[0] if isinstance(index, (list, tuple)) else index
            messages = [m for m in (history or []) if isinstance(m, dict)]
            try:
                at = int(at)
            except (TypeError, ValueError):
                return "这条回答"
            number = sum(1 for m in messages[: at + 1] if m.get("role") == "assistant")
            asked = next((message_text(m) for m in reversed(messages[:at]) if m.get("role") == "user"), "")
            if len(asked) > 40:
                asked = asked[:39] + "…"
            return f"第 {number} 条回答" + (f"（问题“{asked}”）" if asked else "")

        def on_like(event: gr.LikeData, history: list, request: gr.Request):
            answer_id = answer_id_in(event.value)
            hidden = gr.Group(visible=False)
            if not answer_id:
                return hidden, "", "⚠ 这条消息不是一个回答，无法评价", gr.skip(), gr.skip(), gr.skip()
            which = judged_answer(history, event.index)
            if event.liked is True or event.liked == "Like":
                try:
                    webapp.feedback(_username(request), answer_id, "up")
                except Exception as exc:  # noqa: BLE001
                    return hidden, "", f"⚠ {friendly_error(exc, settings)}", gr.skip(), gr.skip(), gr.skip()
                return hidden, "", f"已记录：赞（{markdown_safe(which)}，将作为回归评测用例）", gr.skip(), gr.skip(), gr.skip()
            if event.liked is False or event.liked == "Dislike":
                return (gr.Group(visible=True), answer_id, "", gr.Radio(value=None), "",
                        f"对<b>{markdown_safe(which)}</b>的意见（踩）")
            # a 👍/👎 taken back (clicked again): the judgement is removed
            try:
                webapp.retract_feedback(_username(request), answer_id)
            except Exception as exc:  # noqa: BLE001
                return hidden, "", f"⚠ {friendly_error(exc, settings)}", gr.skip(), gr.skip(), gr.skip()
            return hidden, "", f"已撤销对{markdown_safe(which)}的评价", gr.skip(), gr.skip(), gr.skip()

        chat.like(
            on_like, [chat],
            [feedback_form, feedback_answer, feedback_message, feedback_reason, feedback_comment, feedback_for],
            api_visibility="private",
        )

        def on_feedback_submit(answer_id: str, reason: str, comment: str, request: gr.Request):
            if not reason:  # said in the form's words, not the API's reason keys
                return gr.skip(), "⚠ 请先选择这条回答的问题在于哪一项"
            try:
                webapp.feedback(_username(request), answer_id, "down", reason or "", comment or "")
            except Exception as exc:  # noqa: BLE001
                return gr.skip(), f"⚠ {friendly_error(exc, settings)}"
            label = REASON_LABELS.get(reason, reason)
            return gr.Group(visible=False), f"已记录：踩（{html.escape(label)}），管理员可在“知识库 › 用户反馈”中查看和导出"

        feedback_submit.click(
            on_feedback_submit, [feedback_answer, feedback_reason, feedback_comment], [feedback_form, feedback_message],
            api_visibility="private",
        )
        def on_feedback_cancel(history: list, request: gr.Request):
            # nothing was stored: the buttons show again what is (the 踩 just clicked is undone)
            ids = [answer_id_in(m) for m in (history or []) if isinstance(m, dict) and m.get("role") == "assistant"]
            try:
                ratings = webapp.feedback_ratings(_username(request), [i for i in ids if i])
            except Exception:  # noqa: BLE001
                return gr.Group(visible=False), "", gr.skip()
            return gr.Group(visible=False), "", gr.Chatbot(feedback_value=[FEEDBACK_OPTION.get(ratings.get(i, "")) for i in ids])

        feedback_cancel.click(on_feedback_cancel, [chat], [feedback_form, feedback_message, chat],
                              api_visibility="private", show_progress="hidden")

        def run_draft(request_fields: dict[str, Any], user: str | None):
            with shown_errors():
                draft = webapp.draft(user, request_fields)
            rows, cited = draft_to_table(draft)
            state = {"draft": draft.to_dict(), "request": request_fields, "sources": cited}
            title = f"### {html.escape(draft.title or KIND_LABELS.get(draft.kind, '提纲'))}"
            if draft.kind == "talk" and (draft.speaker or draft.target):
                title += f"\n\n谈话人：{html.escape(draft.speaker or '—')}　谈话对象：{html.escape(draft.target or '—')}"
            if draft.opening:
                label = "开场" if draft.kind == "talk" else "访谈说明"
                title += f"\n\n**{label}**：{html.escape(draft.opening)}"
            if draft.closing:
                title += "\n\n**谈后安排**：" + "；".join(html.escape(c) for c in draft.closing)
            return state, title, rows, render_coverage_html(draft.coverage, draft.warnings), render_sources_legend(cited)

        def on_draft(kind_v, target_v, interviewee_v, dims, count_v, request_v, materials_v, request: gr.Request):
            fields = {
                "kind": kind_v or "interview",
                "target": target_v or "",
                "interviewee": interviewee_v or "",
                "dimensions": list(dims or []),
                "count": int(count_v) if count_v else None,
                "request": request_v or "",
                "materials": materials_v or "",
            }
            state, title, rows, cov, legend = run_draft(fields, _username(request))
            return state, title, rows, cov, legend, -1, None

        def on_draft_materials(request: gr.Request):
            try:
                choices = webapp.draft_materials(_username(request))
            except PermissionError:
                choices = []
            return gr.Dropdown(choices=choices)

        demo.load(on_draft_materials, None, [draft_materials], api_visibility="private", queue=False)
        # a talk outline has no 访谈对象: the field would otherwise keep 班子成员 from an interview
        kind.change(lambda k: gr.Dropdown(visible=k != "talk"), [kind], [interviewee], api_visibility="private", queue=False)

        draft_button.click(
            on_draft,
            [kind, target, interviewee, dimensions, count, draft_request, draft_materials],
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
            materials: str = "",
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
                        "materials": materials or "",
                    }
                return webapp.draft(_username(http_request), fields).to_dict()

        gr.api(draft_api, api_name="draft", concurrency_id="api", concurrency_limit=api_limit)

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

        def on_edit(state: dict, rows, request: gr.Request):
            """An edited cell: every row's citations re-verified against its question; those that no
            longer back it show 待核实 in the 来源 cell."""
            if not state.get("draft"):
                return state, rows, gr.skip()
            with shown_errors():
                new_rows, cited = webapp.recheck_rows(_username(request), state["draft"], rows, state.get("sources", []))
            return dict(state, sources=cited), new_rows, render_sources_legend(cited)

        draft_table.input(
            on_edit,
            [draft_state, draft_table],
            [draft_state, draft_table, draft_sources],
            api_visibility="private",
            concurrency_id="draft",
            concurrency_limit=answer_limit,
        )

        def on_recheck(state: dict, rows, row_index: int, request: gr.Request):
            """Re-verify the selected row, replacing unsupported citations by re-retrieved evidence."""
            if not state.get("draft"):
                raise gr.Error("请先生成提纲")
            with shown_errors():
                new_rows, cited = webapp.recheck_rows(
                    _username(request), state["draft"], rows, state.get("sources", []), int(row_index)
                )
            return dict(state, sources=cited), new_rows, render_sources_legend(cited)

        recheck_button.click(
            on_recheck,
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
                    # an edit not yet re-checked (the export clicked right after typing) is checked here
                    rows, cited = webapp.recheck_rows(_username(request), state["draft"], rows, state.get("sources", []))
                    state = dict(state, sources=cited)
                    edited = table_to_draft(normalize_rows(rows), state["draft"], state.get("sources", []))
                    path = webapp.export(_username(request), edited, fmt, export_dir / uuid.uuid4().hex)
                return str(path)

            return on_export

        for button, fmt in ((docx_button, "docx"), (md_button, "md")):
            button.click(export_as(fmt), [draft_state, draft_table], export_file, api_visibility="private")

        def on_ingest(files, doc_type, collection, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            user = _username(request)
            paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
            try:
                with shown_errors():
                    webapp.require_admin(user)  # refuse before reporting any progress (API callers get an error)
            except BaseException:
                webapp.discard_uploads(paths)  # a refused caller's uploads are not kept either
                raise
            try:
                progress(0, desc="导入中……")
                summary = webapp.ingest_files(user, paths, doc_type, collection, progress=True)
                table, statistics, delete_choices = admin_views(user)
            except Exception as exc:  # noqa: BLE001 - said in the summary line, not painted over the tab
                return (f"⚠ {html.escape(friendly_error(exc, settings))}",) + (gr.skip(),) * 5
            finally:
                webapp.discard_uploads(paths)  # ingested (or failed): the uploaded copies go at once
            # the counts, and under each file the pages to check against the original (OCR / unread)
            text = render_ingest_summary_markdown(summary)
            return text, ingest_results_table(summary), summary, table, statistics, delete_choices

        ingest_button.click(
            on_ingest,
            [uploads, upload_type, upload_collection],
            [ingest_summary, ingest_results, ingest_json, docs_table, stats, delete_id],
            api_name="ingest_files",
            concurrency_id="ingest",
            concurrency_limit=ingest_limit,
        )

        def on_doc_selected(event: gr.SelectData):
            # a click anywhere in a row of the documents table selects that document
            row = getattr(event, "row_value", None)
            if not row:
                return gr.skip()
            return gr.Dropdown(value=str(row[0]))

        docs_table.select(on_doc_selected, None, [delete_id], api_visibility="private", queue=False)

        def on_delete_asked(doc_id: str, request: gr.Request):
            doc_id = (doc_id or "").strip()
            if not doc_id:
                return gr.Group(visible=False), "", "⚠ 请先在文档列表中选中要删除的文档"
            docs = {d["doc_id"]: d for d in webapp.list_documents(_username(request))}
            if doc_id not in docs:
                return gr.Group(visible=False), "", f"⚠ 没有文档 {html.escape(doc_id)}"
            title = docs[doc_id].get("title") or doc_id
            prompt = f"确定删除《{html.escape(title)}》（{html.escape(doc_id)}）？删除后需重新导入才能恢复。"
            return gr.Group(visible=True), prompt, ""

        delete_button.click(
            on_delete_asked, [delete_id], [delete_confirm, delete_prompt, admin_message], api_visibility="private"
        )
        cancel_delete.click(lambda: (gr.Group(visible=False), ""), None, [delete_confirm, admin_message],
                            api_visibility="private", queue=False)

        def on_delete(doc_id: str, request: gr.Request):
            user = _username(request)
            with shown_errors():
                webapp.delete_document(user, doc_id)
                table, statistics, delete_choices = admin_views(user)
            return f"已删除 {html.escape(doc_id)}", table, statistics, delete_choices, gr.Group(visible=False)

        def delete_api(doc_id: str, request: gr.Request = None) -> str:
            """Delete a document (admins); returns a confirmation line."""
            with shown_errors():
                webapp.delete_document(_username(request), doc_id)
            return f"已删除 {doc_id}"

        gr.api(delete_api, api_name="delete_document", concurrency_id="ingest", concurrency_limit=ingest_limit)

        def on_delete_confirmed(doc_id: str, request: gr.Request):
            try:
                return on_delete(doc_id, request)
            except gr.Error as exc:
                return f"⚠ {html.escape(exc.message)}", gr.skip(), gr.skip(), gr.skip(), gr.Group(visible=False)

        confirm_delete.click(
            on_delete_confirmed,
            [delete_id],
            [admin_message, docs_table, stats, delete_id, delete_confirm],
            api_visibility="private",
            concurrency_id="ingest",
            concurrency_limit=ingest_limit,
        )

        def on_view_chunks(doc_id: str, request: gr.Request):
            try:
                chunks = webapp.document_chunks(_username(request), doc_id)
            except Exception as exc:  # noqa: BLE001
                return gr.Dataframe(visible=False), f"⚠ {friendly_error(exc, settings)}"
            return gr.Dataframe(value=chunks_table(chunks), visible=True, label=f"文档分段：{doc_id}（{len(chunks)} 段）"), ""

        chunks_button.click(on_view_chunks, [delete_id], [doc_chunks, admin_message], api_visibility="private")

        def on_hit_test(text: str, request: gr.Request):
            try:
                result = webapp.retrieval_test(_username(request), text)
            except Exception as exc:  # noqa: BLE001
                return f'<div class="kb-warnings">⚠ {html.escape(friendly_error(exc, settings))}</div>'
            return render_retrieval_test_html(result)

        hit_events = dict(fn=on_hit_test, inputs=[hit_question], outputs=[hit_result], api_visibility="private",
                          concurrency_id="answer", concurrency_limit=answer_limit)
        hit_button.click(**hit_events)
        hit_question.submit(**hit_events)

        def on_feedback_refresh(request: gr.Request):
            try:
                return feedback_table_rows(webapp.feedback_entries(_username(request))), None
            except Exception as exc:  # noqa: BLE001
                gr.Warning(friendly_error(exc, settings), title="提示")
                return gr.skip(), gr.skip()

        feedback_refresh.click(on_feedback_refresh, None, [feedback_table, feedback_file], api_visibility="private")

        def on_feedback_export(request: gr.Request):
            try:
                path = webapp.export_feedback(_username(request), export_dir / uuid.uuid4().hex)
            except Exception as exc:  # noqa: BLE001
                gr.Warning(friendly_error(exc, settings), title="提示")
                return gr.skip(), gr.skip()
            return feedback_table_rows(webapp.feedback_entries(_username(request))), str(path)

        feedback_export.click(on_feedback_export, None, [feedback_table, feedback_file], api_visibility="private")
        admin_tab.select(on_feedback_refresh, None, [feedback_table, feedback_file], api_visibility="private")

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
        return
    try:
        # the welcome questions of a reader without groups, checked before the first page asks for them
        webapp.warm_suggestions()
    except Exception as exc:  # noqa: BLE001 - computed on the first page instead
        log.warning("suggestions warm-up failed: %s", exc)


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None) -> None:
    """Start the app and block. Without user accounts it binds to 127.0.0.1 whatever was asked."""
    settings = settings or load_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    # uploads go to a private folder of this process (kb/storage/uploads.py), which Gradio reads from
    # GRADIO_TEMP_DIR when the app is built: set before create_app
    from kb.storage.uploads import UploadStore, make_upload_root

    upload_root = make_upload_root(settings.uploads.dir)
    atexit.register(shutil.rmtree, upload_root, True)
    os.environ["GRADIO_TEMP_DIR"] = str(upload_root)  # written, never read: Gradio's interface
    uploads = UploadStore.from_settings(settings, upload_root)
    demo, webapp = create_app(settings)
    webapp.uploads = uploads
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
        from kb.storage.locking import LockHeld

        webapp.services.ingest.ensure_framework()
    except LockHeld as exc:
        print(f"criteria framework not installed now: {exc}", file=sys.stderr, flush=True)
    threading.Thread(target=_warm_up, args=(webapp,), daemon=True, name="kb-warm-up").start()

    async def authenticate(username: str, password: str) -> bool:
        # scrypt takes tens of milliseconds: keep it off the event loop
        import anyio

        return await anyio.to_thread.run_sync(webapp.check_login, username, password)

    # next to the UI: the OpenAI-compatible API (/v1/chat/completions, /v1/models; API keys), and
    # in front of everything the login throttle and session expiry (kb/api/web_guard.py)
    from starlette.middleware import Middleware

    from kb.api.openai_compat import router as openai_router
    from kb.api.request_limits import RequestLimitsMiddleware
    from kb.api.web_guard import WebGuardMiddleware, distrust_server_forwarded_headers
    from kb.web.shell import GRADIO_ZH, PRODUCT_NAME, ShellMiddleware

    distrust_server_forwarded_headers()  # X-Forwarded-For only from security.trusted_proxies (web_guard.py)
    security = settings.security
    openai_routes = openai_router(webapp.services, max_body_kb=security.api_max_body_kb)
    # Dify's External Knowledge API (POST /retrieval, /dify/retrieval): same keys, same fair queue
    from kb.api.dify_retrieval import router as dify_router

    dify_routes = dify_router(webapp.services, max_body_kb=security.api_max_body_kb, queue=openai_routes.fair_queue)
    # the MCP server over Streamable HTTP at /mcp (kb/api/mcp_server.py): same keys, same fair queue;
    # its session manager runs for the app's lifetime
    from starlette.routing import Route

    from kb.api.mcp_server import http_endpoint

    mcp_endpoint = http_endpoint(webapp.services, queue=openai_routes.fair_queue, max_body_kb=security.api_max_body_kb)
    app_kwargs = {
        "routes": openai_routes.routes + dify_routes.routes + [Route("/mcp", endpoint=mcp_endpoint)],
        "lifespan": mcp_endpoint.lifespan,
        "middleware": [
            # every page in Chinese with the product's name, the login page included (kb/web/shell.py)
            Middleware(ShellMiddleware),
            Middleware(
                WebGuardMiddleware,
                guard=webapp.services.login_guard,
                session_ttl_s=security.session_ttl_s,
                max_login_body=security.login_max_body_bytes,
            ),
            # bodies bounded before they are read, uploads within their quotas (kb/api/request_limits.py)
            Middleware(
                RequestLimitsMiddleware,
                api_max_body=security.api_max_body_kb * 1024,
                max_body=settings.server.max_request_kb * 1024,
                uploads=uploads,
            ),
        ],
    }

    print(
        f"考察知识库 serving at http://{host}:{port} "
        f"({'login required' if login else 'no login, local only'}; data in {settings.home})",
        flush=True,
    )
    demo.launch(
        server_name=host,
        server_port=port,
        auth=authenticate if login else None,
        auth_message=f'<span id="kb-login-title">{PRODUCT_NAME}</span><br>请使用账号登录' if login else None,
        show_error=False,
        # an upload larger than this is refused by the server before it is written to disk
        max_file_size=f"{settings.server.max_upload_mb}mb",
        quiet=False,
        # no "通过 API 使用" panel: inspectors do not script the app (docs/ describe the API)
        footer_links=[],
        i18n=gr.I18n(**{"zh-CN": GRADIO_ZH, "zh": GRADIO_ZH}),
        run_history=False,
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        css=PAGE_CSS,
        head=PAGE_HEAD,
        app_kwargs=app_kwargs,
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
