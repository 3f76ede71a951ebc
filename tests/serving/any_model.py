"""Models of every task and flavour in the serving tests' real MLflow registry.

- `churn-pyfunc`: a binary model with no sklearn flavour (an mlflow.pyfunc.PythonModel whose predict
  returns P(positive));
- `visits-regressor`: a regression pipeline on visits-like counts (models.yaml's `visits` serves it);
- `segment-classifier`: a three-class sklearn pipeline;
- `tenure-rule` (hard 0/1 labels) and `tenure-raw` (values outside [0, 1]): pyfunc models that only
  predict, for what binary serving does with them.

Each run logs the data profile training logs (core.profile.data_profile), so the regression's score
bins are its target's deciles.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import cloudpickle
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd

from modelops.core.profile import PROFILE_ARTIFACT, data_profile
from tests.serving.registry import CATEGORICAL, NUMERIC, _labels, _pipeline, synthetic_frame

# The PythonModels below travel inside the pickle, not by reference to this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

PYFUNC = "churn-pyfunc"
REGRESSOR = "visits-regressor"
MULTICLASS = "segment-classifier"
HARD_LABELS = "tenure-rule"
OUT_OF_RANGE = "tenure-raw"
SEGMENTS = ["budget", "standard", "premium"]


def churn_probability(frame: pd.DataFrame) -> np.ndarray:
    logit = (
        -0.04 * frame["tenure_months"] + 0.5 * frame["support_calls"] + 0.02 * (frame["monthly_charges"] - 60)
    )
    return np.asarray(1 / (1 + np.exp(-logit)), dtype=float)


class ChurnScore(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return churn_probability(model_input)


class ShortTenure(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return np.asarray((model_input["tenure_months"] < 12).astype(float))


class RawTenure(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return np.asarray(model_input["tenure_months"], dtype=float)


def visits(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rate = np.exp(0.4 + 0.35 * frame["support_calls"] + 0.01 * (frame["monthly_charges"] - 60))
    return rng.poisson(rate).astype(float)


def segments(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = frame["monthly_charges"] + rng.normal(0, 8, len(frame))
    return np.asarray(pd.cut(noisy, [-np.inf, 50, 70, np.inf], labels=SEGMENTS).astype(str))


def _regressor() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    return Pipeline([("prep", prep), ("reg", Ridge(alpha=1.0))])


@dataclass
class AnyModels:
    tracking_uri: str
    train: pd.DataFrame
    models: dict[str, Any]  # registered name -> the fitted model (pipeline or PythonModel)
    profiles: dict[str, dict[str, Any]]
    run_ids: dict[str, str]


def register_any_models(tracking_uri: str, artifacts: str) -> AnyModels:
    """Register version 1 of every model above in the registry at `tracking_uri`."""
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    experiment = mlflow.create_experiment("any-model", artifact_location=artifacts)
    train = synthetic_frame(400, seed=11)
    example = train.head(3)
    regressor = _regressor().fit(train, visits(train, seed=12))
    multiclass = _pipeline(1.0).fit(train, segments(train, seed=13))
    targets = {
        PYFUNC: ("binary", _labels(train, seed=2)),
        HARD_LABELS: ("binary", _labels(train, seed=2)),
        OUT_OF_RANGE: ("binary", _labels(train, seed=2)),
        REGRESSOR: ("regression", visits(train, seed=12)),
        MULTICLASS: ("multiclass", segments(train, seed=13)),
    }
    models: dict[str, Any] = {
        PYFUNC: ChurnScore(),
        HARD_LABELS: ShortTenure(),
        OUT_OF_RANGE: RawTenure(),
        REGRESSOR: regressor,
        MULTICLASS: multiclass,
    }
    profiles, run_ids = {}, {}
    for name, model in models.items():
        task, target = targets[name]
        profile = data_profile(
            name,
            {c: train[c].to_numpy(dtype=float) for c in NUMERIC},
            {c: train[c].tolist() for c in CATEGORICAL},
            ("target", list(target)),
            task,
        )
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.log_dict(profile, PROFILE_ARTIFACT)
            if isinstance(model, mlflow.pyfunc.PythonModel):
                mlflow.pyfunc.log_model(
                    name="model",
                    python_model=model,
                    signature=infer_signature(example, model.predict(None, example)),
                    input_example=example,
                    registered_model_name=name,
                    pip_requirements=["mlflow"],
                )
            else:
                outputs = model.predict_proba(example) if task == "multiclass" else model.predict(example)
                mlflow.sklearn.log_model(
                    model,
                    name="model",
                    signature=infer_signature(example, outputs),
                    input_example=example,
                    registered_model_name=name,
                    pip_requirements=["scikit-learn"],
                )
        profiles[name] = profile
        run_ids[name] = run.info.run_id
    mlflow.set_tracking_uri("")
    return AnyModels(tracking_uri, train, models, profiles, run_ids)
