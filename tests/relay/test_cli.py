"""`modelops relay` as a process: refusing to start unsafely, and exactly-once rollbacks across restarts."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import pytest

from tests.helpers import modelops, require_binary
from tests.relay.sandbox import ENV, MODEL, GitSandbox, make_git_sandbox
from tests.relay.support import RelayProcess, alert, webhook


@pytest.fixture
def sandbox(tmp_path: Path) -> GitSandbox:
    require_binary("git")
    return make_git_sandbox(tmp_path)


def test_without_a_token_or_secret_the_relay_refuses_to_start_in_one_line(sandbox: GitSandbox) -> None:
    result = modelops(
        "relay",
        "--repo",
        str(sandbox.clone),
        "--port",
        "0",
        env={"MODELOPS_RELAY_TOKEN": "", "MODELOPS_RELAY_HMAC_SECRET": ""},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "MODELOPS_RELAY_TOKEN" in result.stderr and "--insecure-no-auth" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_relay_on_the_same_incident_log_is_refused(sandbox: GitSandbox, tmp_path: Path) -> None:
    first = RelayProcess(sandbox.clone, tmp_path / "state")
    try:
        result = modelops(
            "relay",
            "--repo",
            str(sandbox.clone),
            "--state",
            str(tmp_path / "state"),
            "--port",
            "0",
            env={"MODELOPS_RELAY_TOKEN": "t"},
        )
        assert result.returncode == 2
        assert "another relay holds" in result.stderr
    finally:
        assert first.stop() == 0


def test_a_relay_killed_mid_rollback_retries_on_the_next_delivery_and_later_relays_see_a_duplicate(
    sandbox: GitSandbox, tmp_path: Path
) -> None:
    """A crash after the claim: the restarted relay releases the claim, and the flow knows the incident."""
    import sqlite3
    import time

    state = tmp_path / "state"
    first = RelayProcess(sandbox.clone, state)
    import threading

    threading.Thread(target=lambda: _ignore_errors(first.post, webhook()), daemon=True).start()
    deadline = time.monotonic() + 60
    while not sandbox.rollback_commits():  # killed after the commit landed, before the answer
        assert time.monotonic() < deadline, "\n".join(first.lines)
        time.sleep(0.02)
    first.stop(signal.SIGKILL)
    with sqlite3.connect(state / "relay-incidents.sqlite") as db:
        assert db.execute("SELECT state FROM incidents").fetchall() == [("claimed",)]
    second = RelayProcess(sandbox.clone, state)
    try:
        assert second.first("claims_released") is not None
        response = second.post(webhook())
        assert response.status == 200, response.body
        [incident] = response.body["incidents"]
        assert (incident["outcome"], incident["detail"]) == ("dispatched", "already rolled back")
        assert second.post(webhook()).body["incidents"][0]["outcome"] == "duplicate"
    finally:
        assert second.stop() == 0
    third = RelayProcess(sandbox.clone, state)
    try:
        assert third.first("claims_released") is None
        assert third.post(webhook(alert())).body["incidents"][0]["outcome"] == "duplicate"
    finally:
        third.stop()
    assert sandbox.rollback_commits() == [f"rollback {MODEL} {ENV}: v2 → v1"]
    production = sandbox.origin_state().model(MODEL).env(ENV)
    assert (production.version, production.quarantined) == (1, (2,))
    assert production.history[-1].ref == incident["incident"]
    # Every line on the relays' stderr, the rollback flow's progress included, is one JSON object.
    for relay in (first, second, third):
        assert relay.lines and all(line.startswith("{") and line.endswith("}") for line in relay.lines), (
            relay.lines
        )
    assert any(r.get("message", "").startswith("[rollback.started]") for r in second.records())


def _ignore_errors(fn, *args):  # type: ignore[no-untyped-def]
    with contextlib.suppress(OSError):
        fn(*args)
