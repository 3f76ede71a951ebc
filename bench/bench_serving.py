"""Serving overhead: what the predictor adds to a bare `predict_proba` (request decoding, the fault
switch, feature summaries and the metric contract), measured in-process on the same pipeline and rows."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any


def _median_seconds(call: Callable[[], Any], repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(quick: bool) -> list[dict[str, object]]:
    from prometheus_client import CollectorRegistry

    from modelops.serving.server import import_kserve

    import_kserve()
    from tests.serving.registry import _labels, _pipeline, profile_of, synthetic_frame

    from modelops.serving.fault import FaultSwitch
    from modelops.serving.loader import LoadedVersion
    from modelops.serving.metrics import ServingMetrics
    from modelops.serving.predictor import Predictor
    from modelops.serving.summaries import feature_bins

    train = synthetic_frame(2000, seed=1)
    pipeline = _pipeline(1.0).fit(train, _labels(train, seed=2))
    types = {
        "tenure_months": "long",
        "monthly_charges": "double",
        "support_calls": "long",
        "contract": "string",
        "plan": "string",
    }
    loaded = LoadedVersion(
        "1", "run", pipeline, types, train.head(3), tuple(feature_bins(types, profile_of(train))), True
    )
    predictor = Predictor("churn", "churn", "bench", ServingMetrics(CollectorRegistry()), FaultSwitch())
    predictor.activate(loaded)
    repeat = 200 if quick else 1000
    loop = asyncio.new_event_loop()
    rows = []
    for size, budget_ms in ((1, 2.0), (200, 20.0)):
        frame = synthetic_frame(size, seed=3)
        body = {"instances": frame.to_dict(orient="records")}
        bare = _median_seconds(lambda f=frame: pipeline.predict_proba(f)[:, 1], repeat)
        served = _median_seconds(lambda b=body: loop.run_until_complete(predictor.predict(b, {}, {})), repeat)
        added_ms = (served - bare) * 1000
        rows.append(
            {
                "benchmark": f"serving: predictor latency, {size}-row request (in-process)",
                "value": round(served * 1000, 3),
                "unit": "ms",
                "baseline": "bare pipeline.predict_proba on the same rows",
                "baseline_value": round(bare * 1000, 3),
                "ratio": round(served / bare, 3),
                "goal": f"≤ {budget_ms:g} ms added to predict_proba",
                "met": added_ms <= budget_ms,
            }
        )
    loop.close()
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
