"""`modelops sync-registry`: make the MLflow aliases follow models.yaml (git → registry, never back).

For every model and environment: `<alias>` → the pinned version, `<alias>-previous` → the rollback
target, `<alias>-canary` → the canary. Idempotent; an alias moved by hand in the MLflow UI is reported
as drift and put back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.core.state import DesiredState, Environment


@dataclass(frozen=True)
class AliasAction:
    model: str
    env: str
    alias: str
    desired: int | None
    actual: int | None
    action: str  # "ok" | "set" | "corrected" | "deleted"


def desired_aliases(env: Environment) -> dict[str, int | None]:
    """The aliases one environment owns in the registry, and the version each should name."""
    return {
        env.alias: env.version,
        env.previous_alias: env.previous,
        f"{env.alias}-canary": env.canary.version if env.canary else None,
    }


def sync_registry(
    ctx: Context,
    *,
    state: DesiredState | None = None,
    only: tuple[str, str] | None = None,
    dry_run: bool = False,
) -> list[AliasAction]:
    from modelops.adapters.registry import Registry

    state = state or ModelsDocument.load(ctx.models_path).state()
    registry = Registry.for_context(ctx)
    actions: list[AliasAction] = []
    for model in state.models.values():
        current: dict[str, int] | None = None
        for env in model.environments.values():
            if only and (model.name, env.name) != only:
                continue
            if current is None:
                registry.ensure_registered_model(model.registered_model)
                current = registry.aliases(model.registered_model)
            for alias, desired in desired_aliases(env).items():
                actual = current.get(alias)
                if actual == desired:
                    if desired is not None:
                        actions.append(AliasAction(model.name, env.name, alias, desired, actual, "ok"))
                    continue
                if desired is None:
                    action = "deleted"
                    if not dry_run:
                        registry.delete_alias(model.registered_model, alias)
                else:
                    action = "set" if actual is None else "corrected"
                    if not dry_run:
                        registry.set_alias(model.registered_model, alias, desired)
                actions.append(AliasAction(model.name, env.name, alias, desired, actual, action))
    return actions


def registry_agreement(ctx: Context, state: DesiredState) -> dict[str, Any]:
    """Read-only: does the registry agree with models.yaml? Never raises for an unreachable registry."""
    from modelops.errors import ModelOpsError

    try:
        actions = sync_registry(ctx, state=state, dry_run=True)
    except ModelOpsError as exc:
        return {"error": str(exc), "models": {}}
    report: dict[str, Any] = {"models": {}}
    for model in state.models.values():
        for env in model.environments.values():
            drift = [a for a in actions if (a.model, a.env) == (model.name, env.name) and a.action != "ok"]
            report["models"].setdefault(model.name, {})[env.name] = {
                "in_sync": not drift,
                "detail": ", ".join(f"{a.alias}: registry {a.actual} ≠ git {a.desired}" for a in drift),
                "actions": [asdict(a) for a in drift],
            }
    return report
