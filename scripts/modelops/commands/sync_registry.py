from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "sync-registry",
        parents=[parent],
        help="make the MLflow aliases follow models.yaml (git → registry)",
        description="For every model and environment, point <alias>, <alias>-previous and <alias>-canary "
        "at the versions models.yaml pins. Idempotent. Aliases moved by hand are reported and put back.",
    )
    p.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from modelops.context import Context
    from modelops.flows.sync_registry import sync_registry

    ctx = Context.discover(args.repo)
    actions = sync_registry(ctx, dry_run=args.dry_run)
    changed = [a for a in actions if a.action != "ok"]
    lines = [
        f"{a.model} {a.env}: {a.alias} {a.action}"
        + (f" (was v{a.actual})" if a.actual is not None and a.action != "set" else "")
        + (f" → v{a.desired}" if a.desired is not None else "")
        for a in changed
    ]
    emit(
        args,
        {
            "dry_run": args.dry_run,
            "changed": [asdict(a) for a in changed],
            "in_sync": len(actions) - len(changed),
        },
        "\n".join(lines) if lines else "registry already follows models.yaml",
    )
    return 0
