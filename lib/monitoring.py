"""Resource monitoring for long runs: the peak resident memory of a process and its children.

Example::

    from lib.monitoring import PeakMemory

    with PeakMemory() as memory:
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=20)
    print(f"peak RSS {memory.peak_mb:,.0f} MB over {memory.samples} samples")
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["PeakMemory", "resident_bytes"]


def resident_bytes(pid: int | None = None, *, children: bool = True) -> int:
    """Resident memory (RSS) of a process, summed over its descendants when asked.

    A child that exits while it is being read is skipped.

    Args:
        pid: the process (default: this one).
        children: also add every descendant process (worker processes, Ray's, ...).

    Returns:
        The summed resident set size in bytes.

    Raises:
        ValueError: no process has that ``pid``.
    """
    import psutil

    try:
        process = psutil.Process(os.getpid() if pid is None else int(pid))
        total = process.memory_info().rss
    except psutil.NoSuchProcess as error:
        raise ValueError(
            f"no process with pid {pid}; pass the id of a running process (or None for this one)"
        ) from error
    if children:
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass  # exited (or became unreadable) between listing and reading
    return total


class PeakMemory:
    """Context manager that samples the summed RSS of a process tree from a thread.

    The sampling thread reads :func:`resident_bytes` when the block starts, every
    ``interval`` seconds and once more when it ends, and keeps the largest value. It only
    reads ``/proc`` (through psutil): the monitored work is not slowed by more than that.
    Memory that rises and falls between two samples is missed, so the peak is a lower
    bound, as close to the true one as ``interval`` is short.

    Args:
        interval: seconds between samples (positive).
        pid: the process to watch (default: this one).
        children: include every descendant process.

    Attributes:
        peak_bytes: the largest sample so far (0 before the block starts).
        samples: how many samples were taken.

    Raises:
        ValueError: a non-positive ``interval``.
    """

    def __init__(self, interval: float = 0.5, *, pid: int | None = None, children: bool = True):
        if not interval > 0:
            raise ValueError(
                f"interval must be a positive number of seconds, got {interval!r}; e.g. 0.5"
            )
        self.interval = float(interval)
        self.pid = os.getpid() if pid is None else int(pid)
        self.children = children
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        """Takes one sample now, updates the peak and returns the sample in bytes."""
        value = resident_bytes(self.pid, children=self.children)
        self.peak_bytes = max(self.peak_bytes, value)
        self.samples += 1
        return value

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except ValueError:  # the watched process is gone: nothing more to measure
                return

    def __enter__(self) -> PeakMemory:
        if self._thread is not None:
            raise RuntimeError("this PeakMemory is already running; use a new one per block")
        self.sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="PeakMemory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.sample()
        except ValueError:
            pass

    @property
    def peak_mb(self) -> float:
        """The peak in MiB (2**20 bytes)."""
        return self.peak_bytes / 2**20
