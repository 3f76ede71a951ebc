"""Ten concurrent proposals and rollbacks against one origin all land, with no lost update."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelops.core.document import ModelsDocument
from tests.helpers import modelops, run, with_copies_of_churn

MODELS = [f"m{i}" for i in range(1, 6)]
AT = "2026-11-20T09:00:00Z"


def _add_models(repo: Path) -> None:
    """Five models whose production serves v2 with v1 as the rollback target."""
    text = (repo / "models.yaml").read_text("utf-8")
    text = with_copies_of_churn(text, MODELS)
    doc = ModelsDocument(text)
    for name in MODELS:
        doc.promote(name, "production", 1, at=AT, by="seed", reason="seed")
        doc.promote(name, "production", 2, at=AT, by="seed", reason="seed")
    (repo / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    assert modelops("render", cwd=repo).returncode == 0
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "commit", "-qm", "seed five models"], cwd=repo)
    run(["git", "push", "-q", "origin", "main"], cwd=repo)


def _register_versions(tracking_uri: str) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    for name in MODELS:
        client.create_registered_model(f"{name}-model")
        for _ in range(3):
            client.create_model_version(f"{name}-model", source="file:///dev/null")
        for key, value in {"eval.passed": "true", "eval.champion_version": "none"}.items():
            client.set_model_version_tag(f"{name}-model", "3", key, value)


def test_ten_concurrent_proposals_and_rollbacks_all_land(sandbox):
    repo = Path(sandbox["repo"])
    _add_models(repo)
    _register_versions(sandbox["tracking_uri"])
    commands = [
        ["rollback", "--model", m, "--env", "production", "--reason", "error storm", "--incident", f"inc-{m}"]
        for m in MODELS
    ] + [["propose", "--model", m, "--version", "3", "--env", "staging"] for m in MODELS]
    env = {**os.environ, "MODELOPS_DEBUG": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "modelops", *cmd, "--json"],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    outcomes = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert [code for code, _ in outcomes] == [0] * 10, [err[-800:] for code, err in outcomes if code]

    check = repo.parent / "check"
    run(["git", "clone", "-q", sandbox["origin"], str(check)])
    state = ModelsDocument.load(check / "models.yaml").state()
    for name in MODELS:
        production, staging = state.model(name).env("production"), state.model(name).env("staging")
        assert (production.version, production.quarantined) == (1, (2,)), name
        assert staging.version == 3, name
    log = run(["git", "log", "--format=%s", "origin/main"], cwd=check).stdout.splitlines()
    assert sum(s.startswith("rollback ") for s in log) == 5
    assert sum(s.startswith("Merge pull request") for s in log) == 5
    assert modelops("render", "--check", cwd=check).returncode == 0
    assert modelops("validate", cwd=check).returncode == 0


def test_a_repeated_incident_lands_one_rollback(sandbox):
    repo = Path(sandbox["repo"])
    _add_models(repo)
    incident = ["rollback", "--model", "m1", "--env", "production", "--reason", "r", "--incident", "inc-1"]
    first = modelops(*incident, "--no-registry", "--json", cwd=repo)
    again = modelops(*incident, "--no-registry", "--json", cwd=repo)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    log = run(["git", "log", "--format=%s", "origin/main"], cwd=repo).stdout.splitlines()
    assert sum(s.startswith("rollback m1 production") for s in log) == 1
    # And nothing left to roll back to refuses with exit 1, not a traceback.
    refused = modelops(
        "rollback", "--model", "m1", "--env", "production", "--reason", "again", "--no-registry", cwd=repo
    )
    assert refused.returncode == 1 and "no previous version" in refused.stderr
