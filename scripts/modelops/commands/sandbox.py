from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "sandbox",
        help="build a local delivery world: bare origin, working clone, MLflow registry, DVC remote, forge",
        description="Sandboxes run the whole loop on one machine with no accounts.",
    )
    sandbox_sub = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    create = sandbox_sub.add_parser(
        "create",
        parents=[parent],
        help="create a sandbox in DIR from the current checkout",
        description="Create DIR/origin.git (bare), DIR/repo (working clone), DIR/mlflow (SQLite registry), "
        "DIR/dvc-remote and DIR/forge. Inside DIR/repo every modelops command uses them.",
    )
    create.add_argument("dir", metavar="DIR", help="a new or empty directory")
    create.set_defaults(handler=run_create)


def run_create(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.sandbox.world import create_sandbox

    source = Context.discover(args.repo).repo
    sandbox = create_sandbox(Path(args.dir), source)
    emit(
        args,
        sandbox.as_dict(),
        f"sandbox ready in {sandbox.workdir}\n  repo         {sandbox.repo}\n  origin       {sandbox.origin}\n"
        f"  registry     {sandbox.tracking_uri}\n  dvc remote   {sandbox.dvc_remote}\n"
        f"  forge        {sandbox.forge}\nNext: cd {sandbox.repo} && modelops status",
    )
    return 0
