"""lib.models declares the same search spaces and builds the same networks as the reference.

The reference (tests/fixtures/models_reference.json) was written by
tests/fixtures/models_reference.py from the code before lib.models became a package; KerasTuner
trial ids, resumed searches and the stacked executor depend on these spaces staying the same.
After an intended change of a space or a network, rewrite the reference with
``python tests/fixtures/models_reference.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from lib import models  # noqa: E402
from lib.models.hypermodels import HYPERMODELS as REGISTERED  # noqa: E402
from tests.fixtures import models_reference  # noqa: E402

pytestmark = pytest.mark.slow  # builds every registered network and compares it, twice

REFERENCE = json.loads(models_reference.PATH.read_text())
WEIGHTS = re.compile(r"weights=\[([^\]]*)\]")


def _exact_and_sums(value):
    """``value`` with every layer's weight sums taken out, and those sums.

    The sums of seeded initial weights are float32 arithmetic: another CPU's kernels (e.g.
    AVX-512) change their last digits, so they are compared with a relative tolerance, and
    everything else (names, shapes, parameter counts, spaces) exactly.
    """
    sums = []
    if isinstance(value, dict):
        exact = {}
        for key, item in value.items():
            exact[key], found = _exact_and_sums(item)
            sums += found
        return exact, sums
    if isinstance(value, list):
        exact = []
        for item in value:
            part, found = _exact_and_sums(item)
            exact.append(part)
            sums += found
        return exact, sums
    if isinstance(value, str) and WEIGHTS.search(value):
        for match in WEIGHTS.finditer(value):
            sums += [float(number) for number in match.group(1).split(",") if number.strip()]
        return WEIGHTS.sub("weights=[...]", value), sums
    return value, sums


def assert_matches(found, expected, what=""):
    """Exact parts equal; weight sums within float32 tolerance (4 decimals in the file)."""
    found_exact, found_sums = _exact_and_sums(found)
    expected_exact, expected_sums = _exact_and_sums(expected)
    assert found_exact == expected_exact, what
    assert found_sums == pytest.approx(expected_sums, rel=1e-6, abs=1e-4), what


HYPERMODELS = dict(models_reference._hypermodels(models))  # label -> constructor
BUILDERS = dict(models_reference._builders(models))


def _labels_of(name):
    """The golden labels of hypermodel ``name``: ``name`` and its variants ``name/...``."""
    return sorted(label for label in HYPERMODELS if label.split("/")[0] == name)


def _how_to_add(name):
    return (
        f"{name} is registered (lib.models.hypermodels.HYPERMODELS) but has no golden "
        "reference. Add one: in tests/fixtures/models_reference.py, append "
        f'("{name}", lambda: models.{name}(<small input shape, classes>, seed=SEED)) to '
        "_hypermodels, then run `python tests/fixtures/models_reference.py --add`, which "
        "writes only the missing entries of tests/fixtures/models_reference.json: its space "
        "(names, order, values), and for the default and an alternative point the layer "
        "names, output shapes, parameter counts and seeded weight sums (compared with "
        "pytest.approx(rel=1e-6)). Commit both files."
    )


def test_reference_covers_every_hypermodel_and_builder():
    assert sorted(HYPERMODELS) == sorted(REFERENCE["hypermodels"]), (
        "tests/fixtures/models_reference.py and models_reference.json disagree; run "
        "`python tests/fixtures/models_reference.py --add` after adding a constructor"
    )
    assert sorted(BUILDERS) == sorted(REFERENCE["builders"])
    stale = {label.split("/")[0] for label in HYPERMODELS} - set(REGISTERED)
    assert not stale, f"golden entries of hypermodels that are not registered: {sorted(stale)}"
    builders = {name for name in models.__all__ if name.startswith("build_")}
    assert builders == {label.split("/")[0] for label in BUILDERS}


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_registered_hypermodel_matches_reference(name):
    labels = _labels_of(name)
    if not labels or any(label not in REFERENCE["hypermodels"] for label in labels):
        pytest.fail(_how_to_add(name))
    for label in labels:
        expected = REFERENCE["hypermodels"][label]
        found = json.loads(json.dumps(models_reference.describe_hypermodel(HYPERMODELS[label]())))
        # Space first (names, order, values, defaults, conditions), then the built models.
        assert [entry["name"] for entry in found["space"]] == [
            entry["name"] for entry in expected["space"]
        ], label
        assert found["space"] == expected["space"], label
        for key in sorted(expected):
            assert_matches(found[key], expected[key], f"{label}: {key} differs from the reference")


def test_a_registered_hypermodel_without_golden_entry_fails_with_how_to():
    class NewHyperModel(models.MLPHyperModel):
        __module__ = "lib.models.hypermodels.new"

    try:
        assert REGISTERED["NewHyperModel"] is NewHyperModel
        with pytest.raises(pytest.fail.Exception) as failure:
            test_registered_hypermodel_matches_reference("NewHyperModel")
    finally:
        del REGISTERED["NewHyperModel"]
    message = str(failure.value)
    assert "tests/fixtures/models_reference.py" in message and "--add" in message
    assert '("NewHyperModel", lambda: models.NewHyperModel(' in message


@pytest.mark.parametrize("label", sorted(REFERENCE["builders"]))
def test_builder_matches_reference(label):
    found = json.loads(json.dumps(models_reference.describe_model(BUILDERS[label]())))
    assert_matches(found, REFERENCE["builders"][label], label)


def test_weight_sums_are_compared_with_float32_tolerance_only():
    reference = {"layers": ["Dense (None, 4) params=16 weights=[16014.894, 0.0]"], "params": 16}
    other_cpu = {"layers": ["Dense (None, 4) params=16 weights=[16014.8939, 0.0]"], "params": 16}
    assert_matches(other_cpu, reference)  # AVX-512's last digits of a float32 sum
    for changed in (
        {"layers": ["Dense (None, 4) params=16 weights=[16014.994, 0.0]"], "params": 16},
        {"layers": ["Dense (None, 4) params=16 weights=[16014.894, 0.01]"], "params": 16},
        {"layers": ["Dense (None, 4) params=17 weights=[16014.894, 0.0]"], "params": 16},
        {"layers": ["Dense (None, 5) params=16 weights=[16014.894, 0.0]"], "params": 16},
        {"layers": ["Dense (None, 4) params=16 weights=[16014.894]"], "params": 16},
    ):
        with pytest.raises(AssertionError):
            assert_matches(changed, reference)
