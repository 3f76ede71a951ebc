"""One training world per session: a sandbox (git clone, SQLite MLflow registry, DVC remote) with two
versions trained in it — `good` through the CLI, and `weak` from crippled parameters through the
Python API — pinned as production (good) and staging (weak)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import REPO_ROOT, modelops

PARAMS = """\
churn:
  target: churned
  features:
    numeric: [tenure_months, monthly_charges, total_charges, support_calls, data_usage_gb]
    categorical: [contract, plan, region, payment_method, senior]
  train:
    estimator: hist_gradient_boosting
    learning_rate: {learning_rate}
    max_iter: {max_iter}
    max_depth: {max_depth}
    validation_fraction: 0.1
    random_state: 13
"""
# Fewer boosting rounds than params.yaml (same AUC on this data, a fraction of the time).
GOOD_PARAMS = PARAMS.format(learning_rate=0.15, max_iter=60, max_depth=4)
WEAK_PARAMS = PARAMS.format(learning_rate=0.05, max_iter=4, max_depth=2)


@dataclass
class World:
    workdir: Path
    repo: Path
    tracking_uri: str
    remote: Path
    good: Any  # TrainResult
    weak: Any
    no_champion_report: Any  # EvalReport of `good` before anything was pinned

    def context(self) -> Any:
        from modelops.context import Context

        return Context(repo=self.repo)

    def registry(self) -> Any:
        from modelops.adapters.registry import Registry

        return Registry.for_context(self.context())

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return modelops(*args, "--repo", str(self.repo), cwd=self.repo)


def _pin(repo: Path, env: str, version: int) -> None:
    from modelops.core.document import ModelsDocument

    path = repo / "models.yaml"
    doc = ModelsDocument.load(path)
    doc.promote("churn", env, version, at="2026-01-01T00:00:00Z", by="test", reason="test pin")
    path.write_text(doc.dump(), "utf-8")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from modelops.flows.evaluate import evaluate
    from modelops.flows.train import TrainResult, train
    from modelops.sandbox.world import create_sandbox, sandbox_context

    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    workdir = tmp_path_factory.mktemp("train-world") / "sandbox"
    sandbox = create_sandbox(workdir, REPO_ROOT)
    repo = Path(sandbox.repo)
    ctx = sandbox_context(sandbox)

    good_params = workdir / "good-params.yaml"
    good_params.write_text(GOOD_PARAMS, "utf-8")
    done = modelops(
        "train", "--model", "churn", "--params", str(good_params), "--json", "--repo", str(repo), cwd=repo
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    good = TrainResult(
        model=out["model"], version=out["version"], run_id=out["run_id"], metrics=out["metrics"]
    )

    weak_params = workdir / "weak-params.yaml"
    weak_params.write_text(WEAK_PARAMS, "utf-8")
    weak = train(ctx, "churn", weak_params)

    no_champion = evaluate(ctx, "churn", good.version, env="production", out_dir=workdir / "evidence-first")
    _pin(repo, "production", good.version)
    _pin(repo, "staging", weak.version)
    return World(
        workdir=workdir,
        repo=repo,
        tracking_uri=sandbox.tracking_uri,
        remote=Path(sandbox.dvc_remote),
        good=good,
        weak=weak,
        no_champion_report=no_champion,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on loopback (SQLite backend, proxied artifacts in a tmp dir)."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--serve-artifacts",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not healthy: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        with_group = proc.pid
        try:
            os.killpg(with_group, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(with_group, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
