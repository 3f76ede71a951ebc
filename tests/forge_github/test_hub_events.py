"""The GitHub double's event → run rules, without act: each run only records itself and, when told,
holds its slot until the test releases it."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from tests.forge_github.hub import Actor, Hub

WORKFLOWS = {
    "sync.yml": "on:\n  push:\n    branches: [main]\nconcurrency:\n  group: sync-main\njobs: {}\n",
    "board.yml": "on:\n  push:\n    branches: [main]\njobs: {}\n",
    "rollback.yml": (
        "on:\n  repository_dispatch:\n    types: [rollback]\n"
        "concurrency:\n  group: rollback-${{ github.event.client_payload.model }}\njobs: {}\n"
    ),
}


@pytest.fixture
def hub(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    (work / ".github" / "workflows").mkdir(parents=True)
    for name, text in WORKFLOWS.items():
        (work / ".github" / "workflows" / name).write_text(text, encoding="utf-8")
    env = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(work), *env, "commit", "-qm", "workflows"], check=True)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(origin)], check=True)
    gate = threading.Event()
    gate.set()
    started: list[str] = []

    def execute(run, _checkout, _secrets):  # type: ignore[no-untyped-def]
        started.append(run.workflow)
        assert gate.wait(30), "the test never released the run"
        return None

    built = Hub(origin, tmp_path / "runs", execute=execute)
    built.gate, built.started = gate, started  # type: ignore[attr-defined]
    yield built
    gate.set()
    built.wait_idle(60)
    built.close()


def push(hub: Hub, actor: Actor):  # type: ignore[no-untyped-def]
    sha = hub.main_sha()
    return hub.emit("push", {"ref": "refs/heads/main", "_changed": []}, sha=sha, actor=actor)


ALICE = Actor("alice", "user")


def test_a_push_starts_every_workflow_it_matches(hub: Hub):
    assert sorted(r.workflow for r in push(hub, ALICE)) == ["board.yml", "sync.yml"]


def test_a_fork_starts_nothing_until_its_owner_enables_actions(hub: Hub):
    hub.actions_enabled = False
    assert push(hub, ALICE) == []
    hub.actions_enabled = True
    assert len(push(hub, ALICE)) == 2


def test_a_disabled_workflow_starts_no_run(hub: Hub):
    hub.disabled_workflows.add("board.yml")
    assert [r.workflow for r in push(hub, ALICE)] == ["sync.yml"]


def test_an_event_caused_by_a_runs_token_starts_nothing_except_a_dispatch(hub: Hub):
    token = Actor("github-actions[bot]", "actions")
    assert push(hub, token) == []
    payload = {"action": "rollback", "client_payload": {"model": "churn"}}
    assert [
        r.workflow for r in hub.emit("repository_dispatch", payload, sha=hub.main_sha(), actor=token)
    ] == ["rollback.yml"]


def test_one_pending_run_per_concurrency_group_a_newer_one_replaces_it(hub: Hub):
    hub.gate.clear()  # type: ignore[attr-defined]
    hub.disabled_workflows.add("board.yml")
    first, second, third = (push(hub, ALICE)[0] for _ in range(3))
    dispatch = {"action": "rollback", "client_payload": {"model": "visits"}}
    other = hub.emit("repository_dispatch", dispatch, sha=hub.main_sha(), actor=ALICE)[0]
    assert second.status == "cancelled" and third.status == "queued"
    assert other.status in ("queued", "in_progress")  # its own group: nothing waits for sync-main
    hub.gate.set()  # type: ignore[attr-defined]
    hub.wait_idle(60)
    assert [first.status, second.status, third.status, other.status] == [
        "completed",
        "cancelled",
        "completed",
        "completed",
    ]
    assert hub.started.count("sync.yml") == 2  # type: ignore[attr-defined]


def test_a_pull_request_opened_labelled_and_sent_for_review_answers_as_github_documents_it(hub: Hub):
    """The answers keep GitHub's own `_links` (only the double's bookkeeping keys are private) and a
    label's description is a string; with ../shared present, each answer validates against the
    OpenAPI description."""
    import requests

    hub.origin_git("update-ref", "refs/heads/promote/churn/staging/v3", hub.main_sha())
    api, auth = f"{hub.url}/repos/acme/models", {"Authorization": f"Bearer {hub.token_of('alice')}"}
    opened = requests.post(
        f"{api}/pulls",
        json={"head": "promote/churn/staging/v3", "base": "main", "title": "Promote churn v3"},
        headers=auth,
        timeout=10,
    )
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    assert opened.json()["_links"]["html"]["href"]
    labelled = requests.post(
        f"{api}/issues/{number}/labels", json={"labels": ["promotion"]}, headers=auth, timeout=10
    )
    assert labelled.status_code == 200 and isinstance(labelled.json()[0]["description"], str), labelled.text
    asked = requests.post(
        f"{api}/pulls/{number}/requested_reviewers", json={"reviewers": ["bob"]}, headers=auth, timeout=10
    )
    assert asked.status_code == 201, asked.text
    assert not hub.violations, hub.violations[:5]


def test_a_comment_on_a_commit_is_kept_with_it_as_the_rollback_notification_posts_it(hub: Hub):
    """notify's commit channel: PyGithub's Commit.create_comment, POST …/commits/{sha}/comments."""
    from modelops.adapters.github_client import github_client

    sha = hub.main_sha()
    client = github_client({"GITHUB_TOKEN": hub.token_of("alice"), "GITHUB_API_URL": hub.url})
    client.get_repo("acme/models").get_commit(sha).create_comment("**rollback**: churn production v3 → v2")
    (comment,) = hub.commit_comments
    assert comment["commit_id"] == sha and comment["body"].startswith("**rollback**")
    commit = (
        github_client({"GITHUB_TOKEN": hub.token_of("alice"), "GITHUB_API_URL": hub.url}, lazy=False)
        .get_repo("acme/models")
        .get_commit(sha)
    )
    assert commit.commit.message == "workflows" and commit.get_comments().totalCount == 1
    assert not hub.violations, hub.violations[:5]
