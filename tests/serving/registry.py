"""A real MLflow SQLite registry holding small churn-like sklearn pipelines, and a repository pinning them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tests.helpers import REPO_ROOT

REGISTERED = "churn-classifier"
NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["contract", "plan"]
COLUMNS = NUMERIC + CATEGORICAL
CONTRACTS = ["monthly", "yearly", "two_year"]
PLANS = ["basic", "plus", "premium"]


def synthetic_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, rows),
            "monthly_charges": rng.normal(60.0, 20.0, rows).round(2),
            "support_calls": rng.poisson(1.5, rows),
            "contract": rng.choice(CONTRACTS, rows),
            "plan": rng.choice(PLANS, rows),
        }
    )


def _labels(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logit = (
        -0.04 * frame["tenure_months"]
        + 0.03 * (frame["monthly_charges"] - 60)
        + 0.5 * frame["support_calls"]
        + np.where(frame["contract"] == "monthly", 1.0, -0.5)
    )
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)


def _pipeline(c: float):  # type: ignore[no-untyped-def]
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), NUMERIC),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                    ]
                ),
            ),
            ("clf", LogisticRegression(C=c, max_iter=500)),
        ]
    )


def profile_of(frame: pd.DataFrame) -> dict[str, object]:
    """The training data profile as training logs it: numeric deciles, categorical frequencies."""
    features: dict[str, object] = {}
    for name in NUMERIC:
        qs = [round(0.1 * i, 1) for i in range(1, 10)]
        features[name] = {
            "kind": "numeric",
            "quantiles": {str(q): float(frame[name].quantile(q)) for q in qs},
        }
    for name in CATEGORICAL:
        features[name] = {"kind": "categorical", "categories": frame[name].value_counts().to_dict()}
    return {"rows": len(frame), "features": features}


@dataclass
class Registry:
    tracking_uri: str
    root: Path
    pipelines: dict[int, object]
    run_ids: dict[int, str]
    profiles: dict[int, dict[str, object]]


def build_registry(root: Path, versions: int = 2) -> Registry:
    """Register `versions` versions; each differs in regularisation so their scores differ.
    Every version but the last logs a data profile (the last shows the generic-bins fallback)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    root.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    experiment = mlflow.create_experiment("churn", artifact_location=(root / "artifacts").as_uri())
    train = synthetic_frame(400, seed=1)
    labels = _labels(train, seed=2)
    pipelines, run_ids, profiles = {}, {}, {}
    for version in range(1, versions + 1):
        pipeline = _pipeline(c=10.0 ** (1 - 2 * (version - 1)))
        pipeline.fit(train, labels)
        example = train.head(3)
        with mlflow.start_run(experiment_id=experiment) as run:
            if version < versions:
                profiles[version] = profile_of(train)
                mlflow.log_dict(profiles[version], "data_profile.json")
            mlflow.sklearn.log_model(
                pipeline,
                name="model",
                signature=infer_signature(example, pipeline.predict_proba(example)[:, 1]),
                input_example=example,
                registered_model_name=REGISTERED,
                pip_requirements=["scikit-learn"],
            )
        pipelines[version] = pipeline
        run_ids[version] = run.info.run_id
    mlflow.set_tracking_uri("")
    return Registry(tracking_uri, root, pipelines, run_ids, profiles)


def make_repo(root: Path, staging_version: int, run_id: str) -> Path:
    """A repository whose models.yaml pins `staging_version` for churn in staging."""

    repo = root / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "models.yaml", repo / "models.yaml")
    pin(repo, staging_version, run_id)
    return repo


def pin(repo: Path, version: int, run_id: str) -> None:
    from modelops.core.document import ModelsDocument

    path = repo / "models.yaml"
    doc = ModelsDocument.load(path)
    doc.promote(
        "churn", "staging", version, at="2026-01-01T00:00:00Z", by="test", reason="test", run_id=run_id
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(doc.dump(), "utf-8")
    tmp.replace(path)
