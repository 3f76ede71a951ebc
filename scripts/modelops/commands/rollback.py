from __future__ import annotations

import argparse

from modelops.core.text import one_line_arg
from modelops.core.version import version_arg
from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "rollback",
        parents=[parent],
        help="commit the previous version back to models.yaml and quarantine the bad one",
        description="Return an environment to its recorded previous version (or drop a running canary), "
        "quarantine the bad version, re-render the overlays and commit directly to main with bounded "
        "fetch/re-apply/retry. Idempotent per incident. Exit 1 when no safe previous version exists.",
    )
    p.add_argument("--model", required=True)
    p.add_argument("--env", required=True)
    p.add_argument(
        "--reason", required=True, type=one_line_arg(), help="why; recorded in the commit and the history"
    )
    p.add_argument(
        "--incident",
        type=one_line_arg(100),
        help="incident id; a second rollback for the same incident does nothing",
    )
    p.add_argument(
        "--version", type=version_arg, help="the bad version (default: the canary if any, else the pin)"
    )
    p.add_argument(
        "--alert", type=one_line_arg(200), help="the alert that triggered it, for the commit message"
    )
    p.add_argument("--no-registry", action="store_true", help="leave the registry to sync-registry")
    p.add_argument(
        "--drill", action="store_true", help="a rehearsal: roll back without quarantining the version"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.rollback import rollback

    result = rollback(
        Context.discover(args.repo),
        model=args.model,
        env=args.env,
        reason=args.reason,
        incident=args.incident,
        alertname=args.alert,
        version=args.version,
        sync_registry=not args.no_registry,
        drill=args.drill,
    )
    human = (
        f"{args.model} {args.env}: already rolled back (nothing to do)"
        if result.already_done
        else f"{args.model} {args.env}: v{result.from_version} → v{result.to_version}, "
        f"committed {result.commit[:10] if result.commit else ''}"
        + ("" if args.drill else f"; v{result.from_version} quarantined")
    )
    emit(args, result.as_dict(), human)
    return 0
