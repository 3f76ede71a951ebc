"""The demo profile in a real Prometheus: rules evaluate cleanly, and the burn-in holds per version."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.core import contract
from tests.helpers import require_binary

pytestmark = pytest.mark.slow

# v7 has served for an hour; v8, a canary, starts serving once Prometheus is ready (the fixture sets
# its start). Both fail 10 % of their predictions. Counters count from when the exporter started.
VERSION_START: dict[str, float] = {}
EXPORTER_START: list[float] = []


class Predictor(BaseHTTPRequestHandler):
    """Serves the contract's series the way the predictor does: 90 ok and 10 failed predictions a second."""

    def do_GET(self) -> None:
        lines = []
        for version, start in list(VERSION_START.items()):
            elapsed = time.time() - max(start, EXPORTER_START[0])
            labels = f'model="churn",env="production",version="{version}"'
            lines.append(f'{contract.REQUESTS_TOTAL}{{{labels},outcome="ok"}} {int(elapsed * 90)}')
            lines.append(f'{contract.REQUESTS_TOTAL}{{{labels},outcome="error"}} {int(elapsed * 10)}')
            lines.append(f"{contract.VERSION_START}{{{labels}}} {start}")
            lines.append(f'{contract.MODEL_INFO}{{{labels},run_id="r{version}"}} 1')
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]


@pytest.fixture
def prometheus(demo: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    binary = require_binary("prometheus")
    VERSION_START.clear()
    EXPORTER_START[:] = [time.time()]
    VERSION_START["7"] = EXPORTER_START[0] - 3600
    predictor = ThreadingHTTPServer(("127.0.0.1", 0), Predictor)
    threading.Thread(target=predictor.serve_forever, daemon=True).start()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": demo["evaluation_interval"]},
        "rule_files": demo["rules"],
        "scrape_configs": [
            {
                "job_name": "modelops-serving",
                "static_configs": [{"targets": [f"127.0.0.1:{predictor.server_port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        VERSION_START["8"] = time.time()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        predictor.shutdown()


def test_the_demo_rules_roll_back_an_old_version_at_once_and_a_new_one_only_after_its_burn_in(
    prometheus: str, demo: dict[str, Any]
) -> None:
    deadline = time.time() + 60
    alerts: dict[str, dict[str, Any]] = {}
    while time.time() < deadline:
        try:
            found = get(f"{prometheus}/api/v1/alerts")["alerts"]
        except OSError:
            found = []
        alerts = {
            a["labels"]["version"]: a for a in found if a["labels"]["alertname"] == "ModelErrorRateHigh"
        }
        if alerts.get("7", {}).get("state") == "firing" and "8" in alerts:
            break
        time.sleep(0.5)
    assert alerts.get("7", {}).get("state") == "firing", alerts
    assert "8" in alerts, "the canary never became pending after its burn-in"

    def active_at(version: str) -> float:
        stamp = alerts[version]["activeAt"].replace("Z", "+00:00")
        from datetime import datetime

        return datetime.fromisoformat(stamp).timestamp()

    burn_in = 300 / demo["factor"]
    assert active_at("8") - VERSION_START["8"] >= burn_in, "the canary was judged during its burn-in"
    assert active_at("7") < active_at("8"), "the version past its burn-in should have been judged first"
    assert alerts["7"]["labels"]["action"] == "rollback"

    groups = get(f"{prometheus}/api/v1/rules")["groups"]
    unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"]
    assert not unhealthy
    assert sum(len(g["rules"]) for g in groups) >= 13
