"""The workflows are safe by construction: triggers, least privilege, pins, timeouts, concurrency, no
template expansion inside shell scripts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from modelops.core.document import ModelsDocument
from tests.helpers import REPO_ROOT
from tests.workflows.workflow_files import (
    WORKFLOWS_DIR,
    action_paths,
    load,
    raw_uses,
    run_steps,
    triggers,
    workflow_paths,
)

WORKFLOWS = {path.stem: load(path) for path in workflow_paths()}
ALL_JOBS = [(name, job_id, job) for name, doc in WORKFLOWS.items() for job_id, job in doc["jobs"].items()]
JOB_IDS = [f"{name}/{job_id}" for name, job_id, _ in ALL_JOBS]

# Which job may write what. Every scope not listed here is read or none.
WRITE_SCOPES = {
    ("pr", "policy-comment"): {"pull-requests"},
    ("train", "train"): {"id-token"},
    ("train", "propose-staging"): {"contents", "pull-requests"},
    ("train", "propose-production"): {"contents", "pull-requests"},
    ("sync", "wait-synced"): {"id-token"},
    # pull-requests: only for the fallback, a rollback PR when main refuses the direct commit.
    ("rollback", "rollback"): {"contents", "pull-requests"},
    ("rollback", "wait-synced"): {"id-token"},
    ("rollback", "notify-failure"): {"issues"},
    # Training runs without a write token; only the proposing job holds one.
    ("retrain", "retrain"): {"id-token"},
    ("retrain", "propose-staging"): {"contents", "pull-requests"},
    ("drill", "drill"): {"contents", "pull-requests", "id-token"},
    ("board", "deploy"): {"pages", "id-token"},
    # An abort is a rollback commit; a promote opens the next step's PR.
    ("analyze", "analyze"): {"contents", "pull-requests"},
}

CLOUD_LOGIN = "./.github/actions/cloud-login"
# deploy-pages proves the artifact to GitHub Pages with an OIDC token; no cloud login there.
PAGES_DEPLOY = re.compile(r"^actions/deploy-pages@")
CHECKOUT = re.compile(r"^actions/checkout@")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+$")


def write_scopes(job: dict[str, Any]) -> set[str]:
    return {scope for scope, level in job["permissions"].items() if level == "write"}


def test_the_six_workflows_of_the_loop_the_canary_analysis_and_the_board_exist() -> None:
    assert set(WORKFLOWS) == {"pr", "train", "sync", "rollback", "retrain", "drill", "board", "analyze"}


def test_canary_analysis_runs_on_a_schedule_on_demand_and_from_the_relay() -> None:
    on = triggers(WORKFLOWS["analyze"])
    assert set(on) == {"schedule", "workflow_dispatch", "repository_dispatch"}
    assert on["repository_dispatch"]["types"] == ["analyze"]
    scripts = "\n".join(s.script for s in run_steps() if s.file.stem == "analyze")
    assert ".venv/bin/modelops analyze --all" in scripts


def test_pr_gate_runs_on_pull_requests_to_main_and_again_when_approvals_or_labels_change() -> None:
    on = triggers(WORKFLOWS["pr"])
    assert set(on) == {"pull_request", "pull_request_review", "merge_group"}, (
        "pull_request_target hands PR code a write token"
    )
    assert on["pull_request"]["branches"] == ["main"]
    assert {"opened", "synchronize", "reopened", "labeled", "unlabeled"} <= set(on["pull_request"]["types"])
    assert {"submitted", "dismissed"} <= set(on["pull_request_review"]["types"])
    # A job skipped on the review run would report a passing check over a failing one.
    assert [
        job_id for job_id, job in WORKFLOWS["pr"]["jobs"].items() if "event_name" in str(job.get("if"))
    ] == []


def test_policy_check_reads_the_pull_request_from_github_through_the_forge() -> None:
    step = next(s for s in WORKFLOWS["pr"]["jobs"]["policy"]["steps"] if s.get("id") == "check")
    assert step["env"]["BASE"].startswith(
        "${{ github.event.pull_request.base.ref && format('origin/{0}', github.event.pull_request.base.ref)"
    ), "github.base_ref is empty on reviews"
    assert step["env"]["PR_NUMBER"] == "${{ github.event.pull_request.number }}"
    # Reviews, labels and the author come from GitHubForge.pull_request_facts, not from bash.
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert '--base "$BASE" --pr "$PR_NUMBER"' in step["run"]
    assert "--approvals" not in step["run"] and "gh api" not in str(WORKFLOWS["pr"])
    assert WORKFLOWS["pr"]["jobs"]["policy"]["permissions"]["pull-requests"] == "read"


def test_training_runs_on_merges_that_change_what_the_model_learns_from() -> None:
    on = triggers(WORKFLOWS["train"])
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    paths = on["push"]["paths"]
    # The data are dvc.lock outputs: a data/**/*.dvc pattern would match nothing (test_on_a_runner.py).
    assert {"params.yaml", "dvc.yaml", "dvc.lock"} <= set(paths)
    assert any(p.startswith("scripts/modelops/") for p in paths)
    assert "models.yaml" not in paths, "a promotion must not train again"
    assert on["workflow_dispatch"]["inputs"]["model"]["default"] == "churn"


def test_sync_runs_on_merges_that_change_the_desired_state() -> None:
    on = triggers(WORKFLOWS["sync"])
    assert set(on) == {"push"}
    assert on["push"]["branches"] == ["main"]
    assert set(on["push"]["paths"]) == {"models.yaml", "applications/**"}


def test_sync_waits_for_each_changed_pin_from_modelops_changes() -> None:
    jobs = WORKFLOWS["sync"]["jobs"]
    assert jobs["wait-synced"]["strategy"]["matrix"] == "${{ fromJSON(needs.changes.outputs.matrix) }}"
    assert set(jobs["wait-synced"]["needs"]) == {"changes", "sync-registry"}
    changes_step = next(s for s in jobs["changes"]["steps"] if s.get("id") == "changes")
    assert changes_step["env"]["BASE_SHA"] == "${{ github.event.before }}"
    assert "modelops changes --base" in changes_step["run"]


def test_rollback_starts_from_a_person_or_from_the_relay() -> None:
    on = triggers(WORKFLOWS["rollback"])
    assert set(on) == {"workflow_dispatch", "repository_dispatch"}
    assert on["repository_dispatch"]["types"] == ["rollback"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["reason"]["required"] is True
    assert inputs["env"]["type"] == "choice"


def test_rollback_accepts_exactly_what_the_relay_sends() -> None:
    # GitHub refuses a workflow_dispatch carrying an input the workflow does not declare.
    from modelops.adapters.github_dispatch import rollback_payload
    from modelops.core.incident import Incident, IncidentKind

    incident = Incident(
        IncidentKind.ROLLBACK,
        "churn",
        "production",
        7,
        "ModelErrorRateHigh",
        "2026-01-01T00:00:00Z",
        "page",
        "",
    )
    sent = set(rollback_payload(incident))
    inputs = triggers(WORKFLOWS["rollback"])["workflow_dispatch"]["inputs"]
    assert set(inputs) == sent
    env = WORKFLOWS["rollback"]["env"]
    used = {
        key for value in env.values() for key in sent if f"github.event.client_payload.{key} " in value + " "
    }
    assert used == sent, f"client_payload fields ignored: {sorted(sent - used)}"


def test_rollback_environment_choices_are_the_environments_of_models_yaml() -> None:
    state = ModelsDocument.load(REPO_ROOT / "models.yaml").state()
    environments = {env for model in state.models.values() for env in model.environments}
    options = triggers(WORKFLOWS["rollback"])["workflow_dispatch"]["inputs"]["env"]["options"]
    assert set(options) == environments


def test_the_board_is_built_on_every_change_to_main_and_published_to_pages() -> None:
    board = WORKFLOWS["board"]
    assert triggers(board)["push"] == {"branches": ["main"]}
    build, deploy = board["jobs"]["build"], board["jobs"]["deploy"]
    assert ".venv/bin/modelops board --out board-site" in "".join(s.get("run", "") for s in build["steps"])
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_retraining_runs_weekly_on_demand_and_on_drift() -> None:
    on = triggers(WORKFLOWS["retrain"])
    assert set(on) == {"schedule", "workflow_dispatch", "repository_dispatch"}
    (cron,) = (entry["cron"] for entry in on["schedule"])
    _minute, _hour, day_of_month, month, day_of_week = cron.split()
    assert (day_of_month, month) == ("*", "*") and day_of_week.isdigit(), f"not weekly: {cron}"
    assert on["repository_dispatch"]["types"] == ["retrain"]
    assert set(on["workflow_dispatch"]["inputs"]["trigger"]["options"]) >= {"schedule", "drift"}


def test_the_rollback_drill_runs_monthly_on_staging_only() -> None:
    on = triggers(WORKFLOWS["drill"])
    assert set(on) == {"schedule", "workflow_dispatch"}
    (cron,) = (entry["cron"] for entry in on["schedule"])
    _minute, _hour, day_of_month, month, day_of_week = cron.split()
    assert day_of_month.isdigit() and (month, day_of_week) == ("*", "*"), f"not monthly: {cron}"
    scripts = "\n".join(s.script for s in run_steps() if s.file.stem == "drill")
    assert "--env staging" in scripts
    assert "production" not in scripts.replace("--env staging", "")
    assert scripts.count("modelops wait-synced") == 2, (
        "the drill verifies both the promotion and the rollback"
    )


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_grants_nothing_by_default(name: str) -> None:
    assert WORKFLOWS[name]["permissions"] == {}


@pytest.mark.parametrize(("name", "job_id", "job"), ALL_JOBS, ids=JOB_IDS)
def test_job_writes_only_what_it_needs(name: str, job_id: str, job: dict[str, Any]) -> None:
    assert isinstance(job.get("permissions"), dict), "every job states its permissions"
    assert set(job["permissions"].values()) <= {"read", "write", "none"}
    assert write_scopes(job) == WRITE_SCOPES.get((name, job_id), set())


@pytest.mark.parametrize(("name", "job_id", "job"), ALL_JOBS, ids=JOB_IDS)
def test_oidc_only_in_jobs_that_reach_a_cloud(name: str, job_id: str, job: dict[str, Any]) -> None:
    logs_in = any(
        step.get("uses") == CLOUD_LOGIN or PAGES_DEPLOY.match(step.get("uses", ""))
        for step in job.get("steps", [])
    )
    assert ("id-token" in write_scopes(job)) == logs_in


@pytest.mark.parametrize(("name", "job_id", "job"), ALL_JOBS, ids=JOB_IDS)
def test_checkout_keeps_credentials_only_in_jobs_that_push(
    name: str, job_id: str, job: dict[str, Any]
) -> None:
    pushes = "contents" in write_scopes(job)
    for step in job.get("steps", []):
        if CHECKOUT.match(step.get("uses", "")):
            assert "persist-credentials" in step.get("with", {}), "say it explicitly"
            assert step["with"]["persist-credentials"] is pushes


@pytest.mark.parametrize(("name", "job_id", "job"), ALL_JOBS, ids=JOB_IDS)
def test_every_job_has_a_timeout(name: str, job_id: str, job: dict[str, Any]) -> None:
    timeout = job.get("timeout-minutes")
    assert isinstance(timeout, int) and 0 < timeout <= 90
    if name == "pr":
        assert timeout <= 10, "the PR gate is the fast one"


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_runs_that_must_not_overlap_are_serialised(name: str) -> None:
    concurrency = WORKFLOWS[name]["concurrency"]
    # A superseded PR run is worthless; anything that writes must finish what it started.
    assert concurrency["cancel-in-progress"] is (name == "pr")


def test_rollbacks_queue_per_model_and_environment() -> None:
    group = WORKFLOWS["rollback"]["concurrency"]["group"]
    for field in ("model", "env"):
        assert f"inputs.{field}" in group
        assert f"github.event.client_payload.{field}" in group
    assert WORKFLOWS["drill"]["concurrency"]["group"].endswith("-staging")
    assert WORKFLOWS["drill"]["concurrency"]["group"].startswith("rollback-")


def test_training_and_retraining_share_one_queue_per_model() -> None:
    train = WORKFLOWS["train"]["concurrency"]["group"]
    retrain = WORKFLOWS["retrain"]["concurrency"]["group"]
    assert train.startswith("train-") and retrain.startswith("train-")


@pytest.mark.parametrize("step", list(run_steps()), ids=lambda s: s.where)
def test_no_template_expansion_inside_run_scripts(step) -> None:
    # ${{ }} is pasted into the script before the shell sees it: untrusted text becomes code.
    assert "${{" not in step.script, 'pass the value through env: and use "$VAR"'


@pytest.mark.parametrize("path", [*workflow_paths(), *action_paths()], ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_release_noted(path) -> None:
    for line, ref, comment in raw_uses(path):
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{path.name}:{line}: {ref} is not pinned to a 40-hex commit"
        assert VERSION_COMMENT.match(comment), f"{path.name}:{line}: add the release as `# vX.Y.Z`"


def test_one_pin_per_action_across_all_files() -> None:
    pins: dict[str, set[str]] = {}
    for path in [*workflow_paths(), *action_paths()]:
        for _, ref, comment in raw_uses(path):
            if not ref.startswith("./"):
                action, sha = ref.split("@")
                pins.setdefault(action, set()).add(f"{sha} {comment}")
    assert pins, "no actions found"
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


def test_the_pr_gate_holds_no_secrets() -> None:
    assert "secrets." not in (WORKFLOWS_DIR / "pr.yml").read_text("utf-8")


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_secrets_are_scoped_to_jobs_in_a_protected_environment(name: str) -> None:
    doc = WORKFLOWS[name]
    assert "secrets." not in str(doc.get("env", {})), "workflow-level env reaches every job"
    for job_id, job in doc["jobs"].items():
        if "secrets." in str(job):
            assert job.get("environment") in {"automation", "production"}, f"{job_id} reads secrets"


def test_only_the_production_proposal_waits_for_required_reviewers() -> None:
    in_production = [
        f"{name}/{job_id}" for name, job_id, job in ALL_JOBS if job.get("environment") == "production"
    ]
    # A rollback or a sync must never wait for a person: they follow a commit that is already decided.
    assert in_production == ["train/propose-production"]
    job = WORKFLOWS["train"]["jobs"]["propose-production"]
    assert "vars.PROPOSE_PRODUCTION == 'true'" in job["if"]


def test_evidence_reaches_the_summary_and_the_artifacts() -> None:
    steps = WORKFLOWS["train"]["jobs"]["train"]["steps"]
    assert any('evidence/report.md >> "$GITHUB_STEP_SUMMARY"' in s.get("run", "") for s in steps)
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 1 and "evidence/" in uploads[0]["with"]["path"]


def test_a_failed_rollback_raises_the_alarm() -> None:
    job = WORKFLOWS["rollback"]["jobs"]["notify-failure"]
    assert job["if"] == "failure()"
    assert set(job["needs"]) == {"rollback", "wait-synced"}
    assert any("modelops notify rollback-failed" in s.get("run", "") for s in job["steps"])


def test_required_checks_in_the_docs_are_the_pr_job_names() -> None:
    docs = (REPO_ROOT / "docs" / "github.md").read_text("utf-8")
    for job in WORKFLOWS["pr"]["jobs"].values():
        if job.get("if") is None:  # the comment job is skipped for forks, so it cannot be required
            assert f"`{job['name']}`" in docs, f"docs/github.md: list `{job['name']}` as a required check"


@pytest.mark.parametrize(("name", "job_id", "job"), ALL_JOBS, ids=JOB_IDS)
def test_jobs_that_commit_have_a_git_identity(name: str, job_id: str, job: dict[str, Any]) -> None:
    if "contents" in write_scopes(job):
        identity = {"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"}
        assert identity <= set(job.get("env", {})), "a runner has no git identity: commits would fail"
