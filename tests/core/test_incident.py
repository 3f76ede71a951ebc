"""core/incident.py: what an Incident is, how it is named, and where each alert goes."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.core.document import ModelsDocument
from modelops.core.incident import (
    IncidentKind,
    PayloadError,
    UnprocessableAlert,
    decide,
    incident_id,
    parse_webhook,
)
from modelops.core.state import DesiredState
from tests.core.alerts import STARTS_AT, alert, webhook
from tests.core.template import template_text


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> DesiredState:
    path = tmp_path_factory.mktemp("models") / "models.yaml"
    path.write_text(template_text(), encoding="utf-8")
    return ModelsDocument.load(path).state()


def one(payload: dict, state: DesiredState):  # type: ignore[no-untyped-def, type-arg]
    [parsed] = parse_webhook(json.dumps(payload).encode()).alerts
    return decide(parsed, state)


def test_an_incident_id_is_a_short_stable_hash_of_its_key() -> None:
    key = f"churn|production|2|ChurnHighErrorRate|{STARTS_AT}"
    assert re.fullmatch(r"inc-[0-9a-f]{12}", incident_id(key))
    assert incident_id(key) == incident_id(key)
    assert incident_id(key) != incident_id(key.replace("|2|", "|3|"))


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_different_keys_get_different_ids(a: str, b: str) -> None:
    if a != b:
        assert incident_id(a) != incident_id(b)


def test_labels_that_vary_between_re_sends_do_not_change_the_incident(state: DesiredState) -> None:
    base = one(webhook(alert()), state).incident
    other_pod = one(webhook(alert(pod="predictor-7f9c", instance="10.0.0.7:8080")), state).incident
    assert base is not None and other_pod is not None
    assert base.id == other_pod.id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "3"}, "version"),
        ({"alertname": "ChurnLatencyP99High"}, "alertname"),
        ({"starts_at": "2026-11-20T11:00:00.000Z"}, "startsAt"),
        ({"env": "staging"}, "env"),
    ],
)
def test_each_part_of_the_key_names_a_different_incident(
    state: DesiredState, change: dict, field: str
) -> None:  # type: ignore[type-arg]
    base = one(webhook(alert()), state).incident
    changed = one(webhook(alert(**change)), state).incident
    assert base is not None and changed is not None
    assert base.id != changed.id, field


def test_routing_by_status_and_action(state: DesiredState) -> None:
    assert one(webhook(alert()), state).kind is IncidentKind.ROLLBACK
    assert one(webhook(alert(action="retrain")), state).kind is IncidentKind.RETRAIN
    assert one(webhook(alert(status="resolved")), state).kind is IncidentKind.IGNORE
    assert one(webhook(alert(action=None)), state).kind is IncidentKind.IGNORE
    assert one(webhook(alert(action="page")), state).kind is IncidentKind.IGNORE


def test_a_drift_alert_may_omit_the_environment_but_a_rollback_may_not(state: DesiredState) -> None:
    assert one(webhook(alert(action="retrain", env="")), state).kind is IncidentKind.RETRAIN
    with pytest.raises(UnprocessableAlert, match="no environment ''"):
        one(webhook(alert(env="")), state)


def test_a_missing_version_label_means_whatever_serves(state: DesiredState) -> None:
    assert one(webhook(alert(version=None)), state).incident.version is None  # type: ignore[union-attr]


def test_without_starts_at_re_sends_could_not_be_recognised(state: DesiredState) -> None:
    with pytest.raises(UnprocessableAlert, match="startsAt"):
        one(webhook(alert(starts_at="")), state)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b'{"version": 4, "alerts": []}',
        b'{"version": "4"}',
        b'{"version": "4", "alerts": [1]}',
    ],
)
def test_payloads_that_are_not_webhook_v4_are_refused(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_webhook(body)


def test_an_empty_alert_list_is_valid_and_does_nothing(state: DesiredState) -> None:
    assert parse_webhook(b'{"version": "4", "alerts": []}').alerts == ()
