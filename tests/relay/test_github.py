"""GitHub as the relay and the forge see it, through a local double that speaks the REST paths."""

from __future__ import annotations

import dataclasses
import importlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from modelops.adapters.github_client import call_github, github_client
from modelops.adapters.github_dispatch import GitHubRollbackDispatch
from modelops.context import Context
from modelops.core.incident import Incident, Route
from modelops.errors import BadInput, ExternalError
from modelops.relay.dispatch import FlowDispatcher, dispatcher_for
from tests.helpers import REPO_ROOT
from tests.relay.support import alert, running_relay, webhook

GH_TOKEN = "ghp_relaytesttoken"
REPO = "acme/models"
DISPATCHES = f"/repos/{REPO}/dispatches"
WORKFLOW_DISPATCHES = f"/repos/{REPO}/actions/workflows/rollback.yml/dispatches"
INCIDENT = Incident(
    kind=Route.ROLLBACK,
    model="churn",
    env="production",
    version=2,
    alertname="ChurnHighErrorRate",
    starts_at="2026-11-20T10:00:00Z",
    severity="critical",
    reason="ChurnHighErrorRate: error ratio above 5% for 5m",
)


class Sleeps:
    """Stands in for urllib3's clock: records each backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    @staticmethod
    def time() -> float:
        return time.time()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    recorder = Sleeps()
    monkeypatch.setattr(importlib.import_module("urllib3.util.retry"), "time", recorder)
    return recorder


def env_for(server: HTTPServer) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": GH_TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": server.url_for("/").rstrip("/"),
    }


def dispatch(server: HTTPServer, mode: str = "repository", **client: Any) -> GitHubRollbackDispatch:
    return GitHubRollbackDispatch.from_env(env_for(server), mode=mode, ref="main", **client)


def json_body(request: Request) -> Any:
    return json.loads(request.get_data())


def test_repository_dispatch_posts_the_incident_as_client_payload(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(DISPATCHES, method="POST").respond_with_data("", status=204)
    dispatch(httpserver).dispatch(INCIDENT)
    [(request, _)] = httpserver.log
    assert request.headers["Authorization"] == f"token {GH_TOKEN}"
    assert json_body(request) == {
        "event_type": "rollback",
        "client_payload": {
            "model": "churn",
            "env": "production",
            "reason": "ChurnHighErrorRate: error ratio above 5% for 5m",
            "incident": INCIDENT.id,
            "alertname": "ChurnHighErrorRate",
            "version": 2,
        },
    }


def test_workflow_dispatch_posts_string_inputs_on_a_ref(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(WORKFLOW_DISPATCHES, method="POST").respond_with_data("", status=204)
    no_version = dataclasses.replace(INCIDENT, version=None)
    dispatch(httpserver, mode="workflow").dispatch(no_version)
    # Lazy objects: one request, no GET of the repository or the workflow first.
    [(request, _)] = httpserver.log
    body = json_body(request)
    assert body["ref"] == "main"
    assert body["inputs"]["incident"] == no_version.id
    assert body["inputs"]["version"] == ""
    assert all(isinstance(v, str) for v in body["inputs"].values())


def test_5xx_is_retried_a_bounded_number_of_times_then_fails_in_one_line(
    httpserver: HTTPServer, sleeps: Sleeps
) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_json(
        {"message": "Server Error"}, status=502
    )
    with pytest.raises(ExternalError) as failure:
        dispatch(httpserver, retries=3, backoff_factor=0.1).dispatch(INCIDENT)
    assert len(httpserver.log) == 4  # the first try and three retries
    assert sleeps.slept == [0.2, 0.4]  # urllib3: the first retry is immediate, then exponential
    message = str(failure.value)
    assert "\n" not in message
    assert "repository_dispatch" in message and REPO in message


def test_retry_after_is_honoured_and_capped(httpserver: HTTPServer, sleeps: Sleeps) -> None:
    unavailable = {"Retry-After": "7"}
    httpserver.expect_ordered_request(DISPATCHES, method="POST").respond_with_data(
        "", status=503, headers=unavailable
    )
    httpserver.expect_ordered_request(DISPATCHES, method="POST").respond_with_data(
        "", status=503, headers={"Retry-After": "3600"}
    )
    httpserver.expect_ordered_request(DISPATCHES, method="POST").respond_with_data("", status=204)
    dispatch(httpserver, retries=3, retry_after_max_s=30).dispatch(INCIDENT)
    assert sleeps.slept == [7, 30]
    assert len(httpserver.log) == 3


def test_an_exhausted_primary_rate_limit_waits_for_the_reset(httpserver: HTTPServer, sleeps: Sleeps) -> None:
    reset = int(time.time()) + 20
    httpserver.expect_ordered_request(DISPATCHES, method="POST").respond_with_json(
        {"message": "API rate limit exceeded for installation ID 1."},
        status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )
    httpserver.expect_ordered_request(DISPATCHES, method="POST").respond_with_data("", status=204)
    dispatch(httpserver, retries=2).dispatch(INCIDENT)
    [waited] = sleeps.slept
    assert 18 <= waited <= 22


def test_a_rate_limit_reset_beyond_the_bound_fails_instead_of_hanging(
    httpserver: HTTPServer, sleeps: Sleeps
) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_json(
        {"message": "API rate limit exceeded for user ID 1."},
        status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3000)},
    )
    with pytest.raises(ExternalError, match="HTTP 403"):
        dispatch(httpserver, retries=2, max_rate_limit_wait_s=60).dispatch(INCIDENT)
    assert sleeps.slept == []
    assert len(httpserver.log) == 1


def test_a_refusal_that_is_not_a_rate_limit_is_not_retried(httpserver: HTTPServer, sleeps: Sleeps) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_json(
        {"message": "Resource not accessible by integration"}, status=403
    )
    with pytest.raises(ExternalError, match="Resource not accessible by integration"):
        dispatch(httpserver).dispatch(INCIDENT)
    assert len(httpserver.log) == 1 and sleeps.slept == []


def test_an_unreachable_api_is_an_external_error() -> None:
    client = github_client(
        {"GITHUB_TOKEN": GH_TOKEN, "GITHUB_API_URL": "http://127.0.0.1:9"}, retries=0, timeout_s=2
    )
    with pytest.raises(ExternalError, match="GitHub: reading the repository failed"):
        call_github("reading the repository", lambda: client.get_repo(REPO).full_name)


def test_the_client_factory_reads_token_and_enterprise_url_and_says_what_is_missing(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(f"/repos/{REPO}", method="GET").respond_with_json({"full_name": REPO, "id": 1})
    client = github_client(env_for(httpserver))
    assert client.get_repo(REPO).full_name == REPO
    assert httpserver.log[0][0].headers["Authorization"] == f"token {GH_TOKEN}"
    with pytest.raises(BadInput, match="GITHUB_TOKEN"):
        github_client({})
    with pytest.raises(BadInput, match="GITHUB_API_URL"):
        github_client({"GITHUB_TOKEN": "t", "GITHUB_API_URL": "api.github.example"})
    with pytest.raises(BadInput, match="GITHUB_REPOSITORY"):
        GitHubRollbackDispatch.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "just-a-name"})


def _repo_with(tmp_path: Path, sandbox: bool) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "models.yaml", repo / "models.yaml")
    if sandbox:
        (repo / ".modelops").mkdir()
        (repo / ".modelops" / "sandbox.json").write_text(json.dumps({"workdir": str(tmp_path)}))
    return repo


def test_github_credentials_outside_a_sandbox_route_rollbacks_to_github(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    ctx = Context(repo=_repo_with(tmp_path, sandbox=False), env=env_for(httpserver))
    assert dispatcher_for(ctx).name == "github"


def test_inside_a_sandbox_rollbacks_stay_local_even_with_github_credentials(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    ctx = Context(repo=_repo_with(tmp_path, sandbox=True), env=env_for(httpserver))
    assert dispatcher_for(ctx).name == "local"


def test_a_webhook_becomes_one_repository_dispatch_and_a_github_outage_becomes_a_retry(
    tmp_path: Path, httpserver: HTTPServer, sleeps: Sleeps
) -> None:
    calls: list[int] = []

    def github(request: Request) -> Response:
        calls.append(1)
        # GitHub is down for the first delivery (every retry of it), then back.
        return Response("", status=500 if len(calls) <= 2 else 204)

    httpserver.expect_request(DISPATCHES, method="POST").respond_with_handler(github)
    repo = _repo_with(tmp_path, sandbox=False)
    ctx = Context(repo=repo, env=env_for(httpserver))
    dispatcher = FlowDispatcher(ctx, dispatch(httpserver, retries=1))
    with running_relay(ctx.models_path, tmp_path / "state", dispatcher) as relay:
        assert relay.post(webhook()).status == 503
        assert relay.post(webhook()).status == 200
        assert relay.post(webhook(alert())).body["incidents"][0]["outcome"] == "duplicate"
    accepted = [r for r, resp in httpserver.log if resp.status_code == 204]
    assert len(accepted) == 1
    assert json_body(accepted[0])["client_payload"]["model"] == "churn"
