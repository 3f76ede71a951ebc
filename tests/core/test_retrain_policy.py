"""Retraining does not run away: debounced, one run at a time, minor drift waits for the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelops.core.retrain_policy import (
    RetrainRequest,
    RunRecord,
    WindowObservation,
    decide,
    performance_severity,
    sustained_severity,
)
from modelops.core.state import DriftSettings

T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)


def _req(source: str = "drift", severity: str = "major", at: datetime = T0) -> RetrainRequest:
    return RetrainRequest("churn", severity, "test", source, at)  # type: ignore[arg-type]


def _run(started: datetime, finished: datetime | None = None, id: int = 1) -> RunRecord:
    return RunRecord(id, "churn", started, finished, None if finished is None else "proposed")


def test_policy_major_drift_goes_when_nothing_ran() -> None:
    assert decide(_req(), [], cooldown_hours=6)[0] == "go"


def test_policy_a_run_in_flight_blocks_every_source_including_manual() -> None:
    runs = [_run(T0 - timedelta(hours=7))]
    for source in ("drift", "schedule", "manual"):
        action, reason = decide(_req(source), runs, cooldown_hours=6)
        assert action == "skip" and "in flight" in reason


def test_policy_a_run_silent_for_too_long_no_longer_blocks() -> None:
    runs = [_run(T0 - timedelta(hours=13))]
    assert decide(_req(), runs, cooldown_hours=6, stale_run_hours=12)[0] == "go"


def test_policy_cooldown_counts_from_the_last_start_whatever_its_outcome() -> None:
    runs = [_run(T0 - timedelta(hours=5), T0 - timedelta(hours=4))]
    action, reason = decide(_req(), runs, cooldown_hours=6)
    assert action == "skip" and "cooldown" in reason
    assert decide(_req(at=T0 + timedelta(hours=1, seconds=1)), runs, cooldown_hours=6)[0] == "go"


def test_policy_manual_requests_bypass_the_cooldown() -> None:
    runs = [_run(T0 - timedelta(hours=1), T0 - timedelta(minutes=10))]
    assert decide(_req("manual"), runs, cooldown_hours=6)[0] == "go"


def test_policy_minor_drift_waits_for_the_schedule() -> None:
    assert decide(_req(severity="minor"), [], cooldown_hours=6)[0] == "defer"
    assert decide(_req("schedule", severity="minor"), [], cooldown_hours=6)[0] == "go"


SETTINGS = DriftSettings(sustained_windows=3, top_features=("tenure_months", "contract"))


def _obs(hours: int, *features: str, prediction: bool = False, suspect: bool = False) -> WindowObservation:
    return WindowObservation(T0 + timedelta(hours=hours), tuple(features), prediction, suspect)


def test_sustained_major_needs_the_same_top_feature_in_each_of_the_last_n_windows() -> None:
    assert sustained_severity([_obs(1, "tenure_months"), _obs(2, "tenure_months")], SETTINGS) is None
    three = [_obs(1, "tenure_months"), _obs(2, "tenure_months", "plan"), _obs(3, "tenure_months")]
    assert sustained_severity(three, SETTINGS) == "major"
    alternating = [_obs(1, "tenure_months"), _obs(2, "contract"), _obs(3, "tenure_months")]
    assert sustained_severity(alternating, SETTINGS) == "minor"
    broken = [_obs(1, "tenure_months"), _obs(2, "tenure_months"), _obs(3, "tenure_months", suspect=True)]
    assert sustained_severity(broken, SETTINGS) is None
    interrupted = [_obs(1, "tenure_months"), _obs(2), _obs(3, "tenure_months"), _obs(4, "tenure_months")]
    assert sustained_severity(interrupted, SETTINGS) is None


def test_sustained_prediction_drift_is_major_and_other_features_minor() -> None:
    assert sustained_severity([_obs(h, prediction=True) for h in (1, 2, 3)], SETTINGS) == "major"
    assert sustained_severity([_obs(h, "plan") for h in (1, 2, 3)], SETTINGS) == "minor"


def test_a_performance_drop_triggers_by_its_size() -> None:
    assert performance_severity(0.80, 0.83, tolerance=0.02) == "major"
    assert performance_severity(0.815, 0.83, tolerance=0.02) == "minor"
    assert performance_severity(0.825, 0.83, tolerance=0.02) is None
    assert performance_severity(0.30, 0.25, tolerance=0.02, higher_is_better=False) == "major"
