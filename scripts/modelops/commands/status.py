from __future__ import annotations

import argparse

from modelops.output import emit


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "status",
        parents=[parent],
        help="show the desired state per model and environment, and whether the registry agrees",
        description="Show each model's pinned version, previous version, canary and quarantined versions "
        "per environment. When a registry is configured (a sandbox, or MLFLOW_TRACKING_URI), also show "
        "whether its aliases agree with models.yaml.",
    )
    p.add_argument("--offline", action="store_true", help="do not ask the registry")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.flows.status import collect_status, format_status

    report = collect_status(args.repo, offline=args.offline)
    emit(args, report, format_status(report))
    return 0
