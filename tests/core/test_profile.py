"""The training data's profile: what serving bins by and what drift's reference bins agree with."""

from __future__ import annotations

import math

import numpy as np

from modelops.core.drift import quantile_edges
from modelops.core.profile import data_profile, edges_of


def test_numeric_features_get_deciles_and_the_edges_drift_bins_with() -> None:
    values = np.array([5.0, 1.0, math.nan, 3.0, 2.0, 4.0, 2.0, 8.0, 7.0, 6.0, 9.0])
    profile = data_profile("churn", {"x": values}, {}, ("y", np.array([1, 0] * 5 + [1])))
    entry = profile["features"]["x"]
    assert (entry["count"], entry["missing"], entry["min"], entry["max"]) == (10, 1, 1.0, 9.0)
    present = np.sort(values[~np.isnan(values)])
    assert entry["edges"] == [float(e) for e in quantile_edges(present, 10)]
    assert entry["quantiles"]["0.5"] == float(np.quantile(present, 0.5))
    assert edges_of(entry) == tuple(sorted(set(entry["edges"])))


def test_categorical_features_get_each_category_share_and_count_with_missing_apart() -> None:
    profile = data_profile("churn", {}, {"plan": ["b", "a", None, "b"]}, ("y", np.array([1, 0, 0, 1])))
    assert profile["features"]["plan"] == {
        "kind": "categorical",
        "count": 3,
        "missing": 1,
        "categories": {"a": 1 / 3, "b": 2 / 3},
        "counts": {"a": 1, "b": 2},
    }
    assert (profile["n"], profile["target"]) == (4, {"name": "y", "positive_rate": 0.5})


def test_edges_are_read_back_from_explicit_edges_or_else_from_quantiles() -> None:
    assert edges_of({"edges": [3, 1, float("inf"), 1]}) == (1.0, 3.0)
    assert edges_of({"quantiles": {"0.9": 9.0, "0.1": 1.0}}) == (1.0, 9.0)
    assert edges_of({}) == ()
