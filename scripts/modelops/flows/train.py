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

PROFILE_ARTIFACT = "data_profile.json"
PROFILE_QUANTILES = tuple(round(q / 10, 1) for q in range(11))


@dataclass(frozen=True)
class TrainingParams:
    model: str
    source: str
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
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
    """The model's section of params.yaml: what modelops itself reads (features, target, data paths).

    Everything else in the section (e.g. `train:`) belongs to the model's training command, which
    receives the whole section as MODELOPS_PARAMS_JSON and checks it itself.
    """
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
    data_dir = str(section.get("data_dir", f"data/{model}"))
    return TrainingParams(
        model=model,
        source=str(path),
        target=str(target),
        numeric=numeric,
        categorical=categorical,
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


def data_profile(frame: Any, params: TrainingParams, task: str = "binary") -> dict[str, Any]:
    """Per-feature reference statistics of the training data (serving bins and drift read these).

    Numeric: count, missing, mean, std, min, max, deciles (`quantiles`) and the inner decile `edges`
    computed exactly as drift detection computes them. Categorical: count, missing and the share of
    every category (`categories`). The target by task: positive rate, class shares, or value quantiles.
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
    summary: dict[str, Any] = {"name": params.target}
    if task == "binary":
        summary["positive_rate"] = float((target == 1).mean())
    elif task == "multiclass":
        shares = target.astype(str).value_counts(normalize=True).sort_index()
        summary["classes"] = {str(k): float(v) for k, v in shares.items()}
    else:
        values = pd_numeric(target)
        summary.update(mean=float(np.nanmean(values)), std=float(np.nanstd(values)))
        summary["quantiles"] = {f"{q:.1f}": float(np.nanquantile(values, q)) for q in PROFILE_QUANTILES}
    return {"model": params.model, "n": len(frame), "target": summary, "features": features}


def pd_numeric(series: Any) -> Any:
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")


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


def lineage_for(ctx: Context, params: TrainingParams, train_md5: str, command: str | None = None) -> Any:
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
        command=command,
    )


MODEL_NAME = "model"
BAD_INPUT_EXIT = 2


def _command(ctx: Context, model: Any) -> tuple[str, list[str]]:
    import shlex

    field_name = f"{ctx.models_path}: models.{model.name}.train.command"
    command = model.train.command
    if not command:
        raise BadInput(
            f"{field_name}: name the model's training command, e.g. python training/{model.name}.py"
        )
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise BadInput(f"{field_name}: {command!r} is not a command line ({exc})") from None
    return command, argv


def _environment(ctx: Context, model_name: str, run_id: str, params: TrainingParams) -> dict[str, str]:
    """What the training command sees: the contract's variables, and this interpreter first on PATH."""
    import json
    import os
    import sys

    env = dict(os.environ)
    env.update(
        {
            "MLFLOW_TRACKING_URI": ctx.tracking_uri,
            "MLFLOW_RUN_ID": run_id,
            "MODELOPS_MODEL": model_name,
            "MODELOPS_TRAIN_DATA": str((ctx.repo / params.train_path).resolve()),
            "MODELOPS_PARAMS_JSON": json.dumps(params.section, sort_keys=True, default=str),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    return env


def run_command(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the command, streaming its output to stderr line by line; (exit code, last output line)."""
    import subprocess
    import sys

    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except OSError as exc:
        return 127, f"{argv[0]}: {exc.strerror or exc}"
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stderr.write(f"  | {line}")
        sys.stderr.flush()
        if line.strip():
            last = line.strip()
    return proc.wait(), last


def _the_model(field_name: str, command: str, logged: list[Any]) -> Any:
    """Exactly one logged model, named `model`, with a signature and an input example."""
    if not logged:
        raise BadInput(
            f"{field_name}: `{command}` logged no MLflow model; log exactly one, named {MODEL_NAME!r}"
        )
    if len(logged) > 1:
        names = ", ".join(sorted(repr(m.name) for m in logged))
        raise BadInput(
            f"{field_name}: `{command}` logged {len(logged)} models ({names}); log exactly one, named {MODEL_NAME!r}"
        )
    found = logged[0]
    if found.name != MODEL_NAME:
        raise BadInput(
            f"{field_name}: `{command}` logged a model named {found.name!r}; name it {MODEL_NAME!r}"
        )
    if not found.has_signature:
        raise BadInput(
            f"{field_name}: the model `{command}` logged has no signature; log it with "
            "signature=mlflow.models.infer_signature(inputs, outputs)"
        )
    if not found.has_input_example:
        raise BadInput(
            f"{field_name}: the model `{command}` logged has no input example; log it with input_example=..."
        )
    return found


def train(ctx: Context, model_name: str, params_path: str | Path | None = None) -> TrainResult:
    """Run the model's training command in a tracked run, check what it logged, register a candidate."""
    from modelops.adapters import dvc_data
    from modelops.adapters.registry import Registry
    from modelops.core.document import ModelsDocument
    from modelops.core.lineage import CANDIDATE_ALIAS
    from modelops.errors import ExternalError

    model = ModelsDocument.load(ctx.models_path).state().model(model_name)
    command, argv = _command(ctx, model)
    field_name = f"{ctx.models_path}: models.{model_name}.train.command"
    params = load_params(ctx.repo, model_name, params_path)
    with step(f"verifying {params.train_path} against its DVC md5"):
        train_md5 = dvc_data.verify(ctx.repo, params.train_path)
    lineage = lineage_for(ctx, params, train_md5, command)
    tags = lineage.tags()
    with step(f"reading {params.train_path}"):
        frame = read_table(ctx.repo, params.train_path, params)

    registry = Registry.for_context(ctx)
    progress(f"MLflow at {ctx.tracking_uri}")
    with registry.run(model.registered_model, run_name=f"train-{model_name}", tags=tags) as run:
        run_id = run.run_id
        with step(f"running `{command}` (run {run_id})"):
            code, last = run_command(argv, ctx.repo, _environment(ctx, model_name, run_id, params))
        if code == BAD_INPUT_EXIT:
            raise BadInput(f"{field_name}: `{command}` refused its input (exit 2): {last}")
        if code != 0:
            raise ExternalError(f"{field_name}: `{command}` failed with exit {code}: {last}")
        found = _the_model(field_name, command, registry.logged_models(run_id))
        profile = data_profile(frame, params, model.gate.task)
        run.log_dict(profile, PROFILE_ARTIFACT)
        # Also inside the model directory: a serving runtime that only sees storage finds it there.
        run.log_model_file(found.model_uri, PROFILE_ARTIFACT, profile)
        run.set_tags(tags)  # the command may have resumed the run with tags of its own; ours win
    with step(f"registering a new version of {model.registered_model}"):
        version = registry.register(model.registered_model, found.model_uri, run_id, tags)
        registry.set_alias(model.registered_model, CANDIDATE_ALIAS, version)
    finished = registry.run_info(run_id)
    metrics = {str(k): float(v) for k, v in (finished.data.metrics if finished is not None else {}).items()}
    return TrainResult(
        model=model_name,
        version=version,
        run_id=run_id,
        registered_model=model.registered_model,
        metrics={k: v for k, v in metrics.items() if math.isfinite(v)},
        tags=tags,
        run_url=registry.run_url(run_id),
        version_url=registry.version_url(model.registered_model, version),
    )
