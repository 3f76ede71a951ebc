from __future__ import annotations

import argparse

from modelops.output import emit


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "train",
        parents=[parent],
        help="train a model on DVC-verified data, log it to MLflow and register a candidate version",
        description="Fit the model's scikit-learn Pipeline (params.yaml `<model>:` section) on the DVC-tracked "
        "training data, log params, metrics, the model (signature + input example) and the data profile to "
        "MLflow, register a new version tagged with its lineage (git commit, DVC md5s, params hash) and point "
        "the `candidate` alias at it. Refuses (exit 3) when the data on disk is not at the md5 dvc.lock "
        "declares: run `dvc pull` first.",
    )
    p.add_argument("--model", required=True, metavar="NAME", help="model name in models.yaml, e.g. churn")
    p.add_argument(
        "--params", metavar="FILE", help="parameters file (default: params.yaml in the repository)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.train import train

    result = train(Context.discover(args.repo), args.model, args.params)
    auc = result.metrics.get("validation_roc_auc")
    human = "\n".join(
        [
            f"{result.model}: registered {result.registered_model} version {result.version} "
            f"(alias candidate){f'; validation ROC AUC {auc:.4f}' if auc is not None else ''}",
            f"  run:     {result.run_url}",
            f"  version: {result.version_url}",
        ]
    )
    emit(args, result.as_dict(), human)
    return 0
