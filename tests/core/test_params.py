"""A model's section of params.yaml: one parser for train, evaluate and drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.core.params import FeatureSpec, load_features, load_params
from modelops.errors import BadInput

SECTION = """\
churn:
  target: churned
  timestamp: timestamp
  features:
    numeric: [tenure, charges]
    categorical: [plan]
  train: {estimator: logistic_regression, C: 0.5, random_state: 3}
"""


def _params(tmp_path: Path, text: str = SECTION) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, "utf-8")
    return path


def test_train_and_drift_read_the_same_features(tmp_path: Path) -> None:
    path = _params(tmp_path)
    params = load_params(tmp_path, "churn", path)
    assert (
        params.spec
        == load_features(path, "churn")
        == FeatureSpec(("tenure", "charges"), ("plan",), "timestamp")
    )
    # The rest of the section is the training command's: modelops hands it over untouched.
    assert params.target == "churned" and params.section["train"]["C"] == 0.5
    assert (params.train_path, params.golden_path) == ("data/churn/train.csv", "data/churn/golden.csv")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("other: {}\n", "no `churn:` section"),
        ("churn: {target: y, features: {numeric: []}}\n", r"churn\.features"),
        ("churn: [1, 2\n", "not valid YAML"),
        ("- a\n", "expected a mapping"),
    ],
)
def test_a_broken_section_is_one_line_naming_the_file_and_field(
    tmp_path: Path, text: str, names: str
) -> None:
    path = _params(tmp_path, text)
    for read in (lambda: load_features(path, "churn"), lambda: load_params(tmp_path, "churn", path)):
        with pytest.raises(BadInput, match=names) as caught:
            read()
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_training_needs_a_target_drift_does_not(tmp_path: Path) -> None:
    path = _params(tmp_path, "churn: {features: {numeric: [x]}}\n")
    assert load_features(path, "churn").all == ("x",)
    with pytest.raises(BadInput, match=r"churn\.target"):
        load_params(tmp_path, "churn", path)
