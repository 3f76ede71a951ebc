"""The loop through the workflow files, on one world (tests run in this order, each on the last's state):

1. a runner without MLFLOW_TRACKING_URI names it; the registry step fails with exit 2.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import yaml

from tests.forge_github.hub import APP_BOT
from tests.workflow_runs.world import World

PRODUCTION_HEAD = "promote/churn/production/v3"


def production_version(world: World) -> int:

    return int(
        yaml.safe_load(world.origin_file("models.yaml"))["models"]["churn"]["environments"]["production"][
            "version"
        ]
    )


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
            {"model": "churn", "env": "production", "reason": "test: no registry configured"},
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
        sync.jobs.get("wait-synced churn/production") is None
        or sync.jobs["wait-synced churn/production"].result != "success"
    )
