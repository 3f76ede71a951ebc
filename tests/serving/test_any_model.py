"""Serving any MLflow model, whatever its task: a pyfunc binary model (no sklearn flavour) and a
three-class pipeline from the container's entry point, told the task by MODELOPS_TASK as the rendered
InferenceService tells it, and a regression served by `modelops serve`, which reads the task from
models.yaml. The three real model servers start together, once for the module."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelops.core import contract
from modelops.core.profile import edges_of
from modelops.errors import ExternalError
from tests.serving.any_model import (
    HARD_LABELS,
    MULTICLASS,
    OUT_OF_RANGE,
    PYFUNC,
    REGRESSOR,
    AnyModels,
    churn_probability,
    register_any_models,
)
from tests.serving.conftest import Metrics, ServerProcess, free_port, modelops_argv
from tests.serving.registry import Registry, make_repo, synthetic_frame

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def models(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> AnyModels:
    return register_any_models(registry.tracking_uri, tmp_path_factory.mktemp("any-artifacts").as_uri())


def download(tracking_uri: str, name: str, target: Path) -> Path:
    import mlflow

    # models:/ URIs resolve through the global tracking URI, whatever download_artifacts is passed.
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return Path(
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/1", dst_path=str(target))
        )
    finally:
        mlflow.set_tracking_uri("")


def cluster_entry(model_dir: Path, name: str, task: str, tracking_uri: str) -> ServerProcess:
    port = free_port()
    argv = [
        sys.executable, "-m", "modelops.serving", f"--model_name={name}", f"--model_dir={model_dir}",
        f"--http_port={port}", "--host=127.0.0.1",
    ]  # fmt: skip
    env = {
        "MODELOPS_MODEL": name,
        "MODELOPS_ENV": "production",
        "MODELOPS_VERSION": "1",
        "MODELOPS_TASK": task,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MODELOPS_FAULT_ERROR_RATE": "",
        "MODELOPS_FAULT_LATENCY_MS": "",
    }
    return ServerProcess(argv, env, port, model_dir.parent / "server", name)


def local_visits(repo: Path, tracking_uri: str, run_id: str) -> ServerProcess:
    from modelops.core.document import ModelsDocument

    doc = ModelsDocument.load(repo / "models.yaml")
    doc.promote("visits", "staging", 1, at="2026-01-01T00:00:00Z", by="test", reason="test", run_id=run_id)
    (repo / "models.yaml").write_text(doc.dump(), "utf-8")
    port = free_port()
    argv = modelops_argv(
        "serve", "--repo", str(repo), "--model", "visits", "--env", "staging", "--port", str(port)
    )
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MODELOPS_FAULT_ERROR_RATE": "",
        "MODELOPS_FAULT_LATENCY_MS": "",
    }
    return ServerProcess(argv, env, port, repo.parent / "server", "visits")


@pytest.fixture(scope="module")
def servers(
    models: AnyModels, registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    uri = models.tracking_uri
    started = {
        PYFUNC: cluster_entry(
            download(uri, PYFUNC, tmp_path_factory.mktemp("pyfunc")), "churn", "binary", uri
        ),
        MULTICLASS: cluster_entry(
            download(uri, MULTICLASS, tmp_path_factory.mktemp("multiclass")), "segment", "multiclass", uri
        ),
        REGRESSOR: local_visits(
            make_repo(tmp_path_factory.mktemp("visits"), 1, registry.run_ids[1]),
            uri,
            models.run_ids[REGRESSOR],
        ),
    }
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            server.stop(signal.SIGKILL)


def records(rows: int, seed: int) -> list[dict[str, object]]:
    return synthetic_frame(rows, seed).to_dict(orient="records")  # type: ignore[return-value]


def v2_body(rows: int, seed: int) -> dict[str, object]:
    """An Open Inference Protocol request: one tensor per column."""
    frame = synthetic_frame(rows, seed)
    return {
        "inputs": [
            {
                "name": c,
                "shape": [rows],
                "datatype": "BYTES" if frame[c].dtype == object else "FP64",
                "data": frame[c].tolist(),
            }
            for c in frame.columns
        ]
    }


def score_histogram(server: ServerProcess, model: str, env: str) -> tuple[list[float], float, float]:
    """(the finite `le` edges, the count, the sum) of the version's prediction-score histogram."""
    scrape = server.metrics()
    labels = {"model": model, "env": env, "version": "1"}
    edges = sorted(float(lbl["le"]) for lbl, _ in scrape.find(contract.SCORE + "_bucket", **labels))
    return (
        [e for e in edges if np.isfinite(e)],
        scrape.value(contract.SCORE + "_count", **labels),
        scrape.value(contract.SCORE + "_sum", **labels),
    )


def test_a_pyfunc_binary_model_serves_its_probabilities_behind_the_same_protocol(servers: dict) -> None:
    server = servers[PYFUNC]
    frame = synthetic_frame(20, seed=21)
    before = score_histogram(server, "churn", "production")

    v1 = server.predict({"instances": records(20, seed=21)})
    v2 = server.post("/v2/models/churn/infer", v2_body(20, seed=21))

    assert v1.status_code == 200, v1.text
    assert server.get("/v1/models/churn/status").json()["flavor"] == "pyfunc"
    assert set(v1.json()) == {"predictions"}
    np.testing.assert_allclose(v1.json()["predictions"], churn_probability(frame), rtol=1e-9)
    assert v2.status_code == 200, v2.text
    [output] = v2.json()["outputs"]
    assert (output["name"], output["shape"], output["datatype"]) == ("predictions", [20], "FP64")
    np.testing.assert_allclose(output["data"], churn_probability(frame), rtol=1e-9)
    edges, count, total = score_histogram(server, "churn", "production")
    assert edges == list(contract.SCORE_BUCKETS)
    assert count - before[1] == 40
    assert total - before[2] == pytest.approx(2 * float(churn_probability(frame).sum()))


def test_a_regression_serves_its_values_and_bins_them_on_its_targets_range(
    servers: dict, models: AnyModels
) -> None:
    server = servers[REGRESSOR]
    frame = synthetic_frame(30, seed=22)
    before = score_histogram(server, "visits", "staging")

    response = server.predict({"instances": records(30, seed=22)})

    assert response.status_code == 200, response.text
    expected = models.models[REGRESSOR].predict(frame)
    np.testing.assert_allclose(response.json()["predictions"], expected, rtol=1e-9)
    status = server.get("/v1/models/visits/status").json()
    assert (status["task"], status["flavor"]) == ("regression", "sklearn")
    edges, count, total = score_histogram(server, "visits", "staging")
    deciles = list(edges_of(models.profiles[REGRESSOR]["target"]))
    assert edges == deciles and deciles[-1] > 1.0  # the target's range, not [0, 1]
    assert count - before[1] == 30
    assert total - before[2] == pytest.approx(float(expected.sum()))


def test_a_multiclass_model_serves_class_probabilities_and_the_class(
    servers: dict, models: AnyModels
) -> None:
    server = servers[MULTICLASS]
    frame = synthetic_frame(12, seed=23)
    pipeline = models.models[MULTICLASS]
    proba = pipeline.predict_proba(frame)
    before = score_histogram(server, "segment", "production")

    v1 = server.predict({"instances": records(12, seed=23)})
    v2 = server.post("/v2/models/segment/infer", v2_body(12, seed=23))

    assert v1.status_code == 200, v1.text
    body = v1.json()
    assert body["classes"] == [str(c) for c in pipeline.classes_]
    np.testing.assert_allclose(body["predictions"], proba, rtol=1e-9)
    assert body["labels"] == [str(c) for c in pipeline.predict(frame)]
    assert v2.status_code == 200, v2.text
    outputs = {o["name"]: o for o in v2.json()["outputs"]}
    assert outputs["predictions"]["shape"] == [12, 3]
    np.testing.assert_allclose(np.reshape(outputs["predictions"]["data"], (12, 3)), proba, rtol=1e-9)
    classes = outputs["classes"]
    assert (classes["shape"], classes["datatype"], classes["data"]) == ([3], "BYTES", body["classes"])
    assert outputs["labels"]["data"] == body["labels"]
    edges, count, total = score_histogram(server, "segment", "production")
    assert edges == list(contract.SCORE_BUCKETS)
    assert count - before[1] == 24  # the top class's probability, one per row and request
    assert total - before[2] == pytest.approx(2 * float(proba.max(axis=1).sum()))


def load_in_process(models: AnyModels, name: str, task: str):  # type: ignore[no-untyped-def]
    from modelops.serving.loader import load, warm_up
    from modelops.serving.sources import RegistrySource

    loaded = load(RegistrySource(name, 1, models.tracking_uri, task))
    warm_up(loaded)
    return loaded


def test_a_binary_pyfunc_that_predicts_hard_labels_serves_them_as_scores(models: AnyModels) -> None:
    loaded = load_in_process(models, HARD_LABELS, "binary")
    frame = synthetic_frame(50, seed=24)

    scores = loaded.score(frame)

    assert loaded.flavor == "pyfunc"
    assert set(scores.tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(scores, (frame["tenure_months"] < 12).astype(float))


def test_a_binary_pyfunc_whose_outputs_are_not_probabilities_is_refused_at_load(models: AnyModels) -> None:
    with pytest.raises(ExternalError) as refused:
        load_in_process(models, OUT_OF_RANGE, "binary")

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("v1 (pyfunc, binary): a binary model must output P(positive) in [0, 1]")
    assert "set gate.task" in message


def test_the_same_pyfunc_serves_as_a_regression_when_that_is_its_task(models: AnyModels) -> None:
    loaded = load_in_process(models, OUT_OF_RANGE, "regression")
    frame = synthetic_frame(5, seed=25)

    np.testing.assert_array_equal(loaded.score(frame), frame["tenure_months"].to_numpy(dtype=float))


def test_outputs_that_stop_fitting_the_task_at_request_time_are_an_error_not_a_score(
    models: AnyModels,
) -> None:
    import asyncio
    import dataclasses

    from prometheus_client import CollectorRegistry, generate_latest

    from modelops.serving.server import import_kserve

    import_kserve()
    from modelops.serving.fault import FaultSwitch
    from modelops.serving.metrics import SeriesKey, ServingMetrics
    from modelops.serving.predictor import PredictionFailed, Predictor

    # Passed the warm-up on the input example, then answers values a binary model cannot mean.
    raw = dataclasses.replace(load_in_process(models, OUT_OF_RANGE, "regression"), task="binary")
    metrics_registry = CollectorRegistry()
    predictor = Predictor("tenure", "tenure", "staging", ServingMetrics(metrics_registry), FaultSwitch())
    predictor.activate(raw)

    with pytest.raises(PredictionFailed) as failed:
        asyncio.run(predictor.predict({"instances": records(3, seed=26)}, {}, {}))

    assert failed.value.status == 500 and "P(positive) in [0, 1]" in str(failed.value)
    scraped = Metrics(generate_latest(metrics_registry).decode())
    labels = SeriesKey("tenure", "staging", "1").labels()
    assert scraped.value(contract.REQUESTS_TOTAL, **labels, outcome="error") == 1
    assert scraped.value(contract.SCORE + "_count", **labels) == 0
