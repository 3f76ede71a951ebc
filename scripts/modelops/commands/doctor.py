from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "doctor",
        help="check a fork's setup on GitHub: one line per item, ok or what to fix",
        description="Checks through the GitHub API what the workflows need: the GitHub App and its "
        "permissions, main's rulesets (history, pull request, required checks, bypass), auto-merge, "
        "environments and their reviewers, the variables and secrets the workflows read, CODEOWNERS, "
        "and the relay's dispatch permission. Reads GITHUB_TOKEN (a repository admin's), "
        "GITHUB_REPOSITORY and GITHUB_API_URL. Exit 0 all required items ok, 1 something required is "
        "missing, 2 bad input, 3 GitHub failed.",
    )
    doctor_sub = p.add_subparsers(dest="doctor_command", metavar="TARGET", required=True)
    gh = doctor_sub.add_parser("github", parents=[parent], help="the repository's setup on GitHub")
    gh.add_argument(
        "--app-client-id",
        metavar="ID",
        help="the GitHub App's client ID (default: MODELOPS_APP_CLIENT_ID)",
    )
    gh.add_argument(
        "--app-key", metavar="FILE", help="the App's private key: check its installation and permissions"
    )
    gh.add_argument("--relay-client-id", metavar="ID", default="", help="the relay's App client ID")
    gh.add_argument("--relay-key", metavar="FILE", help="the relay's App private key: check it may dispatch")
    gh.add_argument(
        "--relay-dispatch",
        choices=("repository", "workflow"),
        default="repository",
        help="how the relay starts workflows (as `modelops relay --github-dispatch`)",
    )
    gh.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.core.doctor import failed
    from modelops.errors import EXIT_DENIED, BadInput
    from modelops.flows.doctor import doctor_github

    ctx = Context.discover(args.repo)
    if args.relay_key and not args.relay_client_id:
        raise BadInput("--relay-key needs --relay-client-id")
    if args.app_key and not (args.app_client_id or ctx.env.get("MODELOPS_APP_CLIENT_ID")):
        raise BadInput("--app-key needs --app-client-id or MODELOPS_APP_CLIENT_ID")
    checks = doctor_github(
        ctx,
        app_client_id=args.app_client_id or ctx.env.get("MODELOPS_APP_CLIENT_ID", ""),
        app_key=args.app_key,
        relay_client_id=args.relay_client_id,
        relay_key=args.relay_key,
        relay_mode=args.relay_dispatch,
    )
    bad = failed(checks)
    emit(
        args,
        {
            "ok": not bad,
            "repository": ctx.env.get("GITHUB_REPOSITORY"),
            "checks": [c.as_dict() for c in checks],
        },
        "\n".join(c.line() for c in checks)
        + ("\n\nsomething required is missing" if bad else "\n\nall green"),
    )
    return EXIT_DENIED if bad else 0
