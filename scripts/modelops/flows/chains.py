"""The use cases that are chains of other use cases; the one flow module that imports flows.

    promote       propose → (the local forge's auto-merge) policy-checked merge
    run_retrain   train → evaluate against the environment's champion → promote when the gate passes
    analyze       canary analysis → promote the next traffic step, or roll the canary back

Every other flow composes only the core and adapters, so what a flow does can be read from its
imports; tests/architecture/test_imports.py keeps it that way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelops.adapters.ledger import Ledger
from modelops.context import Context
from modelops.core.canary import AnalysisSettings, analyse
from modelops.core.document import ModelsDocument
from modelops.core.pipeline import stage
from modelops.core.state import Environment
from modelops.errors import BadInput, Denied
from modelops.files import write_atomically
from modelops.flows.analyze import AnalyzeResult, canary_start, next_traffic, notify_verdict, read_arm
from modelops.flows.evaluate import EvalReport, evaluate
from modelops.flows.policy import merge_pull_request
from modelops.flows.propose import ProposeResult, propose
from modelops.flows.retrain import log_event, utc_now
from modelops.flows.rollback import rollback
from modelops.flows.train import TrainResult, train


def promote(
    ctx: Context,
    model_name: str,
    version: int,
    env: str,
    *,
    traffic: int | None = None,
    override_reason: str | None = None,
    evidence_dir: Path | None = None,
    by: str | None = None,
    merge_check: bool = True,
) -> ProposeResult:
    """Propose; on the local forge, which has no background merger, merge an auto-merge PR now
    if the policy allows it (GitHub merges it by itself once its checks pass)."""
    result = propose(
        ctx,
        model_name,
        version,
        env,
        traffic=traffic,
        override_reason=override_reason,
        evidence_dir=evidence_dir,
        by=by,
    )
    if result.auto_merge and ctx.forge_kind == "local":
        merged = merge_pull_request(ctx, result.pr, by="auto-merge", check=merge_check)
        result.merged, result.merge_commit = True, merged.merge_commit
    return result


@dataclass(frozen=True)
class RetrainOutcome:
    model: str
    run_id: int
    outcome: str  # proposed | gate_passed (not proposed here) | gate_failed | refused_quarantined
    version: int | None
    mlflow_run_id: str | None
    passed: bool
    pr: str | None
    evidence_dir: Path | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "ledger_run": self.run_id,
            "outcome": self.outcome,
            "version": self.version,
            "mlflow_run_id": self.mlflow_run_id,
            "passed": self.passed,
            "pr": self.pr,
            "evidence_dir": str(self.evidence_dir) if self.evidence_dir else None,
        }


def run_retrain(
    ctx: Context,
    model: str,
    reason: str,
    *,
    run_id: int | None = None,
    env: str = "staging",
    open_pr: bool = True,
    out_dir: Path | None = None,
    train: Callable[..., TrainResult] = train,
    evaluate: Callable[..., EvalReport] = evaluate,
    propose: Callable[..., ProposeResult] = promote,
    now: datetime | None = None,
) -> RetrainOutcome:
    """The retrain executor (scheduled or drift-triggered): train, evaluate against `env`'s champion,
    and open a promotion PR to `env` when the gate passes. It never merges a production promotion.

    A proposal is licensed only by an evaluation against what its environment pins, so the champion and
    the target are one environment: staging by default, since production starts from there, past its
    reviewers. `open_pr=False` stops after the gate ("gate_passed"): on GitHub a later job, the only one
    holding a write token, proposes, so training code never runs beside that token.
    """
    spec = ModelsDocument.load(ctx.models_path).state().model(model)
    spec.env(env)
    ledger = Ledger.for_context(ctx)
    if run_id is None:
        run_id = ledger.start_run(model, utc_now(now), detail=f"executor started directly: {reason}")
    elif (row := ledger.run(run_id)) is None or row["model"] != model:
        raise BadInput(f"retrain ledger: no run #{run_id} for model {model!r}")
    log_event("retrain_started", model=model, run_id=run_id, reason=reason)
    outcome = "failed"
    detail = ""
    try:
        trained = train(ctx, model)
        version = int(trained.version)
        evidence = out_dir or (ctx.state_dir / "retrain" / f"run-{run_id}")
        evidence.mkdir(parents=True, exist_ok=True)
        if version in spec.quarantined_anywhere():
            outcome, detail = "refused_quarantined", f"v{version} is quarantined"
            raise Denied(f"{model}: trained v{version} is quarantined; it is never proposed")
        report = evaluate(ctx, model, version, env=env, out_dir=evidence)
        passed = bool(report.passed)
        pr: str | None = None
        if passed and not open_pr:
            outcome, detail = "gate_passed", f"v{version} passed the gate against {env}'s champion"
        elif passed:
            pr = propose(ctx, model, version, env, evidence_dir=evidence).url
            outcome, detail = "proposed", f"v{version} proposed for {env}" + (f": {pr}" if pr else "")
        else:
            outcome, detail = "gate_failed", f"v{version} did not pass the gate against {env}'s champion"
        return RetrainOutcome(model, run_id, outcome, version, trained.run_id, passed, pr, evidence)
    except Exception as exc:
        if outcome == "failed":
            detail = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        ledger.finish_run(run_id, outcome, utc_now(None), detail)
        log_event("retrain_finished", model=model, run_id=run_id, outcome=outcome, detail=detail)


# -- canary analysis ---------------------------------------------------------------------------------


def analyze(
    ctx: Context,
    model_name: str,
    env_name: str,
    *,
    prometheus_url: str | None = None,
    now: datetime | None = None,
    act: bool = True,
    out: Path | None = None,
    settings: AnalysisSettings | None = None,
) -> AnalyzeResult:
    from modelops.adapters.prometheus import Prometheus

    doc = ModelsDocument.load(ctx.models_path)
    state = doc.state()
    model = state.model(model_name)
    if settings is None:
        raw = ((doc.plain()["models"][model_name].get("promotion") or {}).get("analysis")) or {}
        settings = AnalysisSettings.from_mapping(raw, f"models.{model_name}.promotion.analysis")
    env = model.env(env_name)
    if env.canary is None or env.version is None:
        raise BadInput(f"models.yaml: {model_name}/{env_name} runs no canary; nothing to analyse")
    prom = Prometheus.configured(prometheus_url, ctx.env)
    moment = now or datetime.now(UTC)
    started = canary_start(env)
    if started is None:
        raise BadInput(
            f"models.yaml: models.{model_name}.environments.{env_name}.history has no entry for the "
            f"canary v{env.canary.version}; cannot tell since when it serves"
        )
    elapsed = max(0.0, (moment - started).total_seconds())
    window = math.ceil(elapsed)
    at = moment.timestamp()
    # One reachability check first: a Prometheus that is down is an external failure, not "no data".
    prom.vector("vector(1)", at)
    canary = read_arm(prom, model_name, env_name, env.canary.version, window, at)
    stable = read_arm(prom, model_name, env_name, env.version, window, at)
    analysis = analyse(canary, stable, settings, elapsed)
    result = AnalyzeResult(model_name, env_name, env.canary.version, env.version, analysis)
    try:
        if act:
            _act_on(ctx, result, env)
    finally:
        # After acting, so the evidence says what was done; also when acting failed.
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            write_atomically(out / "analysis.md", result.markdown())
            write_atomically(
                out / "analysis.json", json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n"
            )
    notify_verdict(ctx, result)
    return result


def _act_on(ctx: Context, result: AnalyzeResult, env: Environment) -> None:
    assert env.canary is not None
    if result.analysis.verdict == "abort":
        reason = f"canary analysis aborted v{result.canary}: {result.analysis.reason}"
        done = rollback(
            ctx,
            model=result.model,
            env=result.env,
            reason=reason,
            details=result.markdown(),
            incident=f"analysis-{result.model}-{result.env}-v{result.canary}",
            version=result.canary,
        )
        result.action = "rollback"
        result.detail = {"commit": done.commit, "already_done": done.already_done}
    elif result.analysis.verdict == "promote":
        state = ModelsDocument.load(ctx.models_path).state()
        model = state.model(result.model)
        traffic = next_traffic(stage(model, env).canary_steps, env.canary.traffic)
        proposed = promote(ctx, result.model, result.canary, result.env, traffic=traffic)
        result.action = "propose"
        result.detail = {
            "pr": proposed.pr,
            "url": proposed.url,
            "traffic": traffic,
            "merged": proposed.merged,
        }
