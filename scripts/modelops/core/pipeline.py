"""Environments as an ordered pipeline: where a Version must come from before it may serve here.

Each Environment may declare `upstream` (the Environment a Version must have served in first), `soak`
(how long it must have served there), its own `canary_steps`, `auto_promote` and its Argo CD
`destination` (cluster and namespace). Undeclared settings are derived so today's file works
unchanged: no upstream (every Environment is an entry), the Model's `promotion.canary_steps` for
`production` and for the last stages of a declared pipeline,
auto-promotion from `promotion.auto_merge_staging` for an Environment named `staging`, the
in-cluster destination and namespace `models-<env>`.

A declared pipeline has one entry (the Environment without an upstream); every other Environment
reaches it through its upstreams. An upstream cycle, an unknown upstream or a second entry is a
problem that names the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelops.core.alert_rules import parse_duration
from modelops.core.readiness import STANDARD
from modelops.core.state import Environment, Model
from modelops.errors import BadInput

STAGING = "staging"
PRODUCTION = "production"


@dataclass(frozen=True)
class Stage:
    """One Environment's place in the pipeline, with every default resolved."""

    name: str
    upstream: str | None
    soak_seconds: int
    canary_steps: tuple[int, ...]
    auto_promote: bool
    cluster: str
    namespace: str

    def as_dict(self) -> dict[str, object]:
        return {
            "env": self.name,
            "upstream": self.upstream,
            "soak_seconds": self.soak_seconds,
            "canary_steps": list(self.canary_steps),
            "auto_promote": self.auto_promote,
            "cluster": self.cluster,
            "namespace": self.namespace,
        }


@dataclass(frozen=True)
class PipelineLimits:
    """What the promotion policy sets for every pipeline (policies/promotion.yaml)."""

    protected: tuple[str, ...] = ("production",)
    max_canary_traffic: int = 50


DEFAULT_LIMITS = PipelineLimits()


@dataclass(frozen=True)
class PipelineProblem:
    path: str
    message: str


def default_namespace(env: str) -> str:
    return f"models-{env}"


def soak_seconds(text: str | None, where: str = "soak") -> int:
    if text is None:
        return 0
    try:
        return parse_duration(text) // 1000
    except BadInput:
        raise BadInput(f"{where}: {text!r} is not a duration such as 30m, 2h or 1d") from None


def stage(model: Model, env: Environment) -> Stage:
    try:
        soak = soak_seconds(env.soak)
    except BadInput:
        soak = 0  # reported by pipeline_problems; a Stage is still needed to render the rest
    auto = (
        env.auto_promote
        if env.auto_promote is not None
        else (env.name == STAGING and model.auto_merge_staging)
    )
    return Stage(
        name=env.name,
        upstream=env.upstream,
        soak_seconds=soak,
        canary_steps=env.canary_steps if env.canary_steps is not None else _default_steps(model, env),
        auto_promote=auto,
        cluster=env.cluster,
        namespace=env.namespace or default_namespace(env.name),
    )


def _default_steps(model: Model, env: Environment) -> tuple[int, ...]:
    """`promotion.canary_steps` apply to production, and to the last stages of a declared pipeline."""
    envs = model.environments
    declared = any(e.upstream is not None for e in envs.values())
    leaf = declared and not any(e.upstream == env.name for e in envs.values())
    return model.canary_steps if env.name == PRODUCTION or leaf else ()


def stages(model: Model) -> dict[str, Stage]:
    """Every Environment's Stage, in pipeline order (upstreams first, then declaration order)."""
    resolved = {name: stage(model, env) for name, env in model.environments.items()}
    return {name: resolved[name] for name in order(resolved)}


def order(resolved: dict[str, Stage]) -> list[str]:
    """Topological order; Environments in a cycle or under an unknown upstream go last."""
    placed: list[str] = []
    pending = list(resolved)
    while pending:
        ready = [n for n in pending if resolved[n].upstream is None or resolved[n].upstream in placed]
        if not ready:
            placed.extend(pending)
            break
        placed.extend(ready)
        pending = [n for n in pending if n not in ready]
    return placed


def downstream(model: Model, env: str) -> list[str]:
    """The Environments whose upstream is `env` (the next steps of a Version that soaked here)."""
    return [s.name for s in stages(model).values() if s.upstream == env]


def pipeline_problems(model: Model, limits: PipelineLimits = DEFAULT_LIMITS) -> list[PipelineProblem]:
    """What is wrong with a Model's pipeline: unknown upstreams, cycles, second entries, bad soaks,
    canary steps over the admission limit, auto-promotion into a protected Environment."""
    base = f"models.{model.name}.environments"
    protected, max_canary_traffic = limits.protected, limits.max_canary_traffic
    found: list[PipelineProblem] = []
    envs = model.environments
    declared = any(e.upstream is not None for e in envs.values())
    for env in envs.values():
        at = f"{base}.{env.name}"
        if env.upstream is not None and env.upstream not in envs:
            known = ", ".join(sorted(envs))
            found.append(
                PipelineProblem(f"{at}.upstream", f"unknown environment {env.upstream!r} (known: {known})")
            )
        if env.upstream == env.name:
            found.append(PipelineProblem(f"{at}.upstream", "an environment cannot be its own upstream"))
        if env.soak is not None:
            try:
                soak_seconds(env.soak)
            except BadInput:
                found.append(
                    PipelineProblem(f"{at}.soak", f"{env.soak!r} is not a duration such as 30m, 2h or 1d")
                )
        resolved = stage(model, env)
        for step in resolved.canary_steps:
            if step > max_canary_traffic:
                where = (
                    f"{at}.canary_steps"
                    if env.canary_steps is not None
                    else f"models.{model.name}.promotion.canary_steps"
                )
                problem = PipelineProblem(
                    where, f"step {step} is over the admission limit of {max_canary_traffic}%"
                )
                if problem not in found:  # model-level steps are shared by every environment
                    found.append(problem)
        if env.deployment_mode == STANDARD and (resolved.canary_steps or env.canary is not None):
            # KServe's Standard mode ignores canaryTrafficPercent: a "canary" would take all traffic.
            found.append(
                PipelineProblem(
                    f"{at}.canary" if env.canary is not None else f"{at}.deployment_mode",
                    "KServe's Standard mode splits no traffic, so a canary would take it all: set "
                    "canary_steps: [] in this environment, or deployment_mode: Knative",
                )
            )
        if list(resolved.canary_steps) != sorted(set(resolved.canary_steps)) and env.canary_steps is not None:
            found.append(PipelineProblem(f"{at}.canary_steps", "steps must rise strictly"))
        if env.auto_promote and env.name in protected:
            found.append(
                PipelineProblem(
                    f"{at}.auto_promote", f"{env.name} is protected: its promotions need a human approval"
                )
            )
    found.extend(_cycles(model, base))
    if declared:
        entries = [e.name for e in envs.values() if e.upstream is None]
        for extra in entries[1:]:
            found.append(
                PipelineProblem(
                    f"{base}.{extra}.upstream",
                    f"unreachable: no upstream, but the pipeline's entry is {entries[0]!r}",
                )
            )
    return found


def _cycles(model: Model, base: str) -> list[PipelineProblem]:
    found: list[PipelineProblem] = []
    reported: set[str] = set()
    envs = model.environments
    for start in envs:
        chain = [start]
        current = envs[start].upstream
        while current is not None and current in envs and current not in chain:
            chain.append(current)
            current = envs[current].upstream
        if current is not None and current in chain and current != start:
            continue  # the cycle is further up; it is reported from one of its members
        if current == start and len(chain) > 1 and not reported & set(chain):
            reported |= set(chain)
            loop = " → ".join([*chain, start])
            found.append(PipelineProblem(f"{base}.{start}.upstream", f"upstream cycle: {loop}"))
    return found
