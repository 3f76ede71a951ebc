"""Drift detection on a wide window: 50 numeric features, 1M reference rows against 100k current rows.

Measured in one run, same data, same machine:
- ours: `modelops.flows.drift.analyse` on in-memory frames (reference preparation — sorting, quantile
  edges — KS, PSI, BH and verdicts for every feature);
- baseline: Evidently 0.7's KS stat test on the same frames, feature by feature (and, in quick mode,
  its whole DataDriftPreset, which takes minutes at full size);
- peer agreement: share of features whose KS p-value matches Evidently's within 1e-9, and whether both
  call the strongly shifted features drift. Features with a tiny shift are "significant" for Evidently
  at this sample size but inside our effect band, and without multiple-testing control Evidently flags
  some unshifted features by chance; both are counted and reported, not scored.
Quick mode uses a tenth of the rows.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

FEATURES = 50
STRONG = range(0, 5)  # mean shifted by half a standard deviation: drift for everyone
TINY = range(5, 10)  # shifted by 0.03 sd: significant on 100k rows, far too small to matter
GOAL_S = 3.0


def _frames(n_ref: int, n_cur: int) -> tuple[Any, Any]:
    import pandas as pd

    rng = np.random.default_rng(2025)
    reference = pd.DataFrame({f"f{i:02d}": rng.normal(0, 1, n_ref) for i in range(FEATURES)})
    shift = {**{i: 0.5 for i in STRONG}, **{i: 0.03 for i in TINY}}
    current = pd.DataFrame({f"f{i:02d}": rng.normal(shift.get(i, 0.0), 1, n_cur) for i in range(FEATURES)})
    return reference, current


def _evidently_preset(reference: Any, current: Any, columns: list[str]) -> float:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=columns)
    started = time.perf_counter()
    Report([DataDriftPreset(num_method="ks", threshold=0.01)]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    return time.perf_counter() - started


def _evidently_ks(reference: Any, current: Any, columns: list[str]) -> tuple[float, dict[str, float]]:
    """Evidently's own KS stat test, feature by feature: the preset's statistics without its report."""
    from evidently.legacy.calculations.stattests import ks_stat_test
    from evidently.legacy.core import ColumnType

    started = time.perf_counter()
    pvalues = {
        c: float(ks_stat_test(reference[c], current[c], ColumnType.Numerical, 0.01).drift_score)
        for c in columns
    }
    return time.perf_counter() - started, pvalues


def _timing(
    name: str, ours: float, baseline: str, baseline_s: float, goal: str, met: bool
) -> dict[str, object]:
    return {
        "benchmark": name,
        "value": round(ours, 3),
        "unit": "s",
        "baseline": baseline,
        "baseline_value": round(baseline_s, 3),
        "ratio": round(ours / baseline_s, 4),
        "goal": goal,
        "met": met,
    }


def _share(name: str, value: float, baseline: str) -> dict[str, object]:
    return {
        "benchmark": name,
        "value": round(value, 4),
        "unit": "share",
        "baseline": baseline,
        "baseline_value": 1.0,
        "ratio": round(value, 4),
        "goal": "1.0",
        "met": value == 1.0,
    }


def run(quick: bool) -> list[dict[str, object]]:
    from modelops.core.params import FeatureSpec
    from modelops.core.state import DriftSettings
    from modelops.flows.drift import analyse

    n_ref, n_cur = (100_000, 10_000) if quick else (1_000_000, 100_000)
    reference, current = _frames(n_ref, n_cur)
    columns = list(reference.columns)
    spec = FeatureSpec(tuple(columns), ())
    settings = DriftSettings(alpha=0.01, seasonal_reference="none")

    analyse(reference.iloc[:1000], current.iloc[:1000], spec, settings, model="bench")  # warm imports
    timings = []
    report = None
    for _ in range(1 if quick else 3):
        started = time.perf_counter()
        report = analyse(reference, current, spec, settings, model="bench")
        timings.append(time.perf_counter() - started)
    ours = statistics.median(timings)
    assert report is not None
    evidently_s, theirs = _evidently_ks(reference, current, columns)

    size = f"{FEATURES} numeric features, {n_ref:,} reference rows vs {n_cur:,} current rows"
    goal = f"≤ {GOAL_S:g} s at full size on 2 cores" + (" (quick: a tenth of the rows)" if quick else "")
    results = [
        _timing(
            f"modelops drift statistics: KS, PSI, BH, verdicts ({size})",
            ours,
            "Evidently 0.7 KS stat test, feature by feature, same frames",
            evidently_s,
            goal,
            ours <= GOAL_S and ours < evidently_s,
        )
    ]
    if quick:  # the whole preset takes minutes at full size
        preset_s = _evidently_preset(reference, current, columns)
        results.append(
            _timing(
                f"modelops drift statistics ({size})",
                ours,
                "Evidently 0.7 DataDriftPreset (KS), same frames",
                preset_s,
                "faster than the preset",
                ours < preset_s,
            )
        )

    by_name = {f.feature: f for f in report.features}
    agree_p = sum(abs(by_name[c].comparison.pvalue - theirs[c]) <= 1e-9 for c in columns) / len(columns)
    strong = [columns[i] for i in STRONG]
    unshifted = [c for i, c in enumerate(columns) if i not in STRONG and i not in TINY]
    both_drift = sum(by_name[c].drifted and theirs[c] < 0.01 for c in strong) / len(strong)
    alarms_ours = sum(by_name[c].drifted for c in unshifted)
    alarms_theirs = sum(theirs[c] < 0.01 for c in unshifted)
    tiny_theirs = sum(theirs[columns[i]] < 0.01 for i in TINY)
    tiny_ours = sum(by_name[columns[i]].drifted for i in TINY)
    results.append(
        _share(
            f"peer agreement: KS p-values within 1e-9 of Evidently's ({len(columns)} features)",
            agree_p,
            "Evidently 0.7 KS stat test",
        )
    )
    results.append(
        _share(
            "peer agreement: strongly shifted features called drift by both "
            f"(unshifted features flagged: ours {alarms_ours}, Evidently {alarms_theirs} of {len(unshifted)}; "
            f"0.03-sd shifts flagged: ours {tiny_ours}, Evidently {tiny_theirs} of {len(TINY)})",
            both_drift,
            "Evidently 0.7 KS stat test, threshold 0.01, no multiple-testing control or effect band",
        )
    )
    return results


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
