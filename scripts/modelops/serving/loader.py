"""Loading one immutable model version and proving it can score before it serves.

A version comes either from the registry (`models:/<registered>/<version>`, local serving) or from a
directory the storage initializer filled (`/mnt/models`, in the cluster). Either way the loaded
version carries what serving needs: the sklearn pipeline, its input columns and types from the
signature, the input example for the warm-up, and the training data's profile for the feature bins.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from modelops.core.profile import PROFILE_ARTIFACT
from modelops.errors import ExternalError
from modelops.serving.sources import DirectorySource, Source
from modelops.serving.summaries import FeatureBins, feature_bins

log = logging.getLogger("modelops.serving")

ENV_PROFILE = "MODELOPS_DATA_PROFILE"
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
T = TypeVar("T")


@dataclass(frozen=True)
class LoadedVersion:
    version: str
    run_id: str
    pipeline: Any
    input_types: dict[str, str]
    example: pd.DataFrame | None
    specs: tuple[FeatureBins, ...]
    has_profile: bool

    @property
    def input_names(self) -> list[str]:
        return list(self.input_types)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        scores: np.ndarray = np.asarray(self.pipeline.predict_proba(frame)[:, 1], dtype=float)
        return scores


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


def _from_directory(
    model_dir: Path, version: str, run_id: str | None, tracking_uri: str | None
) -> LoadedVersion:
    import mlflow.sklearn
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
    try:
        pipeline = mlflow.sklearn.load_model(str(model_dir))
    except Exception as exc:
        raise ExternalError(f"{what}: cannot load the sklearn flavor ({type(exc).__name__}: {exc})") from None
    if not hasattr(pipeline, "predict_proba"):
        raise ExternalError(f"{what}: {type(pipeline).__name__} has no predict_proba")
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
        pipeline=pipeline,
        input_types=input_types,
        example=example,
        specs=tuple(feature_bins(input_types, profile)),
        has_profile=profile is not None,
    )


def load(source: Source) -> LoadedVersion:
    """Load a version; raise ExternalError with one line naming it when it cannot serve."""
    _configure_mlflow(source.tracking_uri)
    if isinstance(source, DirectorySource):
        return _from_directory(source.path, source.version, source.run_id, source.tracking_uri)

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
        return _from_directory(Path(local), source.label, registered.run_id, source.tracking_uri)


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
        scores = loaded.score(frame)
    except Exception as exc:
        raise ExternalError(
            f"v{loaded.version}: warm-up prediction on the input example failed ({type(exc).__name__}: {exc})"
        ) from None
    if scores.shape != (len(frame),) or not all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores):
        raise ExternalError(f"v{loaded.version}: warm-up scores are not probabilities: {scores[:5].tolist()}")
