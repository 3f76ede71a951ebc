"""The drift statistics agree with scipy, count what they claim to count, and give sound verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.core.drift import (
    CategoricalCounts,
    NumericHistogram,
    NumericReference,
    NumericSample,
    assess,
    benjamini_hochberg,
    bin_counts,
    chi_square,
    chi_square_against_reference,
    compare_categorical,
    compare_numeric,
    ks_2samp,
    psi,
    quantile_edges,
)
from modelops.core.state import DriftSettings

TOL = 1e-9


@pytest.mark.parametrize(
    ("n1", "n2", "kind"),
    [
        (40, 40, "continuous"),  # equal sizes: exact, square lattice
        (37, 91, "continuous"),  # unequal sizes: exact, Hodges' method
        (500, 9000, "ties"),  # exact regime with heavy ties
        (12000, 300, "ties"),  # asymptotic regime with ties
        (20000, 15000, "continuous"),  # asymptotic, both large
        (3, 2, "ties"),
    ],
)
def test_ks_agrees_with_scipy(n1: int, n2: int, kind: str) -> None:
    rng = np.random.default_rng(n1 * 7 + n2)
    if kind == "ties":
        a = rng.integers(0, 6, n1).astype(float)
        b = rng.integers(0, 7, n2).astype(float)
    else:
        a = rng.normal(0, 1, n1)
        b = rng.normal(0.15, 1.1, n2)
    ours = ks_2samp(a, b)
    theirs = scipy.stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=TOL)
    assert ours.pvalue == pytest.approx(theirs.pvalue, abs=TOL)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=40),
    st.lists(st.integers(-3, 4).map(lambda x: x / 2), min_size=1, max_size=40),
)
def test_ks_agrees_with_scipy_on_any_small_samples_with_ties(a: list[float], b: list[float]) -> None:
    ours = ks_2samp(a, b)
    theirs = scipy.stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=TOL)
    assert ours.pvalue == pytest.approx(theirs.pvalue, abs=TOL)


def test_ks_pvalue_on_a_large_clear_shift_is_negligible_like_scipys() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 200_000), rng.normal(0.1, 1, 50_000)
    ours, theirs = ks_2samp(a, b), scipy.stats.ks_2samp(a, b)
    assert ours.statistic == theirs.statistic
    assert ours.pvalue == pytest.approx(theirs.pvalue, abs=TOL)
    assert ours.pvalue < 1e-12


def test_chi_square_agrees_with_scipy_including_categories_unseen_on_either_side() -> None:
    reference = {"a": 500, "b": 300, "c": 200, "gone": 40}
    current = {"a": 260, "b": 140, "c": 90, "new": 25}
    result = chi_square_against_reference(reference, current)
    assert result.categories == ("a", "b", "c", "gone", "new")
    assert result.observed == (260, 140, 90, 0, 25)
    # Smoothing gives the unseen category a small positive expectation; totals match the window.
    assert all(e > 0 for e in result.expected)
    assert sum(result.expected) == pytest.approx(sum(current.values()))
    theirs = scipy.stats.chisquare(result.observed, result.expected)
    assert result.statistic == pytest.approx(theirs.statistic, abs=TOL)
    assert result.pvalue == pytest.approx(theirs.pvalue, abs=TOL)
    assert result.pvalue < 1e-6  # 25 rows in a category training never saw


def test_chi_square_agrees_with_scipy_on_raw_arrays() -> None:
    observed = [18.0, 22.0, 31.0, 29.0]
    expected = [25.0, 25.0, 25.0, 25.0]
    theirs = scipy.stats.chisquare(observed, expected)
    assert chi_square(observed, expected) == pytest.approx((theirs.statistic, theirs.pvalue), abs=TOL)


def test_bins_follow_prometheus_le_and_count_values_outside_the_training_range() -> None:
    edges = np.array([1.0, 2.0, 3.0])
    # -50 and 99 are outside anything training saw: the open outer bins still count them.
    counts = bin_counts([-50.0, 1.0, 1.5, 2.0, 3.0, 3.0001, 99.0], edges)
    assert counts.tolist() == [2.0, 2.0, 1.0, 2.0]


def test_psi_sees_a_window_that_moved_entirely_out_of_range() -> None:
    rng = np.random.default_rng(5)
    reference = NumericReference.from_values(rng.uniform(0, 10, 5000))
    assert reference.edges.size == 9
    inside = compare_numeric("x", reference, NumericSample.of(rng.uniform(0, 10, 2000)))
    outside = compare_numeric("x", reference, NumericSample.of(rng.uniform(50, 60, 2000)))
    assert inside.psi < 0.02
    assert outside.current_share[-1] == 1.0  # all in the open top bin, none dropped
    assert outside.psi > 5


def test_psi_uses_epsilon_for_empty_bins() -> None:
    value = psi([50, 50, 0], [50, 40, 10])
    p, q = np.array([0.5, 0.5, 1e-4]), np.array([0.5, 0.4, 0.1])
    assert value == pytest.approx(float(((q - p) * np.log(q / p)).sum()))


def test_quantile_edges_are_values_of_the_reference_with_ties_merged() -> None:
    edges = quantile_edges(np.sort(np.repeat([0.0, 1.0, 2.0, 5.0], [500, 300, 150, 50])))
    assert edges.tolist() == [0.0, 1.0, 2.0]


def test_benjamini_hochberg_matches_scipy() -> None:
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(0, 1, 30), rng.uniform(0, 0.001, 5), [1.0, 0.0]])
    assert benjamini_hochberg(p.tolist()) == pytest.approx(scipy.stats.false_discovery_control(p), abs=TOL)
    assert benjamini_hochberg([]) == []


BANDS = DriftSettings(alpha=0.01, psi_watch=0.1, psi_drift=0.2, pipeline_bug_psi=0.5, top_features=("x",))


def test_a_tiny_but_significant_shift_on_a_large_sample_is_not_drift() -> None:
    rng = np.random.default_rng(8)
    reference = NumericReference.from_values(rng.normal(0, 1, 400_000))
    comparison = compare_numeric("x", reference, NumericSample.of(rng.normal(0.04, 1, 200_000)))
    report = assess("m", "production", "whole", [comparison], BANDS)
    (result,) = report.features
    assert result.p_adjusted < 1e-6  # significant...
    assert comparison.psi < 0.01 and comparison.ks_d is not None and comparison.ks_d < 0.05  # ...but tiny
    assert result.status == "stable" and not report.drift


def test_a_real_shift_is_drift_and_an_identical_feature_is_not() -> None:
    rng = np.random.default_rng(9)
    ref_x, ref_y = rng.normal(0, 1, 20_000), rng.normal(0, 1, 20_000)
    shifted = compare_numeric(
        "x", NumericReference.from_values(ref_x), NumericSample.of(rng.normal(0.6, 1, 5000))
    )
    same = compare_numeric("y", NumericReference.from_values(ref_y), NumericSample.of(rng.normal(0, 1, 5000)))
    report = assess("m", "production", "whole", [shifted, same], BANDS)
    assert [f.status for f in report.features] == ["drift", "stable"]
    assert report.drift and report.severity == "major"  # x is a top feature
    assert report.drifted_features == ("x",)


def test_drift_only_outside_the_top_features_is_minor() -> None:
    rng = np.random.default_rng(10)
    moved = compare_numeric(
        "other",
        NumericReference.from_values(rng.normal(0, 1, 8000)),
        NumericSample.of(rng.normal(1, 1, 3000)),
    )
    report = assess("m", "production", "whole", [moved], BANDS, previous_psi={"other": 0.45})
    assert report.severity == "minor"


def test_benjamini_hochberg_is_applied_across_features_before_the_verdict() -> None:
    # A p-value of 0.004 passes alpha 0.01 alone, but not among 10 tests where the rest are null.
    rng = np.random.default_rng(12)
    ref = NumericReference.from_values(rng.normal(0, 1, 3000))
    borderline = compare_numeric("x", ref, NumericSample.of(rng.normal(0, 1, 3000)))
    forged = [
        type(borderline)(**{**borderline.__dict__, "feature": f"f{i}", "pvalue": p, "psi": 0.3})
        for i, p in enumerate([0.004] + [0.5] * 9)
    ]
    report = assess("m", "production", "whole", forged, DriftSettings(alpha=0.01, psi_drift=0.2))
    assert report.features[0].p_adjusted == pytest.approx(0.04)
    assert report.features[0].status != "drift"


def test_pipeline_signals_are_reported_apart_and_never_count_as_drift() -> None:
    rng = np.random.default_rng(13)
    ref = NumericReference.from_values(rng.normal(0, 1, 5000))
    constant = compare_numeric("const", ref, NumericSample.of(np.full(2000, 3.0)))
    values = rng.normal(0, 1, 2000)
    values[:400] = np.nan
    nulls = compare_numeric("nulls", ref, NumericSample.of(values))
    jump = compare_numeric("jump", ref, NumericSample.of(rng.normal(4, 1, 2000)))
    cats = compare_categorical(
        "plan",
        CategoricalCounts({"basic": 600, "premium": 400}),
        CategoricalCounts({"basic": 500, "premium": 300, "Basic ": 200}),
    )
    report = assess(
        "m", "production", "whole", [constant, nulls, jump, cats], BANDS, previous_psi={"jump": 0.01}
    )
    kinds = {(s.feature, s.kind) for s in report.pipeline_signals}
    assert {
        ("const", "constant"),
        ("nulls", "null_rate_jump"),
        ("jump", "psi_jump"),
        ("plan", "new_categories"),
    } <= kinds
    assert all(f.status == "pipeline_suspect" for f in report.features)
    assert not report.drift


def test_a_psi_that_was_already_high_last_window_is_drift_not_a_sudden_jump() -> None:
    rng = np.random.default_rng(14)
    ref = NumericReference.from_values(rng.normal(0, 1, 5000))
    moved = compare_numeric("x", ref, NumericSample.of(rng.normal(1.5, 1, 2000)))
    report = assess("m", "production", "whole", [moved], BANDS, previous_psi={"x": 0.9})
    assert report.features[0].status == "drift"
    assert not report.pipeline_signals


def test_histogram_summaries_compare_like_raw_values() -> None:
    rng = np.random.default_rng(15)
    ref = NumericReference.from_values(rng.normal(0, 1, 20_000))
    raw = rng.normal(0.5, 1, 5000)
    histogram = NumericHistogram(ref.edges, bin_counts(raw, ref.edges), n_missing=0)
    from_raw = compare_numeric("x", ref, NumericSample.of(raw))
    from_hist = compare_numeric("x", ref, histogram)
    assert from_hist.test == "chi2_binned"
    assert from_hist.psi == pytest.approx(from_raw.psi, abs=1e-12)
    # D at the bin edges is a lower bound of the exact D, and close to it with ten bins.
    assert from_hist.ks_d is not None and from_raw.ks_d is not None
    assert from_hist.ks_d <= from_raw.ks_d + 1e-12
    assert from_hist.ks_d > 0.8 * from_raw.ks_d
    expected = np.array(from_hist.reference_share) * 5000
    theirs = scipy.stats.chisquare(
        bin_counts(raw, ref.edges), (ref.counts + 0.5) / (ref.counts + 0.5).sum() * 5000
    )
    assert from_hist.statistic == pytest.approx(theirs.statistic, abs=1e-6)
    assert expected.sum() == pytest.approx(5000)


def test_quantile_edges_of_continuous_data_split_it_into_equal_shares() -> None:
    values = np.sort(np.random.default_rng(16).normal(size=10_000))
    edges = quantile_edges(values, 10)
    assert edges.size == 9
    shares = bin_counts(values, edges) / values.size
    assert np.allclose(shares, 0.1, atol=0.001)


def test_a_large_psi_without_a_previous_window_is_drift_since_nothing_says_it_was_sudden() -> None:
    rng = np.random.default_rng(17)
    ref = NumericReference.from_values(rng.normal(0, 1, 5000))
    moved = compare_numeric("x", ref, NumericSample.of(rng.normal(4, 1, 2000)))
    report = assess("m", "production", "whole", [moved], BANDS, previous_psi=None)
    assert moved.psi > BANDS.pipeline_bug_psi
    assert report.features[0].status == "drift" and not report.pipeline_signals
