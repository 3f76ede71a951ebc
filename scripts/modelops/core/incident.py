"""Incidents from Alertmanager webhooks: parse, validate, name, and route.

An Incident is one firing alert about one Model in one Environment. Alertmanager re-sends the same
alert many times (group_interval, repeat_interval, HA peers, retries after a 5xx), so an Incident is
named by what stays the same across those re-sends: model, environment, version, alert name and the
moment the alert started firing. That key, hashed, is the incident id every record carries.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from modelops.core.state import DesiredState
from modelops.core.text import single_line
from modelops.core.version import parse_version

WEBHOOK_VERSION = "4"
ACTION_LABEL = "action"
ROLLBACK_ACTION = "rollback"
RETRAIN_ACTION = "retrain"
# A canary's alert: run the canary analysis now (it aborts or promotes on evidence), not a blind rollback.
ANALYZE_ACTION = "analyze"
DEFAULT_SEVERITY = "major"


# Alertmanager's webhook_config max_alerts truncates a group to this many (monitoring/alertmanager sets it).
MAX_ALERTS = 200


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook v4 payload (HTTP 400)."""


class TooManyAlerts(PayloadError):
    """More alerts in one payload than the relay takes (HTTP 413)."""


class IncidentKind(enum.Enum):
    """What an alert asks for (its `action` label): a rollback, a retrain, a canary analysis, or nothing."""

    ROLLBACK = "rollback"
    RETRAIN = "retrain"
    ANALYZE = "analyze"
    IGNORE = "ignore"


class IncidentState(enum.StrEnum):
    """Where an incident is in its life: claimed by one relay, then dispatched, refused for good,
    failed, or deferred (refused for a reason that can pass); a re-sent alert claims a failed or a
    deferred one again."""

    CLAIMED = "claimed"
    DISPATCHED = "dispatched"
    REFUSED = "refused"
    FAILED = "failed"
    DEFERRED = "deferred"


FINAL_STATES = frozenset({IncidentState.DISPATCHED, IncidentState.REFUSED})
# States whose claim the next delivery takes over.
RETRY_STATES = frozenset({IncidentState.FAILED, IncidentState.DEFERRED})


@dataclass(frozen=True)
class Alert:
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Webhook:
    receiver: str
    status: str
    group_key: str
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class Incident:
    kind: IncidentKind
    model: str
    env: str
    version: int | None
    alertname: str
    starts_at: str
    severity: str
    reason: str

    @property
    def subject(self) -> str:
        """What the alert is about, the same from every Prometheus and Alertmanager of an HA pair."""
        version = "" if self.version is None else str(self.version)
        return "|".join((self.model, self.env, version, self.alertname))

    @property
    def key(self) -> str:
        """The subject and when its firing began; human-readable. The relay reads `starts_at` from the
        open incident of the subject when there is one (`same_firing`), so the key stays put when an HA
        pair moves startsAt earlier."""
        return f"{self.subject}|{self.starts_at}"

    @cached_property
    def id(self) -> str:
        return incident_id(self.key)


@dataclass(frozen=True)
class AlertDecision:
    """What to do with one alert: act on an incident, or acknowledge and ignore (with why)."""

    kind: IncidentKind
    incident: Incident | None
    why: str
    resolves: str | None = None  # a resolved alert: the subject whose incident it ends


# Alertmanager keeps the earliest startsAt of an HA pair's copies, so a re-send of one firing can carry
# an earlier startsAt than the first delivery did; a firing that starts this much later is a new one.
SAME_FIRING_SLACK_S = 900.0


def starts_at_seconds(text: str) -> float | None:
    """RFC 3339 (Alertmanager writes up to nanoseconds) as unix seconds; None when unreadable."""
    from datetime import datetime

    head, dot, rest = text.partition(".")
    if dot:  # keep microseconds: fromisoformat takes at most six digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def same_firing(open_starts_at: str, starts_at: str) -> bool:
    """Whether an alert starting at `starts_at` is a re-send of the open incident that started at
    `open_starts_at` (earlier or a little later: the HA pair's copies), not a firing of its own."""
    if starts_at == open_starts_at:
        return True
    first, then = starts_at_seconds(open_starts_at), starts_at_seconds(starts_at)
    if first is None or then is None:
        return False
    return then <= first + SAME_FIRING_SLACK_S


def incident_id(key: str) -> str:
    return "inc-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _str_map(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PayloadError(f"{where}: expected an object of strings")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise PayloadError(f"{where}.{key}: expected a string, got {type(value).__name__}")
        out[str(key)] = value
    return out


def _alert(raw: Any, index: int) -> Alert:
    where = f"alerts[{index}]"
    if not isinstance(raw, Mapping):
        raise PayloadError(f"{where}: expected an object")
    status = raw.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(f"{where}.status: expected 'firing' or 'resolved', got {status!r}")
    starts_at = raw.get("startsAt", "")
    if not isinstance(starts_at, str):
        raise PayloadError(f"{where}.startsAt: expected an RFC 3339 string")
    fingerprint = raw.get("fingerprint", "")
    return Alert(
        status=status,
        labels=_str_map(raw.get("labels"), f"{where}.labels"),
        annotations=_str_map(raw.get("annotations"), f"{where}.annotations"),
        starts_at=starts_at.strip(),
        fingerprint=fingerprint if isinstance(fingerprint, str) else "",
    )


def parse_webhook(body: bytes) -> Webhook:
    """The typed payload; raises PayloadError naming the first field that is wrong."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not JSON ({exc})") from None
    except RecursionError:
        raise PayloadError("body: JSON nested too deeply") from None
    if not isinstance(data, Mapping):
        raise PayloadError("body: expected a JSON object")
    version = data.get("version")
    if version != WEBHOOK_VERSION:
        raise PayloadError(
            f"version: expected {WEBHOOK_VERSION!r} (Alertmanager webhook v4), got {version!r}"
        )
    alerts = data.get("alerts")
    if not isinstance(alerts, Sequence) or isinstance(alerts, str):
        raise PayloadError("alerts: expected a list")
    if len(alerts) > MAX_ALERTS:
        raise TooManyAlerts(
            f"alerts: {len(alerts)} in one payload, over the relay's {MAX_ALERTS}; "
            f"set max_alerts: {MAX_ALERTS} in Alertmanager's webhook_config"
        )
    receiver, status, group_key = (data.get(k, "") for k in ("receiver", "status", "groupKey"))
    return Webhook(
        receiver=receiver if isinstance(receiver, str) else "",
        status=status if isinstance(status, str) else "",
        group_key=group_key if isinstance(group_key, str) else "",
        alerts=tuple(_alert(a, i) for i, a in enumerate(alerts)),
    )


class UnprocessableAlert(ValueError):
    """A well-formed alert the relay cannot act on: unknown model or environment, bad version (HTTP 422)."""


def _version(raw: str | None, alertname: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_version(raw)
    except ValueError as exc:
        raise UnprocessableAlert(f"alert {alertname!r}: label version: {exc}") from None


def _reason(alert: Alert) -> str:
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    text = f"{alert.name}: {summary}" if summary else f"{alert.name} firing"
    return single_line(text)


def _resolved_subject(alert: Alert) -> str | None:
    if alert.labels.get(ACTION_LABEL) not in (ROLLBACK_ACTION, RETRAIN_ACTION):
        return None
    try:
        version = _version(alert.labels.get("version"), alert.name)
    except UnprocessableAlert:
        return None
    labels = alert.labels
    return Incident(
        IncidentKind.IGNORE,
        labels.get("model", ""),
        labels.get("env", ""),
        version,
        single_line(alert.name, limit=200),
        alert.starts_at,
        "",
        "",
    ).subject


def decide(alert: Alert, state: DesiredState) -> AlertDecision:
    """Route one alert. Raises UnprocessableAlert for an actionable alert about an unknown target."""
    action = alert.labels.get(ACTION_LABEL, "")
    if alert.status != "firing":
        return AlertDecision(IncidentKind.IGNORE, None, f"{alert.status} alert", _resolved_subject(alert))
    if action == ROLLBACK_ACTION:
        kind = IncidentKind.ROLLBACK
    elif action == RETRAIN_ACTION:
        kind = IncidentKind.RETRAIN
    elif action == ANALYZE_ACTION:
        kind = IncidentKind.ANALYZE
    else:
        return AlertDecision(IncidentKind.IGNORE, None, f"no action label (action={action!r})")
    alertname = alert.name
    model_name = alert.labels.get("model", "")
    env_name = alert.labels.get("env", "")
    model = state.models.get(model_name)
    if model is None:
        known = ", ".join(sorted(state.models)) or "none"
        raise UnprocessableAlert(
            f"alert {alertname!r}: unknown model {model_name!r} (models.yaml has: {known})"
        )
    # A drift alert may be about the model as a whole; a rollback always names where to roll back.
    env_required = kind in (IncidentKind.ROLLBACK, IncidentKind.ANALYZE)
    if (env_required or env_name) and env_name not in model.environments:
        known = ", ".join(sorted(model.environments))
        raise UnprocessableAlert(
            f"alert {alertname!r}: model {model_name!r} has no environment {env_name!r} (known: {known})"
        )
    if not alert.starts_at:
        raise UnprocessableAlert(f"alert {alertname!r}: startsAt is empty, so re-sends cannot be recognised")
    incident = Incident(
        kind=kind,
        model=model_name,
        env=env_name,
        version=_version(alert.labels.get("version"), alertname),
        alertname=single_line(alertname, limit=200),
        starts_at=alert.starts_at,
        severity=single_line(alert.labels.get("severity", DEFAULT_SEVERITY), limit=50),
        reason=_reason(alert),
    )
    return AlertDecision(kind, incident, action)
