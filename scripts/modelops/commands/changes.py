from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "changes",
        parents=[parent],
        help="list the (model, env) pins, canaries and quarantines changed since a git ref",
        description="Compare models.yaml at REF with the working tree and list each model and environment "
        "whose served state changed (kind: promote, rollback, canary, canary-stop, unpin, quarantine, scale, "
        "added, removed). --json prints {changes: [{model, env, from, to, kind, ...}], matrix: {include: "
        "[{model, env, kind}]}} for a workflow's strategy.matrix.",
    )
    p.add_argument(
        "--base", required=True, metavar="REF", help="the git ref to compare with (e.g. HEAD~1, origin/main)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.changes import changes_since, format_report, report

    changes = changes_since(Context.discover(args.repo), args.base)
    emit(args, report(changes), format_report(changes, args.base))
    return 0
