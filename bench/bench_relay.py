"""The relay under an alert storm, and how fast an alert becomes a rollback commit on origin.

1. Throughput: keep-alive clients re-deliver one incident that was already acted on (the storm path:
   authenticate, parse, validate against models.yaml, look up the incident log). Baseline, same run,
   same clients: a bare ThreadingHTTPServer that answers 200 without reading the request.
2. Latency: receipt of a webhook → the rollback commit on origin/main, in a git sandbox, one incident
   per promotion (vN promoted, alert on vN, rollback). Baseline, same run: the rollback flow called
   directly, without the relay.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}

BARE_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _result(
    name: str, value: float, unit: str, baseline: str, baseline_value: float, goal: str, met: bool
) -> dict[str, Any]:
    return {
        "benchmark": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 4),
        "ratio": round(value / baseline_value, 3) if baseline_value else float("inf"),
        "goal": goal,
        "met": met,
    }


def _load(port: int, body: bytes, headers: dict[str, str], seconds: float, clients: int) -> tuple[float, int]:
    """Requests per second over `seconds` from `clients` keep-alive connections; also the non-200 count."""
    stop = time.monotonic() + seconds
    counts = [0] * clients
    errors = [0] * clients

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            conn.request("POST", "/alerts", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            counts[i] += 1
            if response.status != 200:
                errors[i] += 1
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started), sum(errors)


def _throughput(quick: bool, work: Path) -> dict[str, Any]:
    from tests.relay.sandbox import make_git_sandbox
    from tests.relay.support import TOKEN, RelayProcess, webhook

    from modelops.adapters.incidents import DB_NAME, IncidentStore
    from modelops.core.document import ModelsDocument
    from modelops.core.incident import IncidentState, decide, parse_webhook

    seconds, clients, rounds = (2.0, 8, 3) if quick else (5.0, 16, 5)
    sandbox = make_git_sandbox(work / "throughput")
    body = json.dumps(webhook()).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    # The incident was acted on already: every delivery in the storm is a re-send.
    state_dir = work / "throughput-state"
    state_dir.mkdir()
    store = IncidentStore(state_dir / DB_NAME)
    incident = decide(
        parse_webhook(body).alerts[0], ModelsDocument.load(sandbox.clone / "models.yaml").state()
    ).incident
    assert incident is not None
    store.claim(incident)
    store.finish(incident.id, IncidentState.DISPATCHED, "seeded by the benchmark")
    store.close()

    # Both servers run side by side and take turns under the same clients, so a busy machine slows
    # both alike; each figure is the median of its rounds.
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER], stdout=subprocess.PIPE, text=True)
    relay = RelayProcess(sandbox.clone, state_dir)
    relay_rates: list[float] = []
    bare_rates: list[float] = []
    errors = 0
    try:
        assert bare.stdout is not None
        bare_port = int(bare.stdout.readline())
        _load(bare_port, body, headers, 0.5, clients)  # warm-up
        _load(relay.port, body, headers, 0.5, clients)
        for _ in range(rounds):
            bare_rates.append(_load(bare_port, body, headers, seconds, clients)[0])
            rate, failed = _load(relay.port, body, headers, seconds, clients)
            relay_rates.append(rate)
            errors += failed
    finally:
        bare.terminate()
        bare.wait(10)
        relay.stop()
    value, baseline = statistics.median(relay_rates), statistics.median(bare_rates)
    return _result(
        f"relay storm throughput, median of {rounds} rounds (re-sends of one incident, bearer auth, keep-alive)",
        value,
        "req/s",
        "bare ThreadingHTTPServer answering 200 unread",
        baseline,
        ">= 500 req/s with every answer 200",
        value >= 500 and errors == 0,
    )


def _origin_tip(origin: Path) -> str:
    ref = origin / "refs" / "heads" / "main"
    try:
        return ref.read_text().strip()
    except FileNotFoundError:
        return subprocess.run(
            ["git", "rev-parse", "main"], cwd=origin, text=True, capture_output=True, check=True
        ).stdout.strip()


def _promote(pusher: Path, version: int) -> None:
    from tests.relay.sandbox import ENV, MODEL, git

    from modelops.core.document import ModelsDocument

    git("pull", "--quiet", "--ff-only", cwd=pusher)
    doc = ModelsDocument.load(pusher / "models.yaml")
    doc.promote(
        MODEL, ENV, version, at="2026-11-21T00:00:00Z", by="bench", reason=f"v{version} passed the gate"
    )
    (pusher / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    git("commit", "--quiet", "-am", f"promote {MODEL} v{version} to {ENV}", cwd=pusher)
    git("push", "--quiet", "origin", "HEAD:main", cwd=pusher)


def _time_to_commit(origin: Path, act: Any) -> float:
    """Seconds from calling `act` until origin/main moves; `act` runs in a thread (it may block on more)."""
    before = _origin_tip(origin)
    started = time.perf_counter()
    worker = threading.Thread(target=act)
    worker.start()
    while _origin_tip(origin) == before:
        if not worker.is_alive() and _origin_tip(origin) == before:
            raise AssertionError("the rollback finished without a commit on origin")
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    worker.join(600)
    return elapsed


def _latency(quick: bool, work: Path) -> dict[str, Any]:
    from tests.relay.sandbox import ENV, MODEL, git, make_git_sandbox
    from tests.relay.support import RelayProcess, alert, webhook

    from modelops.context import Context
    from modelops.flows.rollback import rollback

    incidents = 20 if quick else 50
    via_relay = make_git_sandbox(work / "latency-relay")
    direct = make_git_sandbox(work / "latency-direct")
    pushers = {}
    for name, sandbox in (("relay", via_relay), ("direct", direct)):
        pushers[name] = work / f"pusher-{name}"
        git("clone", "--quiet", str(sandbox.origin), str(pushers[name]), cwd=work)

    relay = RelayProcess(via_relay.clone, work / "latency-state")
    relay_times: list[float] = []
    direct_times: list[float] = []
    try:
        # Warm-up (not timed): the first rollback pays for importing the registry client.
        relay.post(webhook(alert(version="2", starts_at="2026-11-21T00:00:00Z")))
        ctx = Context(repo=direct.clone)
        rollback(ctx, model=MODEL, env=ENV, reason="warm-up", incident="inc-warmup", version=2, by="bench")
        for n in range(incidents):
            version = 3 + n
            _promote(pushers["relay"], version)
            payload = webhook(
                alert(version=str(version), starts_at=f"2026-11-21T01:{n // 60:02d}:{n % 60:02d}Z")
            )

            def deliver(payload: dict[str, Any] = payload) -> None:
                response = relay.post(payload)
                assert response.status == 200, response.body

            relay_times.append(_time_to_commit(via_relay.origin, deliver))

            _promote(pushers["direct"], version)

            def call(version: int = version, n: int = n) -> None:
                rollback(
                    ctx, model=MODEL, env=ENV, reason="bench", incident=f"inc-direct-{n}", version=version,
                    by="bench", sync_registry=False,
                )  # fmt: skip

            direct_times.append(_time_to_commit(direct.origin, call))
    finally:
        relay.stop()
    assert len(via_relay.rollback_commits()) == incidents + 1
    p50 = statistics.median(relay_times)
    return _result(
        f"webhook receipt -> rollback commit on origin, p50 over {incidents} incidents",
        p50,
        "s",
        "the rollback flow called directly (no relay), p50",
        statistics.median(direct_times),
        "p50 <= 1 s",
        p50 <= 1.0,
    )


def run(quick: bool) -> list[dict[str, Any]]:
    saved = {k: os.environ.get(k) for k in GIT_IDENTITY}
    os.environ.update(GIT_IDENTITY)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
            work = Path(tmp)
            return [_throughput(quick, work), _latency(quick, work)]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


if __name__ == "__main__":
    for row in run(quick="--full" not in sys.argv):
        print(json.dumps(row))
