"""kb/access/login_guard.py and WebAppService.check_login: lockout after repeated failures (the right
password refused until the cool-down ends), per-client locks, bounded audit rows."""
from __future__ import annotations

import pytest

from kb.access.login_guard import LoginGuard
from kb.settings import SecuritySettings


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def webapp(services):
    from kb.web.service import WebAppService

    services.users.add("insp", "pw-inspector", "inspector")
    clock = Clock()
    services.__dict__["login_guard"] = LoginGuard(
        SecuritySettings(login_max_failures=3, client_max_failures=5, lockout_s=60, failure_window_s=300, audit_failed_logins_max=10),
        clock=clock,
    )
    app = WebAppService(services)
    app.clock = clock
    return app


def test_right_password_is_refused_until_the_cool_down_ends(webapp):
    for _ in range(3):
        assert not webapp.check_login("insp", "wrong")
    assert not webapp.check_login("insp", "pw-inspector")  # locked: the right password too
    webapp.clock.now += 59
    assert not webapp.check_login("insp", "pw-inspector")
    webapp.clock.now += 2
    assert webapp.check_login("insp", "pw-inspector")
    rows = webapp.services.audit.query(action="login_failed")
    assert any(r["extra"].get("reason") == "locked" for r in rows)


def test_a_client_guessing_many_names_is_locked(webapp):
    for i in range(5):
        assert not webapp.check_login(f"name{i}", "x", client="10.0.0.9")
    assert not webapp.check_login("insp", "pw-inspector", client="10.0.0.9")
    assert webapp.check_login("insp", "pw-inspector", client="10.0.0.10")


def test_failed_logins_write_bounded_rows(webapp):
    before = webapp.services.settings.audit_db.stat().st_size if webapp.services.settings.audit_db.exists() else 0
    for i in range(100):
        webapp.check_login(f"{i}" + "x" * 1_000_000, "pw", client=f"10.1.{i}.1")
    rows = webapp.services.audit.query(action="login_failed")
    assert len(rows) == 10  # audit_failed_logins_max per window; the rest counted
    assert all(len(r["user"]) < 120 for r in rows)
    webapp.clock.now += 301
    webapp.check_login("late", "pw")
    assert webapp.services.audit.query(action="login_failed")[-1]["extra"]["suppressed_since_last"] == 90
    grown = webapp.services.settings.audit_db.stat().st_size - before
    assert grown < 1_000_000


def test_tracked_names_are_bounded(webapp):
    guard = webapp.services.login_guard
    for i in range(12_000):
        guard.failed(f"n{i}", None)
    assert len(guard._records) <= 10_000


def test_refused_admin_calls_are_recorded(webapp):
    with pytest.raises(PermissionError):
        webapp.delete_document("insp", "any-doc")
    with pytest.raises(PermissionError):
        webapp.list_documents(None)
    rows = webapp.services.audit.query(action="denied")
    assert [(r["user"], r["detail"]) for r in rows] == [("insp", "delete_document"), (None, "list_documents")]
    assert webapp.services.audit.verify()["rows"] == len(webapp.services.audit.query())


def test_short_password_is_refused_by_the_cli(tmp_path, monkeypatch, capsys):
    import io
    import sys

    from kb.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n"))
    assert main(["--home", str(tmp_path / "kb"), "users", "add", "zhang", "--role", "inspector", "--password-stdin"]) == 2
    assert "too short" in capsys.readouterr().err


# ---- #30 item 5: back-off per (name, address), not a lock on the name --------------------------------
def test_guesses_from_elsewhere_never_lock_the_owner_out(webapp):
    for _ in range(10):
        assert not webapp.check_login("insp", "wrong", client="10.9.9.9")
    assert webapp.check_login("insp", "pw-inspector", client="10.0.0.1")  # the owner, at their own address
    assert not webapp.check_login("insp", "pw-inspector", client="10.9.9.9")  # the guesser waits


def test_each_further_failure_doubles_the_wait_up_to_the_cap():
    clock = Clock()
    guard = LoginGuard(SecuritySettings(login_max_failures=3, client_max_failures=1000, lockout_s=10,
                                        lockout_max_s=35, failure_window_s=300), clock=clock)
    waits = []
    for _ in range(6):
        wait = guard.refusal("insp", "10.0.0.9")
        clock.now += wait  # the guesser waits as long as it must, then tries again
        guard.failed("insp", "10.0.0.9")
        waits.append(round(guard.refusal("insp", "10.0.0.9")))
    assert waits == [0, 0, 10, 20, 35, 35]
    guard.succeeded("insp", "10.0.0.9")
    assert guard.refusal("insp", "10.0.0.9") == 0


def test_a_valid_api_key_is_throttled_by_its_own_rate_only():
    clock = Clock()
    guard = LoginGuard(SecuritySettings(client_max_failures=3, api_key_requests_per_minute=2), clock=clock)
    for _ in range(5):
        guard.api_key_failed("10.0.0.5")
    assert guard.api_client_refusal("10.0.0.5") > 0
    assert guard.api_key_wait("key-a") == 0 and guard.api_key_wait("key-a") == 0
    assert guard.api_key_wait("key-a") > 0  # its third request within a minute
    assert guard.api_key_wait("key-b") == 0  # another key is not slowed by it
    clock.now += 61
    assert guard.api_key_wait("key-a") == 0
