"""The relay's incident log: one SQLite row per incident, so each incident is acted on once.

Alertmanager re-sends an alert many times and the relay may restart in the middle of a storm, so the
"have we already acted on this?" question must survive the process. A row moves

    claimed ──► dispatched      the rollback (or retrain request) happened: later re-sends are duplicates
            ──► refused         a rollback can never happen (the version does not serve): retrying cannot help
            ──► deferred        not now (nothing safe to fall back to yet): the next re-send decides again
            ──► failed          the dispatch failed: the claim is released, the next re-send retries

Claims are taken inside `BEGIN IMMEDIATE`, which serialises writers across threads and processes, so two
deliveries of one incident can never both see "not claimed yet". WAL mode keeps readers off the writer's
back; `synchronous=NORMAL` survives a process crash (what a restart is), which is the failure that matters.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from modelops.core.incident import FINAL_STATES, RETRY_STATES, Incident, IncidentState, same_firing
from modelops.errors import BadInput, ExternalError

DB_NAME = "relay-incidents.sqlite"
LOCK_NAME = "relay.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    model       TEXT NOT NULL,
    env         TEXT NOT NULL,
    version     INTEGER,
    alertname   TEXT NOT NULL,
    starts_at   TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    deliveries  INTEGER NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    ref         TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    subject     TEXT,
    closed      INTEGER NOT NULL DEFAULT 0
)
"""
# Columns added since the first incident logs were written: (name, declaration).
_ADDED = (("subject", "TEXT"), ("closed", "INTEGER NOT NULL DEFAULT 0"))


_SELECT = "SELECT id, state, attempts, deliveries, detail, ref FROM incidents WHERE id = ?"


@dataclass(frozen=True)
class Record:
    id: str
    state: IncidentState
    attempts: int
    deliveries: int
    detail: str
    ref: str | None


@dataclass(frozen=True)
class Claim:
    """The outcome of asking to act on an incident: `won` means this caller must dispatch it."""

    won: bool
    record: Record


class IncidentStore:
    """Thread-safe: one connection shared under a lock (the relay serves a thread per connection, and
    a SQLite connection per thread would be opened and leaked per TCP connection)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(incidents)")}
            for name, declaration in _ADDED:
                if name not in have:
                    self._db.execute(f"ALTER TABLE incidents ADD COLUMN {name} {declaration}")
            self._db.execute("CREATE INDEX IF NOT EXISTS incidents_subject ON incidents (subject, closed)")
        except sqlite3.Error as exc:
            raise ExternalError(f"{path}: cannot open the incident log ({exc})") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _record(self, row: tuple[str, str, int, int, str, str | None]) -> Record:
        return Record(
            id=row[0],
            state=IncidentState(row[1]),
            attempts=row[2],
            deliveries=row[3],
            detail=row[4],
            ref=row[5],
        )

    def get(self, incident_id: str) -> Record | None:
        with self._lock:
            row = self._db.execute(_SELECT, (incident_id,)).fetchone()
        return None if row is None else self._record(row)

    def alert_starts(self) -> dict[str, str]:
        """Incident id -> when its alert started firing (the board's alert-to-rollback time)."""
        with self._lock:
            rows = self._db.execute("SELECT id, starts_at FROM incidents").fetchall()
        return {str(i): str(at) for i, at in rows}

    def claim(self, incident: Incident) -> Claim:
        """Claim the incident unless it is done or being dispatched; counts every delivery either way."""
        now = time.time()
        conn = self._db
        try:
            self._lock.acquire()
            # Fast path for a storm of re-sends: a finished incident stays finished, no write lock needed.
            row = conn.execute(_SELECT, (incident.id,)).fetchone()
            if row is not None and IncidentState(row[1]) in FINAL_STATES:
                conn.execute("UPDATE incidents SET deliveries = deliveries + 1 WHERE id = ?", (incident.id,))
                done = self._record(row)
                return Claim(won=False, record=replace(done, deliveries=done.deliveries + 1))
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(_SELECT, (incident.id,)).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO incidents (id, key, kind, model, env, version, alertname, starts_at, state,"
                        " attempts, deliveries, created_at, updated_at, subject)"
                        " VALUES (?,?,?,?,?,?,?,?,?,1,1,?,?,?)",
                        (
                            incident.id,
                            incident.key,
                            incident.kind.value,
                            incident.model,
                            incident.env,
                            incident.version,
                            incident.alertname,
                            incident.starts_at,
                            IncidentState.CLAIMED.value,
                            now,
                            now,
                            incident.subject,
                        ),
                    )
                    won = True
                else:
                    won = IncidentState(row[1]) in RETRY_STATES
                    conn.execute(
                        "UPDATE incidents SET deliveries = deliveries + 1,"
                        " attempts = attempts + ?, state = CASE WHEN ? THEN ? ELSE state END, updated_at = ?"
                        " WHERE id = ?",
                        (int(won), won, IncidentState.CLAIMED.value, now, incident.id),
                    )
                record = self._record(conn.execute(_SELECT, (incident.id,)).fetchone())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise ExternalError(f"{self.path}: incident log unavailable ({exc})") from None
        finally:
            self._lock.release()
        return Claim(won=won, record=record)

    def episode(self, incident: Incident) -> Incident:
        """`incident` as its subject's open incident knows it, when this alert is a re-send of that
        firing (an HA pair moves startsAt earlier): same startsAt, so the same id."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT starts_at FROM incidents WHERE subject = ? AND closed = 0"
                    " ORDER BY created_at DESC LIMIT 1",
                    (incident.subject,),
                ).fetchone()
        except sqlite3.Error as exc:
            raise ExternalError(f"{self.path}: incident log unavailable ({exc})") from None
        if row is None or row[0] == incident.starts_at or not same_firing(row[0], incident.starts_at):
            return incident
        return replace(incident, starts_at=row[0])

    def resolve(self, subject: str) -> int:
        """The alert resolved: its next firing is a new incident."""
        try:
            with self._lock:
                cur = self._db.execute(
                    "UPDATE incidents SET closed = 1 WHERE subject = ? AND closed = 0", (subject,)
                )
        except sqlite3.Error as exc:
            raise ExternalError(f"{self.path}: incident log unavailable ({exc})") from None
        return cur.rowcount

    def finish(
        self, incident_id: str, state: IncidentState, detail: str = "", ref: str | None = None
    ) -> None:
        """Record the outcome of a claimed dispatch; `failed` releases the claim for the next re-send."""
        try:
            with self._lock:
                self._db.execute(
                    "UPDATE incidents SET state = ?, detail = ?, ref = COALESCE(?, ref), updated_at = ?"
                    " WHERE id = ? AND state = ?",
                    (state.value, detail, ref, time.time(), incident_id, IncidentState.CLAIMED.value),
                )
        except sqlite3.Error as exc:
            raise ExternalError(f"{self.path}: incident log unavailable ({exc})") from None

    def release_orphans(self) -> int:
        """Claims left by a relay that died mid-dispatch: release them so the next re-send retries.

        Only safe while this process holds the state directory's lock (see `lock_state_dir`): then no
        other relay can be dispatching.
        """
        with self._lock:
            cur = self._db.execute(
                "UPDATE incidents SET state = ?, detail = 'released after a relay restart', updated_at = ?"
                " WHERE state = ?",
                (IncidentState.FAILED.value, time.time(), IncidentState.CLAIMED.value),
            )
        return cur.rowcount

    def ping(self) -> None:
        try:
            with self._lock:
                self._db.execute(
                    "SELECT COUNT(*) FROM incidents WHERE state = ?", (IncidentState.CLAIMED.value,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise ExternalError(f"{self.path}: incident log unavailable ({exc})") from None

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM incidents GROUP BY state").fetchall()
        return {state: n for state, n in rows}


def lock_state_dir(state_dir: Path, *, wait_s: float = 3.0) -> IO[str]:
    """Hold an exclusive lock on the state directory for the life of the process.

    One relay per incident log: that is what makes releasing orphaned claims at start-up safe. A
    restarting relay waits briefly for the old process to let go.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held until the process exits
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise BadInput(
                    f"{state_dir}: another relay holds {LOCK_NAME}; stop it or pass a different --state"
                ) from None
            time.sleep(0.05)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
