"""The bench scripts still run against today's lib (a tiny size, one JSON line out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_stacked_grid_bench_runs_and_reports_its_figures(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "bench" / "stacked_grid.py"),
        "--models",
        "8",
        "--per-trial",
        "1",
        "--rows",
        "256",
        "--val-rows",
        "128",
        "--epochs",
        "1",
        "--equivalence-models",
        "2",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["stacked_models"] == 8 and figures["speedup"] > 0
    assert figures["max_abs_weight_diff_float64"] <= 1e-9
