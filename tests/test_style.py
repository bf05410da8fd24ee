"""The code follows the project's style: ruff's lint rules and ruff format, 100 columns.

Covers the package, the benches, the tests and the notebooks (pyproject.toml's [tool.ruff];
KerasTuner's ported suite is excluded there). Reads only: no cache, nothing written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["lib", "bench", "tests", "notebooks", "conftest.py"]


def ruff(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, "--no-cache", *PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", [("check",), ("format", "--check")], ids=" ".join)
def test_ruff_passes_on_the_code_and_the_notebooks(command):
    done = ruff(*command)
    assert done.returncode == 0, (
        f"`ruff {' '.join(command)}` found what it reports below; run `ruff format` "
        f"(then fix what `ruff check` still lists) on:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
    )
