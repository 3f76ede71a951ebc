"""Alertmanager routing: rollback, retrain and canary-analysis alerts reach the relay, pages reach a human."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.core.alert_rules import RELAY_RECEIVER
from tests.helpers import require_binary, run
from tests.monitoring.conftest import MONITORING, source_alerts

SOURCE = MONITORING / "alertmanager" / "alertmanager.yml"


def receivers_for(config: Path, **labels: str) -> list[str]:
    amtool = require_binary("amtool")
    pairs = [f"{k}={v}" for k, v in labels.items()]
    result = run([amtool, "config", "routes", "test", f"--config.file={config}", *pairs])
    return result.stdout.strip().split(",")


@pytest.mark.parametrize("which", ["source", "demo"])
def test_amtool_accepts_the_config(which: str, demo: dict[str, Any]) -> None:
    amtool = require_binary("amtool")
    path = SOURCE if which == "source" else demo["alertmanager"]
    result = run([amtool, "check-config", str(path)], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_rollback_alert_lands_on_the_relay() -> None:
    receivers = receivers_for(
        SOURCE, alertname="ModelErrorRateHigh", action="rollback", model="churn", env="production"
    )
    assert RELAY_RECEIVER in receivers
    assert "oncall-page" not in receivers


@pytest.mark.parametrize("alert", sorted(source_alerts()))
def test_each_alert_reaches_the_receiver_its_action_names(alert: str) -> None:
    rule = source_alerts()[alert]
    labels = {"alertname": alert, **rule["labels"], "model": "churn", "env": "production"}
    receivers = receivers_for(SOURCE, **labels)
    if rule["labels"]["action"] in ("rollback", "retrain", "analyze"):
        assert RELAY_RECEIVER in receivers
    elif rule["labels"]["action"] == "ticket":
        assert receivers == ["ticket-queue"], "the relay's own refusals go to a human, never back to it"
    else:
        assert receivers == ["oncall-page"], "pages go to a human, never to the relay"


def test_unlabelled_alerts_become_tickets() -> None:
    assert receivers_for(SOURCE, alertname="Watchdog") == ["ticket-queue"]


def test_the_relay_gets_resolutions_quickly_grouped_per_model_and_environment() -> None:
    config = yaml.safe_load(SOURCE.read_text("utf-8"))
    relay_routes = [r for r in config["route"]["routes"] if r["receiver"] == RELAY_RECEIVER]
    assert {m for r in relay_routes for m in r["matchers"]} == {
        'action="rollback"',
        'action="retrain"',
        'action="analyze"',
    }
    for route in relay_routes:
        assert route["group_by"] == ["model", "env"]
        assert route["group_wait"] == "5s"
    (relay,) = [r for r in config["receivers"] if r["name"] == RELAY_RECEIVER]
    (hook,) = relay["webhook_configs"]
    assert hook["send_resolved"] is True
    assert hook["url"].endswith("/alerts")
    assert hook["http_config"]["authorization"]["credentials_file"]


def test_the_demo_config_points_at_the_given_relay_with_the_given_token(demo: dict[str, Any]) -> None:
    rendered = yaml.safe_load(Path(demo["alertmanager"]).read_text("utf-8"))
    (relay,) = [r for r in rendered["receivers"] if r["name"] == RELAY_RECEIVER]
    (hook,) = relay["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:18080/alerts"
    assert hook["http_config"]["authorization"]["credentials_file"].endswith("relay-token")
    rollback_route = next(r for r in rendered["route"]["routes"] if r["receiver"] == RELAY_RECEIVER)
    assert rollback_route["group_wait"] == "1s"
    assert rollback_route["group_interval"] == "2s"
    assert (
        receivers_for(Path(demo["alertmanager"]), action="rollback", model="churn", env="production")[0]
        == RELAY_RECEIVER
    )
