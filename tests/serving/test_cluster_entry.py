"""`python -m modelops.serving`, the container's entry point, as KServe runs it: the model from a
directory the storage initializer filled, the version from the environment, no registry access."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelops.core import contract
from modelops.serving.summaries import GENERIC_EDGES
from tests.serving.conftest import ServerProcess, free_port
from tests.serving.registry import REGISTERED, Registry, synthetic_frame

pytestmark = pytest.mark.timeout(600)

TOKEN = "drill-token-7f3a"
PRODUCTION_V1 = {"model": "churn", "env": "production", "version": "1"}


@pytest.fixture(scope="module")
def model_dir(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow

    target = tmp_path_factory.mktemp("mnt-models")
    # models:/ URIs resolve through the global tracking URI, whatever download_artifacts is passed.
    mlflow.set_tracking_uri(registry.tracking_uri)
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{REGISTERED}/1", dst_path=str(target)
        )
    finally:
        mlflow.set_tracking_uri("")
    return Path(local)


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[ServerProcess]:
    port = free_port()
    argv = [
        sys.executable, "-m", "modelops.serving", "--model_name=churn", f"--model_dir={model_dir}",
        f"--http_port={port}", "--host=127.0.0.1", "--workers=1",
    ]  # fmt: skip
    env = {
        "MODELOPS_ENV": "production",
        "MODELOPS_VERSION": "1",
        "MODELOPS_FAULT_ERROR_RATE": "1",
        "MODELOPS_FAULT_LATENCY_MS": "",
        "MODELOPS_ADMIN_TOKEN": TOKEN,
        "MLFLOW_TRACKING_URI": "",
    }
    proc = ServerProcess(argv, env, port, model_dir.parent / "server")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop(signal.SIGKILL)


def body(rows: int = 3, seed: int = 1) -> dict[str, object]:
    return {"instances": synthetic_frame(rows, seed).to_dict(orient="records")}


def test_a_fault_set_in_the_environment_fails_requests_but_not_the_warm_up(
    server: ServerProcess, registry: Registry
) -> None:
    before = server.metrics().value(contract.REQUESTS_TOTAL, **PRODUCTION_V1, outcome="error")

    responses = [server.predict(body()) for _ in range(3)]

    assert [r.status_code for r in responses] == [500, 500, 500]
    assert "injected fault" in responses[0].json()["error"]
    assert responses[0].headers[contract.HEADER_VERSION] == "1"
    # No MODELOPS_RUN_ID given: the run comes from the model's own MLmodel file.
    assert responses[0].headers[contract.HEADER_RUN_ID] == registry.run_ids[1]
    after = server.metrics().value(contract.REQUESTS_TOTAL, **PRODUCTION_V1, outcome="error")
    assert after - before == 3


def test_in_the_cluster_the_fault_switch_needs_the_admin_token(
    server: ServerProcess, registry: Registry
) -> None:
    assert server.post("/admin/fault", {}).status_code == 403
    assert server.post("/admin/fault", {}, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert server.get("/admin/fault").status_code == 403

    cleared = server.post("/admin/fault", {}, headers={"Authorization": f"Bearer {TOKEN}"})

    assert cleared.status_code == 200
    frame = synthetic_frame(5, seed=2)
    response = server.predict({"instances": frame.to_dict(orient="records")})
    assert response.status_code == 200
    np.testing.assert_allclose(
        response.json()["predictions"], registry.pipelines[1].predict_proba(frame)[:, 1], rtol=1e-9
    )  # type: ignore[attr-defined]


def test_without_a_reference_profile_numeric_features_use_the_generic_bins(server: ServerProcess) -> None:
    snapshot = server.get("/v1/models/churn/summaries").json()

    assert snapshot["features"]["monthly_charges"]["edges"] == list(GENERIC_EDGES)
    assert server.get("/v1/models/churn/status").json()["reference_profile"] is False


def test_sigterm_drains_and_exits_zero(server: ServerProcess) -> None:
    code = server.stop(signal.SIGTERM)

    assert code == 0, server.stderr()[-3000:]
