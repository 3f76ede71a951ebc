"""PromStack: a real Prometheus and Alertmanager on loopback that start ready, scrape what they are told,
answer their APIs, fail with one line, and leave no process behind."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelops.core.alert_rules import Profile
from modelops.errors import ExternalError
from modelops.flows.monitoring import render
from modelops.sandbox.prom_stack import PromStack, binaries_available, free_port, missing_binaries
from tests.helpers import REPO_ROOT, require_binary

pytestmark = pytest.mark.slow


class Exporter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'modelops_relay_requests_total{code="200"} 3\n'
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def exporter() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def demo(tmp_path: Path) -> dict[str, Path]:
    require_binary("prometheus")
    require_binary("alertmanager")
    token = tmp_path / "relay-token"
    token.write_text("t0ken", encoding="utf-8")
    out = tmp_path / "monitoring"
    rendered = render(REPO_ROOT, Profile.named("demo"), out, "http://127.0.0.1:9/alerts", str(token))
    assert rendered.alertmanager
    return {"rules": out / "rules", "alertmanager": Path(rendered.alertmanager)}


def group_members(pgid: int) -> list[str]:
    listing = subprocess.run(["ps", "-o", "pid=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return listing.split()


def wait_for(what: str, probe: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def test_the_stack_scrapes_its_targets_alerts_through_its_alertmanager_and_stops_without_leftovers(
    demo: dict[str, Path], exporter: str, tmp_path: Path
) -> None:
    assert binaries_available() and missing_binaries() == []
    nobody_listens = f"127.0.0.1:{free_port()}"
    stack = PromStack(
        tmp_path / "stack",
        demo["rules"],
        demo["alertmanager"],
        [("modelops-serving", exporter), ("modelops-relay", nobody_listens)],
    )
    with stack:
        assert stack.prometheus and stack.alertmanager
        pids = [stack.prometheus.pid, stack.alertmanager.pid]
        # A running stack (start_stack returns one) entered again starts no second, unstopped pair.
        assert stack.__enter__() is stack and [stack.prometheus.pid, stack.alertmanager.pid] == pids
        assert stack.prometheus_url != stack.alertmanager_url
        assert "127.0.0.1" in stack.prometheus_url and "127.0.0.1" in stack.alertmanager_url

        health = wait_for(
            "both targets scraped",
            lambda: (
                {t["labels"]["job"]: t["health"] for t in stack.targets() if t["health"] != "unknown"}
                if len([t for t in stack.targets() if t["health"] != "unknown"]) == 2
                else None
            ),
        )
        assert health == {"modelops-serving": "up", "modelops-relay": "down"}
        assert stack.query('modelops_relay_requests_total{job="modelops-serving"}')[0]["value"][1] == "3"
        rules = [r for g in stack.rules() for r in g["rules"]]
        assert {r["name"] for r in rules} >= {"ModelErrorRateHigh", "ModelLatencyP99High", "ModelRelayDown"}
        assert all(r["health"] != "err" for r in rules), [r.get("lastError") for r in rules]

        # A relay nobody can scrape pages a human: Prometheus fires, its Alertmanager routes the alert.
        firing = wait_for(
            "ModelRelayDown firing",
            lambda: [
                a
                for a in stack.alerts()
                if a["labels"]["alertname"] == "ModelRelayDown" and a["state"] == "firing"
            ],
        )
        assert firing[0]["labels"]["action"] == "page"
        routed = wait_for(
            "ModelRelayDown in Alertmanager",
            lambda: [a for a in stack.alertmanager_alerts() if a["labels"]["alertname"] == "ModelRelayDown"],
        )
        assert [r["name"] for r in routed[0]["receivers"]] == ["oncall-page"]
    for pid in pids:
        assert pid is not None and group_members(pid) == [], f"process group {pid} outlived the stack"


def test_without_the_binaries_starting_says_which_are_missing_in_one_line(
    demo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not binaries_available()
    with pytest.raises(ExternalError) as raised:
        PromStack(tmp_path / "stack", demo["rules"], demo["alertmanager"], []).start()
    message = str(raised.value)
    assert "prometheus and alertmanager not found" in message and "\n" not in message


def test_a_broken_alertmanager_config_fails_fast_naming_the_log_and_leaves_nothing_running(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "alertmanager.yml"
    broken.write_text("route:\n  receiver: nobody\nreceivers: []\n", encoding="utf-8")
    stack = PromStack(tmp_path / "stack", demo["rules"], broken, [])
    started = time.monotonic()
    with pytest.raises(ExternalError) as raised:
        stack.start()
    assert time.monotonic() - started < 15
    message = str(raised.value)
    assert message.startswith("alertmanager did not start: exited with")
    assert str(tmp_path / "stack" / "alertmanager.log") in message and "\n" not in message
    assert stack.alertmanager is None and stack.prometheus is None
    running = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path / "stack") not in running
