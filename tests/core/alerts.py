"""Alertmanager webhook (v4) payloads for the incident specifications and the relay's."""

from __future__ import annotations

import hashlib
import json
from typing import Any

STARTS_AT = "2026-11-20T10:00:00.000Z"


def alert(
    *,
    status: str = "firing",
    alertname: str = "ChurnHighErrorRate",
    model: str = "churn",
    env: str = "production",
    version: str | None = "2",
    action: str | None = "rollback",
    starts_at: str = STARTS_AT,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": alertname, "model": model, "env": env, "severity": "critical", **labels}
    if version is not None:
        all_labels["version"] = version
    if action is not None:
        all_labels["action"] = action
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": "error ratio above 5% for 5m"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": hashlib.sha256(json.dumps(all_labels, sort_keys=True).encode()).hexdigest()[:16],
    }


def webhook(*alerts: dict[str, Any], version: str = "4") -> dict[str, Any]:
    alerts = alerts or (alert(),)
    return {
        "version": version,
        "groupKey": '{}:{alertname="ChurnHighErrorRate"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "modelops-relay",
        "groupLabels": {"alertname": alerts[0]["labels"].get("alertname", "")},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "alerts": list(alerts),
    }
