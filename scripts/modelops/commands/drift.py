from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "drift",
        parents=[parent],
        help="compare a window of live inputs with the training reference",
        description="Compare a window of live inputs (CSV or Parquet with the model's feature columns and "
        "optionally `prediction`, or the serving runtime's summaries as a JSON snapshot or Prometheus text) "
        "with the reference (default: the DVC-tracked data/<model>/train.csv, narrowed to the window's month "
        "when drift.seasonal_reference is same_month). Numeric features: KS test and PSI; categorical: "
        "chi-squared and PSI; p-values adjusted with Benjamini-Hochberg; a feature drifts only when "
        "significant AND beyond its effect band (models.yaml drift:). Pipeline problems (sudden PSI jump, "
        "null-rate jump, constant feature, unseen categories) are reported apart. The window is recorded in "
        "the retrain ledger so sustained drift can trigger retraining. Exit 0 no drift, 1 drift or a "
        "pipeline problem, 2 bad input.",
    )
    p.add_argument("--model", required=True, help="model name (a key of models.yaml)")
    p.add_argument(
        "--current", required=True, metavar="FILE", help="the live window: .csv, .parquet, .json or .prom"
    )
    p.add_argument(
        "--env", default="production", help="environment the window comes from (default production)"
    )
    p.add_argument("--reference", metavar="FILE", help="reference table (default data/<model>/train.csv)")
    p.add_argument(
        "--out", metavar="DIR", help="write report.md, report.json, drift.png and metrics.prom here"
    )
    p.add_argument(
        "--score",
        action="store_true",
        help="score the reference (and a window without `prediction`) with the version pinned in --env",
    )
    p.add_argument("--no-record", action="store_true", help="do not record this window in the retrain ledger")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.errors import EXIT_DENIED
    from modelops.flows.drift import champion_scorer, run_drift

    ctx = Context.discover(args.repo)
    scorer = champion_scorer(ctx, args.model, args.env) if args.score else None
    if args.score and scorer is None:
        from modelops.output import progress

        progress(f"no version pinned in {args.env}: prediction scores are not compared")
    result = run_drift(
        ctx,
        model=args.model,
        current=Path(args.current),
        env=args.env,
        reference=Path(args.reference) if args.reference else None,
        out_dir=Path(args.out) if args.out else None,
        scorer=scorer,
        record=not args.no_record,
    )
    report = result.report
    lines = [
        f"{report.model} ({report.env}): {'DRIFT' if report.drift else 'no drift'} vs {report.reference}"
    ]
    for f in report.all_results:
        if f.status != "stable":
            c = f.comparison
            ks = f", KS D {c.ks_d:.3f}" if c.ks_d is not None else ""
            lines.append(f"  {f.feature}: {f.status} (PSI {c.psi:.3f}{ks}, adjusted p {f.p_adjusted:.2g})")
    for s in report.pipeline_signals:
        lines.append(f"  pipeline: {s.feature}: {s.kind}: {s.detail}")
    for path in result.files.values():
        lines.append(f"  wrote {path}")
    emit(args, result.as_dict(), "\n".join(lines))
    return EXIT_DENIED if report.drift or report.pipeline_signals else 0
