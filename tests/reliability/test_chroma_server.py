"""Scale-out: two app instances (two KB_HOMEs) share one real `chroma run` server.

What one instance ingests, the other retrieves and answers from; it notices the change through the
store's version record and rebuilds its own lexical index, without a restart.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.cli import main as kb_main
from tests.reliability.conftest import NO_SETTINGS_FILE, PLACES, kb_env, run_kb, write_corpus


def _question(index: int) -> str:
    return f"{PLACES[index]}市考察组在第3阶段应当走访多少个单位？"


@pytest.mark.slow
def test_two_instances_share_one_chroma_server(tmp_path: Path, chroma_server: str, services_factory, capsys, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 5)
    home_a, home_b = tmp_path / "instance-a", tmp_path / "instance-b"
    env = kb_env(KB_CHROMA_URL=chroma_server)

    # Instance A ingests (a real process, configured through the environment as deployed).
    ingested = run_kb(home_a, "ingest", str(corpus), "--json", "--no-progress", env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["added"] == 5
    assert not (home_a / "chroma").exists(), "instance A wrote an embedded store instead of using the server"

    # Instance B, another process with its own KB_HOME, retrieves what A ingested.
    retrieved = run_kb(home_b, "retrieve", _question(2), "--json", env=env)
    assert retrieved.returncode == 0, retrieved.stderr
    hits = json.loads(retrieved.stdout)["hits"]
    assert hits and hits[0]["doc_id"] == "规定002"

    # Instance B in this process (same settings tree, through overrides) answers with verified citations.
    instance_b = services_factory(home_b, chroma__url=chroma_server, chroma__version_check_seconds=0)
    answer = instance_b.answers.ask(_question(2))
    assert not answer.refused, answer.notes
    assert answer.citations and all(c.verified for c in answer.citations)
    assert {c.doc_id for c in answer.citations} == {"规定002"}
    assert "23个单位" in answer.answer

    # A ingests more and removes one; B, still running, notices and answers from the new state.
    write_corpus(corpus, 3, start=5)
    more = run_kb(home_a, "ingest", str(corpus), "--json", "--no-progress", env=env)
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["added"] == 3
    removed = run_kb(home_a, "docs", "remove", "规定001", "--json", env=env)
    assert removed.returncode == 0, removed.stderr

    answer = instance_b.answers.ask(_question(7))
    assert not answer.refused, answer.notes
    assert {c.doc_id for c in answer.citations} == {"规定007"} and all(c.verified for c in answer.citations)
    assert instance_b.lexical.snapshot.store_version == instance_b.store.version()
    visible_docs = set(instance_b.lexical.snapshot.meta["doc_id"])
    assert "规定001" not in visible_docs and "规定007" in visible_docs
    assert all(h.chunk.doc_id != "规定001" for h in instance_b.retriever.search(_question(1)))

    monkeypatch.setenv("KB_CHROMA_URL", chroma_server)  # how `kb doctor` finds the server
    monkeypatch.setenv("KB_SETTINGS", NO_SETTINGS_FILE)
    # Both instances agree that the shared store is consistent (doctor in this process: no embedded store).
    for home in (home_a, home_b):
        code = kb_main(["--home", str(home), "doctor", "--json"])
        report = json.loads(capsys.readouterr().out)
        assert code == 0 and report["problems"] == [], (home.name, report)
