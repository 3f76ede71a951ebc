"""`modelops render --check` over 500 models × 2 environments must take ≤ 10 s.

Baseline, same run: a plain PyYAML round trip (`safe_load` + `safe_dump`) of the same generated
documents, i.e. what merely parsing and printing the files costs without building or comparing them.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from modelops.context import Context
from modelops.flows.render import render

GOAL_SECONDS = 10.0


def _models_yaml(count: int) -> str:
    models = {}
    for i in range(count):
        pinned = i % 3 != 0
        models[f"model-{i:04d}"] = {
            "registered_model": f"registered-{i:04d}",
            "owners": ["alice", "bob"],
            "promotion": {"canary_steps": [10]},
            "environments": {
                "staging": {
                    "version": (i % 50) + 2 if pinned else None,
                    "alias": "staging",
                    "run_id": f"run{i:029x}" if pinned else None,
                    "previous": None,
                    "replicas": 1,
                    "canary": {"version": (i % 50) + 3, "traffic": 10} if pinned and i % 2 else None,
                    "quarantined": [],
                    "history": [],
                },
                "production": {
                    "version": (i % 50) + 1 if pinned else None,
                    "alias": "production",
                    "run_id": None,
                    "previous": None,
                    "replicas": 2,
                    "canary": None,
                    "quarantined": [],
                    "history": [],
                },
            },
        }
    doc = {
        "apiVersion": "modelops/v1",
        "registry": {"storage_uri_prefix": "s3://bench/mlflow/models"},
        "models": models,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (CPU time is what other processes on a busy machine cannot inflate)."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def run(quick: bool) -> list[dict[str, object]]:
    count = 500
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        repo = Path(tmp)
        (repo / "models.yaml").write_text(_models_yaml(count))
        ctx = Context(repo=repo)
        written = render(ctx)
        files = sorted((repo / "applications").rglob("*.yaml"))
        assert len(files) == len(written.changed), "render wrote an unexpected set of files"

        def check() -> None:
            result = render(ctx, check=True)
            assert result.clean, result.changed[:3]

        def round_trip() -> None:
            for path in files:
                yaml.safe_dump(yaml.safe_load(path.read_text()), sort_keys=True)

        value, value_cpu = _timed(check, repeat)
        baseline, baseline_cpu = _timed(round_trip, repeat)
    name = f"render --check: {count} models × 2 environments ({len(files)} files)"
    return [
        {
            "benchmark": name,
            "value": round(value, 3),
            "unit": "s",
            "baseline": "PyYAML safe_load + safe_dump of the same files",
            "baseline_value": round(baseline, 3),
            "ratio": round(value / baseline, 3),
            "goal": f"≤ {GOAL_SECONDS:g} s",
            "met": value <= GOAL_SECONDS,
        },
        {
            "benchmark": f"{name}, CPU time",
            "value": round(value_cpu, 3),
            "unit": "s (CPU)",
            "baseline": "PyYAML safe_load + safe_dump of the same files, CPU time",
            "baseline_value": round(baseline_cpu, 3),
            "ratio": round(value_cpu / baseline_cpu, 3),
            "goal": f"≤ {GOAL_SECONDS:g} s",
            "met": value_cpu <= GOAL_SECONDS,
        },
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
