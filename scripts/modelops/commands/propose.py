from __future__ import annotations

import argparse

from modelops.core.text import one_line_arg
from modelops.core.version import version_arg
from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "propose",
        parents=[parent],
        help="open (or update) the promotion PR that bumps models.yaml and the overlays",
        description="Propose a version for an environment: checks eval.passed against the env's current "
        "champion and the quarantine, edits models.yaml (round-trip) and the overlays on branch "
        "promote/<model>/<env>/v<version>, and opens or updates one pull request with the evidence, "
        "lineage, rollback plan and checklist. A production promotion of a model with canary steps "
        "starts as a canary. Exit 1 when the version may not be proposed.",
    )
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True, type=version_arg)
    p.add_argument("--env", required=True)
    p.add_argument(
        "--traffic", type=int, help="traffic percent (default: the model's first canary step, then 100)"
    )
    p.add_argument(
        "--override-reason",
        metavar="TEXT",
        type=one_line_arg(),
        help="propose despite a failed or stale evaluation or a quarantine; labels the PR `override`",
    )
    p.add_argument("--evidence", metavar="DIR", help="evaluation output directory holding report.md")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.flows.chains import promote

    result = promote(
        Context.discover(args.repo),
        args.model,
        args.version,
        args.env,
        traffic=args.traffic,
        override_reason=args.override_reason,
        evidence_dir=Path(args.evidence) if args.evidence else None,
    )
    verb = "opened" if result.created else "updated"
    human = f"{verb} #{result.pr}: {result.title}\n  {result.url}\n  branch {result.branch}"
    if result.superseded:
        human += "\n  superseded " + ", ".join(f"#{n}" for n in result.superseded)
    if result.merged:
        human += f"\n  auto-merged as {str(result.merge_commit)[:10]}"
    if result.auto_merge_skipped:
        import sys

        print(f"modelops: warning: not auto-merged: {result.auto_merge_skipped}", file=sys.stderr)
    emit(args, result.as_dict(), human)
    return 0
