from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "demo",
        parents=[parent],
        help="close the whole loop on this machine with real components, as a timeline",
        description="Build a sandbox and run the pipeline with real components: v1 and v2 reach "
        "production through staging and its soak; v2's 10 % canary is analysed from real traffic "
        "(Prometheus) and promoted, its PR to 100 % approved and merged; shifted traffic → drift → one "
        "debounced retrain → v3 in staging; v3's canary carries a fault, the analysis aborts it (v2 keeps "
        "serving, v3 quarantined); a freeze window denies a promotion; an incident during the freeze still "
        "rolls back (alert → Alertmanager → relay → rollback commit → serving converges). Exit 0 when every "
        "step passed.",
    )
    p.add_argument(
        "--model",
        default="churn",
        metavar="NAME",
        help="the model of models.yaml to run: churn (default) runs the whole pipeline above; any other "
        "runs the loop alone: v1 trained, evaluated, proposed, merged and served, v2 the same way, a fault "
        "in v2, its alert, the rollback to v1",
    )
    p.add_argument("--workdir", metavar="DIR", help="where to build the sandbox (default: a new temp dir)")
    p.add_argument("--quick", action="store_true", help="the test profile: shorter waits")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.sandbox.demo import run_demo

    source = Context.discover(args.repo).repo
    result = run_demo(
        Path(args.workdir) if args.workdir else None,
        source=source,
        quick=args.quick,
        echo=True,
        model=args.model,
    )
    data = result.as_dict()
    if args.json:
        data["steps"] = [
            {"name": s["name"], "ok": s["ok"], "seconds": s["seconds"], "detail": s["detail"]}
            for s in data["steps"]
        ]
    emit(args, data, None)
    return 0 if result.ok else 1
