"""Golden sets of 10 million rows: the paired CI for ROC AUC (fast DeLong) and for RMSE (streaming
Poisson bootstrap), in time and peak memory, against today's path at a size today's path can do.

Each measurement runs in a fresh Python process (so its peak RSS is its own: the golden set's labels
and both models' scores, plus what the statistic needs), on two threads. Data: binormal scores for
AUC (31 % positives, like the churn golden set), and two correlated regressors for RMSE.

- AUC: `modelops.core.metrics.delong_interval` (Sun & Xu's midrank DeLong, O(n log n)) at 10M rows;
  baseline: today's exact paired bootstrap (`gate.paired_bootstrap`, B = 2,000) at 100k rows, against
  DeLong at the same 100k rows. Also: the two CIs on the same 100k rows.
- RMSE: `metrics.paired_interval` (B = 2,000; beyond 20,000 rows, rows stream into 20,000 random units)
  at 10M rows; baseline: the naive bootstrap (draw indices, sklearn's mean_squared_error per
  resample, both models) at 100k rows, timed on 100 resamples and scaled to 2,000.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FULL_ROWS = 10_000_000
BASE_ROWS = 100_000
SAMPLES = 2000
NAIVE_SAMPLES = 100
GOAL_SECONDS = 60.0
GOAL_RSS_GIB = 4.0


def _data(kind: str, n: int, seed: int = 7) -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    shared = rng.normal(size=n)
    if kind == "auc":
        y = (rng.random(n) < 0.31).astype(np.int64)
        a = 1.14 * y + math.sqrt(0.9) * shared + math.sqrt(0.1) * rng.normal(size=n)
        b = 1.10 * y + math.sqrt(0.9) * shared + math.sqrt(0.1) * rng.normal(size=n)
        return y, a, b
    y = rng.normal(3.0, 2.0, size=n)
    a = y + 0.8 * shared + 0.3 * rng.normal(size=n)
    b = y + 0.8 * shared + 0.31 * rng.normal(size=n)
    return y, a, b


def measure(what: str, n: int) -> dict[str, Any]:
    """Run in a child process: time one CI computation and report the process's peak RSS."""
    import resource
    import time

    from threadpoolctl import threadpool_limits

    from modelops.core import gate, metrics

    kind = "auc" if what.startswith("auc") else "rmse"
    y, a, b = _data(kind, n)
    started = time.perf_counter()
    with threadpool_limits(limits=2):
        if what == "auc_delong":
            result = metrics.delong_interval(y, a, b)
        elif what == "auc_bootstrap":
            result = gate.paired_bootstrap(y, a, b, SAMPLES, seed=1, workers=2)
        elif what == "rmse_poisson":
            result = metrics.paired_interval(metrics.metric("regression", "rmse"), y, a, b, SAMPLES, seed=1)
        elif what == "rmse_naive":
            import numpy as np
            from sklearn.metrics import mean_squared_error

            rng = np.random.default_rng(1)
            gains = []
            for _ in range(NAIVE_SAMPLES):
                rows = rng.integers(0, n, size=n)
                gains.append(
                    math.sqrt(mean_squared_error(y[rows], a[rows]))
                    - math.sqrt(mean_squared_error(y[rows], b[rows]))
                )
            seconds = (time.perf_counter() - started) * SAMPLES / NAIVE_SAMPLES
            return {"seconds": seconds, "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
        else:
            raise ValueError(what)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "ci": [result.ci_low, result.ci_high],
        "delta": result.delta,
    }


def _child(what: str, n: int) -> dict[str, Any]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from bench.bench_metrics import measure; "
        "print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), what, str(n)], capture_output=True, text=True, check=True
    )
    loaded: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def _row(
    benchmark: str, value: float, unit: str, baseline: str, baseline_value: float, goal: str, met: bool
) -> dict[str, Any]:
    ratio = value / baseline_value if baseline_value else math.inf
    return {
        "benchmark": benchmark,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": ratio,
        "goal": goal,
        "met": met,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    full = 1_000_000 if quick else FULL_ROWS
    size = f"{full:,} rows" + (" (quick)" if quick else "")
    rows: list[dict[str, Any]] = []

    delong_base = _child("auc_delong", BASE_ROWS)
    bootstrap_base = _child("auc_bootstrap", BASE_ROWS)
    rows.append(
        _row(
            f"paired AUC CI, {BASE_ROWS:,} rows: fast DeLong",
            delong_base["seconds"],
            "s",
            f"today's exact paired bootstrap, B={SAMPLES}, same rows",
            bootstrap_base["seconds"],
            "faster than the bootstrap",
            delong_base["seconds"] < bootstrap_base["seconds"],
        )
    )
    width_delong = delong_base["ci"][1] - delong_base["ci"][0]
    width_boot = bootstrap_base["ci"][1] - bootstrap_base["ci"][0]
    rows.append(
        _row(
            f"paired AUC CI width, {BASE_ROWS:,} rows: DeLong [{delong_base['ci'][0]:+.5f}, {delong_base['ci'][1]:+.5f}]",
            width_delong,
            "AUC",
            f"bootstrap [{bootstrap_base['ci'][0]:+.5f}, {bootstrap_base['ci'][1]:+.5f}]",
            width_boot,
            "widths within 10 %",
            abs(width_delong / width_boot - 1) <= 0.10,
        )
    )
    delong_full = _child("auc_delong", full)
    rows.append(
        _row(
            f"paired AUC CI (fast DeLong), {size}",
            delong_full["seconds"],
            "s",
            f"DeLong at {BASE_ROWS:,} rows × {full // BASE_ROWS} (linear)",
            delong_base["seconds"] * full / BASE_ROWS,
            f"≤ {GOAL_SECONDS:g} s on 2 cores",
            delong_full["seconds"] <= GOAL_SECONDS,
        )
    )
    rows.append(
        _row(
            f"paired AUC CI (fast DeLong), {size}: peak RSS",
            delong_full["rss_gib"],
            "GiB",
            f"the same at {BASE_ROWS:,} rows",
            delong_base["rss_gib"],
            f"≤ {GOAL_RSS_GIB:g} GiB",
            delong_full["rss_gib"] <= GOAL_RSS_GIB,
        )
    )

    poisson_base = _child("rmse_poisson", BASE_ROWS)
    naive_base = _child("rmse_naive", BASE_ROWS)
    rows.append(
        _row(
            f"paired RMSE CI, {BASE_ROWS:,} rows: streaming Poisson bootstrap, B={SAMPLES}",
            poisson_base["seconds"],
            "s",
            f"naive index bootstrap with sklearn per resample, B={SAMPLES} (timed on {NAIVE_SAMPLES})",
            naive_base["seconds"],
            "faster than the naive loop",
            poisson_base["seconds"] < naive_base["seconds"],
        )
    )
    poisson_full = _child("rmse_poisson", full)
    rows.append(
        _row(
            f"paired RMSE CI (streaming Poisson bootstrap, B={SAMPLES}), {size}",
            poisson_full["seconds"],
            "s",
            f"the same at {BASE_ROWS:,} rows",
            poisson_base["seconds"],
            f"≤ {GOAL_SECONDS:g} s on 2 cores",
            poisson_full["seconds"] <= GOAL_SECONDS,
        )
    )
    rows.append(
        _row(
            f"paired RMSE CI (streaming Poisson bootstrap), {size}: peak RSS",
            poisson_full["rss_gib"],
            "GiB",
            f"the same at {BASE_ROWS:,} rows",
            poisson_base["rss_gib"],
            f"≤ {GOAL_RSS_GIB:g} GiB",
            poisson_full["rss_gib"] <= GOAL_RSS_GIB,
        )
    )
    return rows
