from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "train",
        parents=[parent],
        help="run the model's training command in an MLflow run and register a candidate version",
        description="Verify the training data against dvc.lock, start an MLflow run, and run the model's "
        "`train.command` (models.yaml) in the repository with MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, "
        "MODELOPS_MODEL, MODELOPS_TRAIN_DATA and MODELOPS_PARAMS_JSON set, streaming its output. The command "
        "logs exactly one MLflow model named `model` (any flavour) with a signature and an input example; "
        "modelops then records the lineage (git commit, DVC md5s, params hash, command) and the data profile, "
        "registers a new version and points the `candidate` alias at it. With `train.backend: argo` the "
        "command runs as an Argo Workflow from train.argo.template instead, followed to its end with its "
        "logs; a timeout deletes it. Exit 2 when the command exits 2, "
        "logs no model, a second model or one without a signature or input example; exit 3 when the data "
        "is not at the md5 dvc.lock declares (run `dvc pull`), the command or its Workflow fails, or the "
        "cluster does. A failed run is marked "
        "FAILED and nothing is registered.",
    )
    p.add_argument("--model", required=True, metavar="NAME", help="model name in models.yaml, e.g. churn")
    p.add_argument(
        "--params", metavar="FILE", help="parameters file (default: params.yaml in the repository)"
    )
    p.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="train.backend argo: seconds between polls of the Workflow (default 5)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.train import train

    result = train(Context.discover(args.repo), args.model, args.params, poll_seconds=args.interval)
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
