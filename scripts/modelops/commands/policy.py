from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "policy",
        help="check a models.yaml change against the promotion policy (policies/promotion.md)",
        description="Policies that guard what merges.",
    )
    actions = p.add_subparsers(dest="policy_command", metavar="ACTION")
    actions.required = True
    check = actions.add_parser(
        "check",
        parents=[parent],
        help="judge the models.yaml change between --base REF and the working tree",
        description="Evaluate the promotion policy on the change from models.yaml at REF to the working tree: "
        "owner approval, evaluation and lineage tags on each newly served version, no quarantined version, "
        "a canary step before 100 %%, one model per PR unless labelled multi-model, two owner approvals under "
        "the override label; rollbacks pass without review. Pull-request facts come from the flags "
        "(--approvals, --labels, --author) when given; otherwise, with --pr N, from the configured forge (the "
        "sandbox's local forge, or GitHub via GITHUB_TOKEN and GITHUB_REPOSITORY). Exit 0 allowed, 1 denied (each "
        "denial names the rule and the fix). --json prints {allowed, decisions: [{rule, passed, message, fix}]}.",
    )
    check.add_argument(
        "--base", required=True, metavar="REF", help="git ref of the target branch (e.g. origin/main)"
    )
    check.add_argument("--pr", type=int, metavar="N", help="the pull request number (named in the fixes)")
    check.add_argument(
        "--approvals", metavar="LOGINS", help="comma-separated logins with an approving review"
    )
    check.add_argument("--labels", metavar="LABELS", help="comma-separated labels on the pull request")
    check.add_argument(
        "--author", metavar="LOGIN", help="the pull request's author (their approval never counts)"
    )
    check.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the verdict as Markdown (for a PR comment or job summary)",
    )
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.policy import check_policy, explicit_facts, forge_facts_provider

    ctx = Context.discover(args.repo)
    stated = any(v is not None for v in (args.approvals, args.labels, args.author))
    provider = forge_facts_provider(ctx) if args.pr is not None and not stated else None
    facts = (
        None if provider is not None else explicit_facts(args.pr, args.approvals, args.labels, args.author)
    )
    result = check_policy(ctx, args.base, pr=args.pr, facts=facts, facts_provider=provider)
    lines = [d.render() for d in result.decisions]
    lines.append("allowed" if result.allowed else f"denied: {len(result.denials)} rule(s) failed")
    if args.markdown:
        from pathlib import Path

        from modelops.files import write_atomically

        table = "\n".join(
            f"| {'✅' if d.passed else '❌'} | `{d.rule}` | {d.message} | {d.fix if not d.passed else ''} |"
            for d in result.decisions
        )
        verdict = "allowed" if result.allowed else f"**denied**: {len(result.denials)} rule(s) failed"
        text = f"### Promotion policy: {verdict}\n\n| | rule | finding | fix |\n|---|---|---|---|\n{table}\n"
        write_atomically(Path(args.markdown), text)
    emit(args, result.as_dict(), "\n".join(lines))
    return 0 if result.allowed else 1
