from __future__ import annotations

import argparse

from modelops.core.version import version_arg
from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[parent],
        help="gate a candidate version against the environment's champion on the DVC golden set",
        description="Score the candidate and the champion (the version models.yaml pins in --env) on the "
        "DVC-verified golden set; promote only if the paired-bootstrap CI lower bound of the primary metric's "
        "gain clears models.yaml's gate.margin and every guardrail passes (floor, slices, calibration, p99 "
        "latency, fairness). Writes report.md, report.json and plots to --out and logs them on the candidate's "
        "MLflow run. Exit 0 passed, 1 the gate said no, 2 bad input, 3 golden set missing/altered or MLflow "
        "failed.",
    )
    p.add_argument("--model", required=True, metavar="NAME", help="model name in models.yaml, e.g. churn")
    p.add_argument(
        "--candidate", required=True, type=version_arg, metavar="V", help="registry version to judge"
    )
    p.add_argument("--env", default="production", metavar="ENV", help="environment whose pin is the champion")
    p.add_argument("--out", metavar="DIR", help="evidence directory (default: <state dir>/evidence/...)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.errors import EXIT_DENIED
    from modelops.flows.evaluate import evaluate

    report = evaluate(Context.discover(args.repo), args.model, args.candidate, args.env, args.out)
    data = report.as_dict()
    lines = [
        f"{data['registered_model']} v{data['candidate_version']} vs {args.env} champion "
        f"{'v' + str(data['champion_version']) if data['champion_version'] is not None else '(none)'}: "
        f"{'PASSED' if report.passed else 'BLOCKED'}"
    ]
    for check in data["checks"]:
        value = "—" if check["value"] is None else f"{check['value']:.4f}"
        threshold = "—" if check["threshold"] is None else f"{check['threshold']:.4f}"
        lines.append(
            f"  {'ok  ' if check['passed'] else 'FAIL'} {check['name']}: {value} (threshold {threshold})"
        )
    lines.append(f"evidence: {report.out_dir}")
    emit(args, data, "\n".join(lines))
    return 0 if report.passed else EXIT_DENIED
