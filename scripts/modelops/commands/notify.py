from __future__ import annotations

import argparse

from modelops.core.text import one_line_arg
from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "notify",
        help="tell people and Prometheus about a failed automatic action",
        description="Notifications that workflows send when automation fails.",
    )
    notify_sub = p.add_subparsers(dest="notify_command", metavar="EVENT", required=True)
    failed = notify_sub.add_parser(
        "rollback-failed",
        parents=[parent],
        help="raise ModelRollbackFailed and notify",
        description="Log the failure, bump modelops_rollback_failed_total (a textfile under the state "
        "directory; and a Pushgateway when MODELOPS_PUSHGATEWAY_URL is set) so ModelRollbackFailed pages, "
        "and on GitHub open an issue.",
    )
    failed.add_argument("--model", required=True)
    failed.add_argument("--env", required=True)
    failed.add_argument("--reason", required=True, type=one_line_arg())
    failed.add_argument("--incident", type=one_line_arg(100))
    failed.set_defaults(handler=run_rollback_failed)


def run_rollback_failed(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.notify import rollback_failed

    result = rollback_failed(
        Context.discover(args.repo),
        model=args.model,
        env=args.env,
        reason=args.reason,
        incident=args.incident,
    )
    emit(args, result.as_dict(), f"notified via {', '.join(result.channels)}")
    return 0
