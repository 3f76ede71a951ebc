"""CLI cold start: `modelops --help` must stay ≤ 0.3 s; baseline `mlflow --help` in the same run."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _median(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(quick: bool) -> list[dict[str, object]]:
    repeat = 5 if quick else 15
    rows = []
    mlflow = _median([str(BIN / "mlflow"), "--help"], max(3, repeat // 3))
    for args, label in ((["--help"], "modelops --help"),):
        value = _median([str(BIN / "modelops"), *args], repeat)
        rows.append(
            {
                "benchmark": f"CLI cold start: {label}",
                "value": round(value, 3),
                "unit": "s",
                "baseline": "mlflow --help",
                "baseline_value": round(mlflow, 3),
                "ratio": round(value / mlflow, 3),
                "goal": "≤ 0.3 s",
                "met": value <= 0.3,
            }
        )
    return rows
