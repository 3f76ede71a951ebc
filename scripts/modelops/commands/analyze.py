from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "analyze",
        parents=[parent],
        help="canary analysis from Prometheus: promote (next step PR), abort (rollback) or inconclusive",
        description="Compare the running canary with the stable version over the same window (since the "
        "canary started) on the metric contract: error rate, p99 latency from histogram buckets, score "
        "distribution (KS, PSI) and delayed labels when present. Tests stay valid under repeated looks. "
        "promote opens the PR for the next canary step or 100 %; abort drops the canary and quarantines "
        "its version (stable untouched); inconclusive waits. Missing, NaN or failed series never pass. "
        "Exit 0 promote or inconclusive, 1 abort or no verdict by the deadline, 2 no canary running, "
        "3 Prometheus unreachable.",
    )
    p.add_argument("--model", help="the model (with --env)")
    p.add_argument("--env", help="the environment running the canary")
    p.add_argument(
        "--all",
        action="store_true",
        help="every model and environment that runs a canary (the schedule's way)",
    )
    p.add_argument(
        "--prometheus", metavar="URL", help="Prometheus base URL (default: MODELOPS_PROMETHEUS_URL)"
    )
    p.add_argument("--out", metavar="DIR", help="write analysis.md and analysis.json there")
    p.add_argument(
        "--dry-run", action="store_true", help="decide and report, but open no PR and roll nothing back"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.errors import BadInput
    from modelops.flows.analyze import running_canaries
    from modelops.flows.chains import analyze

    if args.all == bool(args.model or args.env) or (not args.all and not (args.model and args.env)):
        raise BadInput("pass --model M --env E, or --all")
    ctx = Context.discover(args.repo)
    if args.all:
        targets = running_canaries(ctx)
        results = [
            analyze(
                ctx,
                model,
                env,
                prometheus_url=args.prometheus,
                act=not args.dry_run,
                out=Path(args.out) / f"{model}-{env}" if args.out else None,
            )
            for model, env in targets
        ]
        emit(
            args,
            [r.as_dict() for r in results],
            "\n".join(r.markdown() for r in results) or "no canary runs anywhere: nothing to analyse",
        )
        return 1 if any(r.analysis.verdict == "abort" or r.analysis.expired for r in results) else 0
    result = analyze(
        ctx,
        args.model,
        args.env,
        prometheus_url=args.prometheus,
        act=not args.dry_run,
        out=Path(args.out) if args.out else None,
    )
    human = result.markdown()
    if result.action == "rollback":
        human += f"\nrolled back: canary v{result.canary} dropped and quarantined ({result.detail.get('commit')})\n"
    elif result.action == "propose":
        human += (
            f"\nproposed: PR #{result.detail['pr']} to {result.detail['traffic']}% ({result.detail['url']})\n"
        )
    emit(args, result.as_dict(), human)
    failed = result.analysis.verdict == "abort" or result.analysis.expired
    return 1 if failed else 0
