"""A rollback that died after its push, before the registry heard of it: the retry finishes the job,
against a real MLflow registry (the sandbox's SQLite), and `status` is clean after it."""

from __future__ import annotations

import json
from pathlib import Path

from modelops.core.document import ModelsDocument
from tests.helpers import modelops, run
from tests.promotion.conftest import sandbox  # noqa: F401

AT = "2026-11-20T09:00:00Z"
INCIDENT = ["--model", "churn", "--env", "production", "--reason", "error storm", "--incident", "inc-7"]


def _production_serves_v2_with_the_registry_agreeing(world: dict[str, str]) -> None:
    import mlflow

    repo = Path(world["repo"])
    doc = ModelsDocument.load(repo / "models.yaml")
    for version in (1, 2):
        doc.promote("churn", "production", version, at=AT, by="seed", reason="seed")
    (repo / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    assert modelops("render", cwd=repo).returncode == 0
    run(["git", "commit", "-qam", "seed: production serves v2"], cwd=repo)
    run(["git", "push", "-q", "origin", "main"], cwd=repo)
    from modelops.adapters.registry import Registry

    Registry(world["tracking_uri"]).ensure_registered_model("churn-classifier")  # the sandbox may have it
    client = mlflow.MlflowClient(tracking_uri=world["tracking_uri"], registry_uri=world["tracking_uri"])
    for _ in (1, 2):
        client.create_model_version("churn-classifier", source="file:///dev/null")
    synced = modelops("sync-registry", cwd=repo)
    assert synced.returncode == 0, synced.stderr


def _alias(world: dict[str, str], alias: str) -> int | None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=world["tracking_uri"], registry_uri=world["tracking_uri"])
    try:
        return int(client.get_model_version_by_alias("churn-classifier", alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def test_the_retry_of_a_rollback_killed_after_its_push_syncs_the_registry(sandbox: dict[str, str]) -> None:  # noqa: F811
    repo = Path(sandbox["repo"])
    _production_serves_v2_with_the_registry_agreeing(sandbox)
    # What the killed run left: its commit on origin, and the registry still naming v2.
    first = modelops("rollback", *INCIDENT, "--no-registry", "--json", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["registry_synced"] is False
    assert _alias(sandbox, "production") == 2

    again = modelops("rollback", *INCIDENT, "--json", cwd=repo)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert (result["already_done"], result["registry_synced"]) == (True, True)
    log = run(["git", "log", "--format=%s", "origin/main"], cwd=repo).stdout.splitlines()
    assert sum(s.startswith("rollback churn production") for s in log) == 1
    assert (_alias(sandbox, "production"), _alias(sandbox, "production-previous")) == (1, None)

    status = modelops("status", "--json", cwd=repo)
    assert status.returncode == 0, status.stderr
    agreement = json.loads(status.stdout)["registry"]["models"]["churn"]
    assert all(env["in_sync"] for env in agreement.values()), agreement
