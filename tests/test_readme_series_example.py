"""The README's "Your own series" example (a `.ts` file to a test score) runs as written.

The example is the ```py block of README.md's "Your own series" section (a ``py`` fence, not
``python``: tests/test_doc_examples.py runs the ``python`` blocks with its own prelude and
checks made for the tuner examples). It runs here in a subprocess, in a folder holding small
``Gestures_TRAIN.ts`` / ``Gestures_TEST.ts`` files of unequal length with string labels,
with its epochs shrunk to keep the test short.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = ("epochs=100", "epochs=2")  # the example's budget, shrunk for the test


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Your own series\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert section, "README.md has no '## Your own series' section"
    blocks = re.findall(r"^```py\n(.*?)^```", section.group(1), flags=re.S | re.M)
    assert len(blocks) == 1, f"expected one ```py block in the section, found {len(blocks)}"
    return blocks[0]


def write_ts(path: Path, n: int, rng: np.random.Generator) -> None:
    """A univariate .ts file of ``n`` series of 20-40 steps, three string classes."""
    names = ["walk", "run", "sit"]
    lines = [
        "@problemName Gestures",
        "@timeStamps false",
        "@missing false",
        "@univariate true",
        "@equalLength false",
        "@classLabel true walk run sit",
        "@data",
    ]
    for i in range(n):
        label = i % 3
        steps = np.arange(rng.integers(20, 41))
        series = np.sin(steps * (label + 1) / 4) + 0.1 * rng.normal(size=len(steps))
        lines.append(",".join(f"{v:.4f}" for v in series) + f":{names[label]}")
    path.write_text("\n".join(lines) + "\n")


def test_the_readme_example_reads_pads_searches_and_scores():
    code = readme_example()
    for step in (
        "read_ts(",
        "pad_samples(",
        "znormalize_samples(",
        "RandomSearch(",
        ".search(",
        "get_best_models(",
        "evaluate(",
    ):
        assert step in code, f"the example lost its {step} step"
    assert len(code.strip().splitlines()) <= 20


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path):
    code = readme_example()
    assert code.count(EPOCHS[0]) == 1, "the example's epochs changed: update EPOCHS"
    rng = np.random.default_rng(0)
    write_ts(tmp_path / "Gestures_TRAIN.ts", 30, rng)
    write_ts(tmp_path / "Gestures_TEST.ts", 15, rng)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.run(
        [sys.executable, "-c", code.replace(*EPOCHS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    found = re.findall(r"^test accuracy: ([0-9.]+)$", process.stdout, flags=re.M)
    assert len(found) == 1 and 0.0 <= float(found[0]) <= 1.0, process.stdout[-2000:]
    assert (tmp_path / "runs" / "gestures" / "trials.jsonl").is_file()
