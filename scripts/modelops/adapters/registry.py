"""The MLflow model registry and tracking server, behind one small interface.

Every call goes through `Registry._call`: transient failures (connection refused, timeouts, a busy
SQLite file, 5xx) are retried a bounded number of times with backoff; anything else, or a transient
failure that outlives the retries, becomes one `ExternalError` line naming the tracking URI and the
operation. "Not found" is not an error here: lookups return None (or {}), and callers decide whether a
missing version is the user's mistake (`BadInput`) or a normal state.

mlflow is imported lazily so that `modelops --help` and the pure core never pay for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from modelops.errors import BadInput, ExternalError

if TYPE_CHECKING:
    from modelops.context import Context
    from modelops.core.state import DesiredState

T = TypeVar("T")

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
# MLflow's own HTTP client retries 7 times with factor 2 by default (minutes of silence against a dead
# server). We keep its retries short and do the bounded, visible retrying ourselves.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    # Against a tracking server MLflow writes "View run ... at" links to stdout, which is the JSON of
    # `modelops ... --json` (train.yml reads `.version` from it); the run URL is in that JSON anyway.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}
TRANSIENT_CODES = {"TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED"}
TRANSIENT_TEXT = (
    "database is locked",
    "connection refused",
    "connection aborted",
    "max retries exceeded",
    "timed out",
    "temporarily unavailable",
    "remote end closed",
    "502",
    "503",
    "504",
)


@dataclass(frozen=True)
class VersionInfo:
    """One immutable registered version: which run produced it and where its artifacts live."""

    name: str
    version: int
    run_id: str | None
    source: str
    status: str
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


def _version_info(mv: Any) -> VersionInfo:
    return VersionInfo(
        name=str(mv.name),
        version=int(mv.version),
        run_id=mv.run_id or None,
        source=str(mv.source or ""),
        status=str(mv.status or ""),
        tags=dict(mv.tags or {}),
        aliases=tuple(mv.aliases or ()),
    )


@dataclass(frozen=True)
class LoggedModelInfo:
    """One MLflow model logged in a run, in whatever flavour its training code chose."""

    name: str
    model_uri: str
    flavors: tuple[str, ...]
    has_signature: bool
    has_input_example: bool
    input_columns: tuple[str, ...] = ()


class _NotFound(Exception):
    pass


def _error_code(exc: BaseException) -> str:
    return str(getattr(exc, "error_code", "") or "")


def _is_not_found(exc: BaseException) -> bool:
    code = _error_code(exc)
    if code in NOT_FOUND_CODES:
        return True
    # A missing alias is reported as an invalid parameter by the SQL store.
    return code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc).lower()


def _is_transient(exc: BaseException) -> bool:
    if _error_code(exc) in TRANSIENT_CODES:
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in TRANSIENT_TEXT)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class Registry:
    """MLflow tracking + model registry at one URI."""

    def __init__(self, tracking_uri: str, artifact_root: str | None = None, *, create: bool = False) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.create = create  # only training makes a SQLite registry; every other use expects one
        self._client: Any = None
        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)

    @classmethod
    def for_context(cls, ctx: Context, *, create: bool = False) -> Registry:
        return cls(ctx.tracking_uri, ctx.artifact_root, create=create)

    # -- plumbing -----------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            self._require_sqlite_file()
            import mlflow

            self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def _require_sqlite_file(self) -> None:
        """MLflow makes an empty database wherever a sqlite URI points: a deleted registry would come
        back empty, and every alias and tag in it would read as never set."""
        if self.create or not self.tracking_uri.startswith("sqlite:///"):
            return
        path = Path(self.tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise ExternalError(
                f"MLflow at {self.tracking_uri}: no registry there ({path} does not exist: deleted, or "
                "nothing trained yet); `modelops train` makes it, or set MLFLOW_TRACKING_URI to your registry"
            )

    def _call(self, what: str, fn: Callable[[], T], *, missing_ok: bool = False) -> T:
        """Run fn with bounded retries; raise _NotFound (when missing_ok) or ExternalError."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn()
            except ExternalError:
                raise
            except Exception as exc:
                if missing_ok and _is_not_found(exc):
                    raise _NotFound(str(exc)) from None
                if attempt < ATTEMPTS and _is_transient(exc):
                    time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                    continue
                raise ExternalError(
                    f"MLflow at {self.tracking_uri}: {what} failed: {_one_line(exc)}"
                ) from exc
        raise AssertionError("unreachable")

    @contextmanager
    def active(self) -> Iterator[Any]:
        """Point MLflow's fluent API at this registry for the duration; yields the mlflow module."""
        self._require_sqlite_file()
        import mlflow
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        # MLflow keeps both URIs in module globals and exports them to the environment: all four are put
        # back, or a later client in this process (or a subprocess) would talk to this registry.
        previous_env = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        previous_tracking = tracking_utils._tracking_uri
        previous_registry = registry_utils._registry_uri
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield mlflow
        finally:
            tracking_utils._tracking_uri = previous_tracking
            registry_utils._registry_uri = previous_registry
            for name, value in previous_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    # -- registered models and aliases -------------------------------------------------------------

    def ensure_registered_model(self, name: str) -> None:
        try:
            self._call(
                f"looking up registered model {name!r}",
                lambda: self.client.get_registered_model(name),
                missing_ok=True,
            )
        except _NotFound:
            try:
                self._call(
                    f"creating registered model {name!r}", lambda: self.client.create_registered_model(name)
                )
            except ExternalError as exc:
                # Someone else created it between our look-up and create: that is what we wanted.
                if "RESOURCE_ALREADY_EXISTS" not in _error_code(
                    exc.__cause__ or exc
                ) and "already exists" not in str(exc):
                    raise

    def aliases(self, name: str) -> dict[str, int]:
        """Alias → version for a registered model; {} when the model does not exist."""
        try:
            model = self._call(
                f"reading aliases of {name!r}",
                lambda: self.client.get_registered_model(name),
                missing_ok=True,
            )
        except _NotFound:
            return {}
        return {str(alias): int(version) for alias, version in (model.aliases or {}).items()}

    def get_alias(self, name: str, alias: str) -> int | None:
        """The version an alias points at; None when the alias or the model does not exist."""
        try:
            mv = self._call(
                f"resolving alias {name}@{alias}",
                lambda: self.client.get_model_version_by_alias(name, alias),
                missing_ok=True,
            )
        except _NotFound:
            return None
        return int(mv.version)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._require_version(name, version)
        self._call(
            f"pointing alias {name}@{alias} at version {version}",
            lambda: self.client.set_registered_model_alias(name, alias, str(version)),
        )

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; removing one that does not exist is a no-op."""
        with suppress(_NotFound):
            self._call(
                f"deleting alias {name}@{alias}",
                lambda: self.client.delete_registered_model_alias(name, alias),
                missing_ok=True,
            )

    # -- versions -----------------------------------------------------------------------------------

    def version(self, name: str, version: int) -> VersionInfo | None:
        """A registered version, or None when the model or the version does not exist."""
        try:
            mv = self._call(
                f"reading version {name}/{version}",
                lambda: self.client.get_model_version(name, str(version)),
                missing_ok=True,
            )
        except _NotFound:
            return None
        return _version_info(mv)

    def _require_version(self, name: str, version: int) -> VersionInfo:
        info = self.version(name, version)
        if info is None:
            raise BadInput(
                f"MLflow at {self.tracking_uri}: registered model {name!r} has no version {version}"
            )
        return info

    def require_version(self, name: str, version: int) -> VersionInfo:
        """Like version(), but a missing version is the user's mistake (BadInput, exit 2)."""
        return self._require_version(name, version)

    def latest_version(self, name: str) -> int | None:
        """The highest version number of a registered model; None when it has none."""
        try:
            versions = self._call(
                f"listing versions of {name!r}",
                lambda: self.client.search_model_versions(
                    f"name='{name}'", max_results=1, order_by=["version_number DESC"]
                ),
                missing_ok=True,
            )
        except _NotFound:
            return None
        return int(versions[0].version) if versions else None

    def versions(self, name: str) -> list[VersionInfo]:
        """Every registered version of a model, newest first; [] when the model does not exist."""
        try:
            found = self._call(
                f"listing versions of {name!r}",
                lambda: self.client.search_model_versions(f"name='{name}'", order_by=["version_number DESC"]),
                missing_ok=True,
            )
        except _NotFound:
            return []
        return [_version_info(mv) for mv in found]

    def set_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        self._call(
            f"tagging version {name}/{version} with {key}",
            lambda: self.client.set_model_version_tag(name, str(version), key, str(value)),
        )

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.set_version_tag(name, version, key, value)

    def register(self, name: str, model_uri: str, run_id: str, tags: Mapping[str, str]) -> int:
        """Register a logged model as a new version (tags set at creation); returns its number."""
        self.ensure_registered_model(name)
        with self.active() as mlflow:
            mv = self._call(
                f"registering {model_uri} as a version of {name!r}",
                lambda: mlflow.register_model(model_uri, name, tags=dict(tags), await_registration_for=60),
            )
        return int(mv.version)

    def download_uri(self, name: str, version: int) -> str:
        """Where the version's artifacts physically live (what a serving runtime downloads)."""
        return str(
            self._call(
                f"resolving the artifact location of {name}/{version}",
                lambda: self.client.get_model_version_download_uri(name, str(version)),
            )
        )

    def download_text(self, run_id: str, path: str) -> str:
        """A text artifact of a run (e.g. the evaluation report a promotion PR quotes)."""
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory(prefix="modelops-artifact-") as tmp:
            local = self._call(
                f"downloading {path} of run {run_id}",
                lambda: self.client.download_artifacts(run_id, path, tmp),
            )
            return Path(local).read_text("utf-8")

    def download_artifacts(self, run_id: str, path: str, destination: str) -> str:
        """A run's artifact file or directory, copied under `destination`; returns the local path."""
        return str(
            self._call(
                f"downloading {path} of run {run_id}",
                lambda: self.client.download_artifacts(run_id, path, destination),
            )
        )

    def load_sklearn(self, name: str, version: int) -> Any:
        """The version's scikit-learn Pipeline (score with predict_proba(df)[:, 1]).

        MLflow refuses to deserialise any model unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION is true;
        the versions in this registry are the ones our own training logged, so we allow it here.
        """
        self._require_version(name, version)
        os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
        with self.active() as mlflow:
            import mlflow.sklearn

            return self._call(
                f"loading model {name}/{version}",
                lambda: mlflow.sklearn.load_model(f"models:/{name}/{version}"),
            )

    def load_for_scoring(self, name: str, version: int) -> Any:
        """The version ready to score: the sklearn estimator itself when it has that flavour (the fast
        path: predict_proba, no pyfunc wrapper), else the pyfunc model (any flavour; predict only)."""
        self._require_version(name, version)
        with self.active() as mlflow:
            info = self._call(
                f"reading the flavours of {name}/{version}",
                lambda: mlflow.models.get_model_info(f"models:/{name}/{version}"),
            )
        if "sklearn" in (info.flavors or {}):
            return self.load_sklearn(name, version)
        os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
        with self.active() as mlflow:
            import mlflow.pyfunc

            return self._call(
                f"loading model {name}/{version}",
                lambda: mlflow.pyfunc.load_model(f"models:/{name}/{version}"),
            )

    def input_columns(self, name: str, version: int) -> list[str]:
        """The input column names of a version's signature (empty when it was logged without one)."""
        with self.active() as mlflow:
            info = self._call(
                f"reading the signature of {name}/{version}",
                lambda: mlflow.models.get_model_info(f"models:/{name}/{version}"),
            )
        signature = info.signature
        return list(signature.inputs.input_names()) if signature is not None else []

    def logged_models(self, run_id: str) -> list[LoggedModelInfo]:
        """The MLflow models logged in a run (any flavour), oldest first."""
        run = self.run_info(run_id)
        if run is None:
            return []
        found = self._call(
            f"listing the models logged in run {run_id}",
            lambda: self.client.search_logged_models(
                experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
            ),
        )
        out = []
        for model in found:
            with self.active() as mlflow:
                info = self._call(
                    f"reading model {model.name!r} of run {run_id}",
                    lambda model=model: mlflow.models.get_model_info(model.model_uri),  # type: ignore[misc]
                )
            out.append(
                LoggedModelInfo(
                    name=str(model.name),
                    model_uri=str(model.model_uri),
                    flavors=tuple(sorted(info.flavors or {})),
                    has_signature=info.signature is not None,
                    has_input_example=info.saved_input_example_info is not None,
                    input_columns=tuple(info.signature.inputs.input_names())
                    if info.signature is not None and info.signature.inputs is not None
                    else (),
                )
            )
        return out

    def end_run(self, run_id: str, status: str) -> None:
        """Set a run's terminal status (FINISHED, FAILED, KILLED)."""
        self._call(f"ending run {run_id} as {status}", lambda: self.client.set_terminated(run_id, status))

    # -- experiments and runs -----------------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        """The id of an experiment, created (with artifact_root as its artifact location) if missing."""
        found = self._call(
            f"looking up experiment {name!r}", lambda: self.client.get_experiment_by_name(name)
        )
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(
                self._call(
                    f"creating experiment {name!r}",
                    lambda: self.client.create_experiment(name, artifact_location=self.artifact_root),
                )
            )
        except ExternalError:
            again = self._call(
                f"looking up experiment {name!r}", lambda: self.client.get_experiment_by_name(name)
            )
            if again is None:
                raise
            return str(again.experiment_id)

    def run_info(self, run_id: str) -> Any | None:
        try:
            return self._call(f"reading run {run_id}", lambda: self.client.get_run(run_id), missing_ok=True)
        except _NotFound:
            return None

    def run_status(self, run_id: str) -> str | None:
        run = self.run_info(run_id)
        return None if run is None else str(run.info.status)

    def search_runs(self, experiment: str, filter_string: str = "") -> list[Any]:
        exp = self._call(
            f"looking up experiment {experiment!r}", lambda: self.client.get_experiment_by_name(experiment)
        )
        if exp is None:
            return []
        return list(
            self._call(
                f"searching runs of {experiment!r}",
                lambda: self.client.search_runs(
                    [exp.experiment_id], filter_string=filter_string, max_results=1000
                ),
            )
        )

    @contextmanager
    def run(
        self, experiment: str, run_name: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Iterator[RunLog]:
        """A tracked run. An exception inside ends the run as FAILED (never left RUNNING) and propagates."""
        experiment_id = self.experiment_id(experiment)
        with self.active() as mlflow:
            active = self._call(
                f"starting a run in {experiment!r}",
                lambda: mlflow.start_run(
                    experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {})
                ),
            )
            with active:
                yield RunLog(self, mlflow, active.info.run_id)

    def log_to_run(self, run_id: str) -> RunLog:
        """Log more artifacts/tags to a finished run (e.g. evaluation evidence on the candidate's run)."""
        import mlflow

        return RunLog(self, mlflow, run_id, client_only=True)

    # -- links --------------------------------------------------------------------------------------

    def _ui_base(self) -> tuple[str, str]:
        """(base URL, hint). For a file-backed store the UI must be started first; the hint says how."""
        uri = self.tracking_uri
        if uri.startswith(("http://", "https://")):
            return uri.rstrip("/"), ""
        return "http://127.0.0.1:5000", f"mlflow ui --backend-store-uri {uri} then open "

    def run_url(self, run_id: str) -> str:
        base, hint = self._ui_base()
        run = self.run_info(run_id)
        experiment = run.info.experiment_id if run is not None else "0"
        return f"{hint}{base}/#/experiments/{experiment}/runs/{run_id}"

    def version_url(self, name: str, version: int) -> str:
        base, hint = self._ui_base()
        return f"{hint}{base}/#/models/{quote(name, safe='')}/versions/{version}"

    # -- aliases follow git ---------------------------------------------------------------------------

    def follow(
        self, state: DesiredState, *, only: tuple[str, str] | None = None, dry_run: bool = False
    ) -> list[AliasAction]:
        """Point every alias an environment owns at the version models.yaml names (git → registry).

        `only` limits it to one (model, environment); `dry_run` reports what it would change.
        """
        actions: list[AliasAction] = []
        for model in state.models.values():
            current: dict[str, int] | None = None
            for env in model.environments.values():
                if only and (model.name, env.name) != only:
                    continue
                if current is None:
                    self.ensure_registered_model(model.registered_model)
                    current = self.aliases(model.registered_model)
                for alias, desired in env.owned_aliases().items():
                    actual = current.get(alias)
                    if actual == desired:
                        if desired is not None:
                            actions.append(AliasAction(model.name, env.name, alias, desired, actual, "ok"))
                        continue
                    if desired is None:
                        action = "deleted"
                        if not dry_run:
                            self.delete_alias(model.registered_model, alias)
                    else:
                        action = "set" if actual is None else "corrected"
                        if not dry_run:
                            self.set_alias(model.registered_model, alias, desired)
                    actions.append(AliasAction(model.name, env.name, alias, desired, actual, action))
        return actions


@dataclass(frozen=True)
class AliasAction:
    model: str
    env: str
    alias: str
    desired: int | None
    actual: int | None
    action: str  # "ok" | "set" | "corrected" | "deleted"


class RunLog:
    """What a flow may record on a run; every call retried and mapped like the registry's."""

    def __init__(self, registry: Registry, mlflow: Any, run_id: str, client_only: bool = False) -> None:
        self.registry = registry
        self._mlflow = mlflow
        self.run_id = run_id
        self._client_only = client_only

    @property
    def _client(self) -> Any:
        return self.registry.client

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        batch = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(batch), 100):
            chunk = batch[start : start + 100]
            self.registry._call(
                "logging params",
                lambda chunk=chunk: self._client.log_batch(self.run_id, params=chunk),  # type: ignore[misc]
            )

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(str(k), float(v), now, 0) for k, v in metrics.items()]
        self.registry._call("logging metrics", lambda: self._client.log_batch(self.run_id, metrics=batch))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        batch = [RunTag(str(k), str(v)) for k, v in tags.items()]
        self.registry._call("tagging the run", lambda: self._client.log_batch(self.run_id, tags=batch))

    def log_dict(self, data: Any, artifact_file: str) -> None:
        self.registry._call(
            f"logging {artifact_file}", lambda: self._client.log_dict(self.run_id, data, artifact_file)
        )

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        self.registry._call(
            f"uploading {local_dir}",
            lambda: self._client.log_artifacts(self.run_id, local_dir, artifact_path),
        )

    def log_sklearn_model(self, model: Any, input_example: Any, signature: Any) -> str:
        """Log an sklearn model as artifact `model` of this (active) run; returns its model URI."""
        import mlflow.sklearn
        import skops.io

        # skops (not pickle) is MLflow's safe format; it needs the pipeline's own types named as trusted.
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        # Explicit requirements: inferring them imports and inspects every loaded module (slow).
        requirements = mlflow.sklearn.get_default_pip_requirements(include_skops=True)
        info = self.registry._call(
            "logging the model",
            lambda: mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=input_example,
                pip_requirements=requirements,
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                skops_trusted_types=trusted,
            ),
        )
        return str(info.model_uri)

    def log_model_file(self, model_uri: str, filename: str, data: Any) -> None:
        """Add a JSON file to a logged model's own directory (next to MLmodel)."""
        import json
        import tempfile

        model_id = model_uri.rstrip("/").rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory(prefix="modelops-") as tmp:
            path = os.path.join(tmp, filename)
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
            self.registry._call(
                f"adding {filename} to the logged model",
                lambda: self._client.log_model_artifact(model_id, path),
            )
