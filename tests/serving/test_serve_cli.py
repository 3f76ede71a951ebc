"""`modelops serve` refuses what it cannot serve with one line and the right exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, modelops
from tests.serving.registry import Registry, make_repo

pytestmark = pytest.mark.timeout(600)


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("modelops: error:")]
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def unpinned_repo(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "models.yaml", tmp_path / "models.yaml")
    return tmp_path


def test_an_environment_with_nothing_pinned_is_bad_input(unpinned_repo: Path) -> None:
    result = modelops(
        "serve", "--repo", str(unpinned_repo), "--model", "churn", "--env", "staging", "--port", "0"
    )

    assert result.returncode == 2
    assert "models.churn.environments.staging.version is null" in one_line_error(result.stderr)


def test_an_unknown_model_is_bad_input(unpinned_repo: Path) -> None:
    result = modelops("serve", "--repo", str(unpinned_repo), "--model", "fraud", "--env", "staging")

    assert result.returncode == 2
    assert "'fraud'" in one_line_error(result.stderr)


def test_version_and_follow_together_are_bad_input(unpinned_repo: Path) -> None:
    result = modelops(
        "serve",
        "--repo",
        str(unpinned_repo),
        "--model",
        "churn",
        "--env",
        "staging",
        "--version",
        "1",
        "--follow",
    )

    assert result.returncode == 2
    assert "--follow" in one_line_error(result.stderr)


def test_a_bad_fault_variable_is_bad_input(unpinned_repo: Path) -> None:
    result = modelops(
        "serve", "--repo", str(unpinned_repo), "--model", "churn", "--env", "staging", "--version", "1",
        env={"MODELOPS_FAULT_ERROR_RATE": "2"},
    )  # fmt: skip

    assert result.returncode == 2
    assert "MODELOPS_FAULT_ERROR_RATE" in one_line_error(result.stderr)


def test_a_version_the_registry_does_not_have_fails_as_external_with_one_line(
    registry: Registry, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, 1, registry.run_ids[1])

    result = modelops(
        "serve", "--repo", str(repo), "--model", "churn", "--env", "staging", "--version", "99", "--port", "0",
        env={"MLFLOW_TRACKING_URI": registry.tracking_uri},
    )  # fmt: skip

    assert result.returncode == 3
    line = one_line_error(result.stderr)
    assert "churn-classifier v99" in line
