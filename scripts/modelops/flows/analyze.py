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

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelops.context import Context
from modelops.core import contract
from modelops.core.canary import Analysis, Arm
from modelops.core.document import ModelsDocument
from modelops.core.state import Environment
from modelops.core.verification import parse_stamp
from modelops.errors import ModelOpsError


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


def next_traffic(steps: tuple[int, ...], current: int) -> int:
    """The step after `current`, or 100 when none is left."""
    return next((s for s in steps if s > current), 100)


def notify_verdict(ctx: Context, result: AnalyzeResult) -> None:
    from modelops.adapters.notify import Notifier

    Notifier(ctx).notify(
        "canary.verdict",
        f"{result.title}: {result.analysis.verdict} ({result.analysis.reason})",
        commit=result.detail.get("commit"),
        model=result.model,
        env=result.env,
        verdict=result.analysis.verdict,
    )
