"""Single writer and readers during a write.

- a second ingest on the same KB_HOME is refused at once (exit code 3, naming the running pid);
- questions asked while an ingest runs in the same process all get verified citations and see
  one version of a document that the ingest replaces: the old one or the new one, never a mix.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb.storage.locking import IngestLock, LockHeld
from tests.reliability.conftest import (
    PLACES,
    REPO_ROOT,
    kb_env,
    kill_session,
    run_kb,
    start_kb,
    wait_for_progress,
    write_corpus,
)

ASKERS = 20
TARGET_V1 = "选调生工作规定\n\n第一条 选调生在基层工作的最低年限为三年，期满经考核合格方可调整岗位。\n第二条 选调生应当参加年度考核。\n"
TARGET_V2 = "选调生工作规定\n\n第一条 选调生在基层工作的最低年限为五年，期满经考核合格方可调整岗位。\n第二条 选调生应当参加年度考核。\n"
TARGET_QUESTION = "选调生在基层工作的最低年限是多少？"


# A second `kb` process whose imports are done before it is told to go: the ingest is fast, and
# the refusal must be shown while the first one still runs, not after a cold interpreter start.
_PRELOADED_KB = """
import sys, time, pathlib
from kb.cli import main
import kb.container, ingest.pipeline, chromadb  # noqa: F401  (warm imports)
trigger = pathlib.Path(sys.argv[1])
while not trigger.exists():
    time.sleep(0.005)
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_second_ingest_process_is_refused_at_once(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 300, paragraphs=10)
    home = tmp_path / "kb"
    trigger = tmp_path / "go"
    second = subprocess.Popen(
        [sys.executable, "-c", _PRELOADED_KB, str(trigger), "--home", str(home), "ingest", str(corpus), "--json", "--no-progress"],
        cwd=REPO_ROOT, env=kb_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first = start_kb(home, "ingest", str(corpus), "--json")
    try:
        reached, _ = wait_for_progress(first, 1)
        assert reached >= 1, "the first ingest ended before it showed progress"
        started = time.monotonic()
        trigger.write_text("go", encoding="utf-8")
        second_out, second_err = second.communicate(timeout=60)
        elapsed = time.monotonic() - started
        still_running = first.poll() is None
    except BaseException:
        kill_session(first)
        second.kill()
        raise
    out, err = first.communicate(timeout=300)
    assert still_running, "the first ingest ended before the second was refused: enlarge the corpus"
    assert second.returncode == 3, (second.returncode, second_err)
    assert f"pid {first.pid}" in second_err
    assert "another ingest is running" in second_err
    assert second_out == ""
    assert elapsed < 30, f"refusal took {elapsed:.1f} s: it must not wait for the lock"
    assert first.returncode == 0, err.decode(errors="replace")[-2000:]
    assert json.loads(out)["added"] == 300


def _check_answer(answer, question: str) -> list[str]:
    """Problems with one answer (empty = fine): refused, no citations, unverified, mixed versions."""
    problems = []
    if answer.refused or not answer.citations:
        return [f"{question}: refused or uncited ({answer.answer[:60]!r}, notes {answer.notes})"]
    unverified = [c.chunk_id for c in answer.citations if not c.verified]
    if unverified:
        problems.append(f"{question}: unverified citations {unverified}")
    if question == TARGET_QUESTION:
        versions = {c.chunk_id.split("#")[1] for c in answer.citations if c.doc_id == "选调生"}
        said_old, said_new = "三年" in answer.answer, "五年" in answer.answer
        if len(versions) > 1 or said_old == said_new:
            problems.append(f"{question}: mixed versions {versions} / {answer.answer!r}")
    return problems


def test_asks_during_an_ingest_get_verified_citations_of_one_version(tmp_path: Path, services_factory) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 5)
    (corpus / "选调生.txt").write_text(TARGET_V1, encoding="utf-8")
    services = services_factory(tmp_path / "kb")
    first = services.ingest.ingest_paths([corpus])
    assert first["added"] == 6 and not first["failed"]
    questions = [f"{PLACES[i]}市考察组在第{i + 2}阶段应当走访多少个单位？" for i in range(5)] + [TARGET_QUESTION]
    for question in questions:  # warm caches with the old state, as a running server would have
        assert not _check_answer(services.answers.ask(question), question)

    # the update sorts first (选 < 规), then 30 new documents keep the ingest busy after it is published
    (corpus / "选调生.txt").write_text(TARGET_V2, encoding="utf-8")
    write_corpus(corpus, 150, start=5)
    ingest_done = threading.Event()
    ingest_result: dict = {}

    def ingest() -> None:
        try:
            ingest_result["summary"] = services.ingest.ingest_paths([corpus])
        except BaseException as exc:  # reported by the main thread
            ingest_result["error"] = exc
        finally:
            ingest_done.set()

    results: list[tuple[float, float, str, list[str]]] = []
    results_lock = threading.Lock()
    start_line = threading.Barrier(ASKERS + 1)

    def asker(n: int) -> None:
        start_line.wait()
        asked = 0
        while not ingest_done.is_set() or asked == 0:
            question = questions[(n + asked) % len(questions)]
            began = time.monotonic()
            try:
                problems = _check_answer(services.answers.ask(question), question)
            except Exception as exc:
                problems = [f"{question}: {type(exc).__name__}: {exc}"]
            with results_lock:
                results.append((began, time.monotonic(), question, problems))
            asked += 1

    askers = [threading.Thread(target=asker, args=(n,), daemon=True) for n in range(ASKERS)]
    for thread in askers:
        thread.start()
    writer = threading.Thread(target=ingest, daemon=True)
    ingest_started = time.monotonic()
    writer.start()
    start_line.wait()
    # wait until the writer holds the lock (the batched ingest is fast: don't guess with a sleep)
    # (the holder's details are written only once the flock is taken: the file alone is not enough)
    probe = IngestLock(services.settings.lock_file)
    deadline = time.monotonic() + 30
    while probe.holder() is None and not ingest_done.is_set() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not ingest_done.is_set(), "the ingest finished before the second writer could try: enlarge the corpus"
    with pytest.raises(LockHeld):  # a second writer in the same process is refused too, at once
        services.ingest.ingest_texts([("另一个", "另一个", "第一条 内容。" * 30)])
    writer.join(timeout=300)
    ingest_finished = time.monotonic()
    for thread in askers:
        thread.join(timeout=120)

    assert "error" not in ingest_result, ingest_result.get("error")
    summary = ingest_result["summary"]
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (150, 1, 5), summary
    problems = [p for _, _, _, found in results for p in found]
    assert not problems, problems[:10]
    during = [r for r in results if r[0] >= ingest_started and r[0] < ingest_finished]
    assert len(during) >= ASKERS, f"only {len(during)} asks overlapped the ingest"
    final = services.answers.ask(TARGET_QUESTION)
    assert not _check_answer(final, TARGET_QUESTION) and "五年" in final.answer
