"""pr.yml's `promotion policy` on a merge queue: the check judges what would land, against main as it is
when the queue builds the commit, so a Version quarantined after the approval cannot merge on an old
green check. The step's own script runs here, with the real `modelops policy check` behind it, the
GitHub REST double answering for the pull request and a real MLflow registry for the lineage tags."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.forge_github.double import GitHubDouble
from tests.helpers import REPO_ROOT
from tests.manifests.fixtures import environment, git, make_repo, two_models, write_models
from tests.workflows.workflow_files import WORKFLOWS_DIR, load, triggers

GOOD_TAGS = {"eval.passed": "true", "git_commit": "abc123", "eval.golden_md5": "f" * 32, "data_version": "d1"}
PR = 42
PR_YML = load(WORKFLOWS_DIR / "pr.yml")


def _production(**env: object) -> dict[str, dict[str, object]]:
    models = two_models()
    models["churn"]["environments"]["production"] = environment(alias="production", **env)  # type: ignore[arg-type]
    return models


def _policy_step() -> dict[str, object]:
    return next(s for s in PR_YML["jobs"]["policy"]["steps"] if s.get("id") == "check")


@pytest.fixture
def registry_uri(tmp_path: Path) -> str:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn-classifier")
    for _ in range(4):
        client.create_model_version("churn-classifier", "file:///artifacts/model", tags=GOOD_TAGS)
    return uri


@pytest.fixture
def queue(tmp_path: Path, httpserver: HTTPServer) -> dict[str, str]:
    """An owner-approved PR adding a v4 canary, opened on main at `approved_on`; main then quarantined v4
    (a rollback elsewhere), and the queue built the PR on top of that main (`queue_base`)."""
    repo = make_repo(tmp_path / "repo", _production(version=3, previous=2), commit=True)
    approved_on = git(repo, "rev-parse", "HEAD").strip()
    canary = {"version": 4, "traffic": 10}
    git(repo, "checkout", "-qb", "pull")  # the PR's merge ref as the owners' approval saw it
    write_models(repo, _production(version=3, previous=2, canary=canary))
    git(repo, "commit", "-qam", "Promote churn v4 to production (canary 10 %)")
    git(repo, "checkout", "-q", "main")
    write_models(repo, _production(version=3, previous=2, quarantined=[1, 4]))
    git(repo, "commit", "-qam", "rollback churn staging: v4 → v3")
    queue_base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-qb", "queue")
    write_models(repo, _production(version=3, previous=2, quarantined=[1, 4], canary=canary))
    git(repo, "commit", "-qam", f"Merge pull request #{PR} from promote/churn/production/v4")
    (repo / ".venv").symlink_to(REPO_ROOT / ".venv")  # the step calls .venv/bin/modelops
    github = GitHubDouble(httpserver)
    head = git(repo, "rev-parse", "HEAD").strip()
    pull = github.pull(PR, author="carol", head="promote/churn/production/v4", head_sha=head)
    github.expect("GET", f"/repos/acme/models/pulls/{PR}").respond_with_json(pull)
    github.expect("GET", f"/repos/acme/models/pulls/{PR}/reviews").respond_with_json(
        [github.review(PR, who, "APPROVED", "2026-01-05T11:00:00Z") for who in ("alice", "dave")]
    )
    return {
        "repo": str(repo),
        "approved_on": approved_on,
        "queue_base": queue_base,
        "queue_ref": f"refs/heads/gh-readonly-queue/main/pr-{PR}-{approved_on}",
        **github.env(),
    }


def run_policy_step(
    queue: dict[str, str], registry_uri: str, **event_env: str
) -> subprocess.CompletedProcess[str]:
    repo = Path(queue["repo"])
    env = {
        **os.environ,
        "GITHUB_TOKEN": queue["GITHUB_TOKEN"],
        "GITHUB_API_URL": queue["GITHUB_API_URL"],
        "GITHUB_REPOSITORY": queue["GITHUB_REPOSITORY"],
        "MLFLOW_TRACKING_URI": registry_uri,
        "GITHUB_STEP_SUMMARY": str(repo.parent / "summary.md"),
        "GITHUB_OUTPUT": str(repo.parent / "output"),
        **event_env,
    }
    env.pop("MODELOPS_SANDBOX", None)
    return subprocess.run(
        ["bash", "-e", "-c", str(_policy_step()["run"])], cwd=repo, env=env, text=True, capture_output=True
    )


def test_pr_yml_runs_the_required_checks_on_merge_groups_too() -> None:
    on = triggers(PR_YML)
    assert on["merge_group"] == {"types": ["checks_requested"]}
    env = _policy_step()["env"]
    assert "github.event.merge_group.base_sha" in env["BASE"]
    assert "format('origin/{0}', github.event.pull_request.base.ref)" in env["BASE"]
    assert env["QUEUE_REF"] == "${{ github.event.merge_group.head_ref }}"


def test_a_version_quarantined_after_the_approval_is_denied_in_the_queue(
    queue: dict[str, str], registry_uri: str
) -> None:
    # What the check said when the owners approved: main had not quarantined v4 yet.
    git(Path(queue["repo"]), "checkout", "-q", "pull")
    stale = run_policy_step(queue, registry_uri, BASE=queue["approved_on"], PR_NUMBER=str(PR), QUEUE_REF="")
    assert stale.returncode == 0, stale.stdout + stale.stderr
    # The merge group: no pull_request in the event, the PR named by the queue's ref.
    git(Path(queue["repo"]), "checkout", "-q", "queue")
    (Path(queue["repo"]) / "policy.md").unlink()
    queued = run_policy_step(
        queue, registry_uri, BASE=queue["queue_base"], PR_NUMBER="", QUEUE_REF=queue["queue_ref"]
    )
    # Refused before any rule runs (a pin of a quarantined Version is not a valid models.yaml): the
    # required check fails, and the comment still says why.
    assert queued.returncode == 2, queued.stdout + queued.stderr
    policy = (Path(queue["repo"]) / "policy.md").read_text("utf-8")
    assert policy.startswith("### Promotion policy: **not judged** (exit 2)")
    assert "production.canary.version: version 4 is quarantined" in policy
