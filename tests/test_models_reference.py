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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from lib import models  # noqa: E402
from tests.fixtures import models_reference  # noqa: E402

REFERENCE = json.loads(models_reference.PATH.read_text())
HYPERMODELS = dict(models_reference._hypermodels(models))
BUILDERS = dict(models_reference._builders(models))


def test_reference_covers_every_hypermodel_and_builder():
    assert sorted(HYPERMODELS) == sorted(REFERENCE["hypermodels"])
    assert sorted(BUILDERS) == sorted(REFERENCE["builders"])
    public = {name for name in models.__all__ if name.endswith("HyperModel")}
    assert public == {label.split("/")[0] for label in HYPERMODELS}
    builders = {name for name in models.__all__ if name.startswith("build_")}
    assert builders == {label.split("/")[0] for label in BUILDERS}


@pytest.mark.parametrize("label", sorted(REFERENCE["hypermodels"]))
def test_hypermodel_space_and_models_match_reference(label):
    expected = REFERENCE["hypermodels"][label]
    found = json.loads(json.dumps(models_reference.describe_hypermodel(HYPERMODELS[label]())))
    # Space first (names, order, values, defaults, conditions), then the built models.
    assert [entry["name"] for entry in found["space"]] == [
        entry["name"] for entry in expected["space"]
    ]
    assert found["space"] == expected["space"]
    for key in sorted(expected):
        assert found[key] == expected[key], f"{label}: {key} differs from the reference"


@pytest.mark.parametrize("label", sorted(REFERENCE["builders"]))
def test_builder_matches_reference(label):
    found = json.loads(json.dumps(models_reference.describe_model(BUILDERS[label]())))
    assert found == REFERENCE["builders"][label]
