"""`modelops init model NAME --task T`: a new model, scaffolded whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelops.context import Context
from modelops.flows import init_model as flow
from tests.helpers import REPO_ROOT, modelops, require_binary, run

COPIED = (
    "models.yaml",
    "params.yaml",
    "dvc.yaml",
    "dvc.lock",
    ".github",
    "applications",
    "monitoring",
    "policies",
    "training",
)


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    } | {p.relative_to(root).as_posix() + "/": "dir" for p in root.rglob("*") if p.is_dir()}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    return root


def test_after_init_validate_and_render_check_pass_and_the_files_listed_exist(repo: Path) -> None:
    result = modelops("init", "model", "fraud", "--task", "binary", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is False
    assert set(report["written"]) == set(report["created"]) | set(report["modified"])
    assert all((repo / p).is_file() for p in report["written"])
    assert {"training/fraud.py", "training/fraud_data.py", "monitoring/rules/model-fraud.yaml"} <= set(
        report["created"]
    )
    assert modelops("validate", cwd=repo).returncode == 0
    check = modelops("render", "--check", cwd=repo)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_new_model_s_alert_rules_pass_their_promtool_tests(repo: Path, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    assert modelops("init", "model", "fraud", "--task", "regression", cwd=repo).returncode == 0
    out = tmp_path / "rendered"
    rendered = modelops(
        "monitoring", "render", "--profile", "production", "--out", str(out), "--json", cwd=repo
    )
    assert rendered.returncode == 0, rendered.stderr
    result = run([promtool, "test", "rules", str(out / "tests" / "model-fraud.test.yaml")], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_synthetic_data_stage_writes_the_same_bytes_every_time(repo: Path) -> None:
    assert modelops("init", "model", "fraud", "--task", "multiclass", cwd=repo).returncode == 0
    digests = []
    for out in ("a", "b"):
        subprocess.run(
            [sys.executable, "training/fraud_data.py", "--out", f"out-{out}"], cwd=repo, check=True
        )
        digests.append(
            {
                f: hashlib.md5((repo / f"out-{out}" / f).read_bytes()).hexdigest()
                for f in ("train.csv", "golden.csv")
            }
        )
    assert digests[0] == digests[1]
    header = (repo / "out-a" / "golden.csv").read_text("utf-8").splitlines()[0]
    assert header == "x1,x2,x3,segment,label"
    assert len((repo / "out-a" / "golden.csv").read_text("utf-8").splitlines()) == 1 + 150


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["churn", "--task", "binary"], "model 'churn' exists already"),
        (["Fraud_Detector", "--task", "binary"], "not a valid Kubernetes name"),
    ],
)
def test_refusals_are_exit_2_with_one_line_and_change_nothing(
    repo: Path, args: list[str], message: str
) -> None:
    before = snapshot(repo)
    result = modelops("init", "model", *args, cwd=repo)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(repo) == before


def test_a_second_run_with_the_same_name_is_the_name_exists_refusal(repo: Path) -> None:
    assert modelops("init", "model", "fraud", "--task", "binary", cwd=repo).returncode == 0
    after_first = snapshot(repo)
    again = modelops("init", "model", "fraud", "--task", "regression", cwd=repo)
    assert again.returncode == 2
    assert "model 'fraud' exists already" in again.stderr
    assert snapshot(repo) == after_first


def test_dry_run_prints_the_plan_and_writes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    result = modelops("init", "model", "fraud", "--task", "binary", "--dry-run", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "would create training/fraud.py" in result.stdout
    assert "would modify models.yaml" in result.stdout
    assert snapshot(repo) == before
    as_json = json.loads(
        modelops("init", "model", "fraud", "--task", "binary", "--dry-run", "--json", cwd=repo).stdout
    )
    assert as_json["written"] == [] and "training/fraud.py" in as_json["created"]


# 13 new files come first, then the 5 edited ones: 17 fails after three edits landed.
@pytest.mark.parametrize("failing_call", [1, 12, 17])
def test_a_failure_half_way_through_writing_leaves_the_repository_as_it_was(
    repo: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    before = snapshot(repo)
    real_replace = os.replace
    calls = []

    def replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == failing_call:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(flow.os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        flow.init_model(Context(repo=repo), "fraud", "binary")
    assert len(calls) == failing_call
    assert snapshot(repo) == before  # no new file, no temp file, no new directory, every edit undone
    monkeypatch.setattr(flow.os, "replace", real_replace)
    flow.init_model(Context(repo=repo), "fraud", "binary")  # and then it simply works
    assert (repo / "training" / "fraud.py").is_file()


def test_help_names_the_task_choices() -> None:
    result = modelops("init", "model", "--help")
    assert result.returncode == 0
    assert "binary,multiclass,regression" in result.stdout.replace(" ", "").replace("\n", "")
