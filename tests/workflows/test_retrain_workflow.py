"""retrain.yml: training never runs beside a write token, proposals go to staging, and a gate "no" is a
green run. The retrain step's own shell is run here, with `modelops` answering each exit code in turn."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, modelops
from tests.workflows.workflow_files import WORKFLOWS_DIR, load, run_steps, workflow_paths

TRAINING = (".venv/bin/modelops train", ".venv/bin/modelops retrain", ".venv/bin/dvc ")
RETRAIN = load(WORKFLOWS_DIR / "retrain.yml")


def _jobs_running_training() -> list[tuple[str, str, dict]]:
    found = []
    for path in workflow_paths():
        for job_id, job in load(path)["jobs"].items():
            scripts = "\n".join(step.get("run", "") for step in job.get("steps", []))
            if any(cmd in scripts for cmd in TRAINING):
                found.append((path.stem, job_id, job))
    return found


@pytest.mark.parametrize(("workflow", "job_id", "job"), _jobs_running_training(), ids=lambda v: str(v)[:20])
def test_training_code_never_holds_a_write_token(workflow: str, job_id: str, job: dict) -> None:
    assert job["permissions"].get("contents") != "write", (
        f"{workflow}/{job_id}: training beside contents: write"
    )
    for step in job["steps"]:
        assert "create-github-app-token" not in step.get("uses", ""), (
            f"{workflow}/{job_id} mints a write token"
        )
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        assert "GITHUB_TOKEN" not in (step.get("env") or {}), f"{workflow}/{job_id}: {step.get('name')}"
    assert "GITHUB_TOKEN" not in (job.get("env") or {})


def test_retrain_proposes_to_staging_and_never_to_production() -> None:
    scripts = [s.script for s in run_steps() if s.file.stem == "retrain"]
    proposals = [s for s in scripts if "modelops propose" in s]
    assert proposals and all("--env staging" in s for s in proposals)
    assert not any("--env production" in s for s in scripts)
    retrains = [s for s in scripts if "modelops retrain" in s]
    assert retrains and all("--no-propose" in s and "--decided" in s for s in retrains)
    assert "environment: production" not in (WORKFLOWS_DIR / "retrain.yml").read_text("utf-8")


def _retrain_step_script() -> str:
    (script,) = [s.script for s in run_steps() if s.file.stem == "retrain" and "modelops retrain" in s.script]
    return script


@pytest.mark.parametrize(("code", "green"), [(0, True), (1, True), (2, False), (3, False)])
def test_a_gate_no_leaves_the_run_green_and_a_failure_turns_it_red(
    tmp_path: Path, code: int, green: bool
) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "modelops"
    fake.write_text(f"#!/bin/sh\necho '{{\"exit\": {code}}}'\nexit {code}\n")
    fake.chmod(0o755)
    env = {
        **os.environ,
        "MODEL": "churn",
        "TRIGGER": "drift",
        "SEVERITY": "major",
        "REASON": "r",
        "DECIDED": "retrain ledger run #1",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    # GitHub runs `run:` scripts with `bash -e {0}`.
    result = subprocess.run(
        ["bash", "-e", "-c", _retrain_step_script()], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (result.returncode == 0) is green, result.stderr
    assert (tmp_path / "retrain.json").read_text().strip() == f'{{"exit": {code}}}'


def test_retrain_on_a_runner_refuses_to_debounce_against_an_empty_ledger(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "models.yaml", repo / "models.yaml")
    result = modelops(
        "retrain", "--model", "churn", "--trigger", "schedule", cwd=repo, env={"GITHUB_ACTIONS": "true"}
    )
    assert result.returncode == 2, result.stderr
    assert "--decided" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (repo / ".modelops" / "retrain-ledger.sqlite").exists()
