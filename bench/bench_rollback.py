"""Rollbacks under push contention: p99 time for each of N writers rolling back different models at
once (each a process with its own clone of one origin, as writers on separate runners are), against
one rollback alone measured in the same run."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(quick: bool) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.rollback.contention import roll_back_all, seed

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-rollback-") as tmp:
        work = Path(tmp)
        alone = []
        for i in range(1 if quick else 3):
            root = work / f"alone-{i}"
            root.mkdir()
            origin, models = seed(root, 1)
            alone += roll_back_all(root, origin, models, processes=True)
        baseline = statistics.median(alone)
        for writers in (10,) if quick else (10, 50):
            root = work / f"writers-{writers}"
            root.mkdir()
            origin, models = seed(root, writers)
            times = roll_back_all(root, origin, models, processes=True)  # raises if any writer gave up
            p99 = _p99(times)
            rows.append(
                {
                    "benchmark": f"rollback p99 with {writers} concurrent writers (processes, different models, own clones)",
                    "value": round(p99, 3),
                    "unit": "s",
                    "baseline": "one rollback alone, median",
                    "baseline_value": round(baseline, 3),
                    "ratio": round(p99 / baseline, 2),
                    "goal": f"all {writers} land; p99 <= {writers} x alone",
                    "met": len(times) == writers and p99 <= writers * baseline,
                }
            )
    return rows
