"""The running app through HTTP and gradio_client: login, roles enforced on the server, audit."""
from __future__ import annotations

import json

import httpx
import pytest

from tests.app.conftest import (
    ADMIN,
    CHECKED_PDF,
    INSPECTOR,
    LOW_LINE,
    QUESTION,
    QUESTION_DOC,
    QUOTE_WORDS,
    drafting_available,
    write_checked_pdf,
)


def client_for(app, who):
    from gradio_client import Client

    return Client(app.url, auth=who, verbose=False, analytics_enabled=False, download_files=False)


def audit_entries(home, *args, capsys):
    from kb.cli import main

    capsys.readouterr()
    assert main(["--home", str(home), "audit", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def document_ids(home) -> list[str]:
    import subprocess
    import sys

    from tests.app.conftest import REPO, clean_env

    out = subprocess.run(
        [sys.executable, "-m", "kb.cli", "docs", "list", "--json"],
        cwd=str(home.parent), env=dict(clean_env(home), PYTHONPATH=str(REPO)),
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    return [d["doc_id"] for d in json.loads(out)]


@pytest.mark.slow
def test_config_needs_login_when_users_exist(app_server):
    # Gradio 6 answers 401 on /config and the API routes until the login cookie is set.
    assert httpx.get(app_server.url + "/config").status_code == 401
    assert httpx.get(app_server.url + "/gradio_api/info").status_code == 401
    with httpx.Client(base_url=app_server.url) as http:
        bad = http.post("/login", data={"username": INSPECTOR[0], "password": "wrong"})
        assert bad.status_code == 400
        assert http.get("/config").status_code == 401
        ok = http.post("/login", data={"username": INSPECTOR[0], "password": INSPECTOR[1]})
        assert ok.status_code == 200
        config = http.get("/config")
        assert config.status_code == 200
        assert config.json()["username"] == INSPECTOR[0]


@pytest.mark.slow
def test_client_without_login_is_refused(app_server):
    from gradio_client import Client

    with pytest.raises(Exception):
        Client(app_server.url, verbose=False, analytics_enabled=False)


@pytest.mark.slow
def test_ask_returns_citations_and_is_audited(app_server, capsys):
    client = client_for(app_server, INSPECTOR)
    answer = client.predict(question=QUESTION, api_name="/ask")
    assert isinstance(answer, dict) and not answer["refused"]
    assert answer["citations"], answer
    assert any(c["doc_id"] == QUESTION_DOC for c in answer["citations"])
    assert any(QUOTE_WORDS in c["quote"] for c in answer["citations"])
    assert f"[{answer['citations'][0]['n']}]" in answer["answer"]

    entries = audit_entries(app_server.home, "--action", "ask", "--user", INSPECTOR[0], capsys=capsys)
    assert any(e["detail"] == QUESTION and QUESTION_DOC in e["doc_ids"] for e in entries)
    logins = audit_entries(app_server.home, "--action", "login", capsys=capsys)
    assert any(e["user"] == INSPECTOR[0] for e in logins)


@pytest.mark.slow
def test_ask_with_filters_that_exclude_everything_refuses(app_server):
    client = client_for(app_server, INSPECTOR)
    answer = client.predict(question=QUESTION, doc_types=["outline"], api_name="/ask")
    assert answer["refused"] and not answer["citations"]


@pytest.mark.slow
def test_inspector_cannot_delete_and_document_remains(app_server, capsys):
    from gradio_client.exceptions import AppError

    client = client_for(app_server, INSPECTOR)
    with pytest.raises(AppError, match="无权"):
        client.predict(doc_id=QUESTION_DOC, api_name="/delete_document")
    assert QUESTION_DOC in document_ids(app_server.home)
    assert not [e for e in audit_entries(app_server.home, "--action", "delete", capsys=capsys)]
    # and the answer still cites it
    answer = client.predict(question=QUESTION, api_name="/ask")
    assert any(c["doc_id"] == QUESTION_DOC for c in answer["citations"])


@pytest.mark.slow
def test_inspector_cannot_ingest(app_server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    f = tmp_path / "不该导入.txt"
    f.write_text("第一条 这份文件不应被导入。", encoding="utf-8")
    client = client_for(app_server, INSPECTOR)
    with pytest.raises(AppError, match="无权"):
        client.predict(files=[handle_file(str(f))], doc_type="auto", collection="", api_name="/ingest_files")
    assert "不该导入" not in document_ids(app_server.home)


@pytest.mark.slow
def test_admin_ingests_names_failures_and_deletes(app_server, tmp_path, capsys):
    from gradio_client import handle_file

    good = tmp_path / "补充规定.txt"
    good.write_text("补充规定\n\n第一条 考察谈话应当单独进行，谈话记录由两名考察组成员签字。\n", encoding="utf-8")
    empty = tmp_path / "空文件.txt"
    empty.write_text("", encoding="utf-8")
    client = client_for(app_server, ADMIN)
    result = client.predict(
        files=[handle_file(str(good)), handle_file(str(empty))],
        doc_type="policy",
        collection="补充",
        api_name="/ingest_files",
    )
    summary = result[2]
    files = {f["file"]: f for f in summary["files"]}
    assert files["补充规定.txt"]["status"] == "新增" and files["补充规定.txt"]["doc_id"] == "补充规定"
    assert files["空文件.txt"]["status"] == "失败" and files["空文件.txt"]["error"]
    assert "补充规定" in document_ids(app_server.home)

    client.predict(doc_id="补充规定", api_name="/delete_document")
    assert "补充规定" not in document_ids(app_server.home)
    deletes = audit_entries(app_server.home, "--action", "delete", capsys=capsys)
    assert [(e["user"], e["doc_ids"]) for e in deletes] == [(ADMIN[0], ["补充规定"])]
    ingests = audit_entries(app_server.home, "--action", "ingest", capsys=capsys)
    assert ingests[-1]["user"] == ADMIN[0] and ingests[-1]["doc_ids"] == ["补充规定"]


@pytest.mark.slow
def test_upload_view_lists_the_pages_ocr_did_not_read_per_file(ocr_check_app, tmp_path):
    """A PDF whose scanned page OCR reads badly (a fake engine: one low-confidence line, the printed
    lines skipped): the summary names the file and each check as `kb ingest` prints it, as text, and
    the file's row says 需核对：第2页…; the text file uploaded beside it has none."""
    import html

    from gradio_client import handle_file

    scan = write_checked_pdf(tmp_path / CHECKED_PDF)
    plain = tmp_path / "无需核对.txt"
    plain.write_text("无需核对\n\n第一条 本文件没有扫描页。\n", encoding="utf-8")
    text, table, summary, *_ = client_for(ocr_check_app, ADMIN).predict(
        files=[handle_file(str(scan)), handle_file(str(plain))], doc_type="auto", collection="", api_name="/ingest_files"
    )
    files = {f["file"]: f for f in summary["files"]}
    assert files[CHECKED_PDF]["status"] == "新增" and files["无需核对.txt"]["page_checks"] == []
    doc_id = files[CHECKED_PDF]["doc_id"]
    shown = html.unescape(text)
    assert f"{CHECKED_PDF}**（3 处需核对）" in shown
    assert f"- 识别置信度低：{doc_id} 第2页（平均 0.30）{LOW_LINE}" in shown
    assert shown.count(f"- 未识别区域：{doc_id} 第2页 距页顶") == 2 and "处有一行文字未被识别，请对照原件核实" in shown
    assert "无需核对.txt" not in shown  # only files with pages to check get a block
    # document text is never live Markdown: no link syntax, no bare URL survives unescaped
    assert "](" not in text and "http:" not in text and f"{CHECKED_PDF}" not in text
    rows = {row[0]: row for row in table["data"]}
    assert "需核对：第2页（识别置信度低、未识别区域 2 处），请对照原件核实" in rows[CHECKED_PDF][3]
    assert "需核对" not in rows["无需核对.txt"][3]


def test_ingest_does_not_block_questions_and_answers_run_concurrently(tmp_path, monkeypatch):
    """In-process app over fake services: an ingest that hangs until a question has been answered,
    and two questions that each wait for the other (a barrier) — both finish only if the queue
    runs them side by side."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from gradio_client import Client, handle_file

    from kb.access.audit import AuditLog
    from kb.conversations.history import ConversationStore
    from kb.models import Answer
    from kb.settings import load_settings
    from kb.access.users import UserStore
    from kb.web.service import WebAppService
    from tests.conftest import free_port

    monkeypatch.chdir(tmp_path)
    # the script endpoints run in a pool of server.api_concurrency (the fair queue; 1 by default on
    # 2 cores): two slots here, so the two questions can run side by side
    settings = load_settings(env={"KB_SERVER__API_CONCURRENCY": "2"}, home=str(tmp_path / "home"))
    assert settings.server.api_concurrency == 2
    answered = threading.Event()
    both_asking = threading.Barrier(2, timeout=90)  # generous: a loaded CI machine starts clients slowly

    class SlowIngest:
        def ingest_paths(self, paths, doc_type=None, collection=None, progress=False):
            assert answered.wait(timeout=90), "the question waited for the ingest"
            return {"added": 0, "updated": 0, "unchanged": 0, "removed_lines": 0, "chunks": 0, "failed": []}

    class PairedAnswers:
        def ask(self, question, filters=None, k=None):
            if question.startswith("pair"):
                both_asking.wait()  # raises BrokenBarrierError if the other question is not running
            answered.set()
            return Answer(question=question, answer="ok", refused=False, mode="extractive")

    services = SimpleNamespace(
        settings=settings, users=UserStore(settings.users_file), audit=AuditLog(settings.audit_db),
        conversations=ConversationStore(settings.conversations_db),
        answers=PairedAnswers(), ingest=SlowIngest(),
        store=SimpleNamespace(list_documents=lambda: [], get_document=lambda d: None, get_chunks=lambda ids: {}),
        retriever=SimpleNamespace(rebuild=lambda: None),
    )
    app_module = load_app_module()
    demo = app_module.build_app(WebAppService(services), login=False)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    try:
        url = f"http://127.0.0.1:{port}"
        upload = tmp_path / "a.txt"
        upload.write_text("x", encoding="utf-8")
        with ThreadPoolExecutor(3) as pool:
            ingest = pool.submit(
                Client(url, verbose=False, analytics_enabled=False).predict,
                files=[handle_file(str(upload))], doc_type="auto", collection="", api_name="/ingest_files",
            )
            asks = [
                pool.submit(Client(url, verbose=False, analytics_enabled=False).predict, question=f"pair {i}", api_name="/ask")
                for i in range(2)
            ]
            assert [a.result(timeout=120)["answer"] for a in asks] == ["ok", "ok"]
            assert ingest.result(timeout=120)[2]["added"] == 0
    finally:
        demo.close()


def load_app_module():
    from kb.cli.serve_cmd import load_app_module as load

    return load()


@pytest.mark.slow
@pytest.mark.skipif(not drafting_available(), reason="kb.drafting (DraftService) has not landed yet")
def test_draft_api_from_fields_and_json(app_server, capsys):
    client = client_for(app_server, INSPECTOR)
    draft = client.predict(
        kind="interview", target="某区委书记", interviewee="班子成员", dimensions=["政治担当"], count=2,
        request="", request_json="", api_name="/draft",
    )
    assert draft["kind"] == "interview" and draft["sections"]
    request = {"kind": "talk_outline", "target": "某区委书记", "dimensions": ["政治自律"], "count": 1}
    from_json = client.predict(request_json=json.dumps(request, ensure_ascii=False), api_name="/draft")
    assert from_json["kind"] == "talk"
    entries = audit_entries(app_server.home, "--action", "draft", "--user", INSPECTOR[0], capsys=capsys)
    assert len(entries) >= 2


@pytest.mark.slow
def test_draft_api_rejects_bad_json(app_server):
    from gradio_client.exceptions import AppError

    client = client_for(app_server, INSPECTOR)
    with pytest.raises(AppError, match="JSON"):
        client.predict(request_json="{not json", api_name="/draft")


@pytest.mark.slow
def test_without_users_no_login_and_local_notice(local_app_server):
    assert local_app_server.url.startswith("http://127.0.0.1:")
    config = httpx.get(local_app_server.url + "/config")
    assert config.status_code == 200
    assert "未配置用户账号" in config.text and "127.0.0.1" in config.text
    log = local_app_server.log.read_text(encoding="utf-8", errors="replace")
    assert "serving at http://127.0.0.1:" in log and "no login, local only" in log
    assert "serving on 127.0.0.1 only" in log  # --host 0.0.0.0 was refused
    from gradio_client import Client

    answer = Client(local_app_server.url, verbose=False, analytics_enabled=False).predict(question=QUESTION, api_name="/ask")
    assert answer["citations"]
