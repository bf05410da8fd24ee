"""Imports TensorFlow once with its start-up log lines filtered by ``TF_CPP_MIN_LOG_LEVEL``.

TensorFlow's C++ logging (absl) writes to file descriptor 2 before it reads
``TF_CPP_MIN_LOG_LEVEL``, so the level does not hide the lines printed while TensorFlow
loads (the ``WARNING: All log messages before absl::InitializeLog()`` banner, the oneDNN and
"Could not find cuda drivers" INFO lines, tensorflow/tensorflow#100442). Every trial worker
prints them again, so a notebook's cells fill with them. :func:`import_tensorflow` captures
what TensorFlow writes while it loads and finds its devices, and writes back every line the
level lets through: ``I`` lines are dropped from level 1, ``W`` lines from level 2, ``E``
lines from level 3, the absl banner from level 1; the ``cuInit`` error that follows "Could
not find cuda drivers" (no GPU driver, so no GPU) is dropped with its cause. Other output
(Python warnings, tracebacks) is written back unchanged. The level defaults to 2 (errors
only), the trial workers' level.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d")
_TF_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) ")
_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}
_NO_DRIVER = "Could not find cuda drivers"
_CUINIT = "failed call to cuInit"


def log_level() -> int:
    """``TF_CPP_MIN_LOG_LEVEL`` as an integer (0 when unset or not a number)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def filter_log(text: str, level: int) -> str:
    """The lines of ``text`` that TensorFlow's log ``level`` lets through (see the module)."""
    no_driver = _NO_DRIVER in text
    kept = []
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        if stripped == _BANNER:
            if level < 1:
                kept.append(line)
            continue
        match = _ABSL_LINE.match(stripped) or _TF_LINE.match(stripped)
        if match is None:
            kept.append(line)
            continue
        severity = _LEVELS[match.group(1)]
        if severity == 3 or severity >= level and not (no_driver and _CUINIT in stripped):
            kept.append(line)
    return "".join(kept)


def import_tensorflow() -> None:
    """Imports TensorFlow and lists its devices, keeping the start-up lines the log level
    lets through (sets ``TF_CPP_MIN_LOG_LEVEL=2`` when unset). Does nothing when TensorFlow
    is already imported; if the import fails, everything it printed is written back."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2: plain import
        import tensorflow  # noqa: F401

        return
    failed = True
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # CUDA start-up lines come here, not later
            failed = False
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            shown = text if failed else filter_log(text, log_level())
            if shown:
                sys.stderr.write(shown)
                sys.stderr.flush()
