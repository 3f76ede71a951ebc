"""`modelops serve --follow` on loopback: the real KServe model server, a real MLflow registry, and a
repository whose models.yaml pins staging. Tests run in order against one server; the last ones move
the pin and watch the server converge."""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.core import contract
from modelops.core.document import ModelsDocument
from modelops.serving.summaries import GENERIC_EDGES
from tests.serving.conftest import ServerProcess, free_port, modelops_argv
from tests.serving.registry import COLUMNS, Registry, make_repo, pin, synthetic_frame

pytestmark = pytest.mark.timeout(600)

LABELS = {"model": "churn", "env": "staging"}


@pytest.fixture(scope="module")
def repo(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("serve-local"), 1, registry.run_ids[1])


@pytest.fixture(scope="module")
def server(registry: Registry, repo: Path) -> Iterator[ServerProcess]:
    port = free_port()
    argv = modelops_argv(
        "serve", "--repo", str(repo), "--model", "churn", "--env", "staging", "--port", str(port), "--follow",
        "--poll-interval", "0.3",
    )  # fmt: skip
    env = {
        "MLFLOW_TRACKING_URI": registry.tracking_uri,
        "MODELOPS_FAULT_ERROR_RATE": "",
        "MODELOPS_FAULT_LATENCY_MS": "",
    }
    proc = ServerProcess(argv, env, port, repo.parent / "server")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop(signal.SIGKILL)


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return frame.to_dict(orient="records")  # type: ignore[return-value]


def wait_for_version(server: ServerProcess, version: str, timeout: float = 120.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = server.get("/v1/models/churn/status").json()
        if status["version"] == version:
            return status  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(
        f"server still serves v{status['version']}, not v{version}:\n{server.stderr()[-3000:]}"
    )


def test_the_model_reports_ready_only_after_the_warm_up(server: ServerProcess) -> None:
    assert 503 in server.readiness, f"never saw the model not ready: {server.readiness}"
    assert server.readiness[-1] == 200
    assert server.readiness.index(200) > server.readiness.index(503)
    assert server.get("/v1/models/churn").json() == {"name": "churn", "ready": True}
    assert "serving churn v1 (staging" in server.stdout()


def test_v1_predictions_equal_the_pipelines_own_probabilities(
    server: ServerProcess, registry: Registry
) -> None:
    frame = synthetic_frame(25, seed=7)
    expected = registry.pipelines[1].predict_proba(frame)[:, 1]  # type: ignore[attr-defined]

    as_records = server.predict({"instances": records(frame)})
    as_split = server.predict({"dataframe_split": {"columns": COLUMNS, "data": frame.values.tolist()}})
    as_lists = server.predict({"instances": frame[COLUMNS].values.tolist()})

    for response in (as_records, as_split, as_lists):
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(response.json()["predictions"], expected, rtol=1e-9)


def test_v2_columnar_inference_equals_the_pipeline(server: ServerProcess, registry: Registry) -> None:
    frame = synthetic_frame(4, seed=8)
    datatypes = {"tenure_months": "INT64", "monthly_charges": "FP64", "support_calls": "INT64"}
    inputs = [
        {"name": c, "datatype": datatypes.get(c, "BYTES"), "shape": [len(frame)], "data": frame[c].tolist()}
        for c in COLUMNS
    ]

    response = server.post("/v2/models/churn/infer", {"inputs": inputs})

    assert response.status_code == 200, response.text
    output = response.json()["outputs"][0]
    np.testing.assert_allclose(output["data"], registry.pipelines[1].predict_proba(frame)[:, 1], rtol=1e-9)  # type: ignore[attr-defined]
    assert response.headers[contract.HEADER_VERSION] == "1"


def test_predictions_name_the_version_and_run_in_headers(server: ServerProcess, registry: Registry) -> None:
    response = server.predict({"instances": records(synthetic_frame(1, seed=9))})

    assert response.headers[contract.HEADER_VERSION] == "1"
    assert response.headers[contract.HEADER_RUN_ID] == registry.run_ids[1]


def test_a_request_missing_a_column_is_a_400_that_names_it_and_counts_as_an_error(
    server: ServerProcess,
) -> None:
    before = server.metrics().value(contract.REQUESTS_TOTAL, **LABELS, version="1", outcome="error")
    row = records(synthetic_frame(1, seed=10))[0]
    del row["plan"]

    response = server.predict({"instances": [row]})

    assert response.status_code == 400
    assert "plan" in response.json()["error"]
    assert response.headers[contract.HEADER_VERSION] == "1"
    after = server.metrics().value(contract.REQUESTS_TOTAL, **LABELS, version="1", outcome="error")
    assert after == before + 1


def test_metrics_follow_the_contract(server: ServerProcess, registry: Registry) -> None:
    before = server.metrics()
    frames = [synthetic_frame(n, seed=20 + n) for n in (1, 3, 5)]
    for frame in frames:
        assert server.predict({"instances": records(frame)}).status_code == 200
    after = server.metrics()
    v1 = {**LABELS, "version": "1"}

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **v1, **labels) - before.value(name, **v1, **labels)

    assert delta(contract.REQUESTS_TOTAL, outcome="ok") == 3
    assert delta(contract.LATENCY_SECONDS + "_count") == 3
    assert delta(contract.SCORE + "_count") == 9
    score_buckets = {float(lbl["le"]) for lbl, _ in after.find(contract.SCORE + "_bucket", **v1)}
    assert score_buckets == {*contract.SCORE_BUCKETS, float("inf")}
    latency_buckets = {float(lbl["le"]) for lbl, _ in after.find(contract.LATENCY_SECONDS + "_bucket", **v1)}
    assert latency_buckets == {*contract.LATENCY_BUCKETS, float("inf")}
    assert 0 < time.time() - after.value(contract.VERSION_START, **v1) < 3600
    assert after.value(contract.MODEL_INFO, **v1, run_id=registry.run_ids[1]) == 1
    assert delta(contract.FEATURE_VALUE + "_count", feature="tenure_months") == 9
    assert delta(contract.FEATURE_MISSING_TOTAL, feature="plan") == 0
    sent = pd.concat(frames)
    for category, count in sent["contract"].value_counts().items():
        before_count = before.find(
            contract.FEATURE_CATEGORY_TOTAL, **v1, feature="contract", category=str(category)
        )
        after_count = after.value(
            contract.FEATURE_CATEGORY_TOTAL, **v1, feature="contract", category=str(category)
        )
        assert after_count - sum(v for _, v in before_count) == count


def test_numeric_features_are_binned_on_the_training_profiles_quantiles(
    server: ServerProcess, registry: Registry
) -> None:
    profile = registry.profiles[1]["features"]["monthly_charges"]  # type: ignore[index]
    deciles = sorted(profile["quantiles"].values())
    before = server.get("/v1/models/churn/summaries").json()
    frame = synthetic_frame(40, seed=30)

    assert server.predict({"instances": records(frame)}).status_code == 200
    after = server.get("/v1/models/churn/summaries").json()

    feature = after["features"]["monthly_charges"]
    assert feature["edges"] == pytest.approx(deciles)
    assert len(feature["counts"]) == len(deciles) + 1
    # Prometheus `le` semantics: a value equal to an edge belongs to that edge's bin.
    bounds = [-np.inf, *deciles, np.inf]
    expected = [
        int(((frame.monthly_charges > lo) & (frame.monthly_charges <= hi)).sum())
        for lo, hi in itertools.pairwise(bounds)
    ]
    observed = np.subtract(feature["counts"], before["features"]["monthly_charges"]["counts"]).tolist()
    assert observed == expected
    assert after["n"] - before["n"] == 40
    assert (after["model"], after["env"], after["version"]) == ("churn", "staging", "1")
    plans = after["features"]["plan"]["categories"]
    assert sum(plans.values()) == after["n"] - after["features"]["plan"]["missing"]


def test_the_fault_switch_injects_errors_and_latency_into_a_running_server(server: ServerProcess) -> None:
    v1 = {**LABELS, "version": "1"}
    body = {"instances": records(synthetic_frame(1, seed=40))}
    assert server.get("/admin/fault").json()["active"] is False

    assert server.post("/admin/fault", {"error_rate": 1.0}).status_code == 200
    before = server.metrics()
    failures = [server.predict(body) for _ in range(5)]
    after = server.metrics()
    assert [r.status_code for r in failures] == [500] * 5
    assert all(r.headers[contract.HEADER_VERSION] == "1" for r in failures)
    errors = after.value(contract.REQUESTS_TOTAL, **v1, outcome="error") - before.value(
        contract.REQUESTS_TOTAL, **v1, outcome="error"
    )
    assert errors == 5

    assert server.post("/admin/fault", {"error_rate": 0.5}).status_code == 200
    outcomes = [server.predict(body).status_code for _ in range(200)]
    assert 0.3 < outcomes.count(500) / len(outcomes) < 0.7
    assert set(outcomes) == {200, 500}

    assert server.post("/admin/fault", {"latency_ms": 400}).status_code == 200
    before = server.metrics()
    started = time.monotonic()
    slow = server.predict(body)
    elapsed = time.monotonic() - started
    after = server.metrics()
    assert slow.status_code == 200
    assert elapsed >= 0.4
    latency_sum = after.value(contract.LATENCY_SECONDS + "_sum", **v1) - before.value(
        contract.LATENCY_SECONDS + "_sum", **v1
    )
    assert latency_sum >= 0.4

    assert server.post("/admin/fault", {}).json() == {
        "error_rate": 0.0,
        "latency_ms": 0.0,
        "version": None,
        "active": False,
    }
    assert server.predict(body).status_code == 200


def test_the_fault_switch_refuses_values_out_of_range(server: ServerProcess) -> None:
    response = server.post("/admin/fault", {"error_rate": 1.5})

    assert response.status_code == 400
    assert "error_rate" in response.json()["error"]
    assert server.get("/admin/fault").json()["active"] is False


def test_follow_hot_swaps_to_a_newly_pinned_version(
    server: ServerProcess, registry: Registry, repo: Path
) -> None:
    started_v1 = server.metrics().value(contract.VERSION_START, **LABELS, version="1")
    frame = synthetic_frame(10, seed=50)

    pin(repo, 2, registry.run_ids[2])
    wait_for_version(server, "2")

    response = server.predict({"instances": records(frame)})
    assert response.headers[contract.HEADER_VERSION] == "2"
    assert response.headers[contract.HEADER_RUN_ID] == registry.run_ids[2]
    np.testing.assert_allclose(
        response.json()["predictions"], registry.pipelines[2].predict_proba(frame)[:, 1], rtol=1e-9
    )  # type: ignore[attr-defined]
    metrics = server.metrics()
    assert [lbl["version"] for lbl, _ in metrics.find(contract.MODEL_INFO, **LABELS)] == ["2"]
    assert metrics.value(contract.VERSION_START, **LABELS, version="2") > started_v1
    # The old version's series stay, so rates over the swap stay continuous.
    assert metrics.value(contract.REQUESTS_TOTAL, **LABELS, version="1", outcome="ok") > 0
    # v2's run logged no data profile: its summaries use the generic bins.
    assert server.get("/v1/models/churn/summaries").json()["features"]["tenure_months"]["edges"] == list(
        GENERIC_EDGES
    )
    assert server.get("/v1/models/churn/summaries", params={"version": "1"}).json()["n"] > 0


def test_a_rollback_commit_converges_back_to_the_previous_version(
    server: ServerProcess, registry: Registry, repo: Path
) -> None:
    started_v2 = server.metrics().value(contract.VERSION_START, **LABELS, version="2")
    path = repo / "models.yaml"
    doc = ModelsDocument.load(path)
    plan = doc.rollback(
        "churn",
        "staging",
        at="2026-01-02T00:00:00Z",
        by="test",
        reason="error ratio",
        run_id=registry.run_ids[1],
    )
    assert plan is not None and (plan.from_version, plan.to_version) == (2, 1)
    path.write_text(doc.dump(), "utf-8")

    wait_for_version(server, "1")

    response = server.predict({"instances": records(synthetic_frame(2, seed=60))})
    assert response.headers[contract.HEADER_VERSION] == "1"
    metrics = server.metrics()
    assert metrics.value(contract.VERSION_START, **LABELS, version="1") > started_v2
    assert metrics.value(contract.MODEL_INFO, **LABELS, version="1", run_id=registry.run_ids[1]) == 1


def test_a_broken_models_yaml_keeps_the_current_version_serving(server: ServerProcess, repo: Path) -> None:
    path = repo / "models.yaml"
    good = path.read_text()
    path.write_text(good.replace("apiVersion: modelops/v1", "apiVersion: [broken"))
    time.sleep(1.5)

    assert server.get("/v1/models/churn/status").json()["version"] == "1"
    assert server.predict({"instances": records(synthetic_frame(1, seed=70))}).status_code == 200
    assert "still serving the current version" in server.stderr()
    path.write_text(good)


def test_sigterm_stops_the_server_cleanly(server: ServerProcess) -> None:
    code = server.stop(signal.SIGTERM)

    assert code == 0, server.stderr()[-3000:]
    assert "Traceback" not in server.stderr().split("Shutting down")[-1]
