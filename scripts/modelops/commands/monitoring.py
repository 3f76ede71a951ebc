from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "monitoring",
        help="render the alert rules and Alertmanager config for promtool or a local Prometheus",
        description="Monitoring as code. The PrometheusRule objects in monitoring/rules are what Argo CD "
        "syncs; `render` turns them into plain Prometheus rule files.",
    )
    monitoring_sub = p.add_subparsers(dest="monitoring_command", metavar="ACTION", required=True)
    render = monitoring_sub.add_parser(
        "render",
        parents=[parent],
        help="write plain rule files, their unit tests and alertmanager.yml for a profile",
        description="Write OUT/rules/*.yaml (the spec.groups of each PrometheusRule in monitoring/rules), "
        "OUT/tests/*.yaml (monitoring/tests, runnable with `promtool test rules`) and OUT/alertmanager.yml. "
        "The production profile keeps every duration; the demo profile divides `for`, evaluation "
        "intervals, PromQL windows, the burn-in and Alertmanager's timers by --factor (default 30: "
        "5m becomes 10s) and keeps every threshold.",
    )
    render.add_argument("--profile", choices=("production", "demo"), required=True, help="which durations")
    render.add_argument("--out", required=True, metavar="DIR", help="output directory")
    render.add_argument(
        "--factor", type=int, metavar="N", help="demo only: divide durations by N (default 30)"
    )
    render.add_argument(
        "--relay-url", metavar="URL", help="send rollback and retrain alerts to this relay URL"
    )
    render.add_argument(
        "--relay-token-file",
        metavar="FILE",
        help="bearer token file Alertmanager presents to the relay (with --relay-url and no token file, none)",
    )
    render.set_defaults(handler=run_render)


def run_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.core.alert_rules import Profile
    from modelops.flows.monitoring import describe, render

    profile = Profile.named(args.profile, args.factor)
    repo = Context.discover(args.repo).repo
    token_file = str(Path(args.relay_token_file).resolve()) if args.relay_token_file else None
    result = render(repo, profile, Path(args.out), relay_url=args.relay_url, relay_token_file=token_file)
    emit(args, result.as_dict(), describe(result))
    return 0
