"""The storm: 1,000 deliveries of one incident, concurrent, duplicated, partly broken, with a relay restart
in the middle — and exactly one rollback commit on origin."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from pathlib import Path

from tests.helpers import require_binary
from tests.relay.sandbox import ENV, MODEL, make_git_sandbox
from tests.relay.storm import EXPECTED_STATUS, free_port, outcomes, run_storm, storm_deliveries, summary
from tests.relay.support import SECRET, RelayProcess

DELIVERIES = 1000
RESTART_AFTER = 300


def test_a_storm_with_a_restart_in_the_middle_rolls_back_exactly_once(tmp_path: Path) -> None:
    require_binary("git")
    sandbox = make_git_sandbox(tmp_path)
    state, port = tmp_path / "state", free_port()
    env = {"MODELOPS_RELAY_HMAC_SECRET": SECRET}
    relays = [RelayProcess(sandbox.clone, state, port=port, env=env)]
    restarted = threading.Event()

    def restart_once(done: int) -> None:
        if done >= RESTART_AFTER and not restarted.is_set():
            restarted.set()
            threading.Thread(target=restart, daemon=True).start()

    def restart() -> None:
        # SIGTERM: the old relay stops accepting, finishes the rollback in progress, exits; deliveries
        # meanwhile fail to connect and are retried, as Alertmanager retries them.
        assert relays[0].stop() == 0
        relays.append(RelayProcess(sandbox.clone, state, port=port, env=env))

    deliveries = storm_deliveries(DELIVERIES)
    try:
        results = run_storm(lambda: ("127.0.0.1", port), deliveries, on_progress=restart_once)
    finally:
        for relay in relays:
            relay.stop()

    assert restarted.is_set() and len(relays) == 2
    assert relays[0].first("stopped")["drained"] is True  # type: ignore[index]
    assert len(results) == DELIVERIES
    wrong = [(d.kind, r.status, r.body) for d, r in results if r.status != EXPECTED_STATUS[d.kind]]
    assert not wrong, (summary(results), wrong[:3])

    seen = Counter(outcomes(results))
    assert seen["dispatched"] == 1, seen
    assert set(seen) <= {"dispatched", "duplicate", "in_progress"}, seen

    assert sandbox.rollback_commits() == [f"rollback {MODEL} {ENV}: v2 → v1"]
    production = sandbox.origin_state().model(MODEL).env(ENV)
    assert (production.version, production.previous, production.quarantined) == (1, None, (2,))
    with sqlite3.connect(state / "relay-incidents.sqlite") as db:
        [(incident_state, attempts, delivered, ref)] = db.execute(
            "SELECT state, attempts, deliveries, ref FROM incidents"
        ).fetchall()
    assert (incident_state, attempts) == ("dispatched", 1)
    assert ref == sandbox.origin_head()
    valid = sum(1 for d in deliveries if d.kind in ("valid", "signed"))
    assert delivered >= valid
    assert production.history[-1].ref == next(
        r["incident"] for r in relays[0].records() + relays[1].records() if r["event"] == "dispatched"
    )
