"""Loading one immutable model version and proving it can score before it serves.

A version comes either from the registry (`models:/<registered>/<version>`, local serving) or from a
directory the storage initializer filled (`/mnt/models`, in the cluster). Either way the loaded
version carries what serving needs: the model, its input columns and types from the signature, the
input example for the warm-up, and the training data's profile for the feature and score bins.

The model's task (gate.task) says what its outputs mean, read as evaluation reads them
(core.metrics.model_outputs). A scikit-learn model with the method the task needs (predict_proba for
binary and multiclass, predict for regression) is served natively, the fast path; any other MLflow
model is served through its pyfunc flavour.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from modelops.core import contract, metrics
from modelops.core.metrics import TASKS, model_outputs, served_scores
from modelops.core.profile import PROFILE_ARTIFACT
from modelops.errors import BadInput, ExternalError
from modelops.serving.sources import DirectorySource, Source
from modelops.serving.summaries import FeatureBins, feature_bins, score_edges

log = logging.getLogger("modelops.serving")

ENV_PROFILE = "MODELOPS_DATA_PROFILE"
ENV_TASK = "MODELOPS_TASK"
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
T = TypeVar("T")


@dataclass(frozen=True)
class LoadedVersion:
    version: str
    run_id: str
    model: Any  # the native sklearn estimator (fast path) or the pyfunc model
    input_types: dict[str, str]
    example: pd.DataFrame | None
    specs: tuple[FeatureBins, ...]
    has_profile: bool
    task: str = "binary"
    classes: tuple[str, ...] | None = None  # multiclass: the probability columns' classes, in order
    score_edges: tuple[float, ...] = contract.SCORE_BUCKETS
    flavor: str = "sklearn"

    @property
    def input_names(self) -> list[str]:
        return list(self.input_types)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The task's outputs: P(positive) (binary), rows × classes (multiclass), values (regression)."""
        return model_outputs(self.model, frame, self.task, self.classes)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """One score per row, as the prediction-score histogram counts it."""
        return served_scores(self.task, self.predict(frame))


def _with_retries(what: str, call: Callable[[], T]) -> T:
    """Bounded retries with backoff for registry calls; a missing resource fails at once."""
    from mlflow.exceptions import MlflowException

    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise ExternalError(f"{what}: {exc.message.splitlines()[0]}") from None
            failure: Exception = exc
        except OSError as exc:
            failure = exc
        if attempt < ATTEMPTS:
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise ExternalError(f"{what}: failed after {ATTEMPTS} attempts: {str(failure).splitlines()[0]}")


def _configure_mlflow(tracking_uri: str | None) -> None:
    # Bound every HTTP call the MLflow client makes to a tracking server.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    if tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)


def _read_profile(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable data profile (%s); using generic feature bins", path, exc)
        return None
    return loaded if isinstance(loaded, dict) else None


def _profile(model_dir: Path, run_id: str, tracking_uri: str | None) -> dict[str, Any] | None:
    """The training data's profile: an explicit file, one shipped with the model, or the run's artifact."""
    explicit = os.environ.get(ENV_PROFILE)
    if explicit:
        return _read_profile(Path(explicit))
    if (model_dir / PROFILE_ARTIFACT).is_file():
        return _read_profile(model_dir / PROFILE_ARTIFACT)
    if not (run_id and tracking_uri):
        return None
    import mlflow

    try:
        with tempfile.TemporaryDirectory(prefix="modelops-profile-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=PROFILE_ARTIFACT, dst_path=tmp, tracking_uri=tracking_uri
            )
            return _read_profile(Path(local))
    except Exception as exc:  # an absent profile is normal for older runs
        log.info(
            "run %s has no %s (%s); using generic feature bins", run_id, PROFILE_ARTIFACT, type(exc).__name__
        )
        return None


def _native(mlmodel: Any, model_dir: Path, task: str, what: str) -> Any | None:
    """The sklearn estimator when the version has that flavour and the method its task needs."""
    if "sklearn" not in (mlmodel.flavors or {}):
        return None
    import mlflow.sklearn

    # MLflow refuses to unpickle unless allowed; these are the versions our own registry holds.
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    try:
        estimator = mlflow.sklearn.load_model(str(model_dir))
    except Exception as exc:
        raise ExternalError(f"{what}: cannot load the sklearn flavor ({type(exc).__name__}: {exc})") from None
    return estimator if hasattr(estimator, "predict" if task == "regression" else "predict_proba") else None


def _pyfunc(model_dir: Path, what: str) -> Any:
    import mlflow.pyfunc

    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    try:
        return mlflow.pyfunc.load_model(str(model_dir))
    except Exception as exc:
        raise ExternalError(f"{what}: cannot load it as pyfunc ({type(exc).__name__}: {exc})") from None


def _classes(model: Any, profile: dict[str, Any] | None) -> tuple[str, ...] | None:
    """A multiclass model's classes in its probability columns' order: the estimator's own
    `classes_`, else the training target's classes from the profile (sorted, as training saw them)."""
    known = getattr(model, "classes_", None)
    if known is not None:
        return tuple(str(c) for c in known)
    target = (profile or {}).get("target")
    classes = target.get("classes") if isinstance(target, dict) else None
    return tuple(str(c) for c in classes) if isinstance(classes, dict | list) and classes else None


def _from_directory(
    model_dir: Path, version: str, run_id: str | None, tracking_uri: str | None, task: str
) -> LoadedVersion:
    from mlflow.models import Model

    what = f"model at {model_dir}"
    try:
        mlmodel = Model.load(str(model_dir))
    except Exception as exc:
        raise ExternalError(f"{what}: not an MLflow model ({type(exc).__name__}: {exc})") from None
    if (
        mlmodel.signature is None
        or mlmodel.signature.inputs is None
        or not mlmodel.signature.inputs.has_input_names()
    ):
        raise ExternalError(
            f"{what}: the model has no column signature; log it with signature=infer_signature(...)"
        )
    input_types = {name: t.name for name, t in mlmodel.signature.inputs.input_types_dict().items()}
    native = _native(mlmodel, model_dir, task, what)
    model = native if native is not None else _pyfunc(model_dir, what)
    example = None
    try:
        raw_example = mlmodel.load_input_example(str(model_dir))
    except Exception as exc:
        log.warning("%s: unreadable input example (%s); warming up on a synthetic row", what, exc)
        raw_example = None
    if raw_example is not None:
        example = raw_example if isinstance(raw_example, pd.DataFrame) else pd.DataFrame(raw_example)
    resolved_run = run_id or mlmodel.run_id or ""
    profile = _profile(model_dir, resolved_run, tracking_uri)
    return LoadedVersion(
        version=version,
        run_id=resolved_run,
        model=model,
        input_types=input_types,
        example=example,
        specs=tuple(feature_bins(input_types, profile)),
        has_profile=profile is not None,
        task=task,
        classes=_classes(model, profile) if task == "multiclass" else None,
        score_edges=score_edges(task, profile),
        flavor="sklearn" if native is not None else "pyfunc",
    )


def load(source: Source) -> LoadedVersion:
    """Load a version; raise ExternalError with one line naming it when it cannot serve."""
    if source.task not in TASKS:
        raise BadInput(f"{ENV_TASK}={source.task!r}: the task must be one of {', '.join(TASKS)}")
    _configure_mlflow(source.tracking_uri)
    if isinstance(source, DirectorySource):
        return _from_directory(source.path, source.version, source.run_id, source.tracking_uri, source.task)

    import mlflow
    from mlflow import MlflowClient

    what = source.describe()
    registered = _with_retries(
        what,
        lambda: MlflowClient(source.tracking_uri).get_model_version(
            source.registered_model, str(source.version)
        ),
    )
    with tempfile.TemporaryDirectory(prefix="modelops-model-") as tmp:
        local = _with_retries(
            what,
            lambda: mlflow.artifacts.download_artifacts(
                artifact_uri=source.uri,
                dst_path=tmp,
                tracking_uri=source.tracking_uri,
                registry_uri=source.tracking_uri,
            ),
        )
        return _from_directory(Path(local), source.label, registered.run_id, source.tracking_uri, source.task)


def _synthetic_row(input_types: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{n: ("" if t in ("string", "binary") else 0) for n, t in input_types.items()}])


def warm_up(loaded: LoadedVersion) -> None:
    """Score the input example once, so the first client request does not pay for lazy setup, and a
    version that cannot score never becomes ready."""
    from modelops.serving.payload import to_frame

    if loaded.example is None:
        try:
            loaded.score(_synthetic_row(loaded.input_types))
        except Exception as exc:
            log.warning("v%s: warm-up on a synthetic row failed (%s); serving anyway", loaded.version, exc)
        return
    try:
        frame = to_frame({"dataframe_records": loaded.example.to_dict(orient="records")}, loaded.input_types)
        outputs = loaded.predict(frame)
    except Exception as exc:
        raise ExternalError(
            f"v{loaded.version}: warm-up prediction on the input example failed ({type(exc).__name__}: {exc})"
        ) from None
    problem = metrics.outputs_problem(loaded.task, outputs, len(frame), loaded.classes)
    if problem:
        raise ExternalError(f"v{loaded.version} ({loaded.flavor}, {loaded.task}): {problem}")
