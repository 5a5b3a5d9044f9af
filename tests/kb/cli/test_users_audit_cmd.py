import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb.access.audit import AuditLog
from kb.cli import main
from kb.access.users import UserStore

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def home(tmp_path, monkeypatch):
    # settings.yaml / KB_* from the developer's shell must not leak into the tests.
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)
    return tmp_path / "kbhome"


def run(home, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["--home", str(home), *argv])


def test_users_add_list_remove(home, monkeypatch, capsys):
    assert run(home, "users", "add", "张三", "--role", "admin", "--password-stdin",
               stdin="p@ss word\nignored second line\n", monkeypatch=monkeypatch) == 0
    assert "张三" in capsys.readouterr().out
    store = UserStore(home / "users.json")
    assert store.verify("张三", "p@ss word")  # first line only, newline stripped, inner space kept
    assert store.role("张三") == "admin"

    assert run(home, "users", "add", "lisi", "--role", "inspector", "--password-stdin",
               stdin="lisi-pw-x9\r\n", monkeypatch=monkeypatch) == 0
    assert store.verify("lisi", "lisi-pw-x9")
    capsys.readouterr()

    assert run(home, "users", "list", "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(u["name"], u["role"]) for u in listing] == [("lisi", "inspector"), ("张三", "admin")]
    assert all(set(u) == {"name", "role", "created_at", "groups"} for u in listing)

    assert run(home, "users", "list") == 0
    table = capsys.readouterr().out
    assert "lisi" in table and "inspector" in table and "张三" in table
    assert "hash" not in table

    assert run(home, "users", "remove", "lisi") == 0
    capsys.readouterr()
    assert [u["name"] for u in store.list()] == ["张三"]


def test_users_add_refuses_empty_password(home, monkeypatch, capsys):
    assert run(home, "users", "add", "alice", "--role", "admin", "--password-stdin",
               stdin="\n", monkeypatch=monkeypatch) != 0
    assert "empty password" in capsys.readouterr().err
    assert not UserStore(home / "users.json").has_users()


def test_users_add_duplicate_and_remove_missing_fail(home, monkeypatch, capsys):
    assert run(home, "users", "add", "alice", "--role", "admin", "--password-stdin",
               stdin="pw-long-enough\n", monkeypatch=monkeypatch) == 0
    assert run(home, "users", "add", "alice", "--role", "inspector", "--password-stdin",
               stdin="pw-long-enough\n", monkeypatch=monkeypatch) == 1
    assert "already exists" in capsys.readouterr().err
    assert run(home, "users", "remove", "bob") == 1
    assert "no such user" in capsys.readouterr().err


def test_users_add_rejects_unknown_role(home, monkeypatch):
    with pytest.raises(SystemExit):
        run(home, "users", "add", "alice", "--role", "root", "--password-stdin", stdin="pw-long-enough\n",
            monkeypatch=monkeypatch)


def test_user_changes_are_audited(home, monkeypatch, capsys):
    run(home, "users", "add", "alice", "--role", "admin", "--password-stdin", stdin="pw-long-enough\n", monkeypatch=monkeypatch)
    run(home, "users", "remove", "alice")
    actions = [(e["action"], e["detail"]) for e in AuditLog(home / "audit.sqlite3").query()]
    assert actions == [("user_add", "alice"), ("user_remove", "alice")]


def test_audit_json_and_filters(home, capsys):
    log = AuditLog(home / "audit.sqlite3")
    log.record("alice", "ask", "干部选拔任用条件？", doc_ids=["doc-1"])
    log.record("bob", "draft", "访谈提纲：基层党建")
    log.record("alice", "export", "outline.docx")

    assert run(home, "audit", "--json") == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in entries] == ["ask", "draft", "export"]
    assert entries[0]["doc_ids"] == ["doc-1"]

    assert run(home, "audit", "--user", "alice", "--action", "ask", "--json") == 0
    assert [e["detail"] for e in json.loads(capsys.readouterr().out)] == ["干部选拔任用条件？"]

    assert run(home, "audit", "--since", "2999-01-01", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_audit_table(home, capsys):
    AuditLog(home / "audit.sqlite3").record("alice", "ask", "干部选拔任用条件？", doc_ids=["doc-1"])
    assert run(home, "audit") == 0
    out = capsys.readouterr().out
    header, rule, row = out.splitlines()
    assert header.split() == ["time", "(UTC)", "user", "action", "doc_ids", "detail"]
    assert "alice" in row and "ask" in row and "doc-1" in row and "干部选拔任用条件？" in row


def test_audit_bad_date(home, capsys):
    assert run(home, "audit", "--since", "last week") == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_console_entry_in_subprocess(tmp_path):
    """The installed `kb` script calls kb.cli:main; run exactly that in a fresh interpreter."""
    home = tmp_path / "kbhome"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("KB_")}
    env["PYTHONPATH"] = str(REPO)
    entry = [sys.executable, "-c", "import sys; from kb.cli import main; sys.exit(main())"]
    added = subprocess.run(
        entry + ["--home", str(home), "users", "add", "王五", "--role", "inspector", "--password-stdin"],
        input="secret-pass\n", capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run(
        entry + ["--home", str(home), "users", "list", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert [u["name"] for u in json.loads(listed.stdout)] == ["王五"]
    audit = subprocess.run(
        entry + ["--home", str(home), "audit", "--action", "user_add", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert audit.returncode == 0, audit.stderr
    assert [e["detail"] for e in json.loads(audit.stdout)] == ["王五"]
    assert UserStore(home / "users.json").verify("王五", "secret-pass")


def test_users_add_without_terminal_needs_password_stdin(home, monkeypatch, capsys):
    assert run(home, "users", "add", "alice", "--role", "admin", stdin="pw-long-enough\n", monkeypatch=monkeypatch) == 2
    assert "--password-stdin" in capsys.readouterr().err
    assert not UserStore(home / "users.json").has_users()


def test_users_add_refuses_a_common_password_with_exit_2(home, monkeypatch, capsys):
    assert run(home, "users", "add", "zhang", "--role", "inspector", "--password-stdin",
               stdin="12345678\n", monkeypatch=monkeypatch) == 2
    assert "too common" in capsys.readouterr().err
    assert not (home / "users.json").exists() or "zhang" not in (home / "users.json").read_text()


@pytest.mark.parametrize("damage", ["emptied", "zero-bytes", "deleted"])
def test_audit_verify_reports_an_emptied_or_deleted_log(home, capsys, damage):
    import sqlite3

    from kb.access.audit import AuditLog

    log = AuditLog(home / "audit.sqlite3")
    for i in range(3):
        log.record("alice", "ask", f"q{i}")
    if damage == "emptied":
        with sqlite3.connect(log.db_path) as conn:
            conn.execute("DELETE FROM audit")
            conn.execute("DELETE FROM audit_head")
    else:
        for suffix in ("-wal", "-shm"):
            (home / f"audit.sqlite3{suffix}").unlink(missing_ok=True)
        if damage == "zero-bytes":
            log.db_path.write_bytes(b"")
        else:
            log.db_path.unlink()
    capsys.readouterr()
    assert main(["--home", str(home), "audit", "verify"]) == 1
    assert "NOT intact" in capsys.readouterr().err
