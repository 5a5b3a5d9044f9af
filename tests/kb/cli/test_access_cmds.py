"""`kb users --group`, `kb collections`, `kb apikeys`, `--user` on ask/retrieve/draft, `kb audit
verify|export`, per-line batch errors and storage failures as one clear line."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kb.cli import main
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[3]
SECRET = "关于张某某同志的考察情况报告\n\n有3名干部反映张某某同志作风霸道，搞小圈子。考察组认为张某某同志暂不宜提拔使用。\n"
PUBLIC = "党内政治监督谈话办法\n\n第一条 上级党委主要负责人与下级党委主要负责人一对一谈话，每年至少开展一次。\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("access-cmds")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for name in list(os.environ):
            if name.startswith("KB_"):
                mp.delenv(name)
        home = root / "kbhome"
        public, secret = root / "public", root / "secret"
        public.mkdir()
        secret.mkdir()
        (public / "谈话办法.txt").write_text(PUBLIC, encoding="utf-8")
        (secret / "张某某考察报告.txt").write_text(SECRET, encoding="utf-8")
        assert main(["--home", str(home), "ingest", str(public), "--no-progress"]) == 0
        assert main(["--home", str(home), "ingest", str(secret), "--collection", "第三组", "--no-progress"]) == 0
        for name, groups in (("admin1", []), ("third", ["第三组"]), ("second", ["第二组"])):
            role = "admin" if name == "admin1" else "inspector"
            mp.setattr(sys, "stdin", __import__("io").StringIO(f"{name}-password\n"))
            argv = ["--home", str(home), "users", "add", name, "--role", role, "--password-stdin"]
            for g in groups:
                argv += ["--group", g]
            assert main(argv) == 0
        assert main(["--home", str(home), "collections", "grant", "第三组", "--group", "第三组"]) == 0
        yield home


def kb(home, capsys, *argv):
    capsys.readouterr()
    code = main(["--home", str(home), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_groups_and_collections_listing(home, capsys):
    code, out, _ = kb(home, capsys, "users", "list", "--json")
    assert {u["name"]: u["groups"] for u in json.loads(out)}["third"] == ["第三组"]
    code, out, _ = kb(home, capsys, "collections", "list", "--json")
    rows = {r["collection"]: r for r in json.loads(out)}
    assert rows["第三组"]["restricted"] and rows["第三组"]["grants"][0]["group"] == "第三组"
    assert rows["default"]["restricted"] is False and rows["default"]["documents"] >= 1
    code, out, _ = kb(home, capsys, "collections", "list")
    assert code == 0 and "第三组" in out and "所有用户" in out
    assert kb(home, capsys, "collections", "grant", "第三组", "--group", "x", "--until", "明天")[0] == 2
    assert kb(home, capsys, "users", "groups", "second", "--add", "专项组")[0] == 0
    code, out, _ = kb(home, capsys, "users", "groups", "second", "--json")
    assert json.loads(out)["groups"] == ["专项组", "第二组"]
    assert kb(home, capsys, "users", "groups", "second", "--remove", "专项组")[0] == 0


def test_ask_retrieve_draft_as_a_user_apply_grants(home, capsys):
    question = "有几名干部反映张某某作风霸道？"
    code, out, _ = kb(home, capsys, "ask", question, "--json", "--user", "second")
    assert code == 0 and "张某某考察报告" not in out and "作风霸道，搞小圈子" not in json.loads(out)["answer"]
    code, out, _ = kb(home, capsys, "ask", question, "--json", "--user", "third")
    assert any(c["doc_id"] == "张某某考察报告" for c in json.loads(out)["citations"])
    code, out, _ = kb(home, capsys, "retrieve", "张某某 作风霸道", "--json", "--user", "second")
    assert all(h["doc_id"] != "张某某考察报告" for h in json.loads(out)["hits"])
    code, out, _ = kb(home, capsys, "retrieve", "张某某 作风霸道", "--json", "--user", "admin1")
    assert json.loads(out)["hits"][0]["doc_id"] == "张某某考察报告"
    code, out, _ = kb(home, capsys, "draft", "--target", "县委书记", "--dimension", "政治担当", "--json", "--user", "second",
                      "--request", "了解张某某作风霸道问题")
    assert code == 0 and "张某某考察报告" not in json.dumps(json.loads(out)["sections"], ensure_ascii=False)
    code, _, err = kb(home, capsys, "ask", question, "--user", "nobody")
    assert code == 2 and "no such user" in err
    code, out, _ = kb(home, capsys, "audit", "--json", "--action", "ask", "--user", "third")
    assert json.loads(out)[-1]["extra"]["shown"]  # the documents the answer showed


def test_apikeys_are_shown_once_and_stored_hashed(home, capsys):
    code, out, _ = kb(home, capsys, "apikeys", "create", "oa-portal", "--user", "second")
    key = out.strip()
    assert code == 0 and key.startswith("kb-") and len(key) > 30
    stored = (home / "apikeys.json").read_text(encoding="utf-8")
    assert key not in stored and oct((home / "apikeys.json").stat().st_mode & 0o777) == "0o600"
    code, out, _ = kb(home, capsys, "apikeys", "list")
    assert "oa-portal" in out and key not in out
    assert kb(home, capsys, "apikeys", "create", "bad", "--user", "nobody")[0] == 1
    assert kb(home, capsys, "apikeys", "revoke", "oa-portal")[0] == 0
    from kb.access.apikeys import ApiKeyStore

    assert ApiKeyStore(home / "apikeys.json").authenticate(key) is None
    code, out, _ = kb(home, capsys, "apikeys", "list", "--json")
    assert json.loads(out)[0]["revoked_at"]


def test_audit_verify_and_export(home, capsys, tmp_path):
    code, out, _ = kb(home, capsys, "audit", "verify")
    assert code == 0 and "intact" in out
    code, out, _ = kb(home, capsys, "audit", "export", "--jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all("hash" in r and "prev_hash" in r for r in rows)
    assert {"user_add", "grant"} <= {r["action"] for r in rows}
    copy = tmp_path / "audit.sqlite3"
    copy.write_bytes((home / "audit.sqlite3").read_bytes())
    wal = Path(f"{home / 'audit.sqlite3'}-wal")
    if wal.exists():
        Path(f"{copy}-wal").write_bytes(wal.read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE audit SET detail = 'edited' WHERE id = 2")
    code, _, err = kb(tmp_path, capsys, "audit", "verify")
    assert code == 1 and "row 2" in err
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM audit WHERE id IN (2, 3)")
    code, _, err = kb(tmp_path, capsys, "audit", "verify")
    assert code == 1 and "row 2" in err and "missing" in err


def test_batch_lines_with_a_bad_k_or_bad_bytes_fail_alone(home, capsys, tmp_path):
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(
        b'{"id": 1, "question": "\xe8\xb0\x88\xe8\xaf\x9d\xe6\xaf\x8f\xe5\xb9\xb4\xe8\x87\xb3\xe5\xb0\x91\xe5\xbc\x80\xe5\xb1\x95\xe5\x87\xa0\xe6\xac\xa1\xef\xbc\x9f"}\n'
        b'{"id": 2, "question": "x", "k": "many"}\n'
        b'{"id": 3, "question": "\xff\xfe bad"}\n'
        b'{"id": 4, "question": 123}\n'
        b'{"id": 5, "question": "\xe8\xb0\x88\xe8\xaf\x9d\xe6\xaf\x8f\xe5\xb9\xb4\xe8\x87\xb3\xe5\xb0\x91\xe5\xbc\x80\xe5\xb1\x95\xe5\x87\xa0\xe6\xac\xa1\xef\xbc\x9f", "k": 3}\n'
    )
    code, out, err = kb(home, capsys, "ask", "--batch", str(batch))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "Traceback" not in err
    assert [l.get("id") for l in lines] == [1, 2, None, 4, 5]
    assert "answer" in lines[0] and "answer" in lines[4]
    assert '"k"' in lines[1]["error"] and "UTF-8" in lines[2]["error"] and lines[2]["line"] == 3
    assert "question" in lines[3]["error"]


def _subprocess_kb(home, *argv, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "kb.cli", "--home", str(home), *argv], capture_output=True, text=True,
                          cwd=home.parent, env=dict(env, PYTHONPATH=str(REPO)), timeout=180)


def test_chroma_down_is_one_clear_line_and_doctor_cannot_check(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    home = tmp_path / "kbhome"
    for argv, want in ((("docs", "list"), 3), (("ask", "谈话几次？"), 3), (("doctor",), 4)):
        done = _subprocess_kb(home, *argv, env_extra={"KB_CHROMA_URL": url})
        assert done.returncode == want, (argv, done.stderr)
        assert "知识库存储不可用" in done.stderr and url in done.stderr and "Traceback" not in done.stderr


def test_disk_full_is_named_with_the_path(home, capsys, monkeypatch):
    from kb.retrieval.hybrid import HybridRetriever

    def full(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(HybridRetriever, "search", full)
    code, _, err = kb(home, capsys, "ask", "谈话几次？")
    assert code == 3 and "磁盘已满" in err and str(home) in err
    monkeypatch.setattr(HybridRetriever, "search", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device", "/data/kb/x")))
    code, _, err = kb(home, capsys, "ask", "谈话几次？")
    assert code == 3 and "磁盘已满" in err and "/data/kb/x" in err


def test_granting_a_mistyped_collection_is_an_error_and_grants_nothing(home, capsys):
    before = (home / "grants.json").read_text(encoding="utf-8")
    code, _, err = kb(home, capsys, "collections", "grant", "第三祖", "--group", "第三组")
    assert code == 2
    assert "no collection named '第三祖'" in err and "第三组" in err  # says so, and offers the real name
    assert (home / "grants.json").read_text(encoding="utf-8") == before
    # restricting a collection before its first ingest is said explicitly
    code, out, _ = kb(home, capsys, "collections", "grant", "第九组", "--group", "第九组", "--new")
    assert code == 0 and "granted 第九组" in out
    assert kb(home, capsys, "collections", "revoke", "第九组", "--group", "第九组")[0] == 0
