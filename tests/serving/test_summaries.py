"""Feature summaries: bins from the training profile, Prometheus `le` semantics, bounded categories."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from modelops.core import contract
from modelops.serving.metrics import SeriesKey, ServingMetrics
from modelops.serving.summaries import (
    GENERIC_EDGES,
    MAX_CATEGORIES,
    OTHER_CATEGORY,
    FeatureSummaries,
    feature_bins,
    score_edges,
)
from tests.serving.conftest import Metrics

TYPES = {"tenure": "long", "charges": "double", "contract": "string"}


def test_numeric_edges_come_from_the_profiles_quantiles_in_order() -> None:
    profile = {"features": {"tenure": {"quantiles": {"0.9": 60, "0.1": 5, "0.5": 30, "0.7": 30}}}}

    specs = {s.name: s for s in feature_bins(TYPES, profile)}

    assert specs["tenure"].kind == "numeric"
    assert specs["tenure"].edges == (5.0, 30.0, 60.0)
    assert specs["charges"].edges == GENERIC_EDGES
    assert specs["contract"].kind == "categorical"


@pytest.mark.parametrize(
    "entry",
    [{"edges": [1, 2, 3]}, {"bin_edges": [3, 2, 1, float("inf")]}, {"quantiles": [1, 2, 2, 3]}],
)
def test_a_profile_may_give_edges_or_quantiles_as_a_list(entry: dict[str, object]) -> None:
    (spec,) = feature_bins({"x": "double"}, {"x": entry})

    assert spec.edges == (1.0, 2.0, 3.0)


def test_a_value_on_an_edge_counts_in_that_edges_bin_and_missing_values_apart() -> None:
    summaries = FeatureSummaries(feature_bins({"x": "double"}, {"x": {"edges": [1, 2]}}))

    summaries.observe(pd.DataFrame({"x": [0.5, 1.0, 1.5, 2.0, 2.5, None, math.inf]}))

    assert summaries.snapshot() == {
        "n": 7,
        "features": {"x": {"edges": [1.0, 2.0], "counts": [2, 2, 1], "missing": 2}},
    }


def test_categories_from_the_profile_are_reported_even_when_unseen() -> None:
    profile = {"contract": {"categories": {"monthly": 10, "yearly": 5}}}
    summaries = FeatureSummaries(feature_bins({"contract": "string"}, profile))

    summaries.observe(pd.DataFrame({"contract": ["monthly", "monthly", "weekly", None]}))

    feature = summaries.snapshot()["features"]["contract"]
    assert feature == {"categories": {"monthly": 2, "yearly": 0, "weekly": 1}, "missing": 1}


def test_distinct_categories_are_bounded() -> None:
    summaries = FeatureSummaries(feature_bins({"id": "string"}))

    summaries.observe(pd.DataFrame({"id": [f"user-{i}" for i in range(MAX_CATEGORIES + 50)]}))

    categories = summaries.snapshot()["features"]["id"]["categories"]
    assert len(categories) == MAX_CATEGORIES + 1
    assert categories[OTHER_CATEGORY] == 50
    assert sum(categories.values()) == MAX_CATEGORIES + 50


def test_the_exposition_has_cumulative_buckets_per_feature_and_version() -> None:
    registry = CollectorRegistry()
    metrics = ServingMetrics(registry)
    key = SeriesKey("churn", "staging", "3")
    specs = feature_bins(TYPES, {"tenure": {"edges": [10, 20]}})
    summaries = metrics.start_serving(key, "run-3", specs, at=1000.0)

    summaries.observe(
        pd.DataFrame(
            {"tenure": [5, 15, 15, 25], "charges": [1.0, np.nan, 3.0, 4.0], "contract": list("aaba")}
        )
    )
    scraped = Metrics(generate_latest(registry).decode())

    labels = {"model": "churn", "env": "staging", "version": "3"}
    buckets = {
        lbl["le"]: v
        for lbl, v in scraped.find(contract.FEATURE_VALUE + "_bucket", **labels, feature="tenure")
    }
    assert buckets == {"10.0": 1, "20.0": 3, "+Inf": 4}
    assert scraped.value(contract.FEATURE_VALUE + "_sum", **labels, feature="tenure") == 60
    assert scraped.value(contract.FEATURE_CATEGORY_TOTAL, **labels, feature="contract", category="a") == 3
    assert scraped.value(contract.FEATURE_MISSING_TOTAL, **labels, feature="charges") == 1
    assert scraped.value(contract.VERSION_START, **labels) == 1000.0
    assert scraped.value(contract.MODEL_INFO, **labels, run_id="run-3") == 1
    assert scraped.value(contract.REQUESTS_TOTAL, **labels, outcome="error") == 0


def test_a_new_version_takes_the_info_series_and_a_returning_one_keeps_its_counts() -> None:
    registry = CollectorRegistry()
    metrics = ServingMetrics(registry)
    specs = feature_bins({"x": "double"})
    v1, v2 = SeriesKey("churn", "production", "1"), SeriesKey("churn", "production", "2")
    metrics.start_serving(v1, "run-1", specs, at=1.0).observe(pd.DataFrame({"x": [1.0, 2.0]}))
    metrics.start_serving(v2, "run-2", specs, at=2.0)

    back = metrics.start_serving(v1, "run-1", specs, at=3.0)
    scraped = Metrics(generate_latest(registry).decode())

    assert back.snapshot()["n"] == 2
    assert [lbl["version"] for lbl, _ in scraped.find(contract.MODEL_INFO)] == ["1"]
    assert {lbl["version"]: v for lbl, v in scraped.find(contract.VERSION_START)} == {"1": 3.0, "2": 2.0}


def test_scores_are_binned_on_the_probability_scale_except_a_regressions_on_its_targets_deciles() -> None:
    profile = {"target": {"name": "visits", "quantiles": {"0.0": 0.0, "0.5": 2.0, "0.9": 7.5, "1.0": 31.0}}}

    assert score_edges("binary", profile) == contract.SCORE_BUCKETS
    assert score_edges("multiclass", profile) == contract.SCORE_BUCKETS
    assert score_edges("regression", profile) == (0.0, 2.0, 7.5, 31.0)
    assert score_edges("regression", None) == GENERIC_EDGES


def test_each_version_exposes_its_score_histogram_on_its_own_edges() -> None:
    registry = CollectorRegistry()
    metrics = ServingMetrics(registry)
    v1, v2 = SeriesKey("visits", "production", "1"), SeriesKey("visits", "production", "2")
    metrics.start_serving(v1, "run-1", [], at=1.0, score_edges=(1.0, 5.0))
    metrics.start_serving(v2, "run-2", [], at=2.0, score_edges=(2.0, 4.0, 8.0))
    scores = metrics.scores(v2)
    assert scores is not None

    scores.observe(np.array([1.0, 4.0, 4.0, 9.5]))
    scraped = Metrics(generate_latest(registry).decode())

    def buckets(version: str) -> dict[str, float]:
        return {lbl["le"]: v for lbl, v in scraped.find(contract.SCORE + "_bucket", version=version)}

    assert buckets("1") == {"1.0": 0, "5.0": 0, "+Inf": 0}
    assert buckets("2") == {"2.0": 1, "4.0": 3, "8.0": 3, "+Inf": 4}
    assert scraped.value(contract.SCORE + "_sum", version="2") == 18.5
    assert scraped.value(contract.SCORE + "_count", version="2") == 4


def test_a_profile_with_both_edges_and_quantiles_bins_on_its_edges() -> None:
    # Training logs the deciles and, apart, the inner edges drift detection computes; the edges win.
    profile = {"x": {"kind": "numeric", "quantiles": {"0.1": 1.5, "0.5": 4.0}, "edges": [1.0, 4.0, 9.0]}}

    (spec,) = feature_bins({"x": "double"}, profile)

    assert spec.edges == (1.0, 4.0, 9.0)


def test_drift_detection_reads_the_snapshot_as_the_same_bins_it_would_count_itself() -> None:
    from modelops.core.drift import CategoricalCounts, NumericHistogram, bin_counts, parse_snapshot

    edges = [1.0, 4.0, 9.0]
    values = [0.0, 1.0, 1.0, 2.5, 4.0, 9.0, 12.0, np.nan]
    summaries = FeatureSummaries(feature_bins({"x": "double", "c": "string"}, {"x": {"edges": edges}}))
    summaries.observe(pd.DataFrame({"x": values, "c": ["a", "b", "a", None, "a", "b", "a", "a"]}))

    parsed, n = parse_snapshot(summaries.snapshot(), "snapshot")

    assert n == len(values)
    numeric, categorical = parsed["x"], parsed["c"]
    assert isinstance(numeric, NumericHistogram) and isinstance(categorical, CategoricalCounts)
    np.testing.assert_array_equal(numeric.edges, edges)
    np.testing.assert_array_equal(
        numeric.counts, bin_counts([v for v in values if not math.isnan(v)], np.array(edges))
    )
    assert numeric.n_missing == 1
    assert dict(categorical.counts) == {"a": 5, "b": 2}
    assert categorical.n_missing == 1


def test_histograms_with_negative_edges_keep_their_count_and_sum() -> None:
    # A regression target or a feature without a profile is binned on edges below zero.
    registry = CollectorRegistry()
    metrics = ServingMetrics(registry)
    key = SeriesKey("visits", "staging", "1")
    summaries = metrics.start_serving(
        key, "run-1", feature_bins({"x": "double"}), score_edges=(-2.0, 0.0, 2.0)
    )
    summaries.observe(pd.DataFrame({"x": [-5.0, 3.0]}))
    scores = metrics.scores(key)
    assert scores is not None
    scores.observe(np.array([-1.0, 1.5, 4.0]))

    scraped = Metrics(generate_latest(registry).decode())

    labels = key.labels()
    assert scraped.value(contract.SCORE + "_count", **labels) == 3
    assert scraped.value(contract.SCORE + "_sum", **labels) == 4.5
    assert scraped.value(contract.FEATURE_VALUE + "_count", **labels, feature="x") == 2
    assert scraped.value(contract.FEATURE_VALUE + "_sum", **labels, feature="x") == -2.0
