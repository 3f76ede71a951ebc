"""A user's training script for the contract tests: `python contract_trainer.py MODE`.

pyfunc  a custom pyfunc model (no sklearn flavour) — "any flavour" is accepted;
none    logs no model;  two  logs two models;  nosig  a model without a signature;
crash   fails after logging a metric.
"""

from __future__ import annotations

import json
import os
import sys

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature

FEATURES = ["tenure_months", "monthly_charges", "contract"]


class ShortTenure(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return (model_input["tenure_months"] < 12).astype(float).to_numpy()


def log(name: str, x: pd.DataFrame, signature: bool = True) -> None:
    mlflow.pyfunc.log_model(
        name=name,
        python_model=ShortTenure(),
        signature=infer_signature(x, ShortTenure().predict(None, x)) if signature else None,
        input_example=x if signature else None,
        pip_requirements=["mlflow"],
    )


mode = sys.argv[1]
modelops_run = os.environ["MLFLOW_RUN_ID"]  # start_run() consumes it when it resumes the run
params = json.loads(os.environ["MODELOPS_PARAMS_JSON"])
x = pd.read_csv(os.environ["MODELOPS_TRAIN_DATA"]).head(5)[FEATURES]
with mlflow.start_run() as run:
    print(f"user code: run {run.info.run_id} for {os.environ['MODELOPS_MODEL']}", flush=True)
    mlflow.log_params(
        {
            "seen.run_is_modelops": run.info.run_id == modelops_run,
            "seen.target": params["target"],
            "seen.tracking_uri": os.environ["MLFLOW_TRACKING_URI"],
        }
    )
    if mode == "crash":
        mlflow.log_metric("progress", 0.5)
        raise RuntimeError("the user's code broke")
    if mode in ("pyfunc", "two"):
        log("model", x)
    if mode == "two":
        log("other", x)
    if mode == "nosig":
        log("model", x, signature=False)
