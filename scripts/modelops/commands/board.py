from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "board",
        parents=[parent],
        help="write the delivery board: a static site of every model × environment",
        description="Write a self-contained static site (HTML + CSS, no external assets): the grid of "
        "models × environments (pin, canary, time served, registry agreement, quarantines linked to their "
        "rollback commits), a timeline per model, gate evidence and lineage per version, open promotion "
        "PRs, and a summary of the last 30 days. Built from git and models.yaml, plus the registry when it "
        "answers. The site is built beside DIR and swapped in, so a failure leaves the previous board.",
    )
    p.add_argument("--out", metavar="DIR", required=True, help="directory to write the site to")
    p.add_argument("--offline", action="store_true", help="do not ask the registry")
    p.add_argument(
        "--evidence",
        metavar="DIR",
        action="append",
        default=[],
        help="also read evaluation evidence (report.json + plots) under DIR; repeatable",
    )
    p.add_argument("--ref", default="HEAD", help="the git revision whose history the board shows")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.flows.board import write_board

    result = write_board(
        Context.discover(args.repo),
        Path(args.out),
        offline=args.offline,
        evidence_dirs=[Path(d) for d in args.evidence],
        ref=args.ref,
    )
    human = (
        f"board: {result.index} ({result.models} models × {result.environments} environments, "
        f"{result.pages} pages; registry {result.registry})"
    )
    if result.notes:
        human += "\n" + "\n".join(f"  note: {n}" for n in result.notes)
    emit(args, result.as_dict(), human)
    return 0
