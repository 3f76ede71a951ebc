"""Canary analysis: how often it is right, and how fast, on simulated canary traffic.

Setting (issue 14): 50 requests/s, the canary takes 10 % (5/s), the stable error rate is 1 %.
Latency is log-normal (σ = 0.5) with a stable p99 of 400 ms, observed through the contract's
histogram buckets; scores come from the same Beta(2, 5) on both sides. The analysis
(`modelops.core.canary.analyse`, the defaults `modelops analyze` uses) looks once a minute at the
counts since the canary started, until it says promote or abort or the 2-hour deadline passes.

Scenarios: an equal canary (an abort is a false abort), a canary whose error rate doubles to 2 %,
and one whose latency rises by 50 % (p99 600 ms) (a promote, or no abort by the deadline, is a
missed abort). Beside it, the plain rules of monitoring/rules/model-rollback.yaml on the canary's
own series: "error rate over 5 min > 2 % for 5 min" and "p99 over 5 min > 500 ms for 5 min",
evaluated once a minute after the 5-minute burn-in; when they never fire in the hour, the canary
is promoted.
"""

from __future__ import annotations

import math
from statistics import median
from typing import Any

import numpy as np

from modelops.core import contract
from modelops.core.canary import AnalysisSettings, Arm, analyse

RATE = 50.0
CANARY_SHARE = 0.10
STABLE_ERROR = 0.01
SIGMA = 0.5
STABLE_P99 = 0.4
Z99 = 2.3263478740408408
LOOK_S = 60
PLAIN_HOUR = 60
GOALS = {"false_abort": 0.01, "missed_abort": 0.05, "median_minutes": 20.0}
BUCKETS = (*contract.LATENCY_BUCKETS, math.inf)
SCORE_EDGES = (*contract.SCORE_BUCKETS, math.inf)


def _latency_cells(median_s: float) -> np.ndarray:
    from scipy.stats import norm  # type: ignore[import-untyped]

    cdf = [norm.cdf((math.log(b) - math.log(median_s)) / SIGMA) if math.isfinite(b) else 1.0 for b in BUCKETS]
    return np.diff(np.array([0.0, *cdf]))


def _score_cells() -> np.ndarray:
    from scipy.stats import beta  # type: ignore[import-untyped]

    cdf = [beta.cdf(b, 2, 5) if math.isfinite(b) else 1.0 for b in SCORE_EDGES]
    return np.diff(np.array([0.0, *cdf]))


def _minute(
    rng: np.random.Generator, n: int, error: float, lat: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """One minute of one arm: [requests, errors, latency cells…, score cells…]."""
    return np.concatenate(([n, rng.binomial(n, error)], rng.multinomial(n, lat), rng.multinomial(n, scores)))


def _arm(total: np.ndarray) -> Arm:
    k = len(BUCKETS)
    lat = np.cumsum(total[2 : 2 + k])
    sc = np.cumsum(total[2 + k :])
    return Arm(
        requests=float(total[0]),
        errors=float(total[1]),
        latency=tuple(zip(BUCKETS, map(float, lat), strict=True)),
        scores=tuple(zip(SCORE_EDGES, map(float, sc), strict=True)),
    )


def _plain_fires(window: list[np.ndarray], minute: int, burn_in: int = 5) -> bool:
    """Did a plain rule hold for the last 5 evaluations (`for: 5m`), each over a 5-minute window?"""
    if minute < burn_in + 5:
        return False
    k = len(BUCKETS)
    for end in range(minute - 4, minute + 1):
        rows = np.sum(window[max(0, end - 5) : end], axis=0)
        error_high = rows[1] / rows[0] > 0.02
        lat = np.cumsum(rows[2 : 2 + k])
        from modelops.core.canary import histogram_quantile

        p99 = histogram_quantile(0.99, tuple(zip(BUCKETS, map(float, lat), strict=True)))
        if not (error_high or (p99 is not None and p99 > 0.5)):
            return False
    return True


def simulate(scenario: str, trials: int, seed: int = 14) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    settings = AnalysisSettings(interval_seconds=LOOK_S)
    stable_median = STABLE_P99 / math.exp(Z99 * SIGMA)
    canary_error = 2 * STABLE_ERROR if scenario == "error" else STABLE_ERROR
    canary_median = stable_median * (1.5 if scenario == "latency" else 1.0)
    lat_s, lat_c, scores = _latency_cells(stable_median), _latency_cells(canary_median), _score_cells()
    n_c = int(RATE * CANARY_SHARE * LOOK_S)
    n_s = int(RATE * (1 - CANARY_SHARE) * LOOK_S)
    minutes = settings.deadline_seconds // LOOK_S
    outcome = {"abort": 0, "promote": 0, "inconclusive": 0}
    times: list[float] = []
    plain = {"abort": 0, "promote": 0}
    plain_times: list[float] = []
    for _ in range(trials):
        total_c = np.zeros(2 + len(BUCKETS) + len(SCORE_EDGES))
        total_s = np.zeros_like(total_c)
        canary_minutes: list[np.ndarray] = []
        verdict, plain_verdict = "inconclusive", None
        for minute in range(1, minutes + 1):
            row_c = _minute(rng, n_c, canary_error, lat_c, scores)
            total_c += row_c
            total_s += _minute(rng, n_s, STABLE_ERROR, lat_s, scores)
            canary_minutes.append(row_c)
            if plain_verdict is None and minute <= PLAIN_HOUR and _plain_fires(canary_minutes, minute):
                plain_verdict = "abort"
                plain_times.append(minute)
            if verdict == "inconclusive":
                result = analyse(_arm(total_c), _arm(total_s), settings, minute * LOOK_S)
                if result.verdict != "inconclusive":
                    verdict = result.verdict
                    times.append(minute)
            if verdict != "inconclusive" and (plain_verdict is not None or minute >= PLAIN_HOUR):
                break
        outcome[verdict] += 1
        plain[plain_verdict or "promote"] += 1
    return {
        "outcome": {k: v / trials for k, v in outcome.items()},
        "median_minutes": median(times) if times else math.inf,
        "plain": {k: v / trials for k, v in plain.items()},
        "plain_median_minutes": median(plain_times) if plain_times else math.inf,
    }


def _row(
    name: str, value: float, unit: str, baseline: str, base: float, goal: str, met: bool
) -> dict[str, Any]:
    ratio = value / base if base not in (0, math.inf) and math.isfinite(value) else float("nan")
    return {
        "benchmark": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(base, 4) if math.isfinite(base) else base,
        "ratio": round(ratio, 3) if math.isfinite(ratio) else "n/a",
        "goal": goal,
        "met": met,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    trials = 60 if quick else 1000
    equal = simulate("equal", trials)
    rows = [
        _row(
            f"canary false abort, equal canary ({trials} runs)",
            equal["outcome"]["abort"],
            "share",
            "plain rules",
            equal["plain"]["abort"],
            "≤ 0.01",
            equal["outcome"]["abort"] <= GOALS["false_abort"],
        )
    ]
    for scenario, label in (("error", "error rate 1 % → 2 %"), ("latency", "p99 +50 %")):
        got = simulate(scenario, trials)
        missed = 1 - got["outcome"]["abort"]
        rows.append(
            _row(
                f"canary missed abort, {label}",
                missed,
                "share",
                "plain rules",
                got["plain"]["promote"],
                "≤ 0.05",
                missed <= GOALS["missed_abort"],
            )
        )
        rows.append(
            _row(
                f"canary median time to abort, {label}",
                got["median_minutes"],
                "min",
                "plain rules",
                got["plain_median_minutes"],
                "≤ 20",
                got["median_minutes"] <= GOALS["median_minutes"],
            )
        )
    rows.append(
        _row(
            "canary median time to promote, equal canary",
            equal["median_minutes"],
            "min",
            "plain rules (fixed hour)",
            PLAIN_HOUR,
            "report",
            True,
        )
    )
    return rows
