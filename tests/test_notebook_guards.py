"""How notebooks behave under pytest: quick mode for any path, and one skip per
notebook whose data cannot be loaded here (the root conftest.py), plus
lib.datasets.check_available that decides it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lib.datasets import (
    DatasetNotAvailableError,
    _cache,
    check_available,
    hand_poses,
    household_power,
    mice_sleep,
)

ROOT = Path(__file__).resolve().parents[1]


def _pytest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _environment(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LIB_DATA_DIR", "QUICK")}
    env.update(LIB_OFFLINE="1", LIB_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.mark.parametrize(
    "name", sorted(["hand_poses", "heartbeat", "household_power", "mhealth", "mice_sleep", "ucr"])
)
def test_check_available_raises_the_loaders_error_offline(tmp_cache, name):
    with pytest.raises(DatasetNotAvailableError, match=str(tmp_cache)):
        check_available(name)


def test_check_available_finds_local_files_and_never_downloads(tmp_cache, monkeypatch):
    (tmp_cache / "hand_poses").mkdir()
    (tmp_cache / hand_poses.RELATIVE).write_text("not even read\n")
    check_available("hand_poses")
    (tmp_cache / "household_power").mkdir()
    (tmp_cache / household_power.PARQUET).write_bytes(b"not even read")
    check_available("household_power")
    (tmp_cache / mice_sleep.FOLDER).mkdir()
    (tmp_cache / mice_sleep.FOLDER / "mouse.csv").write_text("state\n")
    check_available("mice_sleep")
    from lib.datasets.series import UCR_SHA256

    for relative in UCR_SHA256:
        (tmp_cache / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_cache / relative).write_text("not even read\n")
    check_available("ucr")

    def no_download(*args, **kwargs):
        raise AssertionError("check_available downloaded something")

    monkeypatch.setattr(_cache, "download", no_download)
    monkeypatch.setenv("LIB_OFFLINE", "0")  # online: the loader may download, so available
    check_available("heartbeat")
    with pytest.raises(ValueError, match="unknown dataset 'mitbih'.*heartbeat"):
        check_available("mitbih")


@pytest.mark.slow
def test_offline_notebook_without_data_is_one_skip_with_the_loaders_message(tmp_path):
    result = _pytest("notebooks/04_hand_poses_search.ipynb", env=_environment(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ 1 skipped in [\d.]+s =+", summary), summary  # and nothing else
    assert "Hand poses (dtagain.csv) is not available" in output
    assert "LIB_OFFLINE=1" in output and str(tmp_path) in output


@pytest.mark.slow
def test_quick_mode_holds_for_any_notebook_path_even_with_quick_0(tmp_path):
    runs = ROOT / "runs"  # git-ignored; a notebook must sit under the root to get its conftest
    runs.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="quick-check-", dir=runs))
    try:
        cell = {
            "cell_type": "code",
            "execution_count": 1,
            "id": "c1",
            "metadata": {},
            "source": ["# NBVAL_CHECK_OUTPUT\n", "import lib\n", "print(lib.quick_mode())"],
            "outputs": [{"name": "stdout", "output_type": "stream", "text": ["True\n"]}],
        }
        notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        path = folder / "study.ipynb"
        path.write_text(json.dumps(notebook))
        result = _pytest(str(path.relative_to(ROOT)), env=_environment(tmp_path, QUICK="0"))
    finally:
        shutil.rmtree(folder)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "1 passed" in output, output


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebook_shows_the_figures_its_cells_draw(path):
    """A notebook run with a non-interactive backend (MPLBACKEND=Agg under nbconvert) saves
    no figure in its outputs: the article loses its plots. Run full studies without it."""
    notebook = json.loads(path.read_text())
    drawing = [
        cell
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        and re.search(r"\bplots\.\w+\(|\bplt\.(subplots|figure)\(", "".join(cell["source"]))
    ]
    shown = [
        cell
        for cell in drawing
        if any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
    ]
    assert len(shown) == len(drawing), (
        f"{path.name}: {len(drawing) - len(shown)} of {len(drawing)} cells that draw a figure "
        "show none in the committed outputs; rerun the notebook without MPLBACKEND=Agg"
    )
