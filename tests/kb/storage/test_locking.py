import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb.storage.locking import IngestLock, LockHeld

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def lock_path(tmp_path):
    return tmp_path / "home" / "ingest.lock"


def test_acquire_writes_holder_and_release_removes(lock_path):
    lock = IngestLock(lock_path)
    lock.acquire()
    assert lock.held
    info = json.loads(lock_path.read_text(encoding="utf-8"))
    assert info["pid"] == os.getpid()
    assert info["hostname"]
    assert info["started_at"]
    lock.release()
    assert not lock.held
    assert not lock_path.exists()
    # ...and it can be taken again.
    lock.acquire()
    lock.release()


def test_context_manager(lock_path):
    with IngestLock(lock_path) as lock:
        assert lock.held
        assert lock_path.exists()
    assert not lock_path.exists()


def test_second_acquire_in_same_process_is_refused(lock_path):
    first = IngestLock(lock_path)
    first.acquire()
    try:
        with pytest.raises(LockHeld) as excinfo:
            IngestLock(lock_path).acquire()
        assert f"pid {os.getpid()}" in str(excinfo.value)
        assert "另一个导入正在进行" in str(excinfo.value)
        assert excinfo.value.pid == os.getpid()
        with pytest.raises(LockHeld):
            first.acquire()  # the same object twice is a bug too
    finally:
        first.release()


def test_release_by_non_holder_keeps_the_lock(lock_path):
    holder = IngestLock(lock_path)
    holder.acquire()
    try:
        IngestLock(lock_path).release()
        assert lock_path.exists()
        with pytest.raises(LockHeld):
            IngestLock(lock_path).acquire()
    finally:
        holder.release()


def test_timeout_waits_then_gives_up(lock_path):
    holder = IngestLock(lock_path)
    holder.acquire()
    try:
        start = time.monotonic()
        with pytest.raises(LockHeld):
            IngestLock(lock_path).acquire(timeout=0.3)
        assert time.monotonic() - start >= 0.3
    finally:
        holder.release()


def test_timeout_succeeds_when_holder_releases(lock_path):
    holder = IngestLock(lock_path)
    holder.acquire()
    threading.Timer(0.2, holder.release).start()
    waiter = IngestLock(lock_path)
    waiter.acquire(timeout=5)
    assert json.loads(lock_path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    waiter.release()


def _spawn_holder(lock_path):
    code = (
        "import sys, time\n"
        "from kb.storage.locking import IngestLock\n"
        "lock = IngestLock(sys.argv[1]).acquire()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(lock_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_lock_held_by_another_process(lock_path):
    proc = _spawn_holder(lock_path)
    try:
        with pytest.raises(LockHeld) as excinfo:
            IngestLock(lock_path).acquire()
        assert f"pid {proc.pid}" in str(excinfo.value)
        assert "another ingest is running" in str(excinfo.value)
        assert IngestLock(lock_path).holder()["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()
    # Killed without releasing: the file is left behind, but the lock is free to take over.
    assert lock_path.exists()
    with IngestLock(lock_path):
        assert json.loads(lock_path.read_text(encoding="utf-8"))["pid"] == os.getpid()


def test_stale_lock_with_dead_pid_is_taken_over(lock_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path.parent.mkdir(parents=True)
    lock_path.write_text(
        json.dumps({"pid": dead.pid, "hostname": os.uname().nodename, "started_at": "2020-01-01T00:00:00"}),
        encoding="utf-8",
    )
    lock = IngestLock(lock_path)
    assert lock.holder() is None  # the recorded holder is gone
    lock.acquire()
    try:
        assert json.loads(lock_path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    finally:
        lock.release()


def test_unreadable_lock_file_is_taken_over(lock_path):
    lock_path.parent.mkdir(parents=True)
    lock_path.write_bytes(b"\xff\xfe garbage")
    with IngestLock(lock_path):
        assert json.loads(lock_path.read_text(encoding="utf-8"))["pid"] == os.getpid()


def test_mutual_exclusion_under_contention(lock_path):
    """Many contenders acquiring and releasing in a loop: never two inside at once."""
    inside = []
    overlaps = []
    acquired = []

    def contender():
        for _ in range(100):
            lock = IngestLock(lock_path)
            try:
                lock.acquire()
            except LockHeld:
                continue
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(1)
            acquired.append(1)
            inside.pop()
            lock.release()

    threads = [threading.Thread(target=contender) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert acquired  # the test exercised the lock at all


def test_dropped_lock_object_frees_the_lock(lock_path):
    # A holder that forgets to release (e.g. an exception path without `with`) must not block
    # every later ingest of a long-running server.
    IngestLock(lock_path).acquire()
    with IngestLock(lock_path):
        pass


def test_lock_on_a_just_released_file_is_not_a_win(lock_path, monkeypatch):
    """B opens the lock file, A releases (unlinks) and C takes a fresh file before B's flock runs:
    B's flock on the orphaned file succeeds, but B must notice and not believe it holds the lock."""
    import fcntl

    real_flock = fcntl.flock
    a, c = IngestLock(lock_path), IngestLock(lock_path)
    a.acquire()
    state = {"raced": False}

    def racing_flock(fd, op):
        if not state["raced"]:
            state["raced"] = True
            a.release()
            c.acquire()  # its own flock goes straight through (raced is set)
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", racing_flock)
    try:
        with pytest.raises(LockHeld):
            IngestLock(lock_path).acquire()
        assert state["raced"]
        assert c.held and lock_path.exists()
    finally:
        monkeypatch.undo()
        c.release()
