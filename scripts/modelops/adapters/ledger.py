"""The retrain ledger: a SQLite file under the state dir recording retrain requests, their decisions,
the runs they started and the drift observed per window.

Deciding and recording happen in one `BEGIN IMMEDIATE` transaction: SQLite then lets one writer at a
time read the history and append to it, so two alerts arriving together cannot both see "nothing in
flight" and both start a run. The policy itself is passed in; the ledger only stores.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.core.retrain_policy import Action, RetrainRequest, RunRecord, WindowObservation

if TYPE_CHECKING:
    from modelops.context import Context
from modelops.errors import ExternalError

LEDGER_FILE = "retrain-ledger.sqlite"
BUSY_TIMEOUT_S = 30.0
DISPATCH_FAILED = "dispatch_failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    request_id INTEGER,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    handle TEXT,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    reason TEXT NOT NULL,
    action TEXT NOT NULL,
    decision TEXT NOT NULL,
    run_id INTEGER,
    served_by_run INTEGER
);
CREATE TABLE IF NOT EXISTS observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    env TEXT NOT NULL,
    at TEXT NOT NULL,
    drift INTEGER NOT NULL,
    drifted_features TEXT NOT NULL,
    prediction_drift INTEGER NOT NULL,
    pipeline_suspect INTEGER NOT NULL,
    psi TEXT NOT NULL,
    reference TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_model ON runs (model, started_at);
CREATE INDEX IF NOT EXISTS observations_model ON observations (model, env, at);
"""


@dataclass(frozen=True)
class Recorded:
    action: Action
    reason: str
    request_id: int
    run_id: int | None


def _ts(value: datetime) -> str:
    return value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ExternalError(f"{path}: cannot open the retrain ledger ({exc})") from None

    @classmethod
    def at(cls, state_dir: Path) -> Ledger:
        return cls(state_dir / LEDGER_FILE)

    @classmethod
    def for_context(cls, ctx: Context, state_dir: Path | None = None) -> Ledger:
        """The ledger in `state_dir` (the relay's volume), else in the repository's state directory."""
        return cls.at(state_dir if state_dir is not None else ctx.ensure_state_dir())

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are opened explicitly, so BEGIN IMMEDIATE means what it says.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from its first statement."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ExternalError(f"{self.path}: retrain ledger write failed ({exc})") from None
        finally:
            conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise ExternalError(f"{self.path}: retrain ledger read failed ({exc})") from None
        finally:
            conn.close()

    # -- requests and runs ---------------------------------------------------------------------

    @staticmethod
    def _runs(conn: sqlite3.Connection, model: str) -> list[RunRecord]:
        rows = conn.execute(
            "SELECT id, model, started_at, finished_at, outcome FROM runs "
            "WHERE model = ? AND (outcome IS NULL OR outcome != ?) ORDER BY started_at DESC, id DESC",
            (model, DISPATCH_FAILED),
        ).fetchall()
        return [
            RunRecord(
                r["id"],
                r["model"],
                datetime.fromisoformat(r["started_at"]),
                _dt(r["finished_at"]),
                r["outcome"],
            )
            for r in rows
        ]

    def runs(self, model: str) -> list[RunRecord]:
        with self._read() as conn:
            return self._runs(conn, model)

    def decide_and_record(
        self,
        request: RetrainRequest,
        policy: Callable[[RetrainRequest, Sequence[RunRecord]], tuple[Action, str]],
    ) -> Recorded:
        """Apply `policy` to the model's history and record the request, its decision and any new run."""
        with self._write() as conn:
            action, reason = policy(request, self._runs(conn, request.model))
            cur = conn.execute(
                "INSERT INTO requests (model, at, source, severity, reason, action, decision) VALUES (?,?,?,?,?,?,?)",
                (
                    request.model,
                    _ts(request.at),
                    request.source,
                    request.severity,
                    request.reason,
                    action,
                    reason,
                ),
            )
            request_id = int(cur.lastrowid or 0)
            run_id: int | None = None
            if action == "go":
                cur = conn.execute(
                    "INSERT INTO runs (model, request_id, started_at) VALUES (?,?,?)",
                    (request.model, request_id, _ts(request.at)),
                )
                run_id = int(cur.lastrowid or 0)
                conn.execute("UPDATE requests SET run_id = ? WHERE id = ?", (run_id, request_id))
                # A run serves every request that was waiting for one.
                conn.execute(
                    "UPDATE requests SET served_by_run = ? WHERE model = ? AND action = 'defer' "
                    "AND served_by_run IS NULL",
                    (run_id, request.model),
                )
            return Recorded(action, reason, request_id, run_id)

    def set_handle(self, run_id: int, handle: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET handle = ? WHERE id = ?", (handle, run_id))

    def finish_run(self, run_id: int, outcome: str, at: datetime, detail: str = "") -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, detail = ? WHERE id = ? AND finished_at IS NULL",
                (_ts(at), outcome, detail, run_id),
            )

    def start_run(self, model: str, at: datetime, detail: str = "") -> int:
        """A run that no request decided (the executor called directly, e.g. by a dispatched workflow)."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO runs (model, started_at, detail) VALUES (?,?,?)", (model, _ts(at), detail)
            )
            return int(cur.lastrowid or 0)

    def requests(self, model: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM requests WHERE model = ? ORDER BY id", (model,)).fetchall()
            return [dict(r) for r in rows]

    def pending(self, model: str) -> list[dict[str, Any]]:
        """Deferred requests still waiting for a run."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM requests WHERE model = ? AND action = 'defer' AND served_by_run IS NULL ORDER BY id",
                (model,),
            ).fetchall()
            return [dict(r) for r in rows]

    def run(self, run_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            return dict(row) if row else None

    # -- drift observations --------------------------------------------------------------------

    def record_observation(
        self,
        *,
        model: str,
        env: str,
        at: datetime,
        drift: bool,
        drifted_features: Sequence[str],
        prediction_drift: bool,
        pipeline_suspect: bool,
        psi: dict[str, float],
        reference: str,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO observations (model, env, at, drift, drifted_features, prediction_drift, "
                "pipeline_suspect, psi, reference) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    model,
                    env,
                    _ts(at),
                    int(drift),
                    json.dumps(list(drifted_features)),
                    int(prediction_drift),
                    int(pipeline_suspect),
                    json.dumps(psi),
                    reference,
                ),
            )

    def observations(self, model: str, env: str, limit: int = 50) -> list[WindowObservation]:
        """The newest `limit` windows, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM observations WHERE model = ? AND env = ? ORDER BY at DESC, id DESC LIMIT ?",
                (model, env, limit),
            ).fetchall()
        return [
            WindowObservation(
                at=datetime.fromisoformat(r["at"]),
                drifted_features=tuple(json.loads(r["drifted_features"])),
                prediction_drift=bool(r["prediction_drift"]),
                pipeline_suspect=bool(r["pipeline_suspect"]),
            )
            for r in reversed(rows)
        ]

    def last_psi(self, model: str, env: str) -> dict[str, float] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT psi FROM observations WHERE model = ? AND env = ? ORDER BY at DESC, id DESC LIMIT 1",
                (model, env),
            ).fetchone()
        if row is None:
            return None
        loaded: dict[str, float] = json.loads(row["psi"])
        return loaded
