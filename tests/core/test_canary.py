"""Canary analysis cannot pass on nothing, stays valid under repeated looks, and says why."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelops.core import contract
from modelops.core.canary import (
    AnalysisSettings,
    Arm,
    always_valid_p,
    analyse,
    histogram_quantile,
    holm,
    share_above,
)

BUCKETS = (*contract.LATENCY_BUCKETS, math.inf)
SCORES = (*contract.SCORE_BUCKETS, math.inf)
SETTINGS = AnalysisSettings(interval_seconds=60)


def arm(requests: float, errors: float, slow: float = 0.0, score_shift: float = 0.0) -> Arm:
    """Latencies: 98 % under 100 ms, then `slow` of them past 500 ms; scores spread evenly (shifted)."""
    share = [0.0] * len(BUCKETS)
    share[BUCKETS.index(0.1)] = 0.98 - slow
    share[BUCKETS.index(0.25)] = 0.02
    share[BUCKETS.index(0.75)] = slow
    lat = tuple(zip(BUCKETS, np.cumsum(share) * requests, strict=True))
    cells = np.full(len(SCORES), 1.0 / len(SCORES))
    if score_shift:
        cells = np.roll(cells * np.linspace(1 - score_shift, 1 + score_shift, len(SCORES)), 0)
        cells = cells / cells.sum()
    sc = tuple(zip(SCORES, np.cumsum(cells) * requests, strict=True))
    return Arm(requests=requests, errors=errors, latency=lat, scores=sc)


def verdict(canary: Arm, stable: Arm, minutes: float = 20) -> str:
    return analyse(canary, stable, SETTINGS, minutes * 60).verdict


def test_an_equal_canary_with_enough_traffic_is_promoted() -> None:
    result = analyse(arm(6000, 60), arm(54000, 540), SETTINGS, 1200)
    assert result.verdict == "promote", result.reason
    assert {m.name: m.status for m in result.metrics} == {
        "error_rate": "pass",
        "latency_p99": "pass",
        "score_distribution": "pass",
        "delayed_labels": "unused",
    }


def test_a_doubled_error_rate_aborts_naming_the_metric() -> None:
    result = analyse(arm(6000, 120), arm(54000, 540), SETTINGS, 1200)
    assert result.verdict == "abort"
    assert "error_rate" in result.reason
    assert "| error_rate | fail |" in result.markdown("churn/production canary v3")


def test_a_slower_tail_aborts_on_latency() -> None:
    result = analyse(arm(6000, 60, slow=0.03), arm(54000, 540), SETTINGS, 1200)
    assert result.verdict == "abort" and "latency_p99" in result.reason


def test_overwhelming_evidence_aborts_even_when_its_p_value_underflows_to_zero() -> None:
    # Half the canary's requests fail against none of stable's: exp(-log LR) is exactly 0.0.
    result = analyse(arm(6000, 3000, slow=0.9), arm(54000, 0), SETTINGS, 60)
    failed = {m.name: m.p_value for m in result.metrics if m.status == "fail"}
    assert result.verdict == "abort", result.reason
    assert failed["error_rate"] == 0.0 and "latency_p99" in failed


def test_a_large_score_shift_aborts_and_a_small_one_does_not() -> None:
    assert verdict(arm(6000, 60, score_shift=0.9), arm(54000, 540)) == "abort"
    assert verdict(arm(6000, 60, score_shift=0.1), arm(54000, 540)) == "promote"


def regression_arm(requests: float, edges: tuple[float, ...], shift: float = 0.0) -> Arm:
    """A regression's scores, N(5 + shift, 2), binned on its own version's edges."""
    from statistics import NormalDist

    base = arm(requests, requests / 100)
    cdf = NormalDist(5.0 + shift, 2.0).cdf
    scores = tuple((le, (cdf(le) if math.isfinite(le) else 1.0) * requests) for le in (*edges, math.inf))
    return Arm(requests=requests, errors=base.errors, latency=base.latency, scores=scores)


def test_versions_that_bin_their_scores_on_different_edges_are_compared_on_the_shared_ones() -> None:
    # A regression's bins are its training target's deciles: a retrained version's edges move.
    stable_edges = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
    canary_edges = (1.0, 2.5, 3.0, 4.5, 5.0, 6.5, 7.0, 8.5, 9.0)
    same = analyse(regression_arm(6000, canary_edges), regression_arm(54000, stable_edges), SETTINGS, 1200)
    shifted = analyse(
        regression_arm(6000, canary_edges, shift=3.0), regression_arm(54000, stable_edges), SETTINGS, 1200
    )

    assert same.verdict == "promote", same.reason
    assert shifted.verdict == "abort" and "score_distribution" in shifted.reason


def test_score_histograms_without_shared_bins_are_missing_not_compared() -> None:
    result = analyse(
        regression_arm(6000, (1.5, 2.5, 3.5)), regression_arm(54000, (1.0, 2.0, 3.0)), SETTINGS, 1200
    )

    scores = next(m for m in result.metrics if m.name == "score_distribution")
    assert scores.status == "missing" and "different edges" in scores.message


def test_low_traffic_is_inconclusive_never_an_abort_nor_a_pass() -> None:
    result = analyse(arm(40, 4), arm(400, 4), SETTINGS, 600)
    assert result.verdict == "inconclusive"
    assert "too little data" in result.metrics[0].message
    # The power check: at 4 canary requests a minute the canary cannot reach enough data in time.
    assert "more than the deadline allows (underpowered)" in result.metrics[0].message


def test_an_undecided_canary_is_told_how_much_longer_it_needs() -> None:
    result = analyse(arm(600, 6), arm(5400, 54), SETTINGS, 120)
    assert result.verdict == "inconclusive"
    assert "canary samples needed, 600 so far, about" in result.metrics[0].message


@pytest.mark.parametrize(
    "broken",
    [
        Arm(),  # no series at all
        Arm(requests=math.nan, errors=math.nan),
        Arm(requests=6000, errors=60, failures={"latency": "HTTP 503"}),
    ],
)
def test_missing_nan_or_failed_series_never_pass(broken: Arm) -> None:
    good = arm(6000, 60)
    canary = Arm(
        requests=broken.requests,
        errors=broken.errors,
        latency=None if broken.failures or broken.requests is None else good.latency,
        scores=good.scores,
        failures=broken.failures,
    )
    result = analyse(canary, arm(54000, 540), SETTINGS, 1200)
    assert result.verdict == "inconclusive"
    assert any(m.status == "missing" for m in result.metrics)


def test_past_the_deadline_an_undecided_canary_stays_inconclusive_and_expired() -> None:
    result = analyse(arm(60, 1), arm(540, 5), SETTINGS, SETTINGS.deadline_seconds + 1)
    assert result.verdict == "inconclusive" and result.expired
    assert "a human decides" in result.reason


def test_the_always_valid_p_value_controls_false_alarms_under_a_look_every_minute() -> None:
    rng = np.random.default_rng(7)
    runs, alarms = 400, 0
    for _ in range(runs):
        xc = np.cumsum(rng.binomial(300, 0.01, 120))
        xs = np.cumsum(rng.binomial(2700, 0.01, 120))
        for k in range(120):
            nc, ns = 300 * (k + 1), 2700 * (k + 1)
            pooled = (xc[k] + xs[k]) / (nc + ns)
            var = pooled * (1 - pooled) * (1 / nc + 1 / ns)
            if always_valid_p(xc[k] / nc - xs[k] / ns, var, 0.01) <= 0.01:
                alarms += 1
                break
    assert alarms / runs <= 0.02  # alpha 1 %, with sampling slack; a fixed-sample z-test gives ~20 %


def test_holm_steps_down() -> None:
    assert holm([0.001, 0.02, 0.06], 0.05) == [True, True, False]
    assert holm([0.001, 0.02, 0.04], 0.05) == [True, True, True]
    assert holm([0.03, 0.03], 0.05) == [False, False]


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = ((0.1, 50.0), (0.2, 100.0), (math.inf, 100.0))
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)
    assert share_above(0.15, buckets) == pytest.approx(0.25)


def test_settings_come_from_models_yaml_and_a_bad_deadline_names_the_field() -> None:
    from modelops.errors import BadInput

    chosen = AnalysisSettings.from_mapping({"deadline": "30m", "interval": "10m", "alpha_abort": 0.005})
    assert (chosen.deadline_seconds, chosen.interval_seconds, chosen.alpha_abort) == (1800, 600, 0.005)
    assert analyse(arm(60, 1), arm(540, 5), chosen, 1801).expired
    with pytest.raises(BadInput, match=r"models.churn.promotion.analysis.deadline: 'soon' is not a duration"):
        AnalysisSettings.from_mapping({"deadline": "soon"}, "models.churn.promotion.analysis")
