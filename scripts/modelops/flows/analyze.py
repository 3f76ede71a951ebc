"""`modelops analyze`: the canary analysis of one Model in one Environment, and what follows from it.

Facts: the desired state (which Version is the canary, which is stable, since when: the canary's
history entry in models.yaml) and Prometheus (the metric contract, canary and stable over the same
window, from the canary's start to now). Decision: core/canary.py. Then, unless `act` is off:

- `promote`: the pull request for the next canary step, or for 100 % (`modelops propose`); a protected
  environment still needs a human approval to merge it;
- `abort`: a rollback that drops only the canary and quarantines its Version (stable untouched), with
  the analysis in the commit message;
- `inconclusive`: nothing; the next scheduled run looks again, until the deadline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelops.context import Context
from modelops.core import contract
from modelops.core.canary import Analysis, AnalysisSettings, Arm, analyse
from modelops.core.document import ModelsDocument
from modelops.core.pipeline import stage
from modelops.core.state import Environment
from modelops.core.verification import parse_stamp
from modelops.errors import BadInput, ModelOpsError
from modelops.files import write_atomically


@dataclass
class AnalyzeResult:
    model: str
    env: str
    canary: int
    stable: int
    analysis: Analysis
    action: str = "none"
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "env": self.env,
            "canary": self.canary,
            "stable": self.stable,
            **self.analysis.as_dict(),
            "action": self.action,
            "detail": self.detail,
        }

    @property
    def title(self) -> str:
        return f"canary analysis {self.model}/{self.env}: v{self.canary} vs stable v{self.stable}"

    def markdown(self) -> str:
        return self.analysis.markdown(self.title)


def running_canaries(ctx: Context) -> list[tuple[str, str]]:
    state = ModelsDocument.load(ctx.models_path).state()
    return [
        (model.name, env.name)
        for model in state.models.values()
        for env in model.environments.values()
        if env.canary is not None and env.version is not None
    ]


def canary_start(env: Environment) -> datetime | None:
    """When the running canary started: its newest `canary` history entry."""
    assert env.canary is not None
    for entry in reversed(env.history):
        if entry.action == "canary" and entry.to == env.canary.version:
            return parse_stamp(entry.at)
    return None


def _selector(model: str, env: str, version: int) -> str:
    return f'model="{model}",env="{env}",version="{version}"'


def _value(samples: list[tuple[dict[str, str], float]]) -> float | None:
    return samples[0][1] if samples else None


def _buckets(samples: list[tuple[dict[str, str], float]]) -> tuple[tuple[float, float], ...] | None:
    if not samples:
        return None
    rows = sorted((float(labels.get("le", "nan")), value) for labels, value in samples)
    return tuple(rows)


def read_arm(prom: Any, model: str, env: str, version: int, window_s: int, at: float) -> Arm:
    """One side's counts over the window; a failed query is recorded, never turned into zeros."""
    sel = _selector(model, env, version)
    window = f"[{max(window_s, 1)}s]"
    failures: dict[str, str] = {}
    got: dict[str, Any] = {}
    queries = {
        "requests": f"sum(increase({contract.REQUESTS_TOTAL}{{{sel}}}{window}))",
        "errors": f'sum(increase({contract.REQUESTS_TOTAL}{{{sel},outcome="error"}}{window}))',
        "latency": f"sum by (le) (increase({contract.LATENCY_SECONDS}_bucket{{{sel}}}{window}))",
        "scores": f"sum by (le) (increase({contract.SCORE}_bucket{{{sel}}}{window}))",
        "labels": f"sum by (outcome) (increase({contract.LABELLED_TOTAL}{{{sel}}}{window}))",
    }
    for key, promql in queries.items():
        try:
            got[key] = prom.vector(promql, at)
        except ModelOpsError as exc:
            failures["error_rate" if key in ("requests", "errors") else key] = str(exc)
            got[key] = []
    labelled = {labels.get("outcome"): value for labels, value in got["labels"]}
    return Arm(
        requests=_value(got["requests"]),
        errors=_value(got["errors"]),
        latency=_buckets(got["latency"]),
        scores=_buckets(got["scores"]),
        labelled=sum(labelled.values()) if labelled else None,
        wrong=labelled.get("wrong") if labelled else None,
        failures=failures,
    )


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
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_atomically(out / "analysis.md", result.markdown())
        write_atomically(out / "analysis.json", json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n")
    if act:
        _act(ctx, result, env)
    _notify(ctx, result)
    return result


def next_traffic(steps: tuple[int, ...], current: int) -> int:
    """The step after `current`, or 100 when none is left."""
    return next((s for s in steps if s > current), 100)


def _act(ctx: Context, result: AnalyzeResult, env: Environment) -> None:
    assert env.canary is not None
    if result.analysis.verdict == "abort":
        from modelops.flows.rollback import rollback

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
        from modelops.flows.propose import propose

        state = ModelsDocument.load(ctx.models_path).state()
        model = state.model(result.model)
        traffic = next_traffic(stage(model, env).canary_steps, env.canary.traffic)
        proposed = propose(ctx, result.model, result.canary, result.env, traffic=traffic)
        result.action = "propose"
        result.detail = {
            "pr": proposed.pr,
            "url": proposed.url,
            "traffic": traffic,
            "merged": proposed.merged,
        }


def _notify(ctx: Context, result: AnalyzeResult) -> None:
    from modelops.adapters.notify import Notifier

    Notifier(ctx).notify(
        "canary.verdict",
        f"{result.title}: {result.analysis.verdict} ({result.analysis.reason})",
        commit=result.detail.get("commit"),
        model=result.model,
        env=result.env,
        verdict=result.analysis.verdict,
    )
