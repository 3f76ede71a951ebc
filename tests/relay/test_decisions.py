"""What the relay decides for each alert: refusals from origin's state without git work, deferrals that
are decided again, and one incident per firing however an HA pair moves its startsAt."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops.adapters.incidents import IncidentStore
from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.core.incident import Incident, IncidentKind
from modelops.relay.dispatch import FlowDispatcher
from modelops.relay.log import JsonLog
from modelops.relay.server import open_relay
from tests.helpers import REPO_ROOT
from tests.relay.sandbox import ENV, MODEL, git, make_git_sandbox
from tests.relay.support import STARTS_AT, CountingDispatcher, RunningRelay, alert, running_relay, webhook


@pytest.fixture(scope="module")
def origin_state():  # type: ignore[no-untyped-def]
    """Production pins v2 (previous v1); staging pins nothing."""
    doc = ModelsDocument.load(REPO_ROOT / "models.yaml")
    doc.promote(MODEL, ENV, 1, at="2026-01-01T00:00:00Z", by="t", reason="first")
    doc.promote(MODEL, ENV, 2, at="2026-01-02T00:00:00Z", by="t", reason="second")
    return ModelsDocument(doc.dump()).state()


@pytest.fixture(scope="module")
def dispatcher(origin_state) -> CountingDispatcher:  # type: ignore[no-untyped-def]
    return CountingDispatcher(origin=origin_state)


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory, dispatcher: CountingDispatcher) -> Iterator[RunningRelay]:
    root = tmp_path_factory.mktemp("decisions")
    shutil.copy(REPO_ROOT / "models.yaml", root / "models.yaml")
    with running_relay(root / "models.yaml", root / "state", dispatcher) as running:
        yield running


def test_a_flood_of_alerts_about_versions_that_do_not_serve_is_refused_from_one_read_of_origin(
    relay: RunningRelay, dispatcher: CountingDispatcher
) -> None:
    reads = dispatcher.origin_reads
    flood = [alert(alertname=f"Flood{i}", version=str(100 + i)) for i in range(150)]
    response = relay.post(webhook(*flood))
    assert response.status == 200
    assert {i["outcome"] for i in response.body["incidents"]} == {"refused"}
    assert "v100 is not serving (pinned v2)" in response.body["incidents"][0]["detail"]
    assert dispatcher.rollbacks == []  # nothing reached the rollback flow (no fetch, no worktree)
    assert dispatcher.origin_reads == reads + 1


def test_an_alert_about_a_version_already_quarantined_is_done_without_a_dispatch(
    relay: RunningRelay, dispatcher: CountingDispatcher, origin_state
) -> None:  # type: ignore[no-untyped-def]
    doc = ModelsDocument.load(REPO_ROOT / "models.yaml")
    doc.promote(MODEL, ENV, 1, at="2026-01-01T00:00:00Z", by="t", reason="first")
    doc.promote(MODEL, ENV, 2, at="2026-01-02T00:00:00Z", by="t", reason="second")
    doc.rollback(MODEL, ENV, at="2026-01-03T00:00:00Z", by="t", reason="bad")
    dispatcher.origin = ModelsDocument(doc.dump()).state()
    try:
        response = relay.post(webhook(alert(alertname="AfterRollback", version="2")))
    finally:
        dispatcher.origin = origin_state
    assert response.status == 200
    assert response.body["incidents"][0]["detail"] == "v2 was already rolled back (quarantined)"
    assert dispatcher.rollbacks == []


def test_nothing_to_fall_back_to_is_deferred_not_final(
    relay: RunningRelay, dispatcher: CountingDispatcher
) -> None:
    staging = alert(alertname="StagingErrors", env="staging", version=None)
    first = relay.post(webhook(staging))
    assert (first.status, first.body["incidents"][0]["outcome"]) == (503, "deferred")
    again = relay.post(webhook(staging))
    assert again.body["incidents"][0]["outcome"] == "deferred"  # decided again, not "duplicate"
    assert dispatcher.rollbacks == []


# -- one incident per firing ------------------------------------------------------------------------


def test_an_ha_pair_moving_starts_at_earlier_keeps_one_incident(
    relay: RunningRelay, dispatcher: CountingDispatcher
) -> None:
    first = relay.post(webhook(alert(alertname="HaPair", starts_at="2026-11-20T10:00:30.5Z")))
    moved = relay.post(webhook(alert(alertname="HaPair", starts_at="2026-11-20T10:00:00.123456789Z")))
    assert first.body["incidents"][0]["outcome"] == "dispatched"
    assert moved.body["incidents"][0]["outcome"] == "duplicate"
    assert moved.body["incidents"][0]["incident"] == first.body["incidents"][0]["incident"]
    assert [i.alertname for i in dispatcher.rollbacks].count("HaPair") == 1


def test_after_the_alert_resolves_its_next_firing_is_a_new_incident(
    relay: RunningRelay, dispatcher: CountingDispatcher
) -> None:
    relay.post(webhook(alert(alertname="Flapping", starts_at=STARTS_AT)))
    relay.post(webhook(alert(alertname="Flapping", status="resolved", starts_at=STARTS_AT)))
    again = relay.post(webhook(alert(alertname="Flapping", starts_at="2026-11-20T10:05:00Z")))
    assert again.body["incidents"][0]["outcome"] == "dispatched"
    assert [i.alertname for i in dispatcher.rollbacks].count("Flapping") == 2


def test_an_incident_log_from_before_subjects_is_opened_and_keeps_its_records(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "relay-incidents.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE incidents (id TEXT PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, model TEXT NOT"
            " NULL, env TEXT NOT NULL, version INTEGER, alertname TEXT NOT NULL, starts_at TEXT NOT NULL, state"
            " TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, deliveries INTEGER NOT NULL DEFAULT 0, detail"
            " TEXT NOT NULL DEFAULT '', ref TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO incidents VALUES ('inc-old','k','rollback','churn','production',2,'A','t','dispatched',"
            "1,1,'',NULL,0,0)"
        )
    store = IncidentStore(path)
    incident = Incident(IncidentKind.ROLLBACK, "churn", "production", 2, "A", STARTS_AT, "critical", "r")
    assert store.get("inc-old") is not None and store.claim(incident).won
    store.close()


# -- through the real rollback flow -----------------------------------------------------------------


def test_a_rollback_refused_while_main_is_broken_is_decided_again_on_the_re_send_after_the_fix(
    tmp_path: Path,
) -> None:
    sandbox = make_git_sandbox(tmp_path)
    good = (sandbox.clone / "models.yaml").read_text("utf-8")

    def push(text: str, message: str) -> None:
        (sandbox.clone / "models.yaml").write_text(text, encoding="utf-8")
        git("commit", "--quiet", "-am", message, cwd=sandbox.clone)
        git("push", "--quiet", "origin", "HEAD:main", cwd=sandbox.clone)

    push(good.replace("registered_model: churn-classifier", "registered_model: [broken"), "break models.yaml")
    relay_models = tmp_path / "relay-models.yaml"
    relay_models.write_text(good, encoding="utf-8")
    flows = FlowDispatcher(Context(repo=sandbox.clone))
    relay, lock = open_relay(relay_models, tmp_path / "state", flows, JsonLog(io.StringIO()))
    try:
        body = json.dumps(webhook(alert(version="2"))).encode()
        first = relay.alerts(body)  # the real rollback flow, against the broken main
        assert (first.code, first.body["incidents"][0]["outcome"]) == (503, "deferred")
        assert "not valid YAML" in first.body["incidents"][0]["detail"]
        assert sandbox.rollback_commits() == []
        push(good, "fix models.yaml")
        # The re-send reaches a dispatch again (the real one is exercised above and in the storm).
        relay.dispatcher = counting = CountingDispatcher()
        second = relay.alerts(body)
        assert (second.code, second.body["incidents"][0]["outcome"]) == (200, "dispatched"), second.body
        assert len(counting.rollbacks) == 1
        assert flows.desired_state() is not None  # origin reads again once main is fixed
    finally:
        relay.store.close()
        lock.close()
