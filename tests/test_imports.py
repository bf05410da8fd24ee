"""What ``import lib`` costs, decided once: TensorFlow and Keras load with it (``lib/__init__``
imports TensorFlow with its start-up lines filtered), so no module of ``lib`` imports Keras,
TensorFlow or KerasTuner inside a function pretending to be lazy."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

LIB = pathlib.Path(__file__).resolve().parents[1] / "lib"
HEAVY = ("keras", "tensorflow", "keras_tuner")
# The quiet import itself, and set_seed beside it, run before / without the top-level import.
SET_UP = {"lib/__init__.py", "lib/_quiet.py"}


def _function_level_imports(path: pathlib.Path) -> list[str]:
    """``import`` statements of HEAVY modules inside functions, except guarded ones (inside a
    ``try:``, for private modules that may move between versions)."""
    tree = ast.parse(path.read_text())
    guarded = {id(node) for t in ast.walk(tree) if isinstance(t, ast.Try) for node in t.body}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.col_offset == 0:
            continue
        module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        if module and module.split(".")[0] in HEAVY and id(node) not in guarded:
            found.append(f"{path.relative_to(LIB.parent)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_of_lib_imports_keras_or_tensorflow_inside_a_function():
    found = []
    for path in sorted(LIB.rglob("*.py")):
        if str(path.relative_to(LIB.parent)) not in SET_UP:
            found += _function_level_imports(path)
    assert not found, "import these at the top of the module:\n" + "\n".join(found)


@pytest.mark.slow
def test_importing_lib_loads_tensorflow_and_keras_but_not_ray():
    code = (
        "import sys, lib, lib.tuning; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner', 'ray') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=LIB.parent
    ).stdout.split("\n")[-2]
    assert out == "['keras', 'keras_tuner', 'tensorflow']"
