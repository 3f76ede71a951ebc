"""POST /alerts as Alertmanager and attackers see it: authentication, limits, validation, routing, dedup."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from modelops.core.incident import incident_id
from modelops.relay.server import MAX_BODY_BYTES, SIGNATURE_WINDOW_S, Auth
from tests.helpers import REPO_ROOT, churn_block
from tests.relay.support import (
    STARTS_AT,
    TOKEN,
    CountingDispatcher,
    alert,
    running_relay,
    sign,
    webhook,
)


@pytest.fixture
def models_path(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    shutil.copy(REPO_ROOT / "models.yaml", path)
    return path


@pytest.fixture
def dispatcher() -> CountingDispatcher:
    return CountingDispatcher()


@pytest.fixture
def relay(models_path: Path, tmp_path: Path, dispatcher: CountingDispatcher):  # type: ignore[no-untyped-def]
    with running_relay(models_path, tmp_path / "state", dispatcher) as running:
        yield running


# -- authentication -------------------------------------------------------------------------------


def test_a_delivery_without_credentials_is_401_and_dispatches_nothing(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    response = relay.post(webhook(), bearer=None)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert dispatcher.rollbacks == []


def test_a_wrong_bearer_token_is_401(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    assert relay.post(webhook(), bearer=TOKEN + "x").status == 401
    assert relay.post(webhook(), bearer="").status == 401
    assert dispatcher.rollbacks == []


def test_a_signature_made_with_the_wrong_secret_or_over_another_body_is_401(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(webhook()).encode()
    assert relay.post(body, sign(body, "not-the-secret"), bearer=None).status == 401
    assert relay.post(body, sign(body + b" "), bearer=None).status == 401
    assert dispatcher.rollbacks == []


def test_a_signed_delivery_replayed_outside_the_freshness_window_is_401(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    import time

    body = json.dumps(webhook()).encode()
    stale = sign(body, at=time.time() - SIGNATURE_WINDOW_S - 5)
    future = sign(body, at=time.time() + SIGNATURE_WINDOW_S + 5)
    body_only = {"X-Modelops-Signature": sign(body)["X-Modelops-Signature"]}  # no timestamp sent
    moved = {**sign(body), "X-Modelops-Timestamp": str(int(time.time()) - 1)}  # timestamp not the signed one
    for headers in (stale, future, body_only, moved):
        assert relay.post(body, headers, bearer=None).status == 401, headers
    assert dispatcher.rollbacks == []


def test_a_good_hmac_signature_is_accepted_without_a_bearer_token(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(webhook()).encode()
    response = relay.post(body, sign(body), bearer=None)
    assert response.status == 200, response.body
    assert len(dispatcher.rollbacks) == 1


def test_a_good_bearer_token_is_accepted(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    assert relay.post(webhook()).status == 200
    assert [i.model for i in dispatcher.rollbacks] == ["churn"]


def test_auth_needs_a_token_or_a_secret_unless_explicitly_insecure() -> None:
    from modelops.errors import BadInput

    with pytest.raises(BadInput, match="MODELOPS_RELAY_TOKEN"):
        Auth.from_env({})
    assert Auth.from_env({}, insecure=True).insecure
    # A configured secret wins over the demo flag: credentials are never silently ignored.
    assert not Auth.from_env({"MODELOPS_RELAY_TOKEN": "t"}, insecure=True).insecure


# -- limits and validation ------------------------------------------------------------------------


def test_a_body_over_1_mib_is_413_before_the_body_is_read(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    # Headers only: if the relay waited for the announced body, this read would time out.
    with socket.create_connection((relay.host, relay.port), timeout=5) as sock:
        sock.sendall(
            f"POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert "Connection: close" in answer
    assert dispatcher.rollbacks == []


def test_a_body_of_exactly_1_mib_is_read(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    payload = webhook()
    payload["padding"] = ""
    size = len(json.dumps(payload).encode())
    payload["padding"] = "x" * (MAX_BODY_BYTES - size)
    body = json.dumps(payload).encode()
    assert len(body) == MAX_BODY_BYTES
    assert relay.post(body).status == 200
    assert len(dispatcher.rollbacks) == 1


def test_a_chunked_body_without_content_length_is_411(relay) -> None:  # type: ignore[no-untyped-def]
    with socket.create_connection((relay.host, relay.port), timeout=5) as sock:
        sock.sendall(
            f"POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n".encode()
        )
        assert sock.recv(4096).decode().startswith("HTTP/1.1 411")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (json.dumps(webhook(version="3")).encode(), "version"),
        (json.dumps({**webhook(), "alerts": "many"}).encode(), "alerts"),
        (json.dumps(webhook({**alert(), "status": "burning"})).encode(), "status"),
        (json.dumps(webhook({**alert(), "labels": {"model": 7}})).encode(), "labels.model"),
    ],
    ids=["bad-json", "not-an-object", "version-3", "alerts-not-a-list", "bad-status", "non-string-label"],
)
def test_a_malformed_payload_is_400_naming_what_is_wrong(relay, dispatcher, body, message) -> None:  # type: ignore[no-untyped-def]
    response = relay.post(body)
    assert response.status == 400
    assert message in response.body["error"]
    assert dispatcher.rollbacks == []


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"model": "fraud"}, "unknown model 'fraud'"),
        ({"env": "canary-east"}, "no environment 'canary-east'"),
        ({"version": "latest"}, "'latest' is not a registry version"),
    ],
    ids=["unknown-model", "unknown-env", "non-numeric-version"],
)
def test_an_alert_about_an_unknown_model_environment_or_version_is_refused_with_200_so_alertmanager_stops(  # type: ignore[no-untyped-def]
    relay, dispatcher, labels, message
) -> None:
    response = relay.post(webhook(alert(**labels)))
    assert response.status == 200  # a 4xx would be re-sent every group_interval, for ever
    assert response.body["status"] == "refused"
    assert any(message in e for e in response.body["errors"])
    assert dispatcher.rollbacks == []
    assert 'modelops_relay_refused_total{reason="unprocessable"} 1.0' in relay.get("/metrics").body
    assert any(r["event"] == "unprocessable" for r in relay.log_records())


def test_models_yaml_is_read_again_when_it_changes(relay, dispatcher, models_path) -> None:  # type: ignore[no-untyped-def]
    assert relay.post(webhook(alert(model="fraud"))).body["status"] == "refused"
    text = models_path.read_text()
    models_path.write_text(text + "  fraud:\n" + _model_block(text))
    assert relay.post(webhook(alert(model="fraud"))).body["status"] == "ok"
    assert [i.model for i in dispatcher.rollbacks] == ["fraud"]


def _model_block(text: str) -> str:
    """The churn model's YAML block, for a second model with the same settings."""
    block = churn_block(text).split("  churn:\n", 1)[1]
    return block.replace("churn-classifier", "fraud-classifier")


# -- routing ------------------------------------------------------------------------------------


def test_resolved_alerts_and_alerts_without_an_action_are_acknowledged_and_ignored(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    response = relay.post(
        webhook(
            alert(status="resolved"),
            alert(action=None, alertname="ChurnLatencyHigh"),
            alert(action="page", alertname="ChurnP99"),
            # An unknown model only matters when the alert asks for an action.
            alert(action=None, model="fraud", alertname="Other"),
        )
    )
    assert response.status == 200
    assert [r["action"] for r in response.body["incidents"]] == ["ignored"] * 4
    assert dispatcher.rollbacks == [] and dispatcher.retrains == []


def test_a_drift_alert_goes_to_the_retrain_path_not_the_rollback(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    response = relay.post(webhook(alert(alertname="ChurnFeatureDrift", action="retrain", severity="minor")))
    assert response.status == 200
    assert dispatcher.rollbacks == []
    [incident] = dispatcher.retrains
    assert (incident.model, incident.severity) == ("churn", "minor")
    assert relay.post(webhook(alert(alertname="ChurnFeatureDrift", action="retrain"))).status == 200
    assert len(dispatcher.retrains) == 1


def test_a_canary_alert_goes_to_the_canary_analysis_not_a_blind_rollback(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    response = relay.post(webhook(alert(alertname="ChurnCanaryErrors", action="analyze", version="3")))
    assert response.status == 200
    assert dispatcher.rollbacks == [] and dispatcher.retrains == []
    [incident] = dispatcher.analyses
    assert (incident.model, incident.env, incident.version) == ("churn", "production", 3)


def test_the_rollback_carries_the_incident_id_reason_alert_and_version(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    response = relay.post(webhook(alert(version="7")))
    [incident] = dispatcher.rollbacks
    assert (incident.model, incident.env, incident.version, incident.alertname) == (
        "churn",
        "production",
        7,
        "ChurnHighErrorRate",
    )
    assert incident.reason == "ChurnHighErrorRate: error ratio above 5% for 5m"
    expected_id = incident_id(f"churn|production|7|ChurnHighErrorRate|{STARTS_AT}")
    assert incident.id == expected_id
    assert response.body["incidents"][0]["incident"] == expected_id


# -- exactly once -------------------------------------------------------------------------------


def test_re_sends_of_one_incident_dispatch_once(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    outcomes = [relay.post(webhook()).body["incidents"][0]["outcome"] for _ in range(5)]
    assert outcomes == ["dispatched"] + ["duplicate"] * 4
    assert len(dispatcher.rollbacks) == 1


def test_the_same_alert_firing_again_later_is_a_new_incident(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    relay.post(webhook())
    relay.post(webhook(alert(starts_at="2026-11-21T08:00:00.000Z")))
    assert len(dispatcher.rollbacks) == 2
    assert dispatcher.rollbacks[0].id != dispatcher.rollbacks[1].id


def test_a_failed_dispatch_answers_5xx_and_the_next_re_send_retries_it(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    dispatcher.failures = 2
    first, second = relay.post(webhook()), relay.post(webhook())
    assert (first.status, second.status) == (503, 503)
    assert "connection refused" in first.body["incidents"][0]["detail"]
    assert relay.post(webhook()).status == 200
    assert relay.post(webhook()).body["incidents"][0]["outcome"] == "duplicate"
    assert len(dispatcher.rollbacks) == 1


def test_a_rollback_refused_for_good_is_acknowledged_and_never_retried(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    dispatcher.refuse = True
    first = relay.post(webhook())
    assert first.status == 200
    assert first.body["incidents"][0]["outcome"] == "refused"
    dispatcher.refuse = False
    assert relay.post(webhook()).body["incidents"][0]["outcome"] == "duplicate"
    assert dispatcher.rollbacks == []
    assert 'modelops_relay_refused_total{reason="rollback"} 1.0' in relay.get("/metrics").body


def test_a_rollback_deferred_for_a_reason_that_can_pass_is_decided_again_on_the_re_send(
    relay, dispatcher
) -> None:  # type: ignore[no-untyped-def]
    dispatcher.defer = True
    first = relay.post(webhook())
    assert first.status == 503  # not done: Alertmanager must ask again
    assert first.body["incidents"][0]["outcome"] == "deferred"
    dispatcher.defer = False  # a human recorded a previous version
    second = relay.post(webhook())
    assert (second.status, second.body["incidents"][0]["outcome"]) == (200, "dispatched")
    assert len(dispatcher.rollbacks) == 1


def test_re_sends_during_a_dispatch_in_progress_are_answered_not_done_without_a_second_dispatch(  # type: ignore[no-untyped-def]
    relay, dispatcher
) -> None:
    import threading

    dispatcher.gate = threading.Event()
    first: list[int] = []
    owner = threading.Thread(target=lambda: first.append(relay.post(webhook()).status))
    owner.start()
    while not relay.server.relay.store.counts().get("claimed"):
        pass
    during = relay.post(webhook())
    dispatcher.gate.set()
    owner.join(10)
    assert during.status == 503  # not delivered yet: a 200 would make Alertmanager wait repeat_interval
    assert during.body["incidents"][0]["outcome"] == "in_progress"
    assert first == [200]
    assert len(dispatcher.rollbacks) == 1


def test_dedup_survives_a_restart_on_the_same_incident_log(models_path, tmp_path, dispatcher) -> None:  # type: ignore[no-untyped-def]
    with running_relay(models_path, tmp_path / "state", dispatcher) as first:
        assert first.post(webhook()).status == 200
    with running_relay(models_path, tmp_path / "state", dispatcher) as second:
        assert second.post(webhook()).body["incidents"][0]["outcome"] == "duplicate"
    assert len(dispatcher.rollbacks) == 1


# -- health, metrics, logs -------------------------------------------------------------------------


def test_healthz_and_metrics_count_requests_and_dispatches(relay, dispatcher) -> None:  # type: ignore[no-untyped-def]
    assert relay.get("/healthz").status == 200
    relay.post(webhook())
    relay.post(webhook())
    relay.post(webhook(), bearer=None)
    metrics = relay.get("/metrics")
    assert metrics.status == 200
    text = metrics.body
    assert 'modelops_relay_requests_total{code="200"} 2.0' in text
    assert 'modelops_relay_requests_total{code="401"} 1.0' in text
    assert 'modelops_relay_dispatch_total{kind="rollback",outcome="dispatched"} 1.0' in text
    assert 'modelops_relay_dispatch_total{kind="rollback",outcome="duplicate"} 1.0' in text


def test_logs_are_one_json_object_per_line_naming_incident_model_env_and_outcome(relay) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        relay.post(webhook())
    records = relay.log_records()
    events = [r["event"] for r in records]
    # A storm of re-sends logs its first duplicate, then one line per interval: /metrics counts them all.
    assert events == ["dispatched", "duplicate"]
    assert 'outcome="duplicate"} 3.0' in relay.get("/metrics").body
    for record in records:
        assert {"ts", "level", "event", "incident", "model", "env"} <= record.keys()
        assert record["incident"].startswith("inc-")


def test_insecure_mode_accepts_unauthenticated_deliveries(models_path, tmp_path, dispatcher) -> None:  # type: ignore[no-untyped-def]
    with running_relay(models_path, tmp_path / "state", dispatcher, Auth(insecure=True)) as relay:
        assert relay.post(webhook(), bearer=None).status == 200
    assert len(dispatcher.rollbacks) == 1


def test_unknown_paths_are_404(relay) -> None:  # type: ignore[no-untyped-def]
    assert relay.get("/alerts/other").status == 404
    assert relay.get("/").status == 404
