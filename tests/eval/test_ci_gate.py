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
            str(REPO / "eval" / "probes" / "seeds_probe.jsonl"),
            str(SHARED / "eval" / "conversation_dev.jsonl"),
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


@pytest.mark.slow
def test_cmrc_leave_half_out_honesty_gate():
    """../shared/tools/honesty_check.py (CMRC trial, every second passage left out): questions whose
    passage is absent are refused and not answered, present ones are neither refused nor missed.
    Bounds: the measured figures minus a small margin (the product targets are in the README)."""
    import re
    import subprocess
    import sys

    tool = SHARED / "tools" / "honesty_check.py"
    if not tool.is_file():
        pytest.skip("../shared/tools/honesty_check.py not found")
    kb = Path(sys.executable).parent / "kb"
    out = subprocess.run([sys.executable, str(tool), "--kb", str(kb)], capture_output=True, text=True, timeout=900, check=True).stdout
    print(out)
    figures = [float(x) for x in re.findall(r"(?:refused|answered|contained) (\d\.\d+)", out)]
    absent_refused, absent_not_answered, present_refused, present_gold = figures
    assert absent_refused >= 0.78 and absent_not_answered >= 0.94, out
    assert present_refused <= 0.05 and present_gold >= 0.82, out
