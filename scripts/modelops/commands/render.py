from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "render",
        parents=[parent],
        help="write applications/<model>/{base,overlays} from models.yaml (what Argo CD syncs)",
        description="Render each model's kustomize base and one overlay per environment from models.yaml: "
        "the pinned immutable version's storageUri, the canary split, replicas, labels. Files are written "
        "atomically and only when their content changes; generated files models.yaml no longer asks for are "
        "deleted. With --check nothing is written: exit 1 naming the files that differ. "
        "--json prints {changed, removed, unchanged}.",
    )
    p.add_argument(
        "--check", action="store_true", help="only compare: exit 1 when the files do not match models.yaml"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.render import render

    result = render(Context.discover(args.repo), check=args.check)
    if args.check:
        human = (
            f"applications: up to date ({result.unchanged} files)"
            if result.clean
            else "applications: out of date with models.yaml; run `modelops render`:\n"
            + "\n".join(
                f"  {p}{' (should not exist)' if p in result.removed else ''}" for p in result.changed
            )
        )
    else:
        human = "\n".join(
            [f"{'removed' if p in result.removed else 'wrote'} {p}" for p in result.changed]
            + [f"{len(result.changed)} changed, {result.unchanged} unchanged"]
        )
    emit(args, result.as_dict(), human)
    return 1 if args.check and not result.clean else 0
