"""Builders and doubles for the relay tests: webhook payloads, a counting dispatcher, an in-process relay."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.core.incident import Incident, IncidentState
from modelops.core.rollback import NotServing
from modelops.core.state import DesiredState
from modelops.errors import Denied, ExternalError
from modelops.relay.dispatch import Outcome
from modelops.relay.log import JsonLog
from modelops.relay.server import Auth, RelayHTTPServer, open_relay
from tests.core.alerts import STARTS_AT as STARTS_AT
from tests.core.alerts import alert as alert
from tests.core.alerts import webhook as webhook

TOKEN = "relay-test-token"
SECRET = "relay-test-hmac-secret"


def sign(body: bytes, secret: str = SECRET, *, at: float | None = None) -> dict[str, str]:
    """The headers a signing proxy adds: a timestamp and the HMAC of `<timestamp>.<body>`."""
    import time

    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Modelops-Timestamp": stamp, "X-Modelops-Signature": "sha256=" + digest}


@dataclass
class CountingDispatcher:
    """Records every dispatch; fails the first `failures` rollbacks, refuses all when `refuse` is set.

    `origin` is what it says origin's models.yaml holds (None: unknown, so every rollback reaches it)."""

    failures: int = 0
    refuse: bool = False
    defer: bool = False
    name: str = "counting"
    rollbacks: list[Incident] = field(default_factory=list)
    retrains: list[Incident] = field(default_factory=list)
    analyses: list[Incident] = field(default_factory=list)
    gate: threading.Event | None = None
    origin: DesiredState | None = None
    origin_reads: int = 0

    def desired_state(self) -> DesiredState | None:
        self.origin_reads += 1
        return self.origin

    def rollback(self, incident: Incident) -> Outcome:
        if self.gate is not None:
            self.gate.wait(10)
        if self.failures > 0:
            self.failures -= 1
            raise ExternalError("git push origin main: connection refused")
        if self.refuse:
            return Outcome(
                IncidentState.REFUSED, str(NotServing("production: v7 is not serving (pinned v2)"))
            )
        if self.defer:
            return Outcome(
                IncidentState.DEFERRED, str(Denied("production: v2 has no previous version recorded"))
            )
        self.rollbacks.append(incident)
        return Outcome(IncidentState.DISPATCHED, "rolled back v2 -> v1", f"commit-{len(self.rollbacks)}")

    def retrain(self, incident: Incident) -> Outcome:
        self.retrains.append(incident)
        return Outcome(IncidentState.DISPATCHED, "retrain requested")

    def analyze(self, incident: Incident) -> Outcome:
        self.analyses.append(incident)
        return Outcome(IncidentState.DISPATCHED, "canary analysis: abort (rollback)")


@dataclass
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass
class RunningRelay:
    url: str
    host: str
    port: int
    server: RelayHTTPServer
    log: io.StringIO

    def post(
        self, payload: Any, headers: Mapping[str, str] | None = None, *, bearer: str | None = TOKEN
    ) -> Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
        return request(self.host, self.port, "POST", "/alerts", body, all_headers)

    def get(self, path: str) -> Response:
        return request(self.host, self.port, "GET", path)

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Response:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        raw = resp.read()
        content_type = resp.getheader("Content-Type", "")
        parsed: Any = json.loads(raw) if content_type.startswith("application/json") else raw.decode()
        return Response(resp.status, parsed, {k: v for k, v in resp.getheaders()})
    finally:
        conn.close()


@contextmanager
def running_relay(
    models_path: Path, state_dir: Path, dispatcher: Any, auth: Auth | None = None, **options: Any
) -> Iterator[RunningRelay]:
    """The relay's real HTTP server in this process, on a free loopback port (`options`: its limits)."""
    log_stream = io.StringIO()
    relay, lock = open_relay(models_path, state_dir, dispatcher, JsonLog(log_stream))
    server = RelayHTTPServer(
        ("127.0.0.1", 0), relay, auth or Auth(token=TOKEN, hmac_secret=SECRET), **options
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield RunningRelay(f"http://{host}:{port}/alerts", str(host), int(port), server, log_stream)
    finally:
        server.shutdown()
        server.server_close()
        relay.wait_idle(10)
        relay.store.close()
        lock.close()


class RelayProcess:
    """`modelops relay` as a user runs it: a real process, its JSON log lines collected from stderr."""

    def __init__(
        self,
        repo: Path,
        state_dir: Path,
        *,
        port: int = 0,
        env: Mapping[str, str] | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        import os
        import subprocess
        import sys
        import time

        self.lines: list[str] = []
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MODELOPS_RELAY_"))}
        full_env.update({"MODELOPS_RELAY_TOKEN": TOKEN, **(env or {})})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelops",
                "relay",
                "--repo",
                str(repo),
                "--state",
                str(state_dir),
                "--port",
                str(port),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 60
        while (listening := self.first("listening")) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("relay did not start:\n" + "\n".join(self.lines))
            time.sleep(0.02)
        self.host, self.port = str(listening["host"]), int(listening["port"])

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in list(self.lines):
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def first(self, event: str) -> dict[str, Any] | None:
        return next((r for r in self.records() if r["event"] == event), None)

    def post(self, payload: Any, *, bearer: str | None = TOKEN) -> Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        # A first rollback pays for importing the registry client: minutes on a loaded machine.
        return request(self.host, self.port, "POST", "/alerts", body, headers, timeout=300)

    def stop(self, sig: int | None = None) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
        code = self.proc.wait(120)
        self._reader.join(10)
        return code
