"""The gate's statistics and decision, as specifications (no MLflow, no files)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from modelops.core import gate
from modelops.core.state import GateSettings

SETTINGS = GateSettings(
    margin=-0.005,
    floor=0.7,
    bootstrap_samples=500,
    seed=11,
    slices=("plan",),
    min_slice_rows=50,
    slice_margin=0.03,
    ece_margin=0.02,
    latency_budget_ms=200,
    sensitive_column="senior",
    fairness_min_ratio=0.8,
)


def binormal(n: int, auc_shift: float, rho: float, seed: int, prevalence: float = 0.3):
    """Labels and two correlated score vectors; `auc_shift` moves the second model's separation."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    shared = rng.normal(size=n)
    a = 1.2 * y + math.sqrt(rho) * shared + math.sqrt(1 - rho) * rng.normal(size=n)
    b = (1.2 + auc_shift) * y + math.sqrt(rho) * shared + math.sqrt(1 - rho) * rng.normal(size=n)
    return y, a, b


@pytest.mark.parametrize("decimals", [None, 1, 0])
def test_auc_equals_sklearn_with_and_without_ties(decimals) -> None:
    y, a, _ = binormal(3000, 0.0, 0.5, seed=1)
    scores = a if decimals is None else np.round(a, decimals)
    assert gate.roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-15)


def test_vectorised_bootstrap_equals_sklearn_on_the_same_resamples() -> None:
    y, a, b = binormal(400, 0.2, 0.7, seed=2)
    b = np.round(b, 1)  # ties within and across classes
    samples, seed = 120, 99
    vectorised = gate.bootstrap_aucs(y, [a, b], samples, seed)
    order = gate.resample_order(y, a)
    rows = order[np.concatenate(list(gate.resample_blocks(len(y), samples, seed)))]
    assert rows.shape == (samples, len(y))
    naive = np.array([[roc_auc_score(y[r], s[r]) for r in rows] for s in (a, b)])
    assert np.max(np.abs(vectorised - naive)) <= 4e-16


def test_bootstrap_is_reproducible_from_its_seed_and_independent_of_threads() -> None:
    y, a, b = binormal(2000, 0.0, 0.8, seed=3)
    one = gate.bootstrap_aucs(y, [a, b], 700, seed=5, workers=1)
    two = gate.bootstrap_aucs(y, [a, b], 700, seed=5, workers=2)
    other = gate.bootstrap_aucs(y, [a, b], 700, seed=6, workers=2)
    assert np.array_equal(one, two)
    assert not np.array_equal(one, other)


def test_a_resample_without_both_classes_is_nan_not_a_number_that_passes() -> None:
    y = np.array([1, 0, 0, 0])
    aucs = gate.bootstrap_aucs(y, [np.array([0.9, 0.1, 0.2, 0.3])], 200, seed=1)[0]
    assert np.isnan(aucs).any() and np.isfinite(aucs).any()
    assert np.nanmin(aucs) == 1.0


def test_paired_ci_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    """Equal true AUCs: the 95 % CI of the difference should contain 0 in roughly 95 % of datasets."""
    covered = 0
    trials = 120
    for t in range(trials):
        y, a, b = binormal(600, 0.0, 0.7, seed=1000 + t)
        boot = gate.paired_bootstrap(y, a, b, samples=400, seed=t)
        covered += boot.ci_low <= 0.0 <= boot.ci_high
    assert 0.86 <= covered / trials <= 1.0


def test_pairing_makes_the_interval_narrower_than_for_independent_scores() -> None:
    y, a, b = binormal(2000, 0.0, 0.9, seed=4)
    paired = gate.paired_bootstrap(y, a, b, samples=500, seed=1)
    rng = np.random.default_rng(0)
    independent = gate.paired_bootstrap(y, a, rng.permutation(b), samples=500, seed=1)
    assert (paired.ci_high - paired.ci_low) < 0.5 * (independent.ci_high - independent.ci_low)


def test_ece_of_perfect_and_of_badly_calibrated_probabilities() -> None:
    rng = np.random.default_rng(5)
    p = rng.random(200_000)
    y = (rng.random(p.size) < p).astype(int)
    assert gate.expected_calibration_error(y, p) < 0.01
    # Always predicting 0.9 for a 30 % base rate: off by 0.6.
    y2 = (rng.random(10_000) < 0.3).astype(int)
    assert gate.expected_calibration_error(y2, np.full(10_000, 0.9)) == pytest.approx(0.6, abs=0.02)
    # Hand-checked: bin [0.1, 0.2) holds 0.1, 0.1 with labels 0, 1 → |0.5 − 0.1| · 2/4;
    # bin [0.8, 0.9) holds 0.8, 0.8 with labels 1, 1 → |1 − 0.8| · 2/4.
    assert gate.expected_calibration_error([0, 1, 1, 1], [0.1, 0.1, 0.8, 0.8]) == pytest.approx(0.3)


def test_slices_are_judged_only_with_enough_rows_and_both_classes() -> None:
    y, a, b = binormal(1000, 0.0, 0.8, seed=6)
    plan = np.where(np.arange(1000) < 960, "basic", "premium")  # premium: 40 rows, below 50
    y = y.copy()
    results = gate.slice_metrics(y, a, b, {"plan": plan}, min_rows=50)
    by_value = {r.value: r for r in results}
    assert by_value["basic"].evaluable and not by_value["premium"].evaluable
    mask = plan == "basic"
    assert by_value["basic"].challenger == pytest.approx(roc_auc_score(y[mask], b[mask]), abs=1e-15)


def test_a_slice_regression_blocks_even_when_the_overall_metric_passes() -> None:
    y, a, _ = binormal(2000, 0.0, 0.8, seed=7)
    plan = np.where(np.arange(2000) % 4 == 0, "premium", "basic")
    challenger = a.copy()
    rng = np.random.default_rng(1)
    premium = plan == "premium"
    challenger[premium] = rng.normal(size=int(premium.sum()))  # no skill on premium
    slices = gate.slice_metrics(y, a, challenger, {"plan": plan}, min_rows=50)
    decision = gate.decide(
        SETTINGS,
        challenger_value=0.8,
        bootstrap=_boot(ci_low=0.01),
        slices=slices,
        ece_champion=0.02,
        ece_challenger=0.02,
        latency_p99_ms=5,
        fairness=_fair(0.95),
        has_champion=True,
    )
    assert not decision.passed
    assert [c.name for c in decision.failed] == ["slice.plan=premium"]


def test_fairness_ratio_is_min_over_max_of_group_aucs() -> None:
    y, a, _ = binormal(4000, 0.0, 0.8, seed=8)
    senior = np.where(np.arange(4000) % 5 == 0, "yes", "no")
    scores = a.copy()
    rng = np.random.default_rng(2)
    scores[senior == "yes"] = rng.normal(size=int((senior == "yes").sum()))  # random for seniors
    result = gate.group_parity(y, scores, senior, "senior")
    yes, no = senior == "yes", senior == "no"
    expected = roc_auc_score(y[yes], scores[yes]) / roc_auc_score(y[no], scores[no])
    assert result.ratio == pytest.approx(expected)
    assert result.ratio < 0.8
    assert set(result.selection_rates) == set(result.true_positive_rates) == {"no", "yes"}


def test_fairness_with_a_group_lacking_a_class_is_nan_and_fails_the_check() -> None:
    y = np.array([1, 0, 1, 0, 1, 1])
    groups = np.array(["a", "a", "a", "a", "b", "b"])
    result = gate.group_parity(y, np.linspace(0, 1, 6), groups, "g")
    assert math.isnan(result.ratio)
    decision = _decide(fairness=result)
    assert [c.name for c in decision.failed] == ["fairness.auc_ratio[senior]"]
    assert "missing metric" in decision.failed[0].detail


def _boot(ci_low: float, delta: float = 0.01) -> gate.PairedBootstrap:
    return gate.PairedBootstrap(
        champion=0.78,
        challenger=0.78 + delta,
        delta=delta,
        ci_low=ci_low,
        ci_high=delta + 0.01,
        confidence=0.95,
        samples=500,
        seed=1,
        degenerate=0,
    )


def _fair(ratio: float) -> gate.FairnessResult:
    return gate.FairnessResult(column="senior", ratio=ratio, rates={"no": 0.8, "yes": 0.8 * ratio})


def _decide(**overrides) -> gate.GateDecision:
    kwargs = dict(
        challenger_value=0.8,
        bootstrap=_boot(ci_low=0.001),
        slices=(),
        ece_champion=0.02,
        ece_challenger=0.03,
        latency_p99_ms=12.0,
        fairness=_fair(0.9),
        has_champion=True,
    )
    kwargs.update(overrides)
    settings = kwargs.pop("settings", SETTINGS)
    return gate.decide(settings, **kwargs)


def test_all_checks_passing_promotes() -> None:
    decision = _decide()
    assert decision.passed
    assert [c.kind for c in decision.checks] == ["primary", "floor", "calibration", "latency", "fairness"]


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        ({"bootstrap": _boot(ci_low=-0.006)}, "roc_auc.delta_ci_low"),
        ({"challenger_value": 0.69}, "roc_auc.floor"),
        ({"ece_challenger": 0.0401}, "calibration.ece"),
        ({"latency_p99_ms": 200.5}, "latency.p99_ms"),
        ({"fairness": _fair(0.79)}, "fairness.auc_ratio[senior]"),
    ],
)
def test_each_guardrail_alone_blocks(overrides, failing) -> None:
    decision = _decide(**overrides)
    assert not decision.passed
    assert [c.name for c in decision.failed] == [failing]
    check = decision.failed[0]
    assert check.value is not None and check.threshold is not None


def test_the_ci_lower_bound_must_exceed_the_margin_strictly() -> None:
    assert gate.primary_passes(-0.0049, -0.005)
    assert not gate.primary_passes(-0.005, -0.005)
    assert not gate.primary_passes(float("nan"), -0.005)


@pytest.mark.parametrize(
    "overrides",
    [
        {"challenger_value": float("nan")},
        {"bootstrap": _boot(ci_low=float("nan"))},
        {"bootstrap": None},
        {"ece_champion": None},
        {"ece_challenger": float("nan")},
        {"latency_p99_ms": None},
        {"fairness": None},
    ],
)
def test_a_missing_metric_fails_closed(overrides) -> None:
    decision = _decide(**overrides)
    assert not decision.passed
    assert any("missing metric" in c.detail for c in decision.failed)


def test_without_a_champion_only_floor_latency_and_fairness_are_judged() -> None:
    decision = _decide(bootstrap=None, ece_champion=None, has_champion=False)
    assert decision.passed
    assert [c.kind for c in decision.checks] == ["floor", "latency", "fairness"]
    assert decision.plain_rule["passed"] is None


def test_no_fairness_check_without_a_sensitive_column() -> None:
    decision = _decide(settings=replace(SETTINGS, sensitive_column=None), fairness=None)
    assert decision.passed
    assert "fairness" not in {c.kind for c in decision.checks}


def test_plain_rule_is_reported_not_enforced() -> None:
    decision = _decide(bootstrap=_boot(ci_low=0.001, delta=0.003))
    assert decision.passed
    assert decision.plain_rule["passed"] is False
