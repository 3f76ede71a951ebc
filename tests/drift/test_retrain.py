"""Drift-triggered retraining does not run away: debounced, one run at a time, minor waits, and the
executor trains, evaluates and proposes without ever merging a production promotion."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelops.adapters.ledger import Ledger
from modelops.context import Context
from modelops.errors import Denied, ExternalError
from modelops.flows import chains
from modelops.flows import retrain as flow
from modelops.flows.drift import run_drift

from .data import churn_frame, make_repo

T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)


# -- requests through the ledger ---------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    repo = make_repo(tmp_path, churn_frame(300, seed=1))
    return Context.discover(str(repo))


def _ask(ctx: Context, at: datetime, source: str = "drift", severity: str = "major", **kw: Any) -> Any:
    kw.setdefault("dispatch", None)
    return flow.request_retrain(
        ctx, model="churn", severity=severity, reason="alert", source=source, now=at, **kw
    )


def test_a_storm_of_drift_alerts_within_the_cooldown_starts_exactly_one_run(ctx: Context) -> None:
    decisions = [_ask(ctx, T0 + timedelta(minutes=5 * i)) for i in range(20)]
    assert [d.action for d in decisions].count("go") == 1
    assert decisions[0].go
    ledger = Ledger.for_context(ctx)
    assert len(ledger.requests("churn")) == 20
    assert len(ledger.runs("churn")) == 1
    # The first run is still in flight; once it finishes, the cooldown still holds the rest back.
    ledger.finish_run(decisions[0].run_id, "proposed", T0 + timedelta(hours=1))
    assert _ask(ctx, T0 + timedelta(hours=5, minutes=59)).action == "skip"
    assert _ask(ctx, T0 + timedelta(hours=6, minutes=1)).go


def test_concurrent_alerts_start_exactly_one_run(ctx: Context) -> None:
    barrier = threading.Barrier(12)
    actions: list[str] = []

    def alert() -> None:
        barrier.wait()
        actions.append(_ask(ctx, T0).action)

    threads = [threading.Thread(target=alert) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(actions) == ["go"] + ["skip"] * 11
    assert len(Ledger.for_context(ctx).runs("churn")) == 1


def _alert_in_process(repo: str, start: Any, results: Any) -> None:
    start.wait()
    decision = flow.request_retrain(
        Context.discover(repo),
        model="churn",
        severity="major",
        reason="alert",
        source="drift",
        now=T0,
        dispatch=None,
    )
    results.put(decision.action)


def test_concurrent_alerts_from_separate_processes_start_exactly_one_run(ctx: Context) -> None:
    mp = multiprocessing.get_context("fork")
    start, results = mp.Event(), mp.Queue()
    procs = [mp.Process(target=_alert_in_process, args=(str(ctx.repo), start, results)) for _ in range(6)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    actions = sorted(results.get(timeout=5) for _ in procs)
    assert actions == ["go"] + ["skip"] * 5


def test_a_run_in_flight_blocks_even_after_the_cooldown(ctx: Context) -> None:
    first = _ask(ctx, T0)
    later = _ask(ctx, T0 + timedelta(hours=8), source="schedule")
    assert first.go and later.action == "skip"
    assert f"run #{first.run_id} in flight" in later.reason


def test_minor_drift_waits_and_the_scheduled_run_serves_it(ctx: Context) -> None:
    minor = _ask(ctx, T0, severity="minor")
    assert minor.action == "defer"
    ledger = Ledger.for_context(ctx)
    assert [r["id"] for r in ledger.pending("churn")] == [minor.request_id]
    assert ledger.runs("churn") == []
    scheduled = _ask(ctx, T0 + timedelta(hours=2), source="schedule")
    assert scheduled.go
    assert ledger.pending("churn") == []


def test_every_decision_is_logged_as_one_structured_line_with_its_reason(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="modelops.retrain")
    _ask(ctx, T0)
    _ask(ctx, T0 + timedelta(minutes=1))
    _ask(ctx, T0 + timedelta(minutes=2), severity="minor")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "modelops.retrain"]
    decisions = [line for line in lines if line["event"] == "retrain_decision"]
    assert [d["action"] for d in decisions] == ["go", "skip", "skip"]
    assert all(d["reason"] for d in decisions)
    assert all("\n" not in r.getMessage() for r in caplog.records)


def test_the_dispatcher_launches_only_what_was_allowed(ctx: Context) -> None:
    launched: list[Any] = []

    def dispatch(decision: Any) -> str:
        launched.append(decision)
        return "workflow run 42"

    decisions = [_ask(ctx, T0 + timedelta(minutes=i), dispatch=dispatch) for i in range(5)]
    assert [d.run_id for d in launched] == [decisions[0].run_id]
    assert decisions[0].handle == "workflow run 42"
    assert Ledger.for_context(ctx).run(decisions[0].run_id)["handle"] == "workflow run 42"


def test_a_failed_dispatch_frees_the_model_instead_of_blocking_it(ctx: Context) -> None:
    def broken(decision: Any) -> str:
        raise ConnectionError("GitHub unreachable")

    with pytest.raises(ExternalError, match="dispatch failed"):
        _ask(ctx, T0, dispatch=broken)
    assert _ask(ctx, T0 + timedelta(minutes=1)).go


def test_the_relay_can_read_the_decision_as_a_value(ctx: Context) -> None:
    assert _ask(ctx, T0).value == "go"


# -- sustained drift from real windows -------------------------------------------------------------


def test_a_true_shift_triggers_one_retrain_within_the_sustained_windows(ctx: Context) -> None:
    launched: list[Any] = []
    actions = []
    for window in range(3):
        current = ctx.repo / f"window-{window}.csv"
        churn_frame(700, [12], seed=10 + window, year=2025, charges_shift=18.0).to_csv(current, index=False)
        at = T0 + timedelta(hours=window)
        result = run_drift(ctx, model="churn", current=current, now=at)
        assert "monthly_charges" in result.report.drifted_features
        decision = flow.request_retrain_for_drift(ctx, model="churn", now=at, dispatch=launched.append)
        actions.append(decision.action)
    # sustained_windows is 2 in models.yaml: the second window starts the run, the third is debounced.
    assert actions == ["skip", "go", "skip"]
    assert len(launched) == 1


def test_seasonal_december_windows_never_trigger_a_retrain(ctx: Context) -> None:
    for window in range(3):
        current = ctx.repo / f"december-{window}.csv"
        churn_frame(700, [12], seed=20 + window, year=2025).to_csv(current, index=False)
        at = T0 + timedelta(hours=window)
        result = run_drift(ctx, model="churn", current=current, now=at)
        assert not result.report.drift
        decision = flow.request_retrain_for_drift(ctx, model="churn", now=at, dispatch=pytest.fail)
        assert decision.action == "skip" and "not sustained" in decision.reason
    assert Ledger.for_context(ctx).runs("churn") == []


def test_a_performance_drop_goes_through_the_same_debounce(ctx: Context) -> None:
    first = flow.request_retrain_for_performance(
        ctx, model="churn", metric="roc_auc", measured=0.78, baseline=0.84, now=T0, dispatch=None
    )
    second = flow.request_retrain_for_performance(
        ctx, model="churn", metric="roc_auc", measured=0.77, baseline=0.84, now=T0, dispatch=None
    )
    assert first is not None and first.go
    assert second is not None and second.action == "skip"
    assert (
        flow.request_retrain_for_performance(
            ctx, model="churn", metric="roc_auc", measured=0.84, baseline=0.84
        )
        is None
    )


# -- the executor ------------------------------------------------------------------------------------


@dataclass
class Trained:
    version: int
    run_id: str


@dataclass
class Evaluated:
    passed: bool


class Fakes:
    def __init__(self, version: int = 7, passed: bool = True) -> None:
        self.version, self.passed = version, passed
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def train(self, *args: Any, **kw: Any) -> Trained:
        self.calls.append(("train", args, kw))
        return Trained(self.version, "mlflow-run-1")

    def evaluate(self, *args: Any, **kw: Any) -> Evaluated:
        self.calls.append(("evaluate", args, kw))
        (kw["out_dir"] / "report.md").write_text("evidence")
        return Evaluated(self.passed)

    def propose(self, *args: Any, **kw: Any) -> Any:
        self.calls.append(("propose", args, kw))
        return type("Proposed", (), {"url": "forge://pr/3"})()

    def run(self, ctx: Context, **kw: Any) -> chains.RetrainOutcome:
        return chains.run_retrain(
            ctx, "churn", "drift", train=self.train, evaluate=self.evaluate, propose=self.propose, **kw
        )


def test_the_executor_evaluates_against_staging_and_proposes_to_staging(ctx: Context) -> None:
    decision = _ask(ctx, T0)
    fakes = Fakes()
    outcome = fakes.run(ctx, run_id=decision.run_id)
    assert [c[0] for c in fakes.calls] == ["train", "evaluate", "propose"]
    _, eval_args, eval_kw = fakes.calls[1]
    # The champion is what the target pins: the only evaluation that licenses the proposal.
    assert eval_args[1:] == ("churn", 7) and eval_kw["env"] == "staging"
    _, prop_args, prop_kw = fakes.calls[2]
    # Never straight to production: that promotion starts from staging, past production's reviewers.
    assert prop_args[1:] == ("churn", 7, "staging")
    assert (prop_kw["evidence_dir"] / "report.md").is_file()
    assert outcome.outcome == "proposed" and outcome.pr == "forge://pr/3"
    run = Ledger.for_context(ctx).run(decision.run_id)
    assert run["outcome"] == "proposed" and run["finished_at"]


def test_without_a_proposal_env_the_executor_stops_after_a_passing_gate(ctx: Context) -> None:
    fakes = Fakes()
    outcome = fakes.run(ctx, open_pr=False)
    assert [c[0] for c in fakes.calls] == ["train", "evaluate"]
    assert outcome.outcome == "gate_passed" and outcome.passed and outcome.pr is None


def test_a_candidate_failing_the_gate_is_not_proposed(ctx: Context) -> None:
    fakes = Fakes(passed=False)
    outcome = fakes.run(ctx)
    assert [c[0] for c in fakes.calls] == ["train", "evaluate"]
    assert outcome.outcome == "gate_failed" and not outcome.passed and outcome.pr is None


def test_a_quarantined_version_is_never_proposed(ctx: Context) -> None:
    models = ctx.models_path.read_text().replace("quarantined: []", "quarantined: [7]", 1)
    ctx.models_path.write_text(models)
    fakes = Fakes(version=7)
    with pytest.raises(Denied, match="quarantined"):
        fakes.run(ctx)
    assert [c[0] for c in fakes.calls] == ["train"]
    (run,) = Ledger.for_context(ctx).runs("churn")
    assert run.outcome == "refused_quarantined"


def test_a_crashed_training_finishes_the_run_so_the_model_is_not_blocked(ctx: Context) -> None:
    decision = _ask(ctx, T0)

    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        chains.run_retrain(ctx, "churn", "drift", run_id=decision.run_id, train=crash)
    run = Ledger.for_context(ctx).run(decision.run_id)
    assert run["outcome"] == "failed" and "out of memory" in run["detail"]
    # Failed, but the cooldown still applies: a failing run is not restarted in a loop.
    assert _ask(ctx, T0 + timedelta(hours=1)).action == "skip"


def test_the_ledger_survives_reopening(ctx: Context) -> None:
    _ask(ctx, T0)
    reopened = Ledger.at(ctx.state_dir)
    assert len(reopened.runs("churn")) == 1


def test_locally_an_allowed_run_starts_a_detached_executor_that_records_its_end(ctx: Context) -> None:
    import time

    assert flow.select_dispatch(ctx).__qualname__.startswith("subprocess_dispatch")
    decision = flow.request_retrain(ctx, model="churn", severity="major", reason="drift", source="drift")
    assert decision.go and decision.handle and decision.handle.startswith("pid ")
    ledger = Ledger.for_context(ctx)
    deadline = time.monotonic() + 120
    while ledger.run(decision.run_id)["finished_at"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
    run = ledger.run(decision.run_id)
    # This repository has no DVC-declared data, so training fails; the detached run says so itself.
    assert run["outcome"] == "failed" and run["detail"]
    log = (ctx.state_dir / "retrain" / f"run-{decision.run_id}.log").read_text()
    assert "retrain_started" in log
