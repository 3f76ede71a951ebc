"""Train the churn classifier: a plain training script, as a user of modelops would write one.

modelops runs it as `train.command` (models.yaml) inside an MLflow run it has already started, with
  MLFLOW_TRACKING_URI, MLFLOW_RUN_ID   the registry and the active run (mlflow.start_run() resumes it);
  MODELOPS_TRAIN_DATA                  the DVC-verified training table (CSV);
  MODELOPS_PARAMS_JSON                 this model's section of params.yaml, as JSON.
Its job: fit, log whatever it wants, and log exactly one MLflow model named `model` with a signature
and an input example. modelops records the lineage and registers the version afterwards.
Exit 2 means "my parameters are wrong" (modelops reports bad input); any other failure is a failed run.
"""

from __future__ import annotations

import json
import os
import sys

ESTIMATORS = ("hist_gradient_boosting", "logistic_regression")
# Keys of `train` that steer this script rather than the estimator.
SCRIPT_KEYS = {"estimator", "validation_fraction", "random_state"}


def refuse(message: str) -> None:
    print(f"churn.{message}", file=sys.stderr)
    raise SystemExit(2)


def pipeline(numeric: list[str], categorical: list[str], train: dict, random_state: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    estimator_name = train.get("estimator", "hist_gradient_boosting")
    if estimator_name not in ESTIMATORS:
        refuse(f"train.estimator: {estimator_name!r} is not one of {', '.join(ESTIMATORS)}")
    options = {k: v for k, v in train.items() if k not in SCRIPT_KEYS}
    kind = LogisticRegression if estimator_name == "logistic_regression" else HistGradientBoostingClassifier
    try:
        estimator = kind(random_state=random_state, **options)
    except TypeError as exc:
        refuse(f"train: {exc}")
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            ),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


def main() -> None:
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import skops.io
    from mlflow.models import infer_signature
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split

    params = json.loads(os.environ["MODELOPS_PARAMS_JSON"])
    numeric = list(params["features"].get("numeric") or [])
    categorical = list(params["features"].get("categorical") or [])
    target = params["target"]
    train = dict(params.get("train") or {})
    validation_fraction = float(train.get("validation_fraction", 0.1))
    random_state = int(train.get("random_state", 0))

    frame = pd.read_csv(os.environ["MODELOPS_TRAIN_DATA"])
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
    for column in categorical:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    x, y = frame[numeric + categorical], frame[target].astype(int)
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=validation_fraction, random_state=random_state, stratify=y
    )
    pipe = pipeline(numeric, categorical, train, random_state)

    with mlflow.start_run():  # the run modelops started (MLFLOW_RUN_ID)
        mlflow.log_params(
            {
                "estimator": train.get("estimator", "hist_gradient_boosting"),
                **{f"estimator.{k}": v for k, v in train.items() if k not in SCRIPT_KEYS},
                "validation_fraction": validation_fraction,
                "random_state": random_state,
                "rows": len(frame),
            }
        )
        try:
            pipe.fit(x_fit, y_fit)
        except ValueError as exc:  # sklearn validates estimator parameters at fit time
            refuse(f"train: {str(exc).splitlines()[0]}")
        for prefix, xs, ys in (("train", x_fit, y_fit), ("validation", x_val, y_val)):
            p = pipe.predict_proba(xs)[:, 1]
            mlflow.log_metrics(
                {
                    f"{prefix}_roc_auc": roc_auc_score(ys, p),
                    f"{prefix}_log_loss": log_loss(ys, p, labels=[0, 1]),
                    f"{prefix}_brier": brier_score_loss(ys, p),
                    f"{prefix}_rows": len(ys),
                }
            )
        example = x_fit.head(5)
        # skops instead of pickle: MLflow's safe format, with the pipeline's own types named as trusted.
        mlflow.sklearn.log_model(
            pipe,
            name="model",
            signature=infer_signature(example, pipe.predict_proba(example)[:, 1]),
            input_example=example,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipe)),
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
        )


if __name__ == "__main__":
    main()
