from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "init",
        help="scaffold something new in the repository (init model NAME --task T)",
        description="Scaffold something new in the repository. `init model` is the only kind so far.",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    m = kinds.add_parser(
        "model",
        parents=[parent],
        help="a new model: models.yaml entry, params, DVC stage, training script, overlays, alerts, owners",
        description="Scaffold model NAME: its models.yaml entry (task, gate, drift, environments), its "
        "params.yaml section, a DVC stage with tiny synthetic data (training/NAME_data.py, to replace with "
        "your data), a training script that honours the training contract (training/NAME.py, to replace "
        "with your model), the rendered kustomize base and overlays, its alert rules with promtool tests "
        "and its CODEOWNERS lines. Edits are round trips: the rest of each file stays as it was. All files "
        "are written or none: exit 2 with one line when NAME exists or is not a Kubernetes name "
        "(RFC 1123 label). --dry-run prints the plan only; --json prints {model, task, created, "
        "modified, written, dry_run, next}.",
    )
    m.add_argument("name", metavar="NAME", help="the model's name (a Kubernetes name: e.g. fraud)")
    m.add_argument(
        "--task",
        required=True,
        choices=["binary", "multiclass", "regression"],
        help="what the model predicts",
    )
    m.add_argument(
        "--owner",
        action="append",
        metavar="LOGIN",
        help="a reviewer whose approval counts for this model (repeat for more; default NAME-owners)",
    )
    m.add_argument("--description", help="one line: what the model predicts")
    m.add_argument("--dry-run", action="store_true", help="print the files init would write; write none")
    m.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.init_model import init_model

    result = init_model(
        Context.discover(args.repo),
        args.name,
        args.task,
        owners=args.owner,
        description=args.description,
        dry_run=args.dry_run,
    )
    verb = "would create" if args.dry_run else "created"
    lines = [f"{verb} {p}" for p in sorted(result.plan.created)]
    lines += [f"{'would modify' if args.dry_run else 'modified'} {p}" for p in sorted(result.plan.modified)]
    if not args.dry_run:
        lines += ["", f"model {args.name} ({args.task}) is scaffolded; next:"]
        lines += [f"  {s}" for s in result.next_steps]
    emit(args, result.as_dict(), "\n".join(lines))
    return 0
