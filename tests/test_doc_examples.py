"""The documentation's examples run as tests, so that an example cannot rot.

Every ```python block of ``README.md`` and every ``::`` block of the docstrings of
``lib/tuning/__init__.py`` and ``lib/tuning/tuners.py`` is
extracted from the files at test time (the test follows the text) and run:

* the names an example leaves undefined (``x``, ``y``, ``x_val``, ``y_val``, ``build``) are
  filled by a prelude of small generated arrays (60 training rows, 30 validation rows,
  8 features, 3 classes) and a small ``build(hp)``; an undefined name this file has no filler
  for fails the test, naming it;
* an example guarded by ``if __name__ == "__main__":`` is written to a script and run in a
  subprocess (its spawned workers re-import that script, as a user's would);
* an unguarded example (a notebook cell) runs in a subprocess as ``python -c`` code, which
  spawned workers do not re-import, as in a notebook;
* a postlude under the ``__main__`` guard reports the example's tuner: trials, statuses and
  the shape the best model predicts, which are checked against the example's own text;
* Ray examples are skipped: ``tests/test_tuners.py::
  test_ray_tune_search_on_a_cluster_started_as_on_a_head_node`` runs them on a cluster
  started as the README says.

Budgets are run as written; ``SUBSTITUTIONS`` below is where an example too slow to run as
written would be shrunk (each substitution must match the text exactly once).
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCSTRING_SOURCES = ("lib/tuning/__init__.py", "lib/tuning/tuners.py")
RAY_TEST = "tests/test_tuners.py::test_ray_tune_search_on_a_cluster_started_as_on_a_head_node"
RESULT_TAG = "DOC_EXAMPLE_RESULT "

# Budget substitutions, by example id: (text in the example, replacement, why). Each must
# occur exactly once in the extracted example (else the test fails: the text changed and the
# table must follow it). Empty: every example runs as written within the time budget.
SUBSTITUTIONS: dict[str, list[tuple[str, str, str]]] = {}


# -- extraction --------------------------------------------------------------------------------


def readme_blocks() -> list[tuple[str, str]]:
    """``(id, code)`` of every ```python fence of README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python[ \t]*\n(.*?)^```", text, flags=re.S | re.M)
    return [(f"README.md:python-block-{i + 1}", code) for i, code in enumerate(blocks)]


def literal_blocks(docstring: str) -> list[str]:
    """The reStructuredText literal blocks of a docstring: the lines indented below a line
    that ends with ``::`` (``Example::``, ``... instead::``), dedented."""
    lines = docstring.expandtabs().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::"):
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        body = []
        j = i + 1
        while j < len(lines):
            nxt = lines[j]
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt)
            j += 1
        code = textwrap.dedent("\n".join(body)).strip("\n")
        if code:
            blocks.append(code + "\n")
        i = j
    return blocks


def docstring_blocks() -> list[tuple[str, str]]:
    """``(id, code)`` of every literal block in the docstrings of DOCSTRING_SOURCES."""
    found = []
    for source in DOCSTRING_SOURCES:
        tree = ast.parse((ROOT / source).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(
                node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            ):
                continue
            docstring = ast.get_docstring(node, clean=True)
            if not docstring:
                continue
            owner = getattr(node, "name", "module")
            for k, code in enumerate(literal_blocks(docstring)):
                found.append((f"{source}:{owner}:block-{k + 1}", code))
    return found


def all_examples() -> list[tuple[str, str]]:
    return readme_blocks() + docstring_blocks()


# -- what an example needs -----------------------------------------------------------------------


def undefined_names(code: str) -> set[str]:
    """Names the code reads but never binds (assignment, def, class, import, argument)."""
    tree = ast.parse(code)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


# What fills each name an example leaves undefined. Numpy only at module level, so the
# example's own `from lib.tuning import ...` still comes before keras (TensorFlow loads
# quietly) and a spawned worker re-importing the script pays only for small arrays.
FILLERS = {
    "_rng": "import numpy as _np\n_rng = _np.random.default_rng(0)\n",
    "x": "x = _rng.normal(size=(60, 8)).astype('float32')\n",
    "y": "y = (_rng.integers(0, 3, size=60)).astype('int64')\n",
    "x_val": "x_val = _rng.normal(size=(30, 8)).astype('float32')\n",
    "y_val": "y_val = (_rng.integers(0, 3, size=30)).astype('int64')\n",
    "build": textwrap.dedent("""\
        def build(hp):
            import keras  # inside: the example's lib import comes first
            model = keras.Sequential([
                keras.layers.Dense(hp.Int("units", 8, 64, step=8), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
        """),
}

POSTLUDE = textwrap.dedent(f"""

    if __name__ == "__main__":  # added by tests/test_doc_examples.py: what the example made
        import json as _json
        from lib.tuning.spaces import space_size as _space_size
        _frame = tuner.results
        _best = tuner.get_best_models(num_models=1)[0]
        print({RESULT_TAG!r} + _json.dumps({{
            "trials": int(len(_frame)),
            "space_size": _space_size(tuner.oracle.get_space()),
            "statuses": sorted({{str(s) for s in _frame["status"]}}),
            "hyperparameters": sorted(tuner.get_best_hyperparameters(1)[0].values),
            "predict_shape": list(_best.predict(x_val[:2], verbose=0).shape),
            "executions_per_trial": int(tuner.executions_per_trial),
            "directory": tuner.project_dir,
        }}))
""")


def prepared(example_id: str, code: str) -> str:
    """The example with its budget substitutions applied (each checked to match once)."""
    for old, new, why in SUBSTITUTIONS.get(example_id, []):
        count = code.count(old)
        assert count == 1, (
            f"substitution {old!r} -> {new!r} ({why}) matches {count} times in {example_id}; "
            "the example's text changed: update SUBSTITUTIONS in tests/test_doc_examples.py"
        )
        code = code.replace(old, new)
    return code


def prelude_for(code: str) -> str:
    missing = undefined_names(code)
    unknown = sorted(missing - set(FILLERS))
    assert not unknown, (
        f"the example reads {unknown}, which it does not define and which "
        "tests/test_doc_examples.py has no filler for (add one to FILLERS)"
    )
    order = [name for name in FILLERS if name in missing]
    return "".join(FILLERS[name] for name in (["_rng"] if order else []) + order)


def guarded(code: str) -> bool:
    return re.search(r"""^if __name__ == ["']__main__["']:""", code, flags=re.M) is not None


def run_example(
    code: str, cwd: Path, *, as_script: bool, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Runs ``code`` as a script file (guarded examples) or as ``python -c`` (notebook cells),
    in ``cwd``, with the project importable."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        ),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    if as_script:
        script = cwd / "example.py"
        script.write_text(code, encoding="utf-8")
        command = [sys.executable, str(script)]
    else:
        command = [sys.executable, "-c", code]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd
    )


def reported(process: subprocess.CompletedProcess) -> dict:
    assert process.returncode == 0, (
        f"the example failed (exit {process.returncode}):\n{process.stdout[-3000:]}\n"
        f"{process.stderr[-6000:]}"
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_TAG)]
    assert len(lines) == 1, f"no result line in the output:\n{process.stdout[-3000:]}"
    return json.loads(lines[0][len(RESULT_TAG) :])


def keyword(code: str, name: str, default: int) -> int:
    """The integer an example passes as ``name=`` (or KerasTuner's default)."""
    found = re.findall(rf"\b{name}\s*=\s*(\d+)", code)
    assert len(set(found)) <= 1, f"{name}= is given different values: {found}"
    return int(found[0]) if found else default


# -- tests -------------------------------------------------------------------------------------


def test_the_examples_are_found_where_the_documentation_has_them():
    ids = [example_id for example_id, _ in all_examples()]
    # README: the tuner example and the Ray one; a docstring example in each module.
    assert sum(i.startswith("README.md:") for i in ids) >= 2, ids
    for source in DOCSTRING_SOURCES:
        assert any(i.startswith(source + ":") for i in ids), (source, ids)
    for example_id, code in all_examples():
        ast.parse(code)  # every block is Python
        assert "tuner" in code or "Tuner" in code or "Search" in code, example_id
    for example_id in SUBSTITUTIONS:
        assert example_id in ids, f"SUBSTITUTIONS names {example_id!r}, no longer an example"


def test_the_extraction_reads_literal_blocks_and_fences():
    doc = "Text.\n\nExample::\n\n    a = 1\n    if a:\n        b = 2\n\nAfter.\n"
    assert literal_blocks(doc) == ["a = 1\nif a:\n    b = 2\n"]
    assert undefined_names("from m import f\ndef g(hp):\n    return hp\nf(g, x, y)\n") == {"x", "y"}
    assert prelude_for("print(x_val)").startswith("import numpy")


@pytest.mark.slow
@pytest.mark.parametrize("example_id, code", all_examples(), ids=[i for i, _ in all_examples()])
def test_documented_example_runs(example_id, code, tmp_path):
    if "RayTuneSearch" in code or "ray_address" in code:
        pytest.skip(f"a Ray example: {RAY_TEST} runs it on a cluster started as on a head node")
    code = prepared(example_id, code)
    assert "tuner" in code, f"{example_id}: an example without a tuner named `tuner`"
    script = prelude_for(code) + "\n" + code + POSTLUDE
    process = run_example(script, tmp_path, as_script=guarded(code))
    result = reported(process)

    # what the example's own text says it does
    # max_trials, or fewer where the space has fewer points (KerasTuner's random search
    # also ends when it draws no new configuration)
    assert result["trials"] == min(
        keyword(code, "max_trials", 10), result["space_size"] or float("inf")
    )
    assert result["statuses"] == ["COMPLETED"]
    assert result["executions_per_trial"] == keyword(code, "executions_per_trial", 1)
    assert "units" in result["hyperparameters"]
    assert result["predict_shape"] == [2, 3]
    directory = re.search(r'directory="([^"]+)"', code).group(1)
    project = re.search(r'project_name="([^"]+)"', code).group(1)
    assert (tmp_path / result["directory"]).resolve() == (tmp_path / directory / project).resolve()
    assert (tmp_path / directory / project / "trials.jsonl").is_file()
    if "results_summary()" in code:  # KerasTuner's summary, printed
        assert "Results summary" in process.stdout, process.stdout[-3000:]
