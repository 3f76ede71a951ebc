"""What a GitHub runner is not: it has no registry of its own, and its paths filters see only tracked files."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys

import yaml

from tests.forge_github.hub import glob_match, triggers
from tests.helpers import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def test_a_runner_without_a_tracking_uri_is_bad_input_naming_the_variable(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "models.yaml").write_text((REPO_ROOT / "models.yaml").read_text("utf-8"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["GITHUB_ACTIONS"] = "true"
    done = subprocess.run(
        [sys.executable, "-m", "modelops", "sync-registry", "--repo", str(repo), "--json"],
        env=env,
        text=True,
        capture_output=True,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "MLFLOW_TRACKING_URI" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    # No throwaway registry was made on the runner's disk.
    assert not (repo / ".modelops" / "mlflow.db").exists()


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, text=True, capture_output=True, check=True
    ).stdout
    return listing.splitlines()


def test_every_paths_filter_of_a_push_trigger_matches_a_tracked_file():
    """A pattern that matches nothing (data/**/*.dvc, when the data are dvc.lock outputs) never fires."""
    files = tracked_files()
    dead = []
    for workflow in sorted(WORKFLOWS.glob("*.yml")):
        push = triggers(yaml.safe_load(workflow.read_text("utf-8"))).get("push") or {}
        for pattern in push.get("paths", []):
            if not any(glob_match(pattern, path) for path in files):
                dead.append(f"{workflow.name}: {pattern}")
    assert not dead, f"paths filters that match no tracked file: {dead}"


def test_the_paths_filter_follows_github_globs():
    assert glob_match("applications/**", "applications/churn/overlays/production/kustomization.yaml")
    assert glob_match("scripts/modelops/flows/train*.py", "scripts/modelops/flows/train.py")
    assert not glob_match("scripts/modelops/flows/train*.py", "scripts/modelops/flows/sub/train.py")
    assert not glob_match("data/**/*.dvc", "data/churn/train.csv")
    assert glob_match("data/**/*.dvc", "data/churn/train.csv.dvc")


def pins(lock: str) -> dict[str, str]:
    found = {}
    for line in (REPO_ROOT / lock).read_text("utf-8").splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, _, version = line.strip().partition("==")
            found[name.lower()] = version
    return found


def test_the_rollback_lock_is_a_subset_of_the_full_lock_at_the_same_versions():
    """rollback.yml installs less, never something else: `make lock` compiles it against the full lock."""
    full, rollback = pins("requirements.lock"), pins("requirements-rollback.lock")
    differ = {
        name: (version, full.get(name)) for name, version in rollback.items() if full.get(name) != version
    }
    assert not differ, f"requirements-rollback.lock disagrees with requirements.lock: {differ}"
    assert {"mlflow-skinny", "pygithub", "kubernetes"} <= set(rollback)
    assert not {"mlflow", "scikit-learn", "pandas", "dvc"} & set(rollback), (
        "the rollback lock pulls in training"
    )


def distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# What rollback.yml's commands (rollback, wait-synced, notify) import when they run, lazy imports included.
ROLLBACK_PATH = (
    "cli",
    "flows.rollback",
    "flows.wait_synced",
    "flows.notify",
    "adapters.registry",
    "adapters.kube",
    "adapters.github_forge",
    "adapters.pushgateway",
    "adapters.gitread",
)


def test_the_commands_rollback_yml_runs_import_only_what_the_rollback_lock_installs():
    """A module the rollback path imports that the lean lock lacks is a rollback that fails on a runner
    (numpy came in through models.yaml's validation once; the metric table no longer needs it)."""
    probe = (
        "import importlib, json, sys\n"
        "startup = set(sys.modules)\n"  # what site's .pth files load (setuptools' distutils hack)
        f"for name in {ROLLBACK_PATH!r}:\n"
        "    importlib.import_module('modelops.' + name)\n"
        "print(json.dumps(sorted({m.partition('.')[0] for m in set(sys.modules) - startup})))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], text=True, capture_output=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    owners = importlib.metadata.packages_distributions()
    imported = {distribution(d) for m in json.loads(done.stdout) for d in owners.get(m, [])}
    locked = {distribution(name) for name in pins("requirements-rollback.lock")}
    assert imported - {"modelops"} - locked == set(), "imported on the rollback path, not in the lean lock"
