"""Train the doctor-visits regressor: a plain training script, as a user of modelops would write one.

The contract (README, "Bring your own model"): modelops starts the MLflow run and runs this with
MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, MODELOPS_MODEL, MODELOPS_TRAIN_DATA and MODELOPS_PARAMS_JSON set;
the script logs exactly one model named `model`, with a signature and an input example. Exit 2 says
the parameters are wrong.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    import skops.io
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    params = json.loads(os.environ["MODELOPS_PARAMS_JSON"])
    numeric = list(params["features"]["numeric"])
    categorical = list(params["features"]["categorical"])
    train = dict(params.get("train") or {})
    random_state = int(train.pop("random_state", 0))
    validation_fraction = float(train.pop("validation_fraction", 0.1))

    frame = pd.read_csv(os.environ["MODELOPS_TRAIN_DATA"], dtype={c: str for c in categorical})
    frame[numeric] = frame[numeric].astype("float64")
    x, y = frame[numeric + categorical], frame[params["target"]].astype("float64")
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=validation_fraction, random_state=random_state
    )
    try:
        regressor = HistGradientBoostingRegressor(random_state=random_state, **train)
    except TypeError as exc:
        print(f"visits.train: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    pipe = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        (
                            "categorical",
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                            categorical,
                        )
                    ],
                    remainder="passthrough",
                ),
            ),
            ("regressor", regressor),
        ]
    )
    with mlflow.start_run():
        mlflow.log_params({**{f"regressor.{k}": v for k, v in train.items()}, "random_state": random_state})
        try:
            pipe.fit(x_fit, y_fit)
        except ValueError as exc:
            print(f"visits.train: {str(exc).splitlines()[0]}", file=sys.stderr)
            raise SystemExit(2) from None
        for prefix, xs, ys in (("train", x_fit, y_fit), ("validation", x_val, y_val)):
            predicted = pipe.predict(xs)
            mlflow.log_metrics(
                {
                    f"{prefix}_rmse": float(np.sqrt(mean_squared_error(ys, predicted))),
                    f"{prefix}_mae": float(mean_absolute_error(ys, predicted)),
                    f"{prefix}_r2": float(r2_score(ys, predicted)),
                    f"{prefix}_rows": len(ys),
                }
            )
        example = x_fit.head(5)
        mlflow.sklearn.log_model(
            pipe,
            name="model",
            signature=infer_signature(example, pipe.predict(example)),
            input_example=example,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipe)),
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
        )


if __name__ == "__main__":
    main()
