"""`modelops status`: desired state, and the registry's agreement with it when a registry is reachable."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.core.freeze import freeze_status
from modelops.core.pipeline import stages
from modelops.core.policy import PolicyConfig
from modelops.core.state import DesiredState


def collect_status(repo: str | None, offline: bool = False, now: datetime | None = None) -> dict[str, Any]:
    ctx = Context.discover(repo)
    state = ModelsDocument.load(ctx.models_path).state()
    config = PolicyConfig.load(ctx.repo)
    report: dict[str, Any] = {"models": {}}
    report["freeze"] = freeze_status(config.freeze_windows, now or datetime.now(UTC)).as_dict()
    for model in state.models.values():
        envs = {}
        for name, resolved in stages(model).items():
            env = model.environments[name]
            envs[env.name] = {
                "upstream": resolved.upstream,
                "soak_seconds": resolved.soak_seconds,
                "cluster": resolved.cluster,
                "namespace": resolved.namespace,
                "version": env.version,
                "previous": env.previous,
                "canary": env.canary.as_dict() if env.canary else None,
                "quarantined": list(env.quarantined),
                "alias": env.alias,
            }
        report["models"][model.name] = {"registered_model": model.registered_model, "environments": envs}
    if not offline and (ctx.sandbox or "MLFLOW_TRACKING_URI" in ctx.env):
        report["registry"] = registry_agreement(ctx, state)
    return report


def registry_agreement(ctx: Context, state: DesiredState) -> dict[str, Any]:
    """Read-only: does the registry agree with models.yaml? Never raises for an unreachable registry."""
    from modelops.adapters.registry import Registry
    from modelops.errors import ModelOpsError

    try:
        actions = Registry.for_context(ctx).follow(state, dry_run=True)
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


def format_status(report: dict[str, Any]) -> str:
    lines = []
    registry = report.get("registry") or {}
    for name, model in report["models"].items():
        lines.append(f"{name} ({model['registered_model']})")
        for env_name, env in model["environments"].items():
            pin = f"v{env['version']}" if env["version"] is not None else "unpinned"
            prev = f"v{env['previous']}" if env["previous"] is not None else "none"
            canary = f"v{env['canary']['version']} @ {env['canary']['traffic']}%" if env["canary"] else "none"
            quarantined = ", ".join(f"v{v}" for v in env["quarantined"]) or "none"
            line = (
                f"  {env_name:<11} {pin:<9} previous {prev:<5} canary {canary:<12} quarantined {quarantined}"
            )
            if env.get("upstream"):
                line += f"  after {env['upstream']}"
            agreement = registry.get("models", {}).get(name, {}).get(env_name)
            if agreement is not None:
                line += "  registry " + (
                    "in sync" if agreement["in_sync"] else f"DRIFT ({agreement['detail']})"
                )
            lines.append(line)
    if registry.get("error"):
        lines.append(f"registry: {registry['error']}")
    freeze = report.get("freeze") or {}
    for key, label in (("active", "freeze now"), ("next", "next freeze")):
        window = freeze.get(key)
        if window is not None:
            lines.append(f"{label}: {window['name']} {window['start']} → {window['end']}")
        elif key == "active":
            lines.append("freeze now: none (promotions open)")
    return "\n".join(lines)
