"""The root ``conftest.py``'s settings for a parallel test run (``pytest -n``)."""

from __future__ import annotations

import os

import pytest

from lib.machine import machine_record


def test_a_parallel_test_process_gives_blas_and_openmp_its_share_of_the_cores():
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if processes < 2:
        pytest.skip("checks a test process of a parallel run (pytest -n 2 or more)")
    import sklearn.gaussian_process  # noqa: F401  (what KerasTuner's Bayesian oracle fits)
    from threadpoolctl import threadpool_info

    cores = machine_record()["cores"]  # the cores this process may use
    info = threadpool_info()
    pools = {f"{p['internal_api']} {p['filepath']}": p["num_threads"] for p in info}
    assert any(p["user_api"] == "blas" for p in info), pools
    assert all(threads <= max(1, cores // processes) for threads in pools.values()), pools
