from __future__ import annotations

import argparse
import json

from modelops.output import emit, github_output


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "train-matrix",
        parents=[parent],
        help="list the models whose training code, params or data changed between two refs",
        description="Compare two commits and list each model to train: a new model; a changed "
        "train.command or a file it names; a changed params.yaml section; a changed DVC stage that writes "
        "its training table (dvc.yaml, dvc.lock, the params and files the stage depends on). A docs-only "
        "change trains none. --json prints {base, head, models: [{model, reasons}], matrix: {include: "
        "[{model}]}} for a workflow's strategy.matrix; `modelops changes` is the same for served pins.",
    )
    p.add_argument(
        "--base",
        required=True,
        metavar="REF",
        help="the commit to compare with (e.g. HEAD~1, a push's `before`; 40 zeros: train every model)",
    )
    p.add_argument("--head", default="HEAD", metavar="REF", help="the commit to train (default HEAD)")
    p.add_argument(
        "--model", metavar="NAME", help="train this model whatever changed (a dispatch); empty: not given"
    )
    p.add_argument(
        "--github-output",
        metavar="FILE",
        help="also append matrix=<JSON> and any=true|false to FILE (a step's $GITHUB_OUTPUT)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.train_matrix import train_matrix

    result = train_matrix(Context.discover(args.repo), args.base, args.head, args.model or None)
    report = result.as_dict()
    github_output(
        args.github_output,
        matrix=json.dumps(report["matrix"], separators=(",", ":")),
        any="true" if result.models else "false",
    )
    human = (
        "\n".join(f"{m.model}: {'; '.join(m.reasons)}" for m in result.models)
        if result.models
        else f"no model's training code, params or data changed between {args.base} and {args.head}"
    )
    emit(args, report, human)
    return 0
