"""Retraining: decide whether a request may start a run (debounced), and launch the run it allowed.

`request_retrain` decides (core/retrain_policy.py) and records the decision in the ledger in one
transaction; a `dispatch` callable launches the run it allowed: the retrain workflow on GitHub, or a
detached `modelops retrain --run-id N` here. The run itself (train → evaluate against the staging
champion → propose to staging) is `flows/chains.run_retrain`.

The ledger must outlive the runs it debounces: the relay keeps it on its own volume (`--state`), never
under the repository (read-only in the relay's pod). A GitHub runner starts with an empty one each time,
so on GitHub the relay decides and the workflow only executes what was decided (`decided`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from modelops.adapters.ledger import DISPATCH_FAILED, Ledger
from modelops.context import Context
from modelops.core.retrain_policy import (
    SEVERITIES,
    SOURCES,
    RetrainDecision,
    RetrainRequest,
    Severity,
    Source,
    decide,
    performance_severity,
    sustained_severity,
)
from modelops.core.state import Model
from modelops.errors import BadInput, ExternalError, ModelOpsError

LOG = logging.getLogger("modelops.retrain")

Dispatch = Callable[[RetrainDecision], str | None]


def log_event(event: str, **fields: Any) -> None:
    """One structured line per decision: greppable, and machine-readable in the relay's logs."""
    LOG.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def _model(ctx: Context, name: str) -> Model:
    from modelops.core.document import ModelsDocument

    return ModelsDocument.load(ctx.models_path).state().model(name)


def utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


# -- deciding ---------------------------------------------------------------------------------------


def request_retrain(
    ctx: Context,
    *,
    model: str,
    severity: str,
    reason: str,
    source: str,
    now: datetime | None = None,
    dispatch: Dispatch | str | None = "auto",
    ledger: Ledger | None = None,
) -> RetrainDecision:
    """Decide on one retrain request, record it, and launch the run when the decision is "go".

    `dispatch="auto"` picks the target for this context (`select_dispatch`); `None` launches nothing
    and leaves running the executor to the caller (`modelops retrain` runs it in-process).
    """
    if severity not in SEVERITIES:
        raise BadInput(f"severity {severity!r}: expected one of {', '.join(SEVERITIES)}")
    if source not in SOURCES:
        raise BadInput(f"source {source!r}: expected one of {', '.join(SOURCES)}")
    settings = _model(ctx, model).drift
    request = RetrainRequest(model, _severity(severity), reason, _source(source), utc_now(now))
    ledger = ledger or Ledger.for_context(ctx)
    recorded = ledger.decide_and_record(request, partial(decide, cooldown_hours=settings.cooldown_hours))
    decision = RetrainDecision(
        recorded.action, model, recorded.reason, request, recorded.request_id, recorded.run_id
    )
    log_event("retrain_decision", **decision.as_dict())
    from modelops.adapters.notify import Notifier

    Notifier(ctx).notify("retrain.decision", f"{model}: {decision.action} ({decision.reason})", model=model)
    if not decision.go:
        return decision
    launcher = select_dispatch(ctx) if dispatch == "auto" else dispatch
    if launcher is None or isinstance(launcher, str):
        return decision
    assert decision.run_id is not None
    try:
        handle = launcher(decision)
    except Exception as exc:
        # Nothing started: free the model at once instead of blocking it until the run goes stale.
        ledger.finish_run(decision.run_id, DISPATCH_FAILED, utc_now(None), f"{type(exc).__name__}: {exc}")
        log_event("retrain_dispatch_failed", model=model, run_id=decision.run_id, error=str(exc))
        if isinstance(exc, ModelOpsError):
            raise
        raise ExternalError(f"retrain of {model}: dispatch failed ({type(exc).__name__}: {exc})") from None
    if handle:
        ledger.set_handle(decision.run_id, handle)
    log_event("retrain_dispatched", model=model, run_id=decision.run_id, handle=handle)
    return replace(decision, handle=handle)


def _severity(value: str) -> Severity:
    return "major" if value == "major" else "minor"


def _source(value: str) -> Source:
    for s in SOURCES:
        if s == value:
            return s
    raise BadInput(f"source {value!r}: expected one of {', '.join(SOURCES)}")


def drift_severity(ctx: Context, model: str, env: str = "production") -> Severity | None:
    """Severity of drift sustained over the model's `sustained_windows` most recent recorded windows."""
    settings = _model(ctx, model).drift
    observations = Ledger.for_context(ctx).observations(model, env, limit=max(settings.sustained_windows, 1))
    return sustained_severity(observations, settings)


def request_retrain_for_drift(
    ctx: Context,
    *,
    model: str,
    env: str = "production",
    now: datetime | None = None,
    dispatch: Dispatch | str | None = "auto",
) -> RetrainDecision:
    """Ask for a retrain when the recorded windows show sustained drift; a recorded skip when not."""
    settings = _model(ctx, model).drift
    severity = drift_severity(ctx, model, env)
    if severity is None:
        why = f"drift not sustained over {settings.sustained_windows} windows in {env}"
        request = RetrainRequest(model, "minor", why, "drift", utc_now(now))
        recorded = Ledger.for_context(ctx).decide_and_record(request, lambda _r, _runs: ("skip", why))
        decision = RetrainDecision("skip", model, why, request, recorded.request_id)
        log_event("retrain_decision", **decision.as_dict())
        return decision
    reason = f"drift sustained over {settings.sustained_windows} windows in {env}"
    return request_retrain(
        ctx, model=model, severity=severity, reason=reason, source="drift", now=now, dispatch=dispatch
    )


def request_retrain_for_performance(
    ctx: Context,
    *,
    model: str,
    metric: str,
    measured: float,
    baseline: float,
    tolerance: float | None = None,
    higher_is_better: bool = True,
    now: datetime | None = None,
    dispatch: Dispatch | str | None = "auto",
) -> RetrainDecision | None:
    """Once labels arrive: ask for a retrain when the measured metric fell below the baseline."""
    kwargs = {} if tolerance is None else {"tolerance": tolerance}
    severity = performance_severity(measured, baseline, higher_is_better=higher_is_better, **kwargs)
    if severity is None:
        log_event(
            "retrain_not_requested", model=model, reason=f"{metric} {measured:.4f} vs baseline {baseline:.4f}"
        )
        return None
    reason = f"{metric} dropped to {measured:.4f} from {baseline:.4f}"
    return request_retrain(
        ctx, model=model, severity=severity, reason=reason, source="performance", now=now, dispatch=dispatch
    )


# -- launching --------------------------------------------------------------------------------------


def select_dispatch(ctx: Context) -> Dispatch:
    """Where an allowed run starts: the retrain workflow on GitHub, a local `modelops retrain` otherwise."""
    if ctx.forge_kind == "github":
        return github_dispatch(ctx)
    return subprocess_dispatch(ctx)


def subprocess_dispatch(ctx: Context) -> Dispatch:
    """Run the executor for the decided run in a detached `modelops retrain --run-id N`."""

    def launch(decision: RetrainDecision) -> str:
        log_dir = ctx.ensure_state_dir() / "retrain"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"run-{decision.run_id}.log"
        cmd = [
            sys.executable, "-m", "modelops", "retrain", "--repo", str(ctx.repo), "--model", decision.model,
            "--run-id", str(decision.run_id), "--reason", decision.request.reason,
        ]  # fmt: skip
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        return f"pid {proc.pid}, log {log_path}"

    return launch


def retrain_fields(decision: RetrainDecision) -> dict[str, str]:
    """What retrain.yml receives (its workflow_dispatch inputs; the same keys as client_payload)."""
    return {
        "model": decision.model,
        "trigger": _workflow_trigger(decision),
        "severity": decision.request.severity,
        "reason": decision.request.reason,
        "decided": f"retrain ledger run #{decision.run_id}",
    }


def github_dispatch(ctx: Context, sender: Any = None) -> Dispatch:
    """Start retrain.yml for the decided run: repository_dispatch `retrain` unless `sender` says otherwise."""

    def launch(decision: RetrainDecision) -> str:
        from modelops.adapters.github_dispatch import RETRAIN_EVENT, RETRAIN_WORKFLOW, GitHubDispatch

        via = sender if sender is not None else GitHubDispatch.from_env(ctx.env)
        return str(via.send(RETRAIN_EVENT, RETRAIN_WORKFLOW, retrain_fields(decision)))

    return launch


def _workflow_trigger(decision: RetrainDecision) -> str:
    # retrain.yml knows manual, drift and schedule; a performance drop retrains like drift does.
    return "drift" if decision.request.source == "performance" else decision.request.source
