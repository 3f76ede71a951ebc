"""adapters/incidents.py: claims are exclusive across threads and processes, and survive them."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from modelops.adapters.incidents import DB_NAME, IncidentStore, lock_state_dir
from modelops.core.incident import Incident, IncidentKind, IncidentState
from modelops.errors import BadInput

INCIDENT = Incident(
    IncidentKind.ROLLBACK,
    "churn",
    "production",
    2,
    "ChurnHighErrorRate",
    "2026-11-20T10:00:00Z",
    "critical",
    "r",
)


def _claim_many(path: str, rounds: int, wins: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = IncidentStore(Path(path))
    won = sum(store.claim(INCIDENT).won for _ in range(rounds))
    store.close()
    wins.put(won)


def test_concurrent_processes_claiming_one_incident_produce_exactly_one_winner(tmp_path: Path) -> None:
    path = str(tmp_path / DB_NAME)
    IncidentStore(Path(path)).close()
    wins: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()  # type: ignore[type-arg]
    procs = [
        multiprocessing.get_context("fork").Process(target=_claim_many, args=(path, 50, wins))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sum(wins.get(timeout=5) for _ in procs) == 1
    record = IncidentStore(Path(path)).get(INCIDENT.id)
    assert record is not None and (record.state, record.deliveries) == (IncidentState.CLAIMED, 200)


def test_concurrent_threads_claiming_one_incident_produce_exactly_one_winner(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path / DB_NAME)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(store.claim(INCIDENT).won)) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_a_failed_dispatch_releases_the_claim_and_a_finished_one_never_does(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path / DB_NAME)
    assert store.claim(INCIDENT).won
    store.finish(INCIDENT.id, IncidentState.FAILED, "push rejected")
    retry = store.claim(INCIDENT)
    assert retry.won and retry.record.attempts == 2
    store.finish(INCIDENT.id, IncidentState.DISPATCHED, "rolled back", "abc123")
    again = store.claim(INCIDENT)
    assert not again.won
    assert (again.record.state, again.record.ref, again.record.attempts) == (
        IncidentState.DISPATCHED,
        "abc123",
        2,
    )


def test_orphaned_claims_are_released_when_a_relay_starts(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path / DB_NAME)
    store.claim(INCIDENT)
    store.close()
    reopened = IncidentStore(tmp_path / DB_NAME)
    assert reopened.release_orphans() == 1
    assert reopened.claim(INCIDENT).won


def test_only_one_relay_holds_a_state_directory(tmp_path: Path) -> None:
    held = lock_state_dir(tmp_path / "state")
    with pytest.raises(BadInput, match="another relay holds"):
        lock_state_dir(tmp_path / "state", wait_s=0.1)
    held.close()
    lock_state_dir(tmp_path / "state", wait_s=0.1).close()
