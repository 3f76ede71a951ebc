"""Monitoring as code: how much rendering costs, and how long the rule unit tests take per profile."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _median_seconds(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _result(
    name: str, value: float, baseline: str, baseline_value: float, goal: str, limit: float
) -> dict[str, object]:
    ratio = value / baseline_value if baseline_value else float("inf")
    return {
        "benchmark": name,
        "value": round(value, 4),
        "unit": "s",
        "baseline": baseline,
        "baseline_value": round(baseline_value, 4),
        "ratio": round(ratio, 2),
        "goal": goal,
        "met": ratio <= limit,
    }


def run(quick: bool) -> list[dict[str, object]]:
    from modelops.core.alert_rules import Profile
    from modelops.flows.monitoring import load_yaml, render

    repeat = 3 if quick else 10
    sources = sorted((REPO / "monitoring").rglob("*.y*ml"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        render_s = _median_seconds(lambda: render(REPO, Profile.named("demo"), out / "demo"), repeat)
        parse_s = _median_seconds(lambda: [load_yaml(p) for p in sources], repeat)
        results.append(
            _result(
                "monitoring render --profile demo (in-process)",
                render_s,
                "parsing the same YAML sources",
                parse_s,
                "render costs at most 5x parsing its sources",
                5.0,
            )
        )
        promtool = shutil.which("promtool")
        if promtool:
            render(REPO, Profile.named("production"), out / "production")
            times = {}
            for profile in ("production", "demo"):
                tests = sorted(str(p) for p in (out / profile / "tests").glob("*.yaml"))
                times[profile] = _median_seconds(
                    lambda tests=tests: subprocess.run(
                        [promtool, "test", "rules", *tests], check=True, capture_output=True
                    ),
                    1 if quick else 3,
                )
            results.append(
                _result(
                    "promtool test rules, demo profile",
                    times["demo"],
                    "the same unit tests, production profile",
                    times["production"],
                    # The demo profile evaluates every second, so its tests sample 30x more points.
                    "the demo profile's tests stay within 2x production's",
                    2.0,
                )
            )
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2))
