"""The CI regression gate: `kb eval` on the seeds dev QA and drafting sets against eval/ci_thresholds.yaml."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.cli import main

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO / ".." / "shared").resolve()


@pytest.mark.slow
def test_seeds_dev_sets_pass_the_ci_gate(tmp_path, capsys):
    if not (SHARED / "eval" / "domain_qa_dev.jsonl").is_file():
        pytest.skip("../shared not found: the shared corpus and eval sets are needed for this test")
    report = tmp_path / "report.json"
    code = main(
        [
            "eval",
            "--corpus", str(SHARED / "corpus" / "seeds"),
            str(SHARED / "eval" / "domain_qa_dev.jsonl"),
            str(SHARED / "eval" / "domain_drafts_dev.jsonl"),
            "--thresholds", str(REPO / "eval" / "ci_thresholds.yaml"),
            "--json", str(report),
            "--md", str(tmp_path / "report.md"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    data = json.loads(report.read_text(encoding="utf-8"))
    figures = {name: d["metrics"] for name, d in data["datasets"].items()}
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    assert code == 0, err
    assert figures["domain_qa_dev"]["citation_verbatim_rate"] == 1.0
