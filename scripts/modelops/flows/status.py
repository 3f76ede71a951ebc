"""`modelops status`: desired state, and the registry's agreement with it when a registry is reachable."""

from __future__ import annotations

from typing import Any

from modelops.context import Context
from modelops.core.document import ModelsDocument


def collect_status(repo: str | None, offline: bool = False) -> dict[str, Any]:
    ctx = Context.discover(repo)
    state = ModelsDocument.load(ctx.models_path).state()
    report: dict[str, Any] = {"models": {}}
    for model in state.models.values():
        envs = {}
        for env in model.environments.values():
            envs[env.name] = {
                "version": env.version,
                "previous": env.previous,
                "canary": env.canary.as_dict() if env.canary else None,
                "quarantined": list(env.quarantined),
                "alias": env.alias,
            }
        report["models"][model.name] = {"registered_model": model.registered_model, "environments": envs}
    if not offline and (ctx.sandbox or "MLFLOW_TRACKING_URI" in ctx.env):
        from modelops.flows.sync_registry import registry_agreement

        report["registry"] = registry_agreement(ctx, state)
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
            agreement = registry.get("models", {}).get(name, {}).get(env_name)
            if agreement is not None:
                line += "  registry " + (
                    "in sync" if agreement["in_sync"] else f"DRIFT ({agreement['detail']})"
                )
            lines.append(line)
    if registry.get("error"):
        lines.append(f"registry: {registry['error']}")
    return "\n".join(lines)
