from __future__ import annotations

import argparse

from modelops.core.text import one_line_arg
from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "pr",
        help="pull requests: list, show, approve (local forge), merge, close",
        description="The sandbox's stand-in for GitHub pull requests. `merge` makes a real merge commit on "
        "origin/main and refuses without the approvals the promotion policy requires.",
    )
    pr_sub = p.add_subparsers(dest="pr_command", metavar="ACTION", required=True)
    listing = pr_sub.add_parser("list", parents=[parent], help="list pull requests")
    listing.add_argument("--state", default="open", choices=["open", "closed", "merged", "all"])
    listing.set_defaults(handler=run_list)
    for name, helptext in (
        ("show", "show one pull request"),
        ("approve", "record an approving review"),
        ("merge", "merge into main when policy allows"),
        ("close", "close without merging"),
    ):
        action = pr_sub.add_parser(name, parents=[parent], help=helptext)
        if name == "merge":
            action.add_argument("number", type=int, nargs="?")
            action.add_argument(
                "--proposal",
                metavar="FILE",
                help="merge the PR a `modelops propose --json` run wrote to FILE. On GitHub the merge is "
                "made with GITHUB_TOKEN now, under main's rules: only a bypass actor (the App) may merge "
                "an unreviewed PR, as the drill does",
            )
        else:
            action.add_argument("number", type=int)
        if name == "approve":
            action.add_argument(
                "--as",
                dest="user",
                required=True,
                metavar="USER",
                type=one_line_arg(100),
                help="the reviewer's login",
            )
        if name == "close":
            action.add_argument("--comment", type=one_line_arg(), help="why it is closed")
        action.set_defaults(handler=globals()[f"run_{name}"])


def _forge(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from modelops.adapters.forges import forge_for
    from modelops.context import Context

    ctx = Context.discover(args.repo)
    return ctx, forge_for(ctx)


def _line(pr) -> str:  # type: ignore[no-untyped-def]
    approvals = ", ".join(pr.approvals) or "none"
    return f"#{pr.number:<4} {pr.state:<7} {pr.title}  [{', '.join(pr.labels)}]  approvals: {approvals}"


def _data(pr) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from dataclasses import asdict

    data = asdict(pr)
    data["approvals"] = list(pr.approvals)
    return data


def run_list(args: argparse.Namespace) -> int:
    _, forge = _forge(args)
    prs = forge.list(args.state)
    emit(
        args,
        {"prs": [_data(p) for p in prs]},
        "\n".join(_line(p) for p in prs) or f"no {args.state} pull requests",
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    _, forge = _forge(args)
    pr = forge.get(args.number)
    emit(args, _data(pr), f"{_line(pr)}\n  {pr.url}\n  branch {pr.head} → {pr.base}\n\n{pr.body}")
    return 0


def run_approve(args: argparse.Namespace) -> int:
    from modelops.adapters.forges import local_forge
    from modelops.context import Context

    pr = local_forge(Context.discover(args.repo)).approve(args.number, args.user)
    emit(args, _data(pr), f"{args.user} approved #{pr.number}")
    return 0


def _number(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from modelops.errors import BadInput

    if (args.number is None) == (args.proposal is None):
        raise BadInput("name the pull request: a NUMBER or --proposal FILE")
    if args.number is not None:
        return int(args.number)
    try:
        number = json.loads(Path(args.proposal).read_text("utf-8"))["pr"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(
            f"--proposal {args.proposal}: not a `modelops propose --json` output ({exc})"
        ) from None
    if not isinstance(number, int) or isinstance(number, bool):
        raise BadInput(f"--proposal {args.proposal}: pr {number!r} is not a pull request number")
    return number


def run_merge(args: argparse.Namespace) -> int:
    from modelops.adapters.local_forge import LocalForge
    from modelops.flows.policy import merge_pull_request

    ctx, forge = _forge(args)
    number = _number(args)
    if not isinstance(forge, LocalForge):
        pr = forge.merge(number)
        emit(args, _data(pr), f"merged #{pr.number} as {str(pr.merge_commit)[:10]}")
        return 0
    pr = merge_pull_request(ctx, number, by=ctx.actor)
    emit(args, _data(pr), f"merged #{pr.number} as {str(pr.merge_commit)[:10]}")
    return 0


def run_close(args: argparse.Namespace) -> int:
    _, forge = _forge(args)
    pr = forge.close(args.number, args.comment)
    emit(args, _data(pr), f"closed #{pr.number}")
    return 0
