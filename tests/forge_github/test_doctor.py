"""`modelops doctor github` against the REST double: a fork set up as docs/github.md says is all green;
each piece taken away in turn is named, with its fix, and fails the check when it is required."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from modelops.context import Context
from modelops.core.doctor import Check, failed
from modelops.flows.doctor import doctor_github, expectations
from tests.forge_github.app_double import CLIENT_ID, AppDouble, app_key_pair
from tests.forge_github.double import REPOSITORY, GitHubDouble
from tests.forge_github.settings_double import OPTIONAL_VARIABLES, REQUIRED_CHECKS, VARIABLES, Settings
from tests.helpers import REPO_ROOT, modelops

RELAY_CLIENT_ID = "Iv23liRelayClient0002"


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[str, Any]]:
    return {"app": app_key_pair(), "relay": app_key_pair()}


@pytest.fixture
def key_files(tmp_path: Path, keys: dict[str, tuple[str, Any]]) -> dict[str, str]:
    paths = {}
    for who, (pem, _) in keys.items():
        (tmp_path / f"{who}.pem").write_text(pem)
        paths[who] = str(tmp_path / f"{who}.pem")
    return paths


def run_doctor(
    github: GitHubDouble,
    keys: dict[str, tuple[str, Any]],
    key_files: dict[str, str],
    settings: Settings,
    *,
    app_permissions: dict[str, str] | None = None,
    relay_permissions: dict[str, str] | None = None,
) -> dict[str, Check]:
    settings.serve(github.server)
    AppDouble(
        github.server,
        keys["app"][1],
        REPOSITORY,
        permissions=app_permissions or {"contents": "write", "pull_requests": "write", "metadata": "read"},
        others={
            RELAY_CLIENT_ID: (
                keys["relay"][1],
                relay_permissions or {"contents": "write", "metadata": "read"},
            )
        },
    ).install()
    checks = doctor_github(
        Context(repo=REPO_ROOT, env=github.env()),
        app_client_id=CLIENT_ID,
        app_key=key_files["app"],
        relay_client_id=RELAY_CLIENT_ID,
        relay_key=key_files["relay"],
    )
    return {c.item: c for c in checks}


def missing(checks: dict[str, Check]) -> dict[str, Check]:
    return {item: c for item, c in checks.items() if c.status != "ok"}


def test_the_expectations_come_from_the_workflow_files() -> None:
    expect = expectations(Context(repo=REPO_ROOT, env={}))
    assert expect.required_checks == REQUIRED_CHECKS
    assert set(expect.variables) == set(VARIABLES)
    assert set(expect.optional_variables) == set(OPTIONAL_VARIABLES)
    assert set(expect.secrets) == {"automation", "production"}
    assert "MODELOPS_APP_PRIVATE_KEY" in expect.secrets["production"]


def test_a_fork_set_up_as_the_docs_say_is_all_green(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    checks = run_doctor(github, keys, key_files, Settings.complete())
    assert missing(checks) == {}
    assert not failed(list(checks.values()))
    assert checks["GitHub App installed"].detail.startswith("modelops-relay")
    # Read-only: the doctor never writes a setting.
    assert {s.method for s in github.seen()} == {"GET"}


def _without(mutate: Callable[[Settings], None]) -> Settings:
    settings = Settings.complete()
    mutate(settings)
    return settings


def _drop_rule(settings: Settings, ruleset: int, rule: str) -> None:
    settings.rulesets[ruleset]["rules"] = [
        r for r in settings.rulesets[ruleset]["rules"] if r["type"] != rule
    ]


CASES = {
    "auto-merge allowed": lambda s: s.repo.update(allow_auto_merge=False),
    "main's history": lambda s: s.rulesets.pop(0),
    "pull request required": lambda s: _drop_rule(s, 1, "pull_request"),
    "required checks": lambda s: s.rulesets[1]["rules"][1]["parameters"]["required_status_checks"].pop(),
    "bypass: only the GitHub App": lambda s: s.rulesets[1].update(bypass_actors=[]),
    "checks judged on the current main": lambda s: s.rulesets[1]["rules"][1]["parameters"].update(
        strict_required_status_checks_policy=False
    ),
    "environment production": lambda s: s.environments[1].update(protection_rules=[]),
    "environment automation": lambda s: s.environments[0].update(deployment_branch_policy=None),
    "variable MLFLOW_TRACKING_URI": lambda s: s.variables.remove("MLFLOW_TRACKING_URI"),
    "secret MODELOPS_APP_PRIVATE_KEY in production": lambda s: s.secrets["production"].remove(
        "MODELOPS_APP_PRIVATE_KEY"
    ),
    "CODEOWNERS": lambda s: s.codeowner_errors.append(
        {
            "line": 10,
            "column": 29,
            "kind": "Unknown owner",
            "source": "/models.yaml                @org/model-owners\n",
            "suggestion": None,
            "message": "Unknown owner on line 10: make sure @org/model-owners exists and has write access",
            "path": ".github/CODEOWNERS",
        }
    ),
}


@pytest.mark.parametrize("item", sorted(CASES))
def test_each_missing_piece_is_named_with_its_fix(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str], item: str
) -> None:
    checks = run_doctor(github, keys, key_files, _without(CASES[item]))
    assert set(missing(checks)) == {item}
    check = checks[item]
    assert check.status == "missing" and check.fix and check.required
    assert failed(list(checks.values()))


def _queue_instead_of_up_to_date(settings: Settings, grouping: str) -> None:
    review = settings.rulesets[1]
    review["rules"][1]["parameters"]["strict_required_status_checks_policy"] = False
    review["rules"].append(
        {
            "type": "merge_queue",
            "parameters": {
                "check_response_timeout_minutes": 60,
                "grouping_strategy": grouping,
                "max_entries_to_build": 5,
                "max_entries_to_merge": 5,
                "merge_method": "MERGE",
                "min_entries_to_merge": 1,
                "min_entries_to_merge_wait_minutes": 5,
            },
        }
    )


def test_a_merge_queue_that_checks_every_entry_judges_on_the_current_main_too(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    checks = run_doctor(
        github, keys, key_files, _without(lambda s: _queue_instead_of_up_to_date(s, "ALLGREEN"))
    )
    assert missing(checks) == {}
    assert "merge queue" in checks["checks judged on the current main"].detail


def test_a_merge_queue_that_checks_only_a_groups_head_is_named(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    checks = run_doctor(
        github, keys, key_files, _without(lambda s: _queue_instead_of_up_to_date(s, "HEADGREEN"))
    )
    assert set(missing(checks)) == {"checks judged on the current main"}
    assert "ALLGREEN" in checks["checks judged on the current main"].fix


def test_history_rules_in_the_ruleset_the_app_bypasses_would_let_it_force_push(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    def merge_into_review(s: Settings) -> None:
        history = s.rulesets.pop(0)
        s.rulesets[0]["rules"] += history["rules"]

    checks = run_doctor(github, keys, key_files, _without(merge_into_review))
    assert set(missing(checks)) == {"main's history"}
    assert "Integration delete or force-push" in checks["main's history"].detail


def test_anyone_but_the_app_on_the_bypass_list_is_named(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    def admins_too(s: Settings) -> None:
        s.rulesets[1]["bypass_actors"].append(
            {"actor_id": 1, "actor_type": "OrganizationAdmin", "bypass_mode": "always"}
        )

    checks = run_doctor(github, keys, key_files, _without(admins_too))
    assert set(missing(checks)) == {"bypass: only the GitHub App"}
    assert "OrganizationAdmin" in checks["bypass: only the GitHub App"].detail


def test_an_optional_variable_is_reported_but_does_not_fail(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    checks = run_doctor(github, keys, key_files, _without(lambda s: s.variables.remove("PROPOSE_PRODUCTION")))
    assert set(missing(checks)) == {"variable PROPOSE_PRODUCTION"}
    assert not failed(list(checks.values()))


def test_an_app_without_pull_request_write_is_named(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    checks = run_doctor(github, keys, key_files, Settings.complete(), app_permissions={"contents": "write"})
    assert set(missing(checks)) == {"GitHub App installed"}
    assert "pull_requests: write" in checks["GitHub App installed"].detail


def test_an_app_holding_administration_is_more_than_a_rollback_needs(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    too_much = {"contents": "write", "pull_requests": "write", "administration": "write"}
    checks = run_doctor(github, keys, key_files, Settings.complete(), app_permissions=too_much)
    assert set(missing(checks)) == {"GitHub App installed"}
    assert "administration" in checks["GitHub App installed"].detail


def test_a_relay_that_may_not_dispatch_is_named(
    github: GitHubDouble, keys: dict[str, tuple[str, Any]], key_files: dict[str, str]
) -> None:
    checks = run_doctor(github, keys, key_files, Settings.complete(), relay_permissions={"contents": "read"})
    item = "relay may dispatch (repository_dispatch)"
    assert set(missing(checks)) == {item}
    assert "contents: write" in checks[item].detail


def test_the_command_prints_one_line_per_item_exits_1_and_speaks_json(
    github: GitHubDouble, httpserver: HTTPServer
) -> None:
    Settings.complete().serve(httpserver)
    github_env = github.env()
    github.server.clear_assertions()
    result = modelops("doctor", "github", "--repo", str(REPO_ROOT), env=github_env)
    lines = result.stdout.strip().splitlines()
    # Without the Apps' keys, their lines are skipped: not checked, and how to check them.
    skipped = [line for line in lines if line.startswith("skipped")]
    assert len(skipped) == 2 and all("--" in line for line in skipped)
    assert result.returncode == 0 and lines[-1] == "all green", result.stdout + result.stderr

    settings = Settings.complete()
    settings.repo["allow_auto_merge"] = False
    httpserver.clear()
    settings.serve(httpserver)
    result = modelops("doctor", "github", "--repo", str(REPO_ROOT), "--json", env=github_env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    [off] = [c for c in report["checks"] if c["status"] == "missing"]
    assert off["item"] == "auto-merge allowed" and "Allow auto-merge" in off["fix"]
