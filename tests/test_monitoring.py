"""lib.monitoring: peak resident memory of a process tree."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from lib.monitoring import PeakMemory, resident_bytes

MB = 2**20


def test_peak_memory_sees_an_allocation_made_and_freed_inside_the_block():
    with PeakMemory(interval=0.02) as memory:
        before = resident_bytes(children=False)
        block = np.ones(160 * MB, dtype=np.uint8)  # touched pages: resident
        time.sleep(0.2)
        del block
    assert memory.samples >= 3
    assert memory.peak_bytes >= before + 120 * MB
    assert resident_bytes(children=False) < memory.peak_bytes


@pytest.mark.slow
def test_peak_memory_adds_child_processes_and_can_leave_them_out():
    code = (
        "import numpy, sys; b = numpy.ones(150 * 2**20, dtype=numpy.uint8); print('ready', "
        "flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ready"  # allocated
        with_children = resident_bytes()
        alone = resident_bytes(children=False)
        with PeakMemory(interval=0.05) as memory:
            time.sleep(0.1)
    finally:
        child.communicate("")  # closes its stdin: it exits
    assert with_children - alone >= 120 * MB
    assert memory.peak_bytes >= alone + 120 * MB


def test_bad_arguments_are_refused_with_what_to_pass():
    with pytest.raises(ValueError, match="positive"):
        PeakMemory(interval=0)
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with pytest.raises(ValueError, match="no process"):
        resident_bytes(int(done.stdout))
    memory = PeakMemory()
    with memory, pytest.raises(RuntimeError, match="already running"):
        memory.__enter__()
