"""`modelops train`: fit the model on DVC-verified data, log it to MLflow and register a candidate Version.

Order matters: the data is verified against dvc.lock BEFORE a run exists (a stale cache must never
train, and leaves nothing behind); everything after that happens inside one tracked run, so a failure
ends the run as FAILED rather than leaving it RUNNING. The golden set is never read here: its md5 is
recorded for lineage only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops import __version__
from modelops.context import Context
from modelops.errors import BadInput
from modelops.output import progress, step

ESTIMATORS = ("hist_gradient_boosting", "logistic_regression")
DEFAULT_ESTIMATOR = "hist_gradient_boosting"
PROFILE_ARTIFACT = "data_profile.json"
PROFILE_QUANTILES = tuple(round(q / 10, 1) for q in range(11))
# Keys of `<model>.train` that steer this flow rather than the estimator.
FLOW_KEYS = {"estimator", "validation_fraction", "random_state"}


@dataclass(frozen=True)
class TrainingParams:
    model: str
    source: str
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    estimator: str
    estimator_params: dict[str, Any]
    validation_fraction: float
    random_state: int
    train_path: str
    golden_path: str
    section: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text("utf-8")) or {}
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found; pass --params FILE") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise BadInput(f"{path}: expected a mapping at the top level")
    return loaded


def load_params(repo: Path, model: str, params_path: str | Path | None = None) -> TrainingParams:
    """The model's section of params.yaml (features, target, estimator), checked field by field."""
    path = Path(params_path) if params_path else repo / "params.yaml"
    raw = _read_yaml(path)
    section = raw.get(model)
    if not isinstance(section, dict):
        raise BadInput(
            f"{path}: no `{model}:` section (features, target and train settings of model {model!r})"
        )
    features = section.get("features") or {}
    numeric = tuple(str(f) for f in features.get("numeric") or ())
    categorical = tuple(str(f) for f in features.get("categorical") or ())
    if not numeric and not categorical:
        raise BadInput(f"{path}: {model}.features: list numeric and/or categorical feature names")
    target = section.get("target")
    if not target:
        raise BadInput(f"{path}: {model}.target: name the label column")
    train = dict(section.get("train") or {})
    estimator = str(train.get("estimator", DEFAULT_ESTIMATOR))
    if estimator not in ESTIMATORS:
        raise BadInput(
            f"{path}: {model}.train.estimator: {estimator!r} is not one of {', '.join(ESTIMATORS)}"
        )
    try:
        validation_fraction = float(train.get("validation_fraction", 0.1))
        random_state = int(train.get("random_state", 0))
    except (TypeError, ValueError):
        raise BadInput(
            f"{path}: {model}.train: validation_fraction and random_state must be numbers"
        ) from None
    if not 0.0 < validation_fraction < 0.5:
        raise BadInput(
            f"{path}: {model}.train.validation_fraction: {validation_fraction} must be in (0, 0.5)"
        )
    data_dir = str(section.get("data_dir", f"data/{model}"))
    return TrainingParams(
        model=model,
        source=str(path),
        target=str(target),
        numeric=numeric,
        categorical=categorical,
        estimator=estimator,
        estimator_params={k: v for k, v in train.items() if k not in FLOW_KEYS},
        validation_fraction=validation_fraction,
        random_state=random_state,
        train_path=str(section.get("train_data", f"{data_dir}/train.csv")),
        golden_path=str(section.get("golden_data", f"{data_dir}/golden.csv")),
        section=section,
    )


def read_table(repo: Path, relative: str, params: TrainingParams, *, with_target: bool = True) -> Any:
    """A CSV with the model's features typed the way the signature declares them (numeric → float)."""
    import pandas as pd

    path = repo / relative
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: unreadable CSV ({exc})") from None
    needed = params.features + ([params.target] if with_target else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise BadInput(f"{path}: missing column(s) {', '.join(missing)} named in {params.source}")
    for column in params.numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in params.categorical:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return frame


def build_pipeline(params: TrainingParams) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    preprocess = ColumnTransformer(
        [("numeric", numeric, list(params.numeric)), ("categorical", categorical, list(params.categorical))]
    )
    try:
        if params.estimator == "logistic_regression":
            estimator: Any = LogisticRegression(random_state=params.random_state, **params.estimator_params)
        else:
            estimator = HistGradientBoostingClassifier(
                random_state=params.random_state, **params.estimator_params
            )
    except TypeError as exc:
        raise BadInput(f"{params.source}: {params.model}.train: {exc}") from None
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


def data_profile(frame: Any, params: TrainingParams) -> dict[str, Any]:
    """Per-feature reference statistics of the training data (serving bins and drift read these).

    Numeric: count, missing, mean, std, min, max, deciles (`quantiles`) and the inner decile `edges`
    computed exactly as drift detection computes them. Categorical: count, missing and the share of
    every category (`categories`).
    """
    import numpy as np

    from modelops.core.drift import quantile_edges

    features: dict[str, Any] = {}
    for column in params.numeric:
        values = frame[column].to_numpy(dtype="float64")
        present = np.sort(values[~np.isnan(values)])
        entry: dict[str, Any] = {
            "kind": "numeric",
            "count": int(present.size),
            "missing": int(values.size - present.size),
        }
        if present.size:
            entry.update(
                mean=float(present.mean()),
                std=float(present.std()),
                min=float(present[0]),
                max=float(present[-1]),
                quantiles={f"{q:.1f}": float(np.quantile(present, q)) for q in PROFILE_QUANTILES},
                edges=[float(e) for e in quantile_edges(present, 10)],
            )
        features[column] = entry
    for column in params.categorical:
        series = frame[column]
        present = series.dropna().astype(str)
        counts = present.value_counts()
        features[column] = {
            "kind": "categorical",
            "count": int(present.size),
            "missing": int(series.size - present.size),
            "categories": {
                str(k): float(v) / max(int(present.size), 1) for k, v in counts.sort_index().items()
            },
            "counts": {str(k): int(v) for k, v in counts.sort_index().items()},
        }
    target = frame[params.target]
    return {
        "model": params.model,
        "n": len(frame),
        "target": {"name": params.target, "positive_rate": float((target == 1).mean())},
        "features": features,
    }


@dataclass(frozen=True)
class TrainResult:
    model: str
    version: int
    run_id: str
    registered_model: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    run_url: str = ""
    version_url: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "registered_model": self.registered_model,
            "alias": "candidate",
            "metrics": self.metrics,
            "lineage": self.tags,
            "run_url": self.run_url,
            "version_url": self.version_url,
        }


def _git_state(repo: Path) -> tuple[str | None, bool | None]:
    from modelops.adapters.git import Git
    from modelops.errors import ExternalError

    if not (repo / ".git").exists():
        return None, None
    git = Git(repo)
    try:
        return git.head(), git.is_dirty()
    except ExternalError:
        return None, None


def lineage_for(ctx: Context, params: TrainingParams, train_md5: str) -> Any:
    from modelops.adapters import dvc_data
    from modelops.core.lineage import Lineage, params_hash

    commit, dirty = _git_state(ctx.repo)
    return Lineage(
        model=params.model,
        git_commit=commit,
        git_dirty=dirty,
        train_md5=train_md5,
        golden_md5=dvc_data.declared_md5(ctx.repo, params.golden_path),
        dvc_remote=ctx.dvc_remote or dvc_data.remote_url(ctx.repo),
        data_version=dvc_data.data_version(ctx.repo),
        params_hash=params_hash(params.section),
        modelops_version=__version__,
    )


def _metrics(pipe: Any, x: Any, y: Any, prefix: str) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, log_loss

    from modelops.core.gate import expected_calibration_error, roc_auc

    p = pipe.predict_proba(x)[:, 1]
    out = {
        f"{prefix}_roc_auc": roc_auc(y, p),
        f"{prefix}_log_loss": float(log_loss(y, p, labels=[0, 1])),
        f"{prefix}_brier": float(brier_score_loss(y, p)),
        f"{prefix}_ece": expected_calibration_error(y, p),
        f"{prefix}_rows": float(len(y)),
        f"{prefix}_positive_rate": float((y == 1).mean()),
    }
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _fit(pipe: Any, x: Any, y: Any, params: TrainingParams) -> None:
    try:
        pipe.fit(x, y)
    except ValueError as exc:
        # sklearn validates estimator parameters at fit time (InvalidParameterError is a ValueError).
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInput(f"{params.source}: {params.model}.train: {first}") from exc


def train(ctx: Context, model_name: str, params_path: str | Path | None = None) -> TrainResult:
    from modelops.adapters import dvc_data
    from modelops.adapters.registry import Registry
    from modelops.core.document import ModelsDocument
    from modelops.core.lineage import CANDIDATE_ALIAS

    model = ModelsDocument.load(ctx.models_path).state().model(model_name)
    params = load_params(ctx.repo, model_name, params_path)
    with step(f"verifying {params.train_path} against its DVC md5"):
        train_md5 = dvc_data.verify(ctx.repo, params.train_path)
    lineage = lineage_for(ctx, params, train_md5)
    tags = lineage.tags()

    with step(f"reading {params.train_path}"):
        frame = read_table(ctx.repo, params.train_path, params)
    from sklearn.model_selection import train_test_split

    x, y = frame[params.features], frame[params.target].astype(int)
    if y.nunique() < 2:
        raise BadInput(f"{params.train_path}: the target {params.target!r} has a single class; cannot train")
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=params.validation_fraction, random_state=params.random_state, stratify=y
    )

    registry = Registry.for_context(ctx)
    progress(f"MLflow at {ctx.tracking_uri}")
    with registry.run(model.registered_model, run_name=f"train-{model_name}", tags=tags) as run:
        run.log_params(
            {
                "estimator": params.estimator,
                **{f"estimator.{k}": v for k, v in params.estimator_params.items()},
                "validation_fraction": params.validation_fraction,
                "random_state": params.random_state,
                "features.numeric": ",".join(params.numeric),
                "features.categorical": ",".join(params.categorical),
                "target": params.target,
                "train_data": params.train_path,
                "rows": len(frame),
            }
        )
        pipe = build_pipeline(params)
        with step(f"fitting {params.estimator} on {len(x_fit)} rows"):
            _fit(pipe, x_fit, y_fit, params)
        metrics = {**_metrics(pipe, x_fit, y_fit, "train"), **_metrics(pipe, x_val, y_val, "validation")}
        run.log_metrics(metrics)
        profile = data_profile(frame, params)
        run.log_dict(profile, PROFILE_ARTIFACT)
        with step("logging the model to MLflow"):
            from mlflow.models import infer_signature

            example = x_fit.head(5)
            signature = infer_signature(example, pipe.predict_proba(example)[:, 1])
            model_uri = run.log_sklearn_model(pipe, input_example=example, signature=signature)
            # Also inside the model directory: a serving runtime that only sees storage finds it there.
            run.log_model_file(model_uri, PROFILE_ARTIFACT, profile)
        run_id = run.run_id
    with step(f"registering a new version of {model.registered_model}"):
        version = registry.register(model.registered_model, model_uri, run_id, tags)
        registry.set_alias(model.registered_model, CANDIDATE_ALIAS, version)
    return TrainResult(
        model=model_name,
        version=version,
        run_id=run_id,
        registered_model=model.registered_model,
        metrics=metrics,
        tags=tags,
        run_url=registry.run_url(run_id),
        version_url=registry.version_url(model.registered_model, version),
    )
