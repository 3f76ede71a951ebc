"""Serving overhead: what the predictor adds to a bare `predict_proba` (request decoding, the fault
switch, feature summaries and the metric contract), measured in-process on the same pipeline and rows;
and what serving the same pipeline through its pyfunc flavour (how any non-sklearn model is served)
costs against the sklearn fast path."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any


def _median_seconds(calls: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Each call's median wall time, the calls interleaved so that a busy machine's load slows them
    all alike and their ratios stay fair."""
    for call in calls:
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for call, timed in zip(calls, times, strict=True):
            started = time.perf_counter()
            call()
            timed.append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def _as_pyfunc(pipeline: Any, example: Any, directory: str) -> Any:
    """The same pipeline saved and loaded back as an MLflow pyfunc model answering P(class) columns."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature

    path = f"{directory}/model"
    mlflow.sklearn.save_model(
        pipeline,
        path,
        signature=infer_signature(example, pipeline.predict_proba(example)),
        input_example=example,
        pyfunc_predict_fn="predict_proba",
        pip_requirements=["scikit-learn"],
    )
    return mlflow.pyfunc.load_model(path)


def run(quick: bool) -> list[dict[str, object]]:
    import dataclasses
    import tempfile

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
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        pyfunc = dataclasses.replace(loaded, model=_as_pyfunc(pipeline, train.head(3), tmp), flavor="pyfunc")
    via_pyfunc = Predictor("churn", "churn", "bench", ServingMetrics(CollectorRegistry()), FaultSwitch())
    via_pyfunc.activate(pyfunc)
    repeat = 200 if quick else 1000
    loop = asyncio.new_event_loop()
    rows = []
    for size, budget_ms, pyfunc_budget_ms in ((1, 2.0, 5.0), (200, 20.0, 20.0)):
        frame = synthetic_frame(size, seed=3)
        body = {"instances": frame.to_dict(orient="records")}
        bare, served, served_pyfunc = _median_seconds(
            [
                lambda f=frame: pipeline.predict_proba(f)[:, 1],
                lambda b=body: loop.run_until_complete(predictor.predict(b, {}, {})),
                lambda b=body: loop.run_until_complete(via_pyfunc.predict(b, {}, {})),
            ],
            repeat,
        )
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
        rows.append(
            {
                "benchmark": f"serving: the same pipeline as pyfunc, {size}-row request (in-process)",
                "value": round(served_pyfunc * 1000, 3),
                "unit": "ms",
                "baseline": "the sklearn fast path (native predict_proba) on the same rows",
                "baseline_value": round(served * 1000, 3),
                "ratio": round(served_pyfunc / served, 3),
                "goal": f"≤ {pyfunc_budget_ms:g} ms added to the fast path",
                "met": (served_pyfunc - served) * 1000 <= pyfunc_budget_ms,
            }
        )
    loop.close()
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
