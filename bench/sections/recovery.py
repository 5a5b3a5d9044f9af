"""recovery: `kb ingest` of corpus/laws/行政法规 (--quick: corpus/seeds) in a subprocess, SIGKILLed
part-way (after 6 s; 3 s quick); the rerun is timed (it repairs the interrupted state, then finishes)
and `kb doctor` must then report no problem."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT
from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    source = ctx.laws_dir() / "行政法规" if not ctx.quick else ctx.shared / "corpus" / "seeds"
    home = Path(tempfile.mkdtemp(prefix="recovery-", dir=ctx.workdir))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "kb.cli", "--home", str(home), "ingest", str(source), "--json", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    kill_after = 6.0 if not ctx.quick else 3.0
    time.sleep(kill_after)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    t0 = time.perf_counter()
    rerun = subprocess.run(cmd, cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=1800)
    rerun_s = time.perf_counter() - t0
    doctor = subprocess.run(cmd[:5] + ["doctor", "--json"], cwd=str(REPO_ROOT), env=env, capture_output=True, text=True)
    ok = doctor.returncode == 0 and json.loads(doctor.stdout or "{}").get("ok", False)
    summary = json.loads(rerun.stdout) if rerun.returncode == 0 and rerun.stdout.strip() else {"error": rerun.stderr[-500:]}
    return {
        "corpus": str(source),
        "killed_after_s": kill_after if killed else None,
        "rerun_s": round(rerun_s, 2),
        "rerun_summary": {k: summary.get(k) for k in ("added", "updated", "unchanged", "chunks")} if "error" not in summary else summary,
        "doctor_ok_after_rerun": ok,
    }
