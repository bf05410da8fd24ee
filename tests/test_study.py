"""lib.study_setup: the notebooks' setup cell (root, quick flag, figures and runs folders)."""

from __future__ import annotations

import numpy as np
import pytest

import lib
from lib.study import find_root


@pytest.fixture
def project(tmp_path):
    """A fake project: pyproject.toml at the root and a notebooks/ folder."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def test_full_mode_folders_are_under_the_root_and_exist(project):
    study = lib.study_setup("01_demo", root=project, quick=False)
    assert study.root == project.resolve()
    assert study.figures == project.resolve() / "figures" / "01_demo"
    assert study.runs == project.resolve() / "runs" / "01_demo"
    assert study.figures.is_dir() and study.runs.is_dir()
    assert not study.quick
    assert "figures -> figures/01_demo/" in str(study)


def test_quick_mode_writes_nothing_under_the_root(project):
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    first = lib.study_setup("01_demo", root=project, quick=True)
    second = lib.study_setup("01_demo", root=project, quick=True)
    after = sorted(p.relative_to(project) for p in project.rglob("*"))
    assert before == after  # nothing created in the project
    for study in (first, second):
        assert study.quick and study.figures.is_dir() and study.runs.is_dir()
        assert project.resolve() not in study.figures.resolve().parents
    assert first.figures != second.figures  # each quick run starts from empty folders
    assert "quick mode on" in str(first)


def test_root_is_found_from_the_notebooks_folder(project, monkeypatch):
    monkeypatch.chdir(project / "notebooks")
    assert find_root() == project.resolve()
    monkeypatch.chdir(project)
    assert lib.study_setup("x", quick=False).root == project.resolve()


def test_quick_flag_comes_from_the_environment(project, monkeypatch):
    monkeypatch.setenv("QUICK", "0")
    assert not lib.study_setup("x", root=project).quick
    monkeypatch.setenv("QUICK", "1")
    assert lib.study_setup("x", root=project).quick


def test_seed_seeds_numpy(project):
    lib.study_setup("x", root=project, quick=True, seed=3)
    first = np.random.rand(3)
    lib.study_setup("x", root=project, quick=True, seed=3)
    np.testing.assert_array_equal(first, np.random.rand(3))


@pytest.mark.parametrize("name", ["", "a/b", "..", "../escape"])
def test_a_name_that_is_not_one_folder_is_refused(project, name):
    with pytest.raises(ValueError, match="one folder name"):
        lib.study_setup(name, root=project, quick=False)


def test_no_project_above_the_working_directory_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if any((folder / "pyproject.toml").is_file() for folder in (tmp_path, *tmp_path.parents)):
        pytest.skip("a pyproject.toml above the temporary folder")
    with pytest.raises(FileNotFoundError, match="pass root="):
        lib.study_setup("x", quick=False)
