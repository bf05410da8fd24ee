"""Root pytest configuration, loaded for any path pytest is given inside the project.

* Quick mode always: ``QUICK=1`` is set at import time, before nbval starts a
  kernel, so ``pytest notebooks/01_mhealth_lstm_grid.ipynb`` re-runs the small,
  fast version of a study, never the full one (which would overwrite the committed
  figures and results). A study is run in full with Jupyter, not with pytest.
* Trial workers are kept between searches: ``LIB_WORKER_IDLE_SECONDS=120`` (unless set
  otherwise) lets the next search of the same test process, or of a notebook's kernel, use
  the workers of the last one instead of spawning processes that import TensorFlow again
  (``lib/tuning/_pool.py``). Tests of the default, which closes them, unset it.
* Trial workers are forks of a forkserver that has imported TensorFlow and the engine once
  (``LIB_WORKER_START_METHOD=forkserver`` unless set otherwise), so that a recycled worker
  starts in a fraction of a second instead of importing TensorFlow again. The default, spawn,
  is what a worker falls back to when the server no longer matches the caller.
* Each test process of a parallel run (``-n``) gives the BLAS and OpenMP libraries of NumPy,
  SciPy and scikit-learn its share of the cores (:func:`pytest_configure`), as it has its
  share of the tests.
* A notebook whose metadata lists the datasets it needs
  (``"lib": {"requires_data": ["household_power"]}``) is collected as one item,
  skipped with the loader's message, when :func:`lib.datasets.check_available`
  says one of them cannot be loaded here (offline, no mirror, no cache).
"""

from __future__ import annotations

import collections
import json
import os

os.environ["QUICK"] = "1"  # forced: a test run must never run a full study
os.environ.setdefault("LIB_WORKER_IDLE_SECONDS", "120")
os.environ.setdefault("LIB_WORKER_START_METHOD", "forkserver")

import pytest  # noqa: E402


class UnavailableNotebook(pytest.File):
    """A notebook that cannot run here: one item, skipped with the loader's message."""

    def __init__(self, *, reason: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def collect(self):
        item = NotebookSkipped.from_parent(self, name="data not available")
        item.add_marker(pytest.mark.skip(reason=self.reason))
        yield item


class NotebookSkipped(pytest.Item):
    """Stands for every cell of a notebook whose data is missing (never runs)."""

    def runtest(self) -> None:  # pragma: no cover - always skipped by its marker
        raise AssertionError("a notebook without its data must not run")

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}: data not available"


def required_data(path) -> list[str]:
    """The datasets a notebook's metadata says it needs (``lib.requires_data``)."""
    with open(path, encoding="utf-8") as handle:
        metadata = json.load(handle).get("metadata", {})
    needed = metadata.get("lib", {}).get("requires_data", [])
    return [needed] if isinstance(needed, str) else list(needed)


def unavailable_reason(path) -> str | None:
    """The loader's message for the first needed dataset that is missing, else None."""
    needed = required_data(path)
    if not needed:
        return None
    from lib.datasets import DatasetNotAvailableError, check_available

    for name in needed:
        try:
            check_available(name)
        except DatasetNotAvailableError as error:
            return f"{path.name} needs {name}: {error}"
    return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pytest_configure(config) -> None:
    """In a test process of a parallel run, BLAS and OpenMP get ``cores // processes``
    threads (at least 1) instead of one per core each: the in-process work of a test (a
    KerasTuner Bayesian oracle fitting its Gaussian process, scikit-learn) would otherwise run
    as many threads per process as there are cores, beside the other processes. Trial workers
    and notebooks' kernels are other processes and keep their own settings."""
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if processes > 1:
        # threadpoolctl limits the libraries loaded when it is called: NumPy and SciPy each
        # load an OpenBLAS of their own, scikit-learn an OpenMP
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401
        import sklearn  # noqa: F401
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=max(1, _cores() // processes))


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (pyproject's addopts): one test process per core, at most 4. Each loads
    TensorFlow and starts trial workers of its own, so more would only share the cores."""
    return max(1, min(4, _cores()))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """In a parallel run (``-n``, scheduled in this order: ``--no-loadscope-reorder``), the
    longest files first, so that the test processes end together: the study notebooks (one
    kernel each) and files whose tests are all marked slow, by their number of tests, then the
    others by their number of slow tests. Tests keep their order within a file; a run in one
    process keeps pytest's order."""
    if not hasattr(config, "workerinput"):  # not a pytest-xdist worker
        return
    tests = collections.Counter(str(i.path) for i in items)
    slow = collections.Counter(str(i.path) for i in items if i.get_closest_marker("slow"))
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(str(item.path), index)

    def cost(item) -> tuple:
        path = str(item.path)
        heavy = item.path.suffix == ".ipynb" or slow[path] == tests[path]
        return (not heavy, -(tests[path] if heavy else slow[path]), first[path])

    items.sort(key=cost)


@pytest.hookimpl(hookwrapper=True)
def pytest_collect_file(file_path, parent):
    outcome = yield
    if file_path.suffix != ".ipynb" or not outcome.get_result():
        return  # not a notebook, or nbval is not collecting notebooks
    reason = unavailable_reason(file_path)
    if reason is not None:
        outcome.force_result(
            [UnavailableNotebook.from_parent(parent, path=file_path, reason=reason)]
        )


def pytest_collection_finish(session) -> None:
    """Takes what the collection imported (TensorFlow, Keras, KerasTuner, Ray, the tests'
    modules) out of the garbage collector's full scans, as the engine's trial processes do
    (``lib.tuning._process.freeze_imports``). Tests that run KerasTuner's own loop in this
    process call ``gc.collect()`` for every model built (KerasTuner's ``_try_build``), and each
    full collection would walk those hundreds of thousands of objects again: 0.2-0.5 s a
    build. Garbage made later is collected as before; no assertion changes."""
    import gc

    gc.collect()
    gc.freeze()
