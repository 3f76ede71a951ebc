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
from modelops.adapters.tables import read_table
from modelops.context import Context
from modelops.core.params import TrainingParams, load_params
from modelops.core.profile import PROFILE_ARTIFACT, data_profile
from modelops.errors import BadInput
from modelops.output import progress, step


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
    backend: str = "local"
    workflow: str = ""  # namespace/name of the Argo Workflow that trained it

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
            "backend": self.backend,
            "workflow": self.workflow or None,
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


def train(
    ctx: Context, model_name: str, params_path: str | Path | None = None, poll_seconds: float = 5.0
) -> TrainResult:
    """Run the model's training command in a tracked run, check what it logged, register a candidate.

    `train.backend: argo` runs the command as an Argo Workflow instead, polled every `poll_seconds`."""
    from modelops.adapters import dvc_data
    from modelops.adapters.registry import Registry
    from modelops.core.document import ModelsDocument
    from modelops.core.state import CANDIDATE_ALIAS
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
        frame = read_table(ctx.repo / params.train_path, params.spec, required=[params.target])

    registry = Registry.for_context(ctx, create=True)
    progress(f"MLflow at {ctx.tracking_uri}")
    workflow = ""
    with registry.run(model.registered_model, run_name=f"train-{model_name}", tags=tags) as run:
        run_id = run.run_id
        if model.train.backend == "argo":
            workflow = _train_on_argo(ctx, model, command, params, run_id, lineage.git_commit, poll_seconds)
        else:
            with step(f"running `{command}` (run {run_id})"):
                code, last = run_command(argv, ctx.repo, _environment(ctx, model_name, run_id, params))
            if code == BAD_INPUT_EXIT:
                raise BadInput(f"{field_name}: `{command}` refused its input (exit 2): {last}")
            if code != 0:
                raise ExternalError(f"{field_name}: `{command}` failed with exit {code}: {last}")
        found = _the_model(field_name, command, registry.logged_models(run_id))
        profile = data_profile(
            params.model,
            numeric={c: frame[c].to_numpy(dtype="float64") for c in params.numeric},
            categorical={c: frame[c].tolist() for c in params.categorical},
            target=(params.target, frame[params.target].tolist()),
            task=model.gate.task,
        )
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
        backend=model.train.backend,
        workflow=workflow,
    )


def _train_on_argo(
    ctx: Context,
    model: Any,
    command: str,
    params: TrainingParams,
    run_id: str,
    revision: str | None,
    poll_seconds: float,
) -> str:
    """Submit the command as an Argo Workflow and follow it to its end, streaming its steps' logs;
    namespace/name of the Workflow once it succeeded. On a timeout the Workflow is deleted."""
    import json
    import time

    from modelops.adapters.kube import Kube
    from modelops.core import training_workflow as tw
    from modelops.errors import ExternalError

    argo = model.train.argo
    settings = f"{ctx.models_path}: models.{model.name}.train"
    image = str(argo.image)
    if "{revision}" in image:
        if not revision:
            raise BadInput(
                f"{settings}.argo.image: {image!r} names {{revision}} but {ctx.repo} is no git commit"
            )
        image = image.replace("{revision}", revision)
    job = tw.TrainingJob(
        model=model.name,
        run_id=run_id,
        tracking_uri=ctx.tracking_uri,
        command=command,
        image=image,
        train_data=params.train_path,
        params_json=json.dumps(params.section, sort_keys=True, default=str),
        revision=revision or "",
    )
    manifest = tw.training_workflow(job, str(argo.namespace), str(argo.template), argo.timeout_minutes)
    namespace, name = str(argo.namespace), manifest["metadata"]["name"]
    where = f"Argo Workflow {namespace}/{name}"
    if not ctx.tracking_uri.startswith(("http://", "https://", "databricks")):
        progress(f"note: the Workflow's pods must reach MLflow at {ctx.tracking_uri}")
    kube = Kube.from_environment(ctx.env)
    with step(f"submitting {where} (WorkflowTemplate {argo.template}, image {image})"):
        kube.create_custom(tw.GROUP, tw.VERSION, tw.PLURAL, manifest)
    logs = _WorkflowLogs(kube, namespace, name)
    deadline = time.monotonic() + argo.timeout_minutes * 60
    phase = None
    while True:
        found = kube.get_custom(tw.GROUP, tw.VERSION, namespace, tw.PLURAL, name)
        if found is None:
            raise ExternalError(f"{where} was deleted while {phase or 'Pending'}; nothing registered")
        status = tw.workflow_status(found)
        if status.phase != phase:
            phase = status.phase
            progress(f"{where}: {phase}")
        logs.stream(final=status.finished)
        if status.finished:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            late = f"{where} did not finish within {argo.timeout_minutes:g} min ({settings}.argo.timeout_minutes) while {phase}"
            try:
                kube.delete_custom(tw.GROUP, tw.VERSION, namespace, tw.PLURAL, name)
            except ExternalError as exc:
                raise ExternalError(f"{late}; nothing registered, and deleting it failed: {exc}") from None
            raise ExternalError(f"{late}; deleted it, nothing registered")
        time.sleep(min(poll_seconds, left))
    if not status.succeeded:
        code = status.failed_exit_code
        detail = logs.last or status.message or "no output"
        if code == BAD_INPUT_EXIT:
            raise BadInput(f"{settings}.command: `{command}` refused its input (exit 2) in {where}: {detail}")
        exit_part = f" with exit {code}" if code is not None else ""
        raise ExternalError(f"{settings}.command: `{command}` {phase} in {where}{exit_part}: {detail}")
    return f"{namespace}/{name}"


class _WorkflowLogs:
    """The Workflow's pods' main-container logs, each line printed once, prefixed with its step."""

    def __init__(self, kube: Any, namespace: str, workflow: str) -> None:
        self.kube, self.namespace, self.workflow = kube, namespace, workflow
        self.printed: dict[str, int] = {}
        self.last = ""
        self.unavailable = False

    def stream(self, final: bool = False) -> None:
        import sys

        from modelops.core import training_workflow as tw
        from modelops.errors import ExternalError

        try:
            pods = self.kube.pods(self.namespace, f"{tw.WORKFLOW_POD_LABEL}={self.workflow}")
            for pod in pods:
                text = self.kube.pod_log(self.namespace, pod["name"], tw.MAIN_CONTAINER) or ""
                lines = text.split("\n")
                # A line still being written is printed once it is complete (or the Workflow ended).
                lines = lines[:-1] if not final or not lines[-1] else lines
                step_name = pod["annotations"].get(tw.NODE_NAME_ANNOTATION, pod["name"]).rsplit(".", 1)[-1]
                for line in lines[self.printed.get(pod["name"], 0) :]:
                    sys.stderr.write(f"  | {step_name}: {line}\n")
                    if line.strip():
                        self.last = line.strip()
                self.printed[pod["name"]] = len(lines)
            sys.stderr.flush()
        except ExternalError as exc:
            # Logs are progress; the Workflow's phase decides. Said once, not at every poll.
            if not self.unavailable:
                progress(f"logs unavailable: {exc}")
            self.unavailable = True
