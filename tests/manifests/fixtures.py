"""Building blocks for the manifest and policy suites: models.yaml documents and repositories in tmp dirs."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import yaml

from modelops.core.state import DesiredState, parse_state
from tests.helpers import REPO_ROOT

PREFIX = "s3://modelops-artifacts/mlflow/models"


def environment(
    version: int | None = None,
    *,
    previous: int | None = None,
    canary: dict[str, Any] | None = None,
    quarantined: list[int] | None = None,
    replicas: int = 1,
    run_id: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    return {
        "version": version,
        "run_id": run_id,
        "alias": alias,
        "previous": previous,
        "replicas": replicas,
        "canary": canary,
        "quarantined": quarantined or [],
        "history": [],
    }


def model(
    registered: str,
    staging: dict[str, Any] | None = None,
    production: dict[str, Any] | None = None,
    *,
    owners: tuple[str, ...] = ("alice", "bob"),
    canary_steps: tuple[int, ...] = (10,),
    **extra_envs: dict[str, Any],
) -> dict[str, Any]:
    envs = {"staging": staging or environment(), "production": production or environment(), **extra_envs}
    for name, env in envs.items():
        env["alias"] = env["alias"] or name
    return {
        "registered_model": registered,
        "owners": list(owners),
        "promotion": {"canary_steps": list(canary_steps)},
        "environments": envs,
    }


def document(models: dict[str, dict[str, Any]], prefix: str = PREFIX) -> dict[str, Any]:
    return {
        "apiVersion": "modelops/v1",
        "registry": {"storage_uri_prefix": prefix},
        "models": copy.deepcopy(models),
    }


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def state(models: dict[str, dict[str, Any]]) -> DesiredState:
    return parse_state(document(models))


def two_models() -> dict[str, dict[str, Any]]:
    """churn: staging canary over a pin, production pinned; fraud: staging pinned, production unpinned."""
    return {
        "churn": model(
            "churn-classifier",
            staging=environment(
                4, previous=3, canary={"version": 5, "traffic": 10, "run_id": "c" * 32}, run_id="a" * 32
            ),
            production=environment(3, previous=2, replicas=2, quarantined=[1], run_id="b" * 32),
        ),
        "fraud": model("fraud-detector", staging=environment(7), production=environment()),
    }


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, text=True, capture_output=True).stdout.strip()


def make_repo(tmp: Path, models: dict[str, dict[str, Any]], *, commit: bool = False) -> Path:
    """A repository holding models.yaml (optionally committed); applications/ not yet rendered."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "models.yaml").write_text(dump(document(models)))
    if commit:
        git(tmp, "init", "-q", "-b", "main")
        git(tmp, "add", "models.yaml")
        git(tmp, "commit", "-q", "-m", "desired state")
    return tmp


def write_models(repo: Path, models: dict[str, dict[str, Any]]) -> None:
    (repo / "models.yaml").write_text(dump(document(models)))


def snapshot(repo: Path) -> dict[str, bytes]:
    apps = repo / "applications"
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted(apps.rglob("*")) if p.is_file()}


def copy_argocd(repo: Path) -> None:
    """The hand-written parts of applications/ and policies/ a rendered tmp repo needs to build."""
    import shutil

    shutil.copytree(
        REPO_ROOT / "applications" / "argocd", repo / "applications" / "argocd", dirs_exist_ok=True
    )
