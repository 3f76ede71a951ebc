from __future__ import annotations

import argparse

from modelops.core.text import one_line_arg
from modelops.output import emit, github_output


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "retrain",
        parents=[parent],
        help="ask for a retrain (debounced) and, when allowed, train, evaluate and open a promotion PR",
        description="Record a retrain request in the retrain ledger and decide: no run while one is in "
        "flight, none within the model's drift.cooldown_hours of the last (manual requests excepted), minor "
        "drift waits for the scheduled run. When the decision is go, train a new version, evaluate it "
        "against the --env champion (staging) and open a promotion PR to it (never merged automatically). "
        "With --trigger drift and no --severity, the severity comes from the drift windows recorded by "
        "`modelops drift` (sustained over drift.sustained_windows). Exit 0 proposed or debounced, "
        "1 the candidate failed the gate (a normal outcome; retrain.yml stays green), 2 bad input, "
        "3 an external system failed.",
    )
    p.add_argument("--model", required=True, help="model name (a key of models.yaml)")
    p.add_argument(
        "--trigger", choices=("drift", "schedule", "manual"), default="manual", help="why (default manual)"
    )
    p.add_argument(
        "--severity",
        choices=("major", "minor"),
        help="major goes now, minor waits for the schedule (default: major, or from the drift ledger for drift)",
    )
    p.add_argument("--reason", default="", type=one_line_arg(), help="free text recorded with the request")
    p.add_argument(
        "--env",
        default="staging",
        help="environment whose champion the candidate must beat and that it is proposed to (default "
        "staging: production promotions start from there, past the production environment's reviewers)",
    )
    p.add_argument(
        "--no-propose",
        action="store_true",
        help="stop after the gate; a later step that holds the write token proposes (retrain.yml)",
    )
    p.add_argument(
        "--github-output",
        metavar="FILE",
        help="also append version=N and gate=passed|failed to FILE (a step's $GITHUB_OUTPUT)",
    )
    p.add_argument(
        "--decided",
        metavar="WHO",
        type=one_line_arg(),
        help="the run was already decided elsewhere (e.g. 'retrain ledger run #7' of the relay, or a "
        "schedule): skip the request step and only execute. Required on a GitHub runner, whose ledger "
        "starts empty every run and so cannot debounce",
    )
    p.add_argument("--out", metavar="DIR", help="evidence directory (default: the state dir)")
    p.add_argument(
        "--run-id",
        type=int,
        metavar="N",
        help="execute ledger run N that a dispatcher already decided (skips the request step)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import sys
    from pathlib import Path

    from modelops.context import Context
    from modelops.errors import EXIT_DENIED, BadInput
    from modelops.flows import chains
    from modelops.flows import retrain as flow

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    flow.LOG.addHandler(handler)
    flow.LOG.setLevel(logging.INFO)

    ctx = Context.discover(args.repo)
    out = Path(args.out) if args.out else None
    reason = args.reason or f"{args.trigger} retrain"
    data: dict[str, object] = {}
    run_id = args.run_id
    if args.decided:
        data["decided"] = args.decided
        reason = args.reason or f"{args.trigger} retrain ({args.decided})"
    elif run_id is None and ctx.env.get("GITHUB_ACTIONS") == "true":
        raise BadInput(
            "retrain on a GitHub runner: its retrain ledger starts empty every run, so it cannot "
            "debounce; pass --decided WHO (the relay debounces drift in its own ledger)"
        )
    if run_id is None and not args.decided:
        if args.trigger == "drift" and args.severity is None:
            decision = flow.request_retrain_for_drift(ctx, model=args.model, env=args.env, dispatch=None)
        else:
            decision = flow.request_retrain(
                ctx,
                model=args.model,
                severity=args.severity or "major",
                reason=reason,
                source=args.trigger,
                dispatch=None,
            )
        data["decision"] = decision.as_dict()
        if not decision.go:
            emit(args, data, f"{args.model}: retrain {decision.action}: {decision.reason}")
            return 0
        run_id = decision.run_id
    outcome = chains.run_retrain(
        ctx, args.model, reason, run_id=run_id, env=args.env, open_pr=not args.no_propose, out_dir=out
    )
    github_output(args.github_output, version=outcome.version, gate="passed" if outcome.passed else "failed")
    data["retrain"] = outcome.as_dict()
    human = f"{args.model}: {outcome.outcome}" + (f" ({outcome.pr})" if outcome.pr else "")
    emit(args, data, human)
    return 0 if outcome.passed else EXIT_DENIED
