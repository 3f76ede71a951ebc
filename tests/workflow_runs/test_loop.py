"""The loop through the workflow files, on one world (tests run in this order, each on the last's state):

1. a push to main trains churn (train.yml, its data from the S3 DVC remote), gates it and proposes it
   to staging and production;
2. an owner approves the production PR: every pr.yml check runs on it and passes, `promotion policy`
   included;
3. the merge starts sync.yml: the registry aliases follow git and the cluster is waited for;
4. a fault: an Alertmanager payload naming the canary reaches the relay, which dispatches
   rollback.yml; the rollback commits to the protected main through the App's bypass, and sync.yml
   runs again;
5. a drift alert reaches the relay, whose dispatch waits out GitHub's 429 and starts retrain.yml; its
   PR goes to staging and waits for review; a dispatch GitHub refuses reports GitHub's own message;
6. drill.yml promotes the retrained version to staging, rolls it back as an alert would and finds
   staging as it was, through modelops alone;
7. a runner without MLFLOW_TRACKING_URI: the rollback lands, the registry step fails with exit 2.

pr.yml runs once, on the approved production PR: it is disabled (as a fork's workflow can be) while
train.yml and retrain.yml open their PRs, so neither the `opened` runs nor the staging PRs' are paid for.
During the drill sync.yml, whose runs steps 3 and 4 show, is disabled (the drill waits for the cluster
itself), and so is pr.yml, which its update of the retrain's PR would start.
That an opened PR starts pr.yml, and an App-opened one too, is the double's rule (tests/forge_github).
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import requests
import yaml

from tests.core.alerts import alert, webhook
from tests.forge_github.hub import APP_BOT, REQUIRED_CHECKS, Actor
from tests.workflow_runs.world import RELAY_TOKEN, World, fresh_clone, git, relay

PRODUCTION_HEAD = "promote/churn/production/v3"
STAGING_HEAD = "promote/churn/staging/v3"


def pins(world: World, env: str, model: str = "churn") -> dict[str, object]:
    return yaml.safe_load(world.origin_file("models.yaml"))["models"][model]["environments"][env]


def production_version(world: World) -> int:
    return int(pins(world, "production")["version"])  # type: ignore[call-overload]


@contextmanager
def variables(world: World, **changes: str | None):
    """Repository variables as a test sets them (None deletes one), for the runs started meanwhile."""
    before = dict(world.variables)
    for name, value in changes.items():
        if value is None:
            world.variables.pop(name, None)
        else:
            world.variables[name] = value
    try:
        yield
    finally:
        world.variables.clear()
        world.variables.update(before)


def latest_checks(world: World, sha: str) -> dict[str, str]:
    latest: dict[str, str] = {}
    for check in world.hub.check_runs:
        if check["head_sha"] == sha:
            latest[check["name"]] = check["conclusion"]
    return latest


def all_green(result) -> bool:
    return bool(result.jobs) and all(job.result == "success" for job in result.jobs.values())


def test_a_push_to_main_trains_from_the_s3_remote_gates_and_proposes(world: World):
    clone = fresh_clone(world, "developer")
    params = clone / "params.yaml"
    params.write_text(params.read_text("utf-8").replace("max_iter: 200", "max_iter: 180"), encoding="utf-8")
    git(clone, "commit", "--quiet", "-am", "churn: fewer boosting rounds")
    world.hub.disabled_workflows.add("pr.yml")
    world.hub.ruleset_enforced = False  # a push straight to main, as before protection is set up
    try:
        pushed = world.push_as("alice", clone)
        assert pushed.returncode == 0, pushed.stderr
        world.hub.wait_idle()
    finally:
        world.hub.ruleset_enforced = True
        world.hub.disabled_workflows.discard("pr.yml")
    assert [(r.workflow, r.event) for r in world.hub.runs if r.workflow != "sync.yml"][-1:] == [
        ("train.yml", "push")
    ]
    (train,) = world.finished(world.hub.runs_of("train.yml"))
    assert all_green(train), train.failures()
    # One model changed, so one leg per matrix job (act names a job without its matrix values).
    assert set(train.jobs) == {
        "models to train",
        "train and evaluate",
        "propose to staging",
        "propose to production",
    }, train.summary()
    assert "churn: params.yaml: churn changed" in train.job("models to train").text
    trained = train.job("train and evaluate")
    assert "Cache and remote 'storage' are in sync" in trained.text
    heads = {p.head: p for p in world.hub.pulls.values()}
    assert {STAGING_HEAD, PRODUCTION_HEAD} <= set(heads), sorted(heads)
    production = heads[PRODUCTION_HEAD]
    # Opened with the App's token, so that pr.yml would run on it (a GITHUB_TOKEN PR starts nothing).
    assert production.author == APP_BOT and production.state == "open"
    assert "v3" in production.title


def test_an_owner_approves_the_production_pr_and_every_check_runs_on_it_and_passes(world: World):
    production = next(p for p in world.hub.pulls.values() if p.head == PRODUCTION_HEAD)
    refused, answer = world.hub.merge(production.number, Actor("alice", "user"))
    assert refused == 405, answer  # no check has run and nobody approved
    runs = world.hub.review(production.number, "alice")
    assert [(r.workflow, r.event) for r in runs] == [("pr.yml", "pull_request_review")]
    (checks,) = world.finished(runs)
    assert all_green(checks), checks.failures()
    assert latest_checks(world, production.head_sha) == {
        **dict.fromkeys(REQUIRED_CHECKS, "success"),
        "policy comment": "success",
    }
    # The one sticky comment: the policy allowed it, the lineage rule having read the candidate's
    # evaluation from the registry (2a).
    (comment,) = [c for c in world.hub.comments if c["_number"] == production.number]
    assert "modelops-policy" in comment["body"]
    assert "### Promotion policy: allowed" in comment["body"] and "❌" not in comment["body"], comment["body"]


def test_the_merge_starts_sync_which_moves_the_aliases_and_waits_for_the_cluster(world: World):
    production = next(p for p in world.hub.pulls.values() if p.head == PRODUCTION_HEAD)
    runs_before = len(world.hub.runs)
    merged, answer = world.hub.merge(production.number, Actor("alice", "user"))
    assert merged == 200, answer
    world.hub.wait_idle()
    started = world.hub.runs[runs_before:]
    assert [(r.workflow, r.event) for r in started] == [("sync.yml", "push")], started
    (sync,) = world.finished(started)
    assert all_green(sync), sync.failures()
    assert "wait-synced churn/production" in sync.jobs, sync.summary()
    # churn promotes through a canary (canary_steps: [10]): v3 takes 10 % next to v2.
    pinned = pins(world, "production")
    assert pinned["version"] == 2 and pinned["canary"]["version"] == 3, pinned  # type: ignore[index]
    aliases = world.aliases("churn-classifier")
    assert aliases["production"] == 2 and aliases["production-canary"] == 3, aliases
    assert (
        "/apis/serving.kserve.io/v1beta1/namespaces/models-production/inferenceservices/churn"
        in world.kube.reads
    )
    assert not world.hub.violations, world.hub.violations[:5]


def test_a_fault_reaches_the_relay_which_dispatches_a_rollback_through_the_app_bypass(world: World):
    pinned = production_version(world)
    canary = pins(world, "production")["canary"]["version"]  # type: ignore[index]
    runs_before = len(world.hub.runs)
    with relay(world) as url:
        payload = webhook(
            alert(alertname="ChurnHighErrorRate", version=str(canary), starts_at="2026-12-01T10:00:00.000Z")
        )
        answer = requests.post(
            f"{url}/alerts",
            data=json.dumps(payload),
            headers={"Authorization": f"Bearer {RELAY_TOKEN}"},
            timeout=60,
        )
        assert answer.status_code < 300, answer.text
        # The rollback run pushes; its push starts sync.yml: wait for both.
        world.hub.wait_idle()
    started = world.hub.runs[runs_before:]
    assert [(r.workflow, r.event) for r in started] == [
        ("rollback.yml", "repository_dispatch"),
        ("sync.yml", "push"),
    ]
    rollback, sync = world.finished(started)
    assert rollback.job("rollback commit").result == "success", rollback.failures()
    assert rollback.job("wait-synced").result == "success", rollback.failures()
    assert all_green(sync), sync.failures()
    dispatched = [d for d in world.hub.dispatches if d.get("event_type") == "rollback"]
    assert dispatched and dispatched[-1]["client_payload"]["version"] == canary
    assert dispatched[-1]["by"] == APP_BOT
    # Main is protected; the App bypassed the ruleset, nobody else pushed.
    assert world.origin_subjects()[0].startswith("rollback churn production"), world.origin_subjects()[:3]
    assert world.hub.actor_of_push(world.hub.main_sha()) == APP_BOT
    # The canary is gone and quarantined; the pin it ran next to serves alone.
    after = pins(world, "production")
    assert after["version"] == pinned and after["canary"] is None, after
    assert canary in after["quarantined"]  # type: ignore[operator]
    aliases = world.aliases("churn-classifier")
    assert aliases["production"] == pinned and "production-canary" not in aliases, aliases
    assert not world.hub.violations, world.hub.violations[:5]


@contextmanager
def disabled(world: World, *workflows: str):
    """Workflows disabled (as a fork's can be) for the runs started meanwhile."""
    world.hub.disabled_workflows.update(workflows)
    try:
        yield
    finally:
        world.hub.disabled_workflows.difference_update(workflows)


def post_alerts(url: str, *alerts: dict[str, object]) -> requests.Response:
    return requests.post(
        f"{url}/alerts",
        data=json.dumps(webhook(*alerts)),
        headers={"Authorization": f"Bearer {RELAY_TOKEN}"},
        timeout=120,
    )


def latest_version(world: World, registered: str) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=world.tracking_uri, registry_uri=world.tracking_uri)
    return max(int(v.version) for v in client.search_model_versions(f"name='{registered}'"))


def test_a_drift_alert_reaches_retrain_yml_past_a_429_and_its_staging_pr_waits_for_review(world: World):
    """The relay's dispatch is answered 429 once (a secondary rate limit, retry-after 3 s): it waits
    that long, asks once more, and retrain.yml runs. The retrain trains without a write token and
    proposes to staging only; the PR, armed to auto-merge, waits for main's rules, not the App's bypass.
    Then a dispatch refused with the primary limit spent (lifting in a minute, past the relay's 30 s
    bound) fails at once and the relay's answer carries GitHub's own message."""
    head, staging = world.hub.main_sha(), pins(world, "staging")
    runs_before, pulls_before, answered = len(world.hub.runs), set(world.hub.pulls), len(world.hub.answers)
    with disabled(world, "pr.yml"), relay(world) as url:
        # Longer than the 1 s PyGithub leaves between two writes anyway, so that only a wait shows.
        world.hub.secondary_limited, world.hub.secondary_retry_after_s = 1, 3
        drift = alert(
            alertname="ChurnFeatureDrift",
            action="retrain",
            severity="major",
            version=None,
            starts_at="2026-12-01T11:00:00.000Z",
        )
        answer = post_alerts(url, drift)
        assert answer.status_code == 200, answer.text
        world.hub.wait_idle()
        world.hub.primary_remaining = 0
        try:
            visits = pins(world, "production", "visits")["version"]
            refused = post_alerts(
                url,
                alert(
                    alertname="VisitsHighErrorRate",
                    model="visits",
                    version=str(visits),
                    starts_at="2026-12-01T11:30:00.000Z",
                ),
            )
        finally:
            world.hub.primary_remaining = None
    dispatch_answers = [
        (at, status)
        for at, method, path, status in world.hub.answers[answered:]
        if path.endswith("/dispatches")
    ]
    assert [status for _, status in dispatch_answers] == [429, 204, 403], dispatch_answers
    assert dispatch_answers[1][0] - dispatch_answers[0][0] >= 3.0, "asked again before retry-after"
    # The refusal: GitHub's message, in one line, and no run.
    assert refused.status_code == 503, refused.text
    (failed,) = refused.json()["incidents"]
    assert failed["outcome"] == "failed" and "API rate limit exceeded for installation." in failed["detail"]
    assert "expected HTTP 204" not in failed["detail"] and "\n" not in failed["detail"], failed

    started = world.hub.runs[runs_before:]
    assert [(r.workflow, r.event) for r in started] == [("retrain.yml", "repository_dispatch")], started
    (retrain,) = world.finished(started)
    assert retrain.summary() == "propose to staging: success, retrain: success", retrain.failures()
    (dispatched,) = [d for d in world.hub.dispatches if d.get("event_type") == "retrain"]
    assert dispatched["by"] == APP_BOT
    payload = dispatched["client_payload"]
    assert (payload["model"], payload["trigger"], payload["severity"]) == ("churn", "drift", "major")
    assert payload["decided"].startswith("retrain ledger run #"), payload
    version = latest_version(world, "churn-classifier")
    assert f'"version": {version}' in retrain.job("retrain").text, retrain.job("retrain").text[-3000:]
    # One PR, to staging, opened by the App: none to production, whose environment has reviewers.
    (number,) = set(world.hub.pulls) - pulls_before
    pull = world.hub.pulls[number]
    assert pull.head == f"promote/churn/staging/v{version}" and pull.author == APP_BOT, pull
    assert pull.state == "open" and pull.merged_at is None and pull.auto_merge_by is not None
    refused_merge, answer = world.hub.merge(number, Actor("carol", "user"))
    assert refused_merge == 405, answer
    # Nothing reached main or the registry's aliases: the PR waits.
    assert world.hub.main_sha() == head and pins(world, "staging") == staging
    assert world.aliases("churn-classifier")["staging"] == staging["version"]
    assert not world.hub.violations, world.hub.violations[:5]


def test_the_drill_promotes_a_known_good_version_rolls_staging_back_and_finds_it_as_it_was(world: World):
    """drill.yml through modelops only: propose, `modelops pr merge` (the App bypasses the review),
    wait-synced, rollback --drill (nothing quarantined), wait-synced, `status --same-as`. The known-good
    version is the one the retrain just proved: its staging PR, waiting for review, is the one the drill
    updates and merges."""
    before = pins(world, "staging")
    known_good = latest_version(world, "churn-classifier")
    runs_before, pulls_before = len(world.hub.runs), set(world.hub.pulls)
    with disabled(world, "sync.yml", "pr.yml"):
        answer = world.dispatch_workflow(
            "drill.yml", {"model": "churn", "version": str(known_good)}, world.hub.token_of("alice")
        )
        assert answer.status_code == 204, answer.text
        world.hub.wait_idle()
    started = world.hub.runs[runs_before:]
    assert [(r.workflow, r.event) for r in started] == [("drill.yml", "workflow_dispatch")], started
    (drill,) = world.finished(started)
    job = drill.job("rollback drill on staging")
    assert job.result == "success", drill.failures()
    # The promotion went through a PR, merged at once by the App (main's bypass actor) ...
    assert set(world.hub.pulls) == pulls_before, "the drill opened a second PR for the same promotion"
    (promotion,) = [p for p in world.hub.pulls.values() if p.head == f"promote/churn/staging/v{known_good}"]
    number = promotion.number
    assert promotion.state == "closed" and promotion.merged_by == APP_BOT
    # ... then the rollback commit, pushed by the App too; between them staging served the known-good one.
    merge, rollback = world.origin_subjects()[1::-1]
    assert merge.startswith(f"Merge pull request #{number} ") and rollback.startswith(
        "rollback churn staging"
    )
    assert world.hub.actor_of_push(world.hub.main_sha()) == APP_BOT
    promoted = yaml.safe_load(world.origin_file("models.yaml", "main~1"))["models"]["churn"]["environments"]
    assert promoted["staging"]["version"] == known_good, promoted["staging"]
    after = pins(world, "staging")
    assert after["version"] == before["version"] and known_good not in (after.get("quarantined") or []), after  # type: ignore[operator]
    assert "drill: monthly rollback drill" in world.origin_file("models.yaml")
    # The rollback left the registry where git is; the pins are the recorded ones.
    assert '"registry_synced": true' in job.text, job.text[-3000:]
    assert world.aliases("churn-classifier")["staging"] == before["version"]
    assert (
        "/apis/serving.kserve.io/v1beta1/namespaces/models-staging/inferenceservices/churn"
        in world.kube.reads
    )
    assert not world.hub.violations, world.hub.violations[:5]


def test_a_runner_without_the_tracking_uri_variable_names_it_and_the_registry_step_fails_with_exit_2(
    world: World,
):
    """The rollback still lands (git is the truth, and an incident cannot wait for a fix of the
    settings), says it left the registry alone and why; the registry sync it starts fails loudly,
    instead of writing to a throwaway SQLite registry on the runner."""
    head = world.hub.main_sha()
    with variables(world, MLFLOW_TRACKING_URI=None):
        answer = world.dispatch_workflow(
            "rollback.yml",
            {"model": "visits", "env": "production", "reason": "test: no registry configured"},
            world.hub.token_of("alice"),
        )
        assert answer.status_code == 204, answer.text
        world.hub.wait_idle()
    rollback, sync = world.finished(
        [r for r in world.hub.runs if r.workflow in ("rollback.yml", "sync.yml")][-2:]
    )
    commit = rollback.job("rollback commit")
    assert commit.result == "success", rollback.failures()
    assert "MLFLOW_TRACKING_URI is not set" in commit.text and '"registry_synced": false' in commit.text
    assert world.hub.main_sha() != head and world.hub.actor_of_push(world.hub.main_sha()) == APP_BOT
    registry = sync.job("registry follows git")
    assert registry.result == "failure", sync.summary()
    assert "MLFLOW_TRACKING_URI is not set" in registry.text
    assert re.search(r"exit(?:code| status) '?2", registry.text), registry.text[-3000:]
    assert (
        sync.jobs.get("wait-synced visits/production") is None
        or sync.jobs["wait-synced visits/production"].result != "success"
    )
