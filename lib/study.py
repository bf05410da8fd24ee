"""The setup every study notebook starts with: root, quick flag, figures and runs folders."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Study", "study_setup", "find_root"]

_ROOT_MARKER = "pyproject.toml"


@dataclass(frozen=True)
class Study:
    """Where one study reads and writes, as :func:`study_setup` chose it.

    Attributes:
        name: the study's folder name (``"01_mhealth"``).
        root: the project root (the folder holding ``pyproject.toml``).
        quick: True in quick mode (``QUICK=1``, set by the test suite).
        figures: folder for the study's figures and ``results.json``.
        runs: folder for the study's search directories (resumable state).
    """

    name: str
    root: Path
    quick: bool
    figures: Path
    runs: Path

    def __str__(self) -> str:
        if self.quick:
            where = f"figures and runs in the temporary folder {self.figures.parent}"
        else:
            where = (
                f"figures -> {self.figures.relative_to(self.root)}/, "
                f"runs -> {self.runs.relative_to(self.root)}/"
            )
        return f"study {self.name}: quick mode {'on' if self.quick else 'off'}; {where}"


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds ``pyproject.toml``.

    Args:
        start: where to start looking (default: the working directory, which is
            ``notebooks/`` when Jupyter runs a notebook and the project root under pytest).

    Returns:
        The project root as an absolute path.

    Raises:
        FileNotFoundError: no folder at or above ``start`` holds ``pyproject.toml``.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / _ROOT_MARKER).is_file():
            return folder
    raise FileNotFoundError(
        f"no {_ROOT_MARKER} in {here} or any folder above it: expected to run inside the "
        "project (or one of its subfolders); start Jupyter there or pass root=<project folder>"
    )


def study_setup(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    quick: bool | None = None,
    seed: int | None = None,
) -> Study:
    """Finds the project root and creates the study's figures and runs folders.

    In the full run figures go to ``<root>/figures/<name>/`` (committed) and search
    directories to ``<root>/runs/<name>/`` (git-ignored, so an interrupted search resumes).
    In quick mode both are fresh folders under a new temporary directory, so a quick run (the
    test suite's) never changes a tracked file and never resumes an earlier quick search.

    Args:
        name: the study's folder name, one path component (e.g. ``"01_mhealth"``).
        root: the project root; default: :func:`find_root` from the working directory.
        quick: quick mode; default :func:`lib.quick_mode` (the ``QUICK`` variable).
        seed: when given, :func:`lib.set_seed` is called with it.

    Returns:
        The :class:`Study` (its folders exist).

    Raises:
        ValueError: ``name`` is empty or not a single folder name.
        FileNotFoundError: no root was given and none is found (see :func:`find_root`).
    """
    from lib import quick_mode, set_seed

    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or any(sep in name for sep in ("/", "\\", os.sep))
    ):
        raise ValueError(
            f"study name must be one folder name such as '01_mhealth'; got {name!r}; "
            "drop any path separators"
        )
    root_path = Path(root).resolve() if root is not None else find_root()
    quick = quick_mode() if quick is None else bool(quick)
    if quick:
        scratch = Path(tempfile.mkdtemp(prefix=f"study-{name}-"))
        figures, runs = scratch / "figures", scratch / "runs"
    else:
        figures, runs = root_path / "figures" / name, root_path / "runs" / name
    figures.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    if seed is not None:
        set_seed(seed)
    return Study(name=name, root=root_path, quick=quick, figures=figures, runs=runs)
