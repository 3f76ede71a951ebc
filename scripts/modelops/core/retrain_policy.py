"""When a retrain request may start a retraining run, so drift alerts cannot make it run away.

A storm of drift alerts, a scheduled run and a human can all ask for a retrain at once. The rules, in
the order they are checked:
1. never two runs of one model at a time (a run in flight blocks; a run silent for longer than
   `STALE_RUN_HOURS` is treated as abandoned so a crashed run cannot block a model forever);
2. never within `cooldown_hours` of the previous run's start, whatever its outcome (a run that keeps
   failing must not be restarted in a loop); a manual request bypasses the cooldown, since a person
   chose it;
3. minor drift waits for the scheduled run and is recorded as pending; major drift goes now.
The ledger (adapters/ledger.py) supplies the history and applies the decision in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from modelops.core.state import DriftSettings

Severity = Literal["major", "minor"]
Source = Literal["drift", "schedule", "manual", "performance"]
Action = Literal["go", "skip", "defer"]

SEVERITIES: tuple[Severity, ...] = ("major", "minor")
SOURCES: tuple[Source, ...] = ("drift", "schedule", "manual", "performance")
STALE_RUN_HOURS = 12.0
# Absolute drop of the primary metric (e.g. ROC AUC) that makes a performance trigger major.
PERFORMANCE_TOLERANCE = 0.02


@dataclass(frozen=True)
class RunRecord:
    id: int
    model: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class RetrainRequest:
    model: str
    severity: Severity
    reason: str
    source: Source
    at: datetime


@dataclass(frozen=True)
class RetrainDecision:
    action: Action
    model: str
    reason: str
    request: RetrainRequest
    request_id: int | None = None
    run_id: int | None = None
    handle: str | None = None  # what the dispatcher launched (a workflow run URL, a pid, …)

    @property
    def go(self) -> bool:
        return self.action == "go"

    @property
    def value(self) -> str:
        return self.action

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "model": self.model,
            "reason": self.reason,
            "source": self.request.source,
            "severity": self.request.severity,
            "request_reason": self.request.reason,
            "at": self.request.at.isoformat(),
            "request_id": self.request_id,
            "run_id": self.run_id,
            "handle": self.handle,
        }


def decide(
    request: RetrainRequest,
    runs: Sequence[RunRecord],
    *,
    cooldown_hours: float,
    stale_run_hours: float = STALE_RUN_HOURS,
) -> tuple[Action, str]:
    """The decision for one request given the model's earlier runs (newest first or any order)."""
    now = request.at
    mine = [r for r in runs if r.model == request.model]
    in_flight = [
        r for r in mine if r.finished_at is None and now - r.started_at < timedelta(hours=stale_run_hours)
    ]
    if in_flight:
        run = max(in_flight, key=lambda r: r.started_at)
        return "skip", f"run #{run.id} in flight since {run.started_at.isoformat()}"
    if request.source != "manual" and mine:
        last = max(mine, key=lambda r: r.started_at)
        until = last.started_at + timedelta(hours=cooldown_hours)
        if now < until:
            return "skip", (
                f"cooldown: run #{last.id} started {last.started_at.isoformat()}, "
                f"next run allowed from {until.isoformat()}"
            )
    if request.severity == "minor" and request.source in ("drift", "performance"):
        return "defer", "minor: pending until the scheduled retrain"
    return "go", f"{request.severity} {request.source} request"


@dataclass(frozen=True)
class WindowObservation:
    """One drift check of one window, as the ledger keeps it."""

    at: datetime
    drifted_features: tuple[str, ...]
    prediction_drift: bool
    pipeline_suspect: bool = False


def sustained_severity(observations: Sequence[WindowObservation], settings: DriftSettings) -> Severity | None:
    """Severity of drift sustained over the last `sustained_windows` windows, or None.

    Major: the prediction score, or one and the same top feature, drifted in each of the last N windows
    (drifted = significant after BH and beyond its PSI/KS band). Minor: some feature drifted in each of
    them. A window whose inputs look broken (pipeline signals) interrupts the streak: it says nothing
    about the world.
    """
    n = max(settings.sustained_windows, 1)
    recent = sorted(observations, key=lambda o: o.at)[-n:]
    if len(recent) < n or any(o.pipeline_suspect for o in recent):
        return None
    top = set(settings.top_features)
    if all(o.prediction_drift for o in recent):
        return "major"
    candidates = set(recent[0].drifted_features)
    for o in recent[1:]:
        candidates &= set(o.drifted_features)
    if any(not top or f in top for f in candidates):
        return "major"
    if all(o.drifted_features or o.prediction_drift for o in recent):
        return "minor"
    return None


def performance_severity(
    measured: float,
    baseline: float,
    *,
    tolerance: float = PERFORMANCE_TOLERANCE,
    higher_is_better: bool = True,
) -> Severity | None:
    """Severity of a performance drop once labels arrive: major beyond `tolerance`, minor beyond half."""
    drop = (baseline - measured) if higher_is_better else (measured - baseline)
    if drop > tolerance:
        return "major"
    if drop > tolerance / 2:
        return "minor"
    return None
