from __future__ import annotations

import argparse
from typing import Any

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "status",
        parents=[parent],
        help="show the desired state per model and environment, and whether the registry agrees",
        description="Show each model's pinned version, previous version, canary and quarantined versions "
        "per environment. When a registry is configured (a sandbox, or MLFLOW_TRACKING_URI), also show "
        "whether its aliases agree with models.yaml.",
    )
    p.add_argument("--offline", action="store_true", help="do not ask the registry")
    p.add_argument(
        "--same-as",
        metavar="FILE",
        help="exit 1 unless every pinned version and canary is the one FILE (an earlier `status --json`) "
        "recorded, naming each difference (the drill checks that a rollback restored what served)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.flows.status import collect_status, format_status

    report = collect_status(args.repo, offline=args.offline)
    if not args.same_as:
        emit(args, report, format_status(report))
        return 0
    import json
    from pathlib import Path

    from modelops.errors import EXIT_DENIED, BadInput

    try:
        before = json.loads(Path(args.same_as).read_text("utf-8"))
        differences = _differences(before["models"], report["models"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"--same-as {args.same_as}: not a `modelops status --json` output ({exc})") from None
    report["same_as"] = {"file": args.same_as, "differences": differences}
    emit(
        args,
        report,
        format_status(report) + "".join(f"\ndiffers from {args.same_as}: {d}" for d in differences),
    )
    return EXIT_DENIED if differences else 0


def _differences(before: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    for model in sorted(set(before) | set(now)):
        envs_before = (before.get(model) or {}).get("environments", {})
        envs_now = (now.get(model) or {}).get("environments", {})
        for env in sorted(set(envs_before) | set(envs_now)):
            was, new = envs_before.get(env) or {}, envs_now.get(env) or {}
            for key in ("version", "canary"):
                if was.get(key) != new.get(key):
                    found.append(f"{model} {env} {key}: {was.get(key)} then, {new.get(key)} now")
    return found
