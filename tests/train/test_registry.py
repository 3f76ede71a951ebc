"""The MLflow registry adapter against both embedded SQLite and a real `mlflow server` on loopback."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pandas as pd
import pytest

from modelops.adapters.registry import Registry
from modelops.errors import BadInput, ExternalError


@pytest.fixture(scope="module")
def sqlite_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    # One database per module: creating MLflow's schema costs seconds; tests use unique names instead.
    root = tmp_path_factory.mktemp("registry")
    return Registry(f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri(), create=True)


@pytest.fixture(params=["sqlite", "server"])
def registry(request: pytest.FixtureRequest) -> Registry:
    if request.param == "server":
        return Registry(request.getfixturevalue("mlflow_server"))
    return request.getfixturevalue("sqlite_registry")


def _tiny_model() -> tuple[object, pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": np.linspace(0.0, 1.0, 40), "b": np.tile([0.0, 1.0], 20)})
    y = (x["a"] > 0.5).astype(int)
    return LogisticRegression().fit(x, y), x


def _register_one(registry: Registry, name: str, tags: dict[str, str]) -> tuple[int, str]:
    from mlflow.models import infer_signature

    model, x = _tiny_model()
    with registry.run(f"exp-{name}", tags={"origin": "test"}) as run:
        run.log_params({"C": 1.0})
        run.log_metrics({"auc": 1.0})
        uri = run.log_sklearn_model(
            model, input_example=x.head(2), signature=infer_signature(x, model.predict_proba(x)[:, 1])
        )
        run_id = run.run_id
    return registry.register(name, uri, run_id, tags), run_id


def test_versions_aliases_and_tags_round_trip(registry: Registry) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    assert registry.latest_version(name) is None
    assert registry.aliases(name) == {}
    assert registry.get_alias(name, "production") is None
    assert registry.version(name, 1) is None

    v1, run1 = _register_one(registry, name, {"git_commit": "abc"})
    v2, _ = _register_one(registry, name, {"git_commit": "def"})
    assert (v1, v2) == (1, 2)
    assert registry.latest_version(name) == 2
    info = registry.version(name, 1)
    assert info is not None and info.run_id == run1 and info.tags["git_commit"] == "abc"
    assert info.status == "READY"

    registry.set_alias(name, "production", 1)
    registry.set_alias(name, "candidate", 2)
    assert registry.aliases(name) == {"production": 1, "candidate": 2}
    assert registry.get_alias(name, "production") == 1
    registry.delete_alias(name, "candidate")
    registry.delete_alias(name, "candidate")  # deleting twice is fine
    assert registry.aliases(name) == {"production": 1}

    registry.set_version_tag(name, 2, "eval.passed", "false")
    assert registry.version(name, 2).tags["eval.passed"] == "false"

    loaded = registry.load_sklearn(name, 1)
    _, x = _tiny_model()
    assert loaded.predict_proba(x).shape == (40, 2)
    assert registry.input_columns(name, 1) == ["a", "b"]
    run = registry.run_info(run1)
    assert (
        run.info.status == "FINISHED" and run.data.params["C"] == "1.0" and run.data.tags["origin"] == "test"
    )


def test_aliasing_a_missing_version_is_bad_input(registry: Registry) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    registry.ensure_registered_model(name)
    registry.ensure_registered_model(name)  # idempotent
    with pytest.raises(BadInput, match="has no version 7"):
        registry.set_alias(name, "production", 7)


def test_an_exception_inside_a_run_ends_it_failed(registry: Registry) -> None:
    run_id = None
    with pytest.raises(RuntimeError), registry.run(f"exp-failing-{uuid.uuid4().hex[:6]}") as run:
        run_id = run.run_id
        raise RuntimeError("boom")
    assert registry.run_status(run_id) == "FAILED"


def test_a_run_writes_nothing_on_stdout_which_is_the_commands_json(registry: Registry, capsys) -> None:
    """MLflow prints "View run ... at" links on stdout against a server; train.yml parses train --json."""
    capsys.readouterr()
    with registry.run(f"exp-quiet-{uuid.uuid4().hex[:6]}") as run:
        run.log_metrics({"auc": 1.0})
    assert capsys.readouterr().out == ""


def test_links_point_at_the_ui(registry: Registry) -> None:
    with registry.run("exp-links") as run:
        run_id = run.run_id
    url = registry.run_url(run_id)
    assert url.endswith(f"/runs/{run_id}")
    if registry.tracking_uri.startswith("http"):
        assert url.startswith(registry.tracking_uri)
        assert registry.version_url("a b", 3) == f"{registry.tracking_uri}/#/models/a%20b/versions/3"
    else:
        assert url.startswith(f"mlflow ui --backend-store-uri {registry.tracking_uri} then open http://")


def test_experiment_created_with_the_configured_artifact_root(sqlite_registry: Registry) -> None:
    name = f"exp-{uuid.uuid4().hex[:8]}"
    experiment_id = sqlite_registry.experiment_id(name)
    assert sqlite_registry.experiment_id(name) == experiment_id
    assert (
        sqlite_registry.client.get_experiment(experiment_id).artifact_location
        == sqlite_registry.artifact_root
    )


def test_a_registry_made_active_leaves_no_uri_behind(sqlite_registry: Registry, monkeypatch) -> None:
    """A later client in the same process (or a subprocess, through the environment) would otherwise
    read this registry instead of its own."""
    import os

    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    with sqlite_registry.active():
        assert mlflow.get_registry_uri() == sqlite_registry.tracking_uri
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == before
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ


def test_a_missing_sqlite_registry_is_named_never_made_again_empty(tmp_path) -> None:
    gone = tmp_path / "mlflow.db"
    with pytest.raises(
        ExternalError, match=rf"no registry there \({gone} does not exist: deleted, or nothing"
    ):
        Registry(f"sqlite:///{gone}").aliases("churn-classifier")
    with pytest.raises(ExternalError, match="no registry there"), Registry(f"sqlite:///{gone}").active():
        pass
    assert not gone.exists()
    # Training is what makes one.
    Registry(f"sqlite:///{gone}", create=True).ensure_registered_model("churn-classifier")
    assert gone.is_file()
    assert Registry(f"sqlite:///{gone}").aliases("churn-classifier") == {}


def test_sync_registry_against_a_deleted_registry_says_so_in_one_line(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.helpers import REPO_ROOT

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "models.yaml").write_text((REPO_ROOT / "models.yaml").read_text("utf-8"), encoding="utf-8")
    gone = tmp_path / "deleted" / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{gone}"}
    done = subprocess.run(
        [sys.executable, "-m", "modelops", "sync-registry", "--repo", str(repo)],
        env=env,
        text=True,
        capture_output=True,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"modelops: error: MLflow at sqlite:///{gone}: no registry there ({gone} does not exist: deleted, "
        "or nothing trained yet); `modelops train` makes it, or set MLFLOW_TRACKING_URI to your registry"
    ]
    assert not gone.exists()


def test_an_unreachable_server_is_an_external_error_within_bounded_time(monkeypatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setattr("modelops.adapters.registry.BACKOFF_SECONDS", 0.05)
    registry = Registry(f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(
        ExternalError, match=rf"MLflow at http://127.0.0.1:{port}: reading aliases of 'm' failed"
    ):
        registry.aliases("m")
    assert time.monotonic() - started < 30
