"""GitHub as the relay sees it, through a local double that speaks the REST paths and GitHub's rules.

Waits are recorded, not slept: the dispatcher takes the sleep and the clock it uses.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from modelops.adapters.github_client import RetryPolicy, call_github, github_client
from modelops.adapters.github_dispatch import GitHubDispatch
from modelops.context import Context
from modelops.core.incident import Incident, IncidentKind
from modelops.errors import BadInput, ExternalError
from modelops.relay.dispatch import FlowDispatcher, dispatcher_for
from tests.forge_github.app_double import CLIENT_ID, AppDouble, app_key_pair
from tests.helpers import REPO_ROOT
from tests.relay.support import alert, running_relay, webhook

GH_TOKEN = "ghp_relaytesttoken"
REPO = "acme/models"
DISPATCHES = f"/repos/{REPO}/dispatches"
WORKFLOW_DISPATCHES = f"/repos/{REPO}/actions/workflows/rollback.yml/dispatches"
INCIDENT = Incident(
    kind=IncidentKind.ROLLBACK,
    model="churn",
    env="production",
    version=2,
    alertname="ChurnHighErrorRate",
    starts_at="2026-11-20T10:00:00Z",
    severity="critical",
    reason="ChurnHighErrorRate: error ratio above 5% for 5m",
)
SECONDARY_LIMIT = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
}


class Clock:
    """The dispatcher's clock and sleep: sleeping moves the clock, and every wait is remembered."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def env_for(server: HTTPServer, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": GH_TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": server.url_for("/").rstrip("/"),
        **extra,
    }


def dispatch(
    server: HTTPServer,
    clock: Clock,
    mode: str = "repository",
    env: dict[str, str] | None = None,
    **retry: Any,
) -> GitHubDispatch:
    policy = dataclasses.replace(RetryPolicy(max_attempts=4, max_wait_s=30.0, backoff_s=0.1), **retry)
    return GitHubDispatch.from_env(
        env or env_for(server), mode=mode, ref="main", retry=policy, sleep=clock.sleep, clock=clock
    )


def json_body(request: Request) -> Any:
    return json.loads(request.get_data())


def answers(*responses: Response):  # type: ignore[no-untyped-def]
    """A handler answering with each response in turn, then repeating the last."""
    seen: list[int] = []

    def handler(_request: Request) -> Response:
        seen.append(1)
        return responses[min(len(seen), len(responses)) - 1]

    return handler


def gh(status: int, body: Any = None, **headers: str) -> Response:
    text = "" if body is None else json.dumps(body)
    return Response(text, status=status, headers=headers, content_type="application/json")


# -- what is sent --------------------------------------------------------------------------------------


def test_repository_dispatch_posts_the_incident_as_client_payload(
    httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_oneshot_request(DISPATCHES, method="POST").respond_with_data("", status=204)
    dispatch(httpserver, clock).dispatch(INCIDENT)
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


def test_workflow_dispatch_posts_string_inputs_on_a_ref(httpserver: HTTPServer, clock: Clock) -> None:
    httpserver.expect_oneshot_request(WORKFLOW_DISPATCHES, method="POST").respond_with_data("", status=204)
    no_version = dataclasses.replace(INCIDENT, version=None)
    dispatch(httpserver, clock, mode="workflow").dispatch(no_version)
    # One request, no GET of the repository or the workflow first.
    [(request, _)] = httpserver.log
    body = json_body(request)
    assert body["ref"] == "main"
    assert body["inputs"]["incident"] == no_version.id
    assert body["inputs"]["version"] == ""
    assert all(isinstance(v, str) for v in body["inputs"].values())


# -- GitHub's answers ----------------------------------------------------------------------------------


def test_a_refused_repository_dispatch_reports_githubs_own_message(
    httpserver: HTTPServer, clock: Clock
) -> None:
    message = "Invalid request.\n\nFor 'properties/client_payload', nil is not an object."
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_json({"message": message}, status=422)
    with pytest.raises(ExternalError) as failure:
        dispatch(httpserver, clock).dispatch(INCIDENT)
    text = str(failure.value)
    assert "Invalid request. For 'properties/client_payload', nil is not an object." in text
    assert "\n" not in text and "expected HTTP 204" not in text
    assert len(httpserver.log) == 1


def test_a_forbidden_dispatch_says_which_scope_the_token_needs(httpserver: HTTPServer, clock: Clock) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_json(
        {"message": "Resource not accessible by integration"}, status=403
    )
    with pytest.raises(ExternalError) as failure:
        dispatch(httpserver, clock).dispatch(INCIDENT)
    assert "Resource not accessible by integration" in str(failure.value)
    assert "contents: write" in str(failure.value)
    assert len(httpserver.log) == 1 and clock.slept == []


def test_5xx_is_retried_a_bounded_number_of_times_then_fails_in_one_line(
    httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_json(
        {"message": "Server Error"}, status=502
    )
    with pytest.raises(ExternalError) as failure:
        dispatch(httpserver, clock, max_attempts=3).dispatch(INCIDENT)
    assert len(httpserver.log) == 3
    assert clock.slept == [0.1, 0.2]
    message = str(failure.value)
    assert "\n" not in message and DISPATCHES in message and "Server Error" in message


def test_a_429_is_waited_out_for_its_retry_after_and_then_sent_again(
    httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_handler(
        answers(gh(429, SECONDARY_LIMIT, **{"Retry-After": "7"}), gh(204))
    )
    dispatch(httpserver, clock).dispatch(INCIDENT)
    assert clock.slept == [7.0]
    assert len(httpserver.log) == 2


def test_an_exhausted_primary_rate_limit_waits_for_its_reset(httpserver: HTTPServer, clock: Clock) -> None:
    limited = gh(
        403,
        {"message": "API rate limit exceeded for installation ID 1."},
        **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now) + 20)},
    )
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_handler(answers(limited, gh(204)))
    dispatch(httpserver, clock).dispatch(INCIDENT)
    [waited] = clock.slept
    assert 20 <= waited <= 22


def test_a_limit_beyond_the_bound_fails_at_once_and_nothing_is_sent_until_it_lifts(
    httpserver: HTTPServer, clock: Clock
) -> None:
    reset = int(clock.now) + 3000
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_handler(
        answers(
            gh(
                403,
                {"message": "API rate limit exceeded for user ID 1."},
                **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
            ),
            gh(204),
        )
    )
    relay = dispatch(httpserver, clock)
    with pytest.raises(ExternalError, match="API rate limit exceeded"):
        relay.dispatch(INCIDENT)
    # Alertmanager delivers again in a minute: the relay does not ask GitHub before the reset.
    clock.now += 60
    with pytest.raises(ExternalError, match="not sent"):
        relay.dispatch(INCIDENT)
    assert len(httpserver.log) == 1 and clock.slept == []
    clock.now = reset + 2
    relay.dispatch(INCIDENT)
    assert len(httpserver.log) == 2


def test_a_secondary_limit_is_shared_by_the_next_request(httpserver: HTTPServer, clock: Clock) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_handler(
        answers(gh(429, SECONDARY_LIMIT, **{"Retry-After": "10"}), gh(204))
    )
    relay = dispatch(httpserver, clock, max_attempts=1)
    with pytest.raises(ExternalError, match="gave up after 1 attempts"):
        relay.dispatch(INCIDENT)
    relay.dispatch(INCIDENT)  # waits out what is left of the 10 s before asking
    assert clock.slept == [10.0]
    assert len(httpserver.log) == 2


def test_an_unreachable_api_is_an_external_error() -> None:
    client = github_client(
        {"GITHUB_TOKEN": GH_TOKEN, "GITHUB_API_URL": "http://127.0.0.1:9"}, timeout_s=2, lazy=False
    )
    with pytest.raises(ExternalError, match="GitHub: reading the repository failed"):
        call_github("reading the repository", lambda: client.get_repo(REPO).full_name)


def test_the_client_factory_reads_token_and_enterprise_url_and_says_what_is_missing(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(f"/repos/{REPO}", method="GET").respond_with_json({"full_name": REPO, "id": 1})
    client = github_client(env_for(httpserver), lazy=False)
    assert client.get_repo(REPO).full_name == REPO
    assert httpserver.log[0][0].headers["Authorization"] == f"token {GH_TOKEN}"
    with pytest.raises(BadInput, match="GITHUB_TOKEN"):
        github_client({})
    with pytest.raises(BadInput, match="GITHUB_API_URL"):
        github_client({"GITHUB_TOKEN": "t", "GITHUB_API_URL": "api.github.example"})
    with pytest.raises(BadInput, match="GITHUB_REPOSITORY"):
        GitHubDispatch.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "just-a-name"})
    with pytest.raises(BadInput, match="MODELOPS_APP_PRIVATE_KEY"):
        github_client({"MODELOPS_APP_CLIENT_ID": CLIENT_ID, "GITHUB_REPOSITORY": REPO})


# -- the App's installation tokens -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_key() -> tuple[str, Any]:
    return app_key_pair()


def app_env(server: HTTPServer, key_file: Path) -> dict[str, str]:
    return {
        "MODELOPS_APP_CLIENT_ID": CLIENT_ID,
        "MODELOPS_APP_PRIVATE_KEY_FILE": str(key_file),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": server.url_for("/").rstrip("/"),
    }


def test_the_relay_mints_installation_tokens_from_the_apps_key_and_renews_them_before_the_hour(
    httpserver: HTTPServer, clock: Clock, app_key: tuple[str, Any], tmp_path: Path
) -> None:
    pem, public = app_key
    (tmp_path / "key.pem").write_text(pem)
    app = AppDouble(httpserver, public, REPO, clock=clock).install()
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_handler(
        lambda request: app.refusal(request) or gh(204)
    )
    relay = dispatch(httpserver, clock, env=app_env(httpserver, tmp_path / "key.pem"))

    relay.dispatch(INCIDENT)
    clock.now += 50 * 60  # still valid: the same token
    relay.dispatch(INCIDENT)
    clock.now += 6 * 60  # within five minutes of its hour: a new one first
    relay.dispatch(INCIDENT)
    clock.now += 3 * 3600  # a quiet night: long expired
    relay.dispatch(INCIDENT)

    sent = [r.headers["Authorization"] for r, _ in httpserver.log if r.path == DISPATCHES]
    assert sent == [
        f"token {t}" for t in ("ghs_double0001", "ghs_double0001", "ghs_double0002", "ghs_double0003")
    ]
    assert all(resp.status_code == 204 for r, resp in httpserver.log if r.path == DISPATCHES)
    assert all(claims["iss"] == CLIENT_ID for claims in app.jwts)
    lookups = [r for r, _ in httpserver.log if r.path.endswith("/installation")]
    assert len(lookups) == 1, "the installation is looked up once"


def test_an_app_that_is_not_installed_says_so_in_one_line(
    httpserver: HTTPServer, clock: Clock, app_key: tuple[str, Any], tmp_path: Path
) -> None:
    pem, public = app_key
    (tmp_path / "key.pem").write_text(pem)
    AppDouble(httpserver, public, REPO, clock=clock, installed=False).install()
    with pytest.raises(ExternalError) as failure:
        dispatch(httpserver, clock, env=app_env(httpserver, tmp_path / "key.pem")).dispatch(INCIDENT)
    assert "is the App installed there?" in str(failure.value) and "404" in str(failure.value)


def test_a_key_that_is_not_the_apps_is_refused_by_github(
    httpserver: HTTPServer, clock: Clock, app_key: tuple[str, Any], tmp_path: Path
) -> None:
    _, public = app_key
    other_pem, _ = app_key_pair()
    (tmp_path / "key.pem").write_text(other_pem)
    AppDouble(httpserver, public, REPO, clock=clock).install()
    with pytest.raises(ExternalError, match="401 A JSON web token could not be decoded"):
        dispatch(httpserver, clock, env=app_env(httpserver, tmp_path / "key.pem")).dispatch(INCIDENT)


# -- which dispatcher --------------------------------------------------------------------------------------


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
    app_only = {k: v for k, v in env_for(httpserver).items() if k != "GITHUB_TOKEN"}
    app_only |= {
        "MODELOPS_APP_CLIENT_ID": CLIENT_ID,
        "MODELOPS_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
    }
    assert Context(repo=ctx.repo, env=app_only).forge_kind == "github"


def test_inside_a_sandbox_rollbacks_stay_local_even_with_github_credentials(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    ctx = Context(repo=_repo_with(tmp_path, sandbox=True), env=env_for(httpserver))
    assert dispatcher_for(ctx).name == "local"


def test_a_webhook_becomes_one_repository_dispatch_and_a_github_outage_becomes_a_retry(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    calls: list[int] = []

    def github(request: Request) -> Response:
        calls.append(1)
        # GitHub is down for the first delivery (every retry of it), then back.
        return Response("", status=500 if len(calls) <= 2 else 204)

    httpserver.expect_request(DISPATCHES, method="POST").respond_with_handler(github)
    repo = _repo_with(tmp_path, sandbox=False)
    ctx = Context(repo=repo, env=env_for(httpserver))
    dispatcher = FlowDispatcher(ctx, dispatch(httpserver, clock, max_attempts=2))
    with running_relay(ctx.models_path, tmp_path / "state", dispatcher) as relay:
        assert relay.post(webhook()).status == 503
        assert relay.post(webhook()).status == 200
        assert relay.post(webhook(alert())).body["incidents"][0]["outcome"] == "duplicate"
    accepted = [r for r, resp in httpserver.log if resp.status_code == 204]
    assert len(accepted) == 1
    assert json_body(accepted[0])["client_payload"]["model"] == "churn"


# -- the retrain path ----------------------------------------------------------------------------------------


def drift(starts_at: str) -> dict[str, Any]:
    return alert(
        alertname="ChurnFeatureDrift", action="retrain", severity="major", version=None, starts_at=starts_at
    )


def test_drift_is_debounced_in_the_relays_volume_and_starts_retrain_yml_by_repository_dispatch(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request(DISPATCHES, method="POST").respond_with_data("", status=204)
    repo = _repo_with(tmp_path, sandbox=False)
    # The relay's checkout cannot be written (git-sync's read-only mount; tests run as root, where a
    # read-only mode would not stop a write, so the state directory's place is taken by a file).
    (repo / ".modelops").write_text("")
    state = tmp_path / "relay-state"
    ctx = Context(repo=repo, env=env_for(httpserver))

    def deliver(starts_at: str) -> dict[str, Any]:
        dispatcher = FlowDispatcher(ctx, dispatch(httpserver, clock), ledger_dir=state)
        with running_relay(ctx.models_path, state, dispatcher) as relay:
            response = relay.post(webhook(drift(starts_at)))
        assert response.status == 200, response.body
        return dict(response.body["incidents"][0])

    first = deliver("2026-11-20T10:00:00Z")
    # A new incident after a relay restart: the run the first one started is still in flight.
    second = deliver("2026-11-20T16:00:00Z")

    sent = [json_body(r) for r, _ in httpserver.log]
    assert len(sent) == 1, (first, second)
    assert sent[0]["event_type"] == "retrain"
    payload = sent[0]["client_payload"]
    assert payload["model"] == "churn" and payload["severity"] == "major" and payload["trigger"] == "drift"
    assert payload["decided"].startswith("retrain ledger run #")
    assert "in flight" in second.get("detail", "") + json.dumps(second)
    assert (state / "retrain-ledger.sqlite").is_file()


def test_retrain_fields_are_exactly_the_inputs_retrain_yml_declares() -> None:
    from datetime import UTC, datetime

    from modelops.core.retrain_policy import RetrainDecision, RetrainRequest
    from modelops.flows.retrain import retrain_fields
    from tests.workflows.workflow_files import WORKFLOWS_DIR, load, triggers

    request = RetrainRequest("churn", "major", "drift", "drift", datetime(2026, 11, 20, tzinfo=UTC))
    fields = retrain_fields(RetrainDecision("go", "churn", "major drift request", request, 1, 7))
    declared = triggers(load(WORKFLOWS_DIR / "retrain.yml"))["workflow_dispatch"]["inputs"]
    assert set(fields) == set(declared)
    assert len(fields) <= 10, "GitHub refuses a client_payload with more than 10 properties"
