"""TensorFlow's start-up log lines, filtered by TF_CPP_MIN_LOG_LEVEL when lib is imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lib._quiet import filter_log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
INFO = "I0000 00:00:1796484300.877728   29420 port.cc:153] oneDNN custom operations are on."
NO_DRIVER = (
    "I0000 00:00:1796484300.877728   29420 cudart_stub.cc:31] Could not find cuda "
    "drivers on your machine, GPU will not be used."
)
WARN = "W0000 00:00:1796484300.9   29420 some.cc:1] a warning"
CUINIT = (
    "E0000 00:00:1796484321.021146   29420 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error"
)
ERROR = "E0000 00:00:1796484321.02   29420 other.cc:9] a real error"
OLD_STYLE = "2025-09-17 14:44:05.157831: W tensorflow/core/x.cc:32] old-style warning"
PYTHON = "/site-packages/x.py:3: DeprecationWarning: something"


def _lines(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


def test_filter_log_keeps_what_the_level_lets_through():
    text = _lines(BANNER, INFO, NO_DRIVER, WARN, CUINIT, ERROR, OLD_STYLE, PYTHON)
    assert filter_log(text, 0) == _lines(BANNER, INFO, NO_DRIVER, WARN, ERROR, OLD_STYLE, PYTHON)
    assert filter_log(text, 1) == _lines(WARN, ERROR, OLD_STYLE, PYTHON)
    assert filter_log(text, 2) == _lines(ERROR, PYTHON)
    assert filter_log(text, 3) == _lines(PYTHON)
    # without "Could not find cuda drivers", a failed cuInit is a real error and stays
    assert filter_log(_lines(BANNER, CUINIT), 2) == _lines(CUINIT)


@pytest.mark.slow
def test_importing_lib_leaves_no_tensorflow_start_up_lines_at_the_default_level():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    code = "import lib, os; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "2"
    assert filter_log(done.stderr, 2) == done.stderr  # nothing below the level got through
    assert BANNER not in done.stderr
