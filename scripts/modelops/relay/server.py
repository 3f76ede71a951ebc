"""The webhook relay: Alertmanager → incident log → rollback (or retrain request), exactly once.

POST /alerts   an Alertmanager webhook v4 payload, authenticated by a bearer token or an HMAC-SHA256
               signature of a fresh timestamp and the body (docs/relay.md). Answers 200 when every alert is handled (acted on, a duplicate,
               refused or ignored), 5xx when a dispatch failed (Alertmanager delivers again, and the
               released claim lets that delivery retry), 4xx when retrying cannot help.
GET  /healthz  200 while the relay can read models.yaml and its incident log.
GET  /metrics  Prometheus exposition of the relay's counters.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Generic, TypeVar

from modelops.adapters.incidents import IncidentStore
from modelops.core import contract
from modelops.core.document import ModelsDocument
from modelops.core.incident import (
    FINAL_STATES,
    AlertDecision,
    Incident,
    IncidentKind,
    IncidentState,
    PayloadError,
    TooManyAlerts,
    UnprocessableAlert,
    decide,
    parse_webhook,
)
from modelops.core.rollback import Verdict, judge
from modelops.core.state import DesiredState
from modelops.errors import BadInput, ExternalError
from modelops.relay.dispatch import Dispatcher, Outcome
from modelops.relay.log import JsonLog, structure_stderr

MAX_BODY_BYTES = 1 << 20
# A client has this long from the first byte of a request to the last byte of its body: a client that
# trickles a byte every few seconds would otherwise hold its thread (and a connection slot) for ever.
REQUEST_DEADLINE_S = 10.0
# Threads are one per connection; past this many, new connections get 503 and close at once.
MAX_CONNECTIONS = 256
TOKEN_ENV = "MODELOPS_RELAY_TOKEN"
HMAC_ENV = "MODELOPS_RELAY_HMAC_SECRET"
SIGNATURE_HEADER = "X-Modelops-Signature"
TIMESTAMP_HEADER = "X-Modelops-Timestamp"
# A signed delivery older (or newer) than this is refused, so a captured one cannot be replayed later.
SIGNATURE_WINDOW_S = 300
DUPLICATE_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True)
class Auth:
    token: str | None = None
    hmac_secret: str | None = None
    insecure: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, insecure: bool = False) -> Auth:
        token, secret = env.get(TOKEN_ENV) or None, env.get(HMAC_ENV) or None
        if not (token or secret or insecure):
            raise BadInput(
                f"set {TOKEN_ENV} (bearer token) or {HMAC_ENV} (HMAC-SHA256 secret) before starting the relay, "
                "or pass --insecure-no-auth for a local demo"
            )
        return cls(token=token, hmac_secret=secret, insecure=insecure and not (token or secret))

    def bearer_ok(self, authorization: str | None) -> bool:
        if self.token is None or not authorization:
            return False
        scheme, _, credentials = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode("utf-8"), self.token.encode("utf-8")
        )

    def signature_ok(
        self, signature: str | None, timestamp: str | None, body: bytes, now: float | None = None
    ) -> bool:
        """HMAC-SHA256 over `<timestamp>.<body>`, with the timestamp (unix seconds) inside the window."""
        if self.hmac_secret is None or not signature or not timestamp:
            return False
        if not (timestamp.isascii() and timestamp.isdigit()):
            return False
        if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_WINDOW_S:
            return False
        expected = "sha256=" + signature_of(self.hmac_secret, timestamp, body)
        return hmac.compare_digest(signature.strip().lower().encode("utf-8"), expected.encode("utf-8"))


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """What a signing proxy puts after `sha256=` in X-Modelops-Signature."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class ModelsWatch:
    """The desired state, re-read when models.yaml changes (a rollback commit changes it)."""

    def __init__(self, path: Path, log: JsonLog) -> None:
        self.path = path
        self._log = log
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._state = self._load()

    def _load(self) -> DesiredState:
        stat = self.path.stat()
        state = ModelsDocument.load(self.path).state()
        self._stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        return state

    def state(self) -> DesiredState:
        try:
            stat = self.path.stat()
        except OSError:
            return self._state
        if (stat.st_mtime_ns, stat.st_size, stat.st_ino) == self._stamp:
            return self._state
        with self._lock:
            if (stat.st_mtime_ns, stat.st_size, stat.st_ino) == self._stamp:
                return self._state  # another request reloaded it while this one waited
            try:
                self._state = self._load()
                self._log("models_reloaded", path=str(self.path))
            except (BadInput, OSError) as exc:
                # Half-written or invalid: keep serving from the last good state, retry next request.
                self._log("models_unreadable", level="warning", path=str(self.path), detail=str(exc))
            return self._state


class RelayMetrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter

        self.registry = CollectorRegistry()
        self.requests = Counter(
            contract.RELAY_REQUESTS_TOTAL,
            "Webhook deliveries received on /alerts, by HTTP status answered.",
            ["code"],
            registry=self.registry,
        )
        self.dispatch = Counter(
            contract.RELAY_DISPATCH_TOTAL,
            "Actionable alerts by kind (rollback, retrain) and outcome "
            "(dispatched, duplicate, in_progress, refused, deferred, failed).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.refused = Counter(
            contract.RELAY_REFUSED_TOTAL,
            "Alerts the relay refused for good, answered 200 so Alertmanager stops re-sending them, by "
            "reason (unprocessable: labels naming no model, environment or version; rollback: the "
            "version does not serve).",
            ["reason"],
            registry=self.registry,
        )
        # From 0, so the alert rules' increase() sees the first refusal or deferral.
        for reason in ("unprocessable", "rollback", "retrain"):
            self.refused.labels(reason)
        self.dispatch.labels("rollback", "deferred")

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


@dataclass
class Reply:
    code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


# Outcomes of a delivery that did not complete: answered 5xx so Alertmanager delivers again.
NOT_DONE = frozenset({"failed", "deferred", "in_progress"})

T = TypeVar("T")


class _Lazy(Generic[T]):
    """A value computed on first use, once (the origin's models.yaml, read once per payload)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._done = False
        self._value: T | None = None

    def get(self) -> T:
        if not self._done:
            self._value, self._done = self._make(), True
        return self._value  # type: ignore[return-value]


def _judged(incident: Incident, origin: DesiredState | None) -> Outcome | None:
    """The outcome of a rollback that origin's models.yaml already decides, with no git work:
    thousands of refusable alerts in a storm must not each hold the dispatch lock for a fetch and a
    worktree. None: roll back (or origin could not be read; the rollback flow then decides)."""
    if origin is None or incident.model not in origin.models:
        return None
    env = origin.models[incident.model].environments.get(incident.env)
    if env is None:
        return None
    verdict, why = judge(env, incident.version, incident.id)
    if verdict is Verdict.ACT or (verdict is Verdict.DONE and incident.id in {h.ref for h in env.history}):
        return None  # this incident's own rollback (a retry after a crash): the flow finishes what it left
    state = {
        Verdict.DONE: IncidentState.DISPATCHED,
        Verdict.REFUSE: IncidentState.REFUSED,
        Verdict.DEFER: IncidentState.DEFERRED,
    }
    return Outcome(state[verdict], why)


class LogSampler:
    """In a storm every re-send is a duplicate: log the first per incident, then one per interval
    (the line carries the running delivery count; the metric counts every one)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def should_log(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.interval_s) < self.interval_s:
                return False
            if len(self._last) > 10_000:  # incidents are few; bound the memory anyway
                self._last.clear()
            self._last[key] = now
            return True


class Relay:
    """The request logic, independent of the HTTP server that carries it."""

    def __init__(
        self,
        models: ModelsWatch,
        store: IncidentStore,
        dispatcher: Dispatcher,
        log: JsonLog,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self.models = models
        self.store = store
        self.dispatcher = dispatcher
        self.log = log
        self.metrics = metrics or RelayMetrics()
        self._busy = threading.Condition()
        self._in_flight = 0
        self._quiet = LogSampler(DUPLICATE_LOG_INTERVAL_S)

    def alerts(self, body: bytes) -> Reply:
        try:
            webhook = parse_webhook(body)
        except PayloadError as exc:
            code = 413 if isinstance(exc, TooManyAlerts) else 400
            self.log("rejected", level="warning", code=code, detail=str(exc))
            return Reply(code, {"status": "bad request", "error": str(exc)})
        state = self.models.state()
        decisions: list[AlertDecision] = []
        problems: list[str] = []
        for alert in webhook.alerts:
            try:
                decisions.append(decide(alert, state))
            except UnprocessableAlert as exc:
                # It can never succeed, so it is answered as handled (Alertmanager would re-send a 4xx
                # every group_interval); the log, the metric and ModelRelayRefusingAlerts tell a human.
                problems.append(str(exc))
                self.metrics.refused.labels("unprocessable").inc()
                self.log("unprocessable", level="warning", alertname=alert.name, detail=str(exc))
        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        origin = _Lazy(getattr(self.dispatcher, "desired_state", lambda: None))
        for decision in decisions:
            if decision.resolves:
                self.store.resolve(decision.resolves)
            if decision.incident is None:
                results.append({"action": "ignored", "why": decision.why})
                continue
            incident = self.store.episode(decision.incident)
            if incident.id in seen:  # two alerts of one group naming the same incident
                continue
            seen.add(incident.id)
            results.append(self._act(incident, origin))
        outcomes = {r.get("outcome") for r in results}
        if outcomes & NOT_DONE:
            # Not delivered yet: a 2xx would let Alertmanager wait a whole repeat_interval before asking
            # again, while a 5xx makes it retry, and the retry finds the incident done or takes it over.
            status = "dispatch failed" if "failed" in outcomes else "not done yet"
            return Reply(
                503, {"status": status, "incidents": results, "errors": problems}, {"Retry-After": "5"}
            )
        return Reply(
            200, {"status": "refused" if problems else "ok", "incidents": results, "errors": problems}
        )

    def _act(self, incident: Incident, origin: _Lazy[DesiredState | None]) -> dict[str, Any]:
        kind = incident.kind.value
        where = {"incident": incident.id, "kind": kind, "model": incident.model, "env": incident.env}
        claim = self.store.claim(incident)
        if not claim.won:
            seen = "duplicate" if claim.record.state in FINAL_STATES else "in_progress"
            self.metrics.dispatch.labels(kind, seen).inc()
            if self._quiet.should_log(incident.id):
                self.log(seen, **where, state=claim.record.state.value, deliveries=claim.record.deliveries)
            return {**where, "outcome": seen, "state": claim.record.state.value, "ref": claim.record.ref}
        try:
            if incident.kind is IncidentKind.ROLLBACK:
                outcome = _judged(incident, origin.get()) or self.dispatcher.rollback(incident)
            elif incident.kind is IncidentKind.ANALYZE:
                outcome = self.dispatcher.analyze(incident)
            else:
                outcome = self.dispatcher.retrain(incident)
        except ExternalError as exc:
            return self._failed(incident, where, str(exc))
        except Exception as exc:  # a bug must not keep the claim: release it so a re-send retries
            return self._failed(incident, where, f"internal error: {type(exc).__name__}: {exc}")
        self.store.finish(incident.id, outcome.state, outcome.detail, outcome.ref)
        label = outcome.state.value
        self.metrics.dispatch.labels(kind, label).inc()
        if outcome.state is IncidentState.REFUSED:
            self.metrics.refused.labels(kind).inc()
        self.log(
            label,
            level="info" if outcome.state is IncidentState.DISPATCHED else "warning",
            **where,
            version=incident.version,
            alertname=incident.alertname,
            via=self.dispatcher.name,
            detail=outcome.detail,
            ref=outcome.ref,
            attempt=claim.record.attempts,
        )
        return {**where, "outcome": label, "detail": outcome.detail, "ref": outcome.ref}

    def _failed(self, incident: Incident, where: dict[str, Any], detail: str) -> dict[str, Any]:
        self.store.finish(incident.id, IncidentState.FAILED, detail)
        self.metrics.dispatch.labels(incident.kind.value, "failed").inc()
        self.log("failed", level="error", **where, via=self.dispatcher.name, detail=detail)
        return {**where, "outcome": "failed", "detail": detail}

    @contextmanager
    def request(self) -> Iterator[None]:
        """Bracket one delivery, so a graceful stop can wait for the deliveries in progress."""
        with self._busy:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._busy:
                self._in_flight -= 1
                self._busy.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait for deliveries in progress to be answered (a graceful stop never abandons a rollback)."""
        with self._busy:
            return self._busy.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)


def _raw_answer(code: int, reason: str, error: str, extra: str = "") -> bytes:
    """A whole HTTP answer, for moments with no parsed request to answer through the handler."""
    body = json.dumps({"error": error}).encode("utf-8") + b"\n"
    head = (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, under one deadline per request (from its first byte to its body's last).

    An idle keep-alive connection waits `idle_s` for a next request; once a request starts, every read
    gets only the time left, so a slow client cannot stretch one request by sending a byte at a time.
    """

    def __init__(self, sock: socket.socket, idle_s: float, deadline_s: float) -> None:
        self._sock = sock
        self.idle_s = idle_s
        self.deadline_s = deadline_s
        self._deadline: float | None = None
        self.expired = False

    def readable(self) -> bool:
        return True

    def next_request(self) -> None:
        self._deadline = None
        self.expired = False

    def request_read(self) -> None:
        """The body is in: writes get the ordinary timeout again."""
        self._deadline = float("inf")
        self._sock.settimeout(self.idle_s)

    def readinto(self, buffer: Any) -> int:
        if self._deadline is None:
            self._sock.settimeout(self.idle_s)
        else:
            left = self._deadline - time.monotonic()
            if left <= 0:
                self.expired = True
                raise TimeoutError(f"request not complete within {self.deadline_s:g}s")
            self._sock.settimeout(min(left, self.idle_s))
        try:
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            self.expired = self._deadline is not None
            raise
        if count and self._deadline is None:
            self._deadline = time.monotonic() + self.deadline_s
        return count


class RelayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Alertmanager storms open many connections at once; the default backlog of 5 would refuse them.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        relay: Relay,
        auth: Auth,
        *,
        max_connections: int = MAX_CONNECTIONS,
        request_deadline_s: float = REQUEST_DEADLINE_S,
    ) -> None:
        self.relay = relay
        self.auth = auth
        self.max_connections = max_connections
        self.request_deadline_s = request_deadline_s
        self._connections = 0
        self._count_lock = threading.Lock()
        self._limit_log = LogSampler(DUPLICATE_LOG_INTERVAL_S)
        super().__init__(address, RelayHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            full = self._connections >= self.max_connections
            if not full:
                self._connections += 1
        if not full:
            super().process_request(request, client_address)
            return
        if self._limit_log.should_log("connection_limit"):
            self.relay.log(
                "connection_limit",
                level="warning",
                client=client_address[0],
                limit=self.max_connections,
                detail="new connections are answered 503 until open ones finish or reach their deadline",
            )
        try:
            request.settimeout(1.0)
            request.sendall(
                _raw_answer(
                    503,
                    "Service Unavailable",
                    f"the relay has {self.max_connections} connections open; retry shortly",
                    "Retry-After: 1\r\n",
                )
            )
        except OSError:
            pass
        self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count_lock:
                self._connections -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line instead of socketserver's traceback on stderr (usually: the sender hung up)."""
        import sys

        exc = sys.exc_info()[1]
        level = "info" if isinstance(exc, ConnectionError | TimeoutError) else "error"
        self.relay.log(
            "connection_error", level=level, client=client_address[0], detail=f"{type(exc).__name__}: {exc}"
        )


class RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "modelops-relay"
    sys_version = ""
    timeout = 60  # idle keep-alive connections end, so their threads do too
    # Headers and body leave in one segment (flushed after each request): written separately, they meet
    # the client's delayed ACK and every keep-alive answer waits ~40 ms.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: RelayHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # the relay logs decisions, not lines
        return

    def setup(self) -> None:
        super().setup()
        self._reader = _DeadlineReader(self.connection, float(self.timeout), self.server.request_deadline_s)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.next_request()
        super().handle_one_request()
        if self._reader.expired:  # the request line or headers did not arrive in time
            self.close_connection = True
            self.server.relay.log(
                "slow_client",
                level="warning",
                client=self.client_address[0],
                detail=f"request not complete within {self.server.request_deadline_s:g}s; connection closed",
            )
            try:
                self.wfile.write(_raw_answer(408, "Request Timeout", "request not complete in time"))
                self.wfile.flush()
            except OSError:
                pass

    def _send(
        self, code: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, data: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        if self.path.split("?")[0] == "/alerts":
            self.server.relay.metrics.requests.labels(str(code)).inc()
        self._send(code, json.dumps(data).encode("utf-8") + b"\n", "application/json", headers)

    def do_GET(self) -> None:
        self._reader.request_read()
        path = self.path.split("?")[0]
        if path == "/healthz":
            try:
                self.server.relay.store.ping()
            except ExternalError as exc:
                self._json(503, {"status": "unavailable", "error": str(exc)})
                return
            self._json(200, {"status": "ok", "dispatch": self.server.relay.dispatcher.name})
        elif path == "/metrics":
            body, content_type = self.server.relay.metrics.exposition()
            self._send(200, body, content_type)
        else:
            self._json(404, {"error": f"no route {path}; try POST /alerts, GET /healthz or /metrics"})

    def do_POST(self) -> None:
        with self.server.relay.request():
            self._post()

    def _post(self) -> None:
        if self.path.split("?")[0] != "/alerts":
            self.close_connection = True
            self._json(404, {"error": f"no route {self.path}; webhooks go to POST /alerts"})
            return
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            # Two lengths are how request smuggling starts: a proxy and the relay could read different bodies.
            self.close_connection = True
            self._json(400, {"error": "more than one Content-Length header"})
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._json(411, {"error": "send the body with a Content-Length"})
            return
        if length_header.isascii() and length_header.isdigit():
            length = int(length_header)
        else:
            self.close_connection = True
            self._json(400, {"error": f"Content-Length {length_header!r} is not a byte count"})
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread on the socket
            self._json(413, {"error": f"body of {length} bytes exceeds the {MAX_BODY_BYTES}-byte limit"})
            return
        try:
            body = self.rfile.read(min(length, MAX_BODY_BYTES))
        except TimeoutError:
            self.close_connection = True
            self._reader.expired = False  # answered here, with the body's own message
            self.server.relay.log("slow_client", level="warning", client=self.client_address[0], code=408)
            self._json(408, {"error": f"body not received within {self.server.request_deadline_s:g}s"})
            return
        self._reader.request_read()
        if len(body) != length:
            self.close_connection = True
            self._json(400, {"error": f"body ended after {len(body)} of {length} bytes"})
            return
        auth = self.server.auth
        if not auth.insecure and not (
            auth.bearer_ok(self.headers.get("Authorization"))
            or auth.signature_ok(self.headers.get(SIGNATURE_HEADER), self.headers.get(TIMESTAMP_HEADER), body)
        ):
            self.server.relay.log("unauthorized", level="warning", client=self.client_address[0], code=401)
            self._json(
                401,
                {
                    "error": f"send Authorization: Bearer <token>, or {TIMESTAMP_HEADER}: <unix seconds> and "
                    f"{SIGNATURE_HEADER}: sha256=<hmac of '<timestamp>.<body>'> within {SIGNATURE_WINDOW_S}s"
                },
                {"WWW-Authenticate": 'Bearer realm="modelops-relay"'},
            )
            return
        try:
            reply = self.server.relay.alerts(body)
        except ExternalError as exc:  # the incident log itself is unavailable
            self.server.relay.log("failed", level="error", detail=str(exc))
            reply = Reply(503, {"status": "unavailable", "error": str(exc)})
        self._json(reply.code, reply.body, reply.headers)


def open_relay(
    models_path: Path, state_dir: Path, dispatcher: Dispatcher, log: JsonLog | None = None
) -> tuple[Relay, Any]:
    """A Relay on `state_dir`'s incident log, holding the directory's lock; returns (relay, lock handle)."""
    from modelops.adapters.incidents import DB_NAME, lock_state_dir

    log = log or JsonLog()
    lock = lock_state_dir(state_dir)
    store = IncidentStore(state_dir / DB_NAME)
    released = store.release_orphans()
    if released:
        log(
            "claims_released",
            level="warning",
            count=released,
            detail="left by a relay that stopped mid-dispatch",
        )
    return Relay(ModelsWatch(models_path, log), store, dispatcher, log), lock


def serve(relay: Relay, auth: Auth, host: str, port: int, *, drain_timeout_s: float = 120.0) -> None:
    """Serve until SIGTERM/SIGINT; then stop accepting and let dispatches in progress finish."""
    server = RelayHTTPServer((host, port), relay, auth)
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            relay.log("stopping", signal=signal.Signals(signum).name)
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    structure_stderr(relay.log)
    relay.log(
        "listening",
        host=bound_host,
        port=bound_port,
        url=f"http://{bound_host}:{bound_port}/alerts",
        auth="none"
        if auth.insecure
        else "+".join(k for k, v in (("bearer", auth.token), ("hmac", auth.hmac_secret)) if v),
        via=relay.dispatcher.name,
        pid=os.getpid(),
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        drained = relay.wait_idle(drain_timeout_s)
        relay.store.close()
        relay.log("stopped", drained=drained)
