"""The relay's answers as the real Alertmanager acts on them, and one incident from an HA Prometheus pair."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.sandbox.prom_stack import ManagedProcess, free_port
from tests.helpers import REPO_ROOT, require_binary
from tests.relay.support import TOKEN, CountingDispatcher, RunningRelay, alert, running_relay, webhook

LABELS = {"model": "churn", "env": "production", "version": "2", "action": "rollback", "severity": "critical"}


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.1)


def wait_ready(url: str, process: ManagedProcess) -> None:
    def ready() -> bool:
        assert process.alive, process.log()[-2000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_for(f"{process.name} at {url}", ready)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A relay (counting dispatcher) and one real Alertmanager that repeats every 2 s (1 h for InProgress)."""
    binary = require_binary("alertmanager")
    root = tmp_path_factory.mktemp("real-am")
    shutil.copy(REPO_ROOT / "models.yaml", root / "models.yaml")
    dispatcher = CountingDispatcher()
    with running_relay(root / "models.yaml", root / "state", dispatcher) as relay:
        config = {
            "route": {
                "receiver": "relay",
                "group_by": ["alertname", "model", "env"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "2s",
                # As in production, a delivered notification is repeated only after an hour.
                "routes": [{"matchers": ['alertname="InProgress"'], "repeat_interval": "1h"}],
            },
            "receivers": [
                {
                    "name": "relay",
                    "webhook_configs": [
                        {
                            "url": relay.url,
                            "send_resolved": True,
                            "max_alerts": 200,
                            "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                        }
                    ],
                }
            ],
        }
        (root / "alertmanager.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        port = free_port()
        am = ManagedProcess(
            "alertmanager",
            [
                binary,
                f"--config.file={root / 'alertmanager.yml'}",
                f"--storage.path={root / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            root / "alertmanager.log",
        ).start()
        try:
            wait_ready(f"http://127.0.0.1:{port}/-/ready", am)
            yield {"relay": relay, "dispatcher": dispatcher, "am": f"http://127.0.0.1:{port}", "root": root}
        finally:
            am.stop()


def push_alert(am: str, alertname: str, starts_at: str) -> None:
    body = json.dumps([{"labels": {"alertname": alertname, **LABELS}, "startsAt": starts_at}]).encode()
    request = urllib.request.Request(
        f"{am}/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_a_delivery_during_a_dispatch_that_then_fails_is_delivered_again_by_alertmanager(
    world: dict[str, Any],
) -> None:
    relay: RunningRelay = world["relay"]
    dispatcher: CountingDispatcher = world["dispatcher"]
    starts_at = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    # An HA peer's delivery is dispatching (held at the gate), and that dispatch will fail.
    dispatcher.gate, dispatcher.failures = threading.Event(), 1
    peer: list[int] = []
    labels = {k: v for k, v in LABELS.items() if k != "action"}
    peer_delivery = webhook(alert(alertname="InProgress", starts_at=starts_at, **labels))
    holder = threading.Thread(target=lambda: peer.append(relay.post(peer_delivery).status), daemon=True)
    holder.start()
    wait_for("the peer's claim", lambda: relay.server.relay.store.counts().get("claimed", 0) == 1)
    # Alertmanager delivers the same alert meanwhile: it must not be told "delivered".
    push_alert(world["am"], "InProgress", starts_at)
    wait_for(
        "Alertmanager's delivery during the dispatch",
        lambda: any(r["event"] == "in_progress" for r in relay.log_records()),
    )
    dispatcher.gate.set()
    holder.join(30)
    dispatcher.gate = None
    assert peer == [503]  # the peer's dispatch failed and released its claim
    # Only a retry of the unacknowledged delivery can bring it back before repeat_interval (1 h); a
    # 200 "in_progress" was taken as delivered, and nothing came back for that hour.
    wait_for(
        "Alertmanager to deliver again and the rollback to happen",
        lambda: [i.alertname for i in dispatcher.rollbacks].count("InProgress") == 1,
        timeout_s=30,
    )


PROMETHEUS_RULES = {
    "groups": [
        {
            "name": "ha",
            "interval": "1s",
            "rules": [{"alert": "HaPairErrors", "expr": "vector(1)", "labels": LABELS}],
        }
    ]
}


def prometheus(root: Path, name: str, am: str | None) -> tuple[ManagedProcess, int]:
    binary = require_binary("prometheus")
    port = free_port()
    rules = root / "ha-rules.yml"
    rules.write_text(yaml.safe_dump(PROMETHEUS_RULES), encoding="utf-8")
    write_prometheus_config(root, name, am)
    process = ManagedProcess(
        name,
        [
            binary,
            f"--config.file={root / f'{name}.yml'}",
            f"--storage.tsdb.path={root / f'{name}-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
            "--web.enable-lifecycle",
        ],
        root / f"{name}.log",
    ).start()
    wait_ready(f"http://127.0.0.1:{port}/-/ready", process)
    return process, port


def write_prometheus_config(root: Path, name: str, am: str | None) -> None:
    config: dict[str, Any] = {
        "global": {"evaluation_interval": "1s"},
        "rule_files": [str(root / "ha-rules.yml")],
    }
    if am:
        target = am.removeprefix("http://")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
    (root / f"{name}.yml").write_text(yaml.safe_dump(config), encoding="utf-8")


def am_starts_at(am: str) -> datetime | None:
    with urllib.request.urlopen(f"{am}/api/v2/alerts?filter=alertname%3D%22HaPairErrors%22", timeout=5) as r:
        alerts = json.loads(r.read())
    return datetime.fromisoformat(alerts[0]["startsAt"][:19] + "+00:00") if alerts else None


def test_an_ha_prometheus_pair_moving_starts_at_earlier_makes_one_incident(world: dict[str, Any]) -> None:
    root: Path = world["root"]
    relay: RunningRelay = world["relay"]
    dispatcher: CountingDispatcher = world["dispatcher"]
    # B's alert becomes active first, while B sends to no Alertmanager yet.
    b, b_port = prometheus(root, "prometheus-b", None)
    a = None
    try:
        time.sleep(3)
        # A starts later and alerts first: the relay's first delivery carries A's (later) startsAt.
        a, _ = prometheus(root, "prometheus-a", world["am"])
        wait_for(
            "the first rollback",
            lambda: [i.alertname for i in dispatcher.rollbacks].count("HaPairErrors") == 1,
        )
        first_seen = am_starts_at(world["am"])
        # B joins: Alertmanager keeps the earlier of the two startsAt and re-sends with it.
        write_prometheus_config(root, "prometheus-b", world["am"])
        urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{b_port}/-/reload", method="POST"), timeout=10
        ).close()
        wait_for(
            "Alertmanager to move startsAt earlier",
            lambda: (
                (now := am_starts_at(world["am"])) is not None
                and first_seen is not None
                and now <= first_seen - timedelta(seconds=2)
            ),
        )
        before = relay.server.relay.metrics.requests.labels("200")._value.get()
        wait_for(
            "two re-sends with the moved startsAt",
            lambda: relay.server.relay.metrics.requests.labels("200")._value.get() >= before + 2,
        )
    finally:
        b.stop()
        if a is not None:
            a.stop()
    assert [i.alertname for i in dispatcher.rollbacks].count("HaPairErrors") == 1
