"""`modelops train-matrix --base REF`: the models a change should train, for train.yml's matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelops.adapters.git import Git
from modelops.adapters.gitread import READ_TIMEOUT, read_at, state_at
from modelops.context import MODELS_FILE, Context
from modelops.core.train_matrix import NO_BASE, Snapshot, ToTrain, models_to_train, workflow_matrix
from modelops.errors import BadInput


@dataclass(frozen=True)
class TrainMatrix:
    base: str
    head: str
    models: list[ToTrain] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "models": [m.as_dict() for m in self.models],
            "matrix": workflow_matrix(self.models),
        }


def _yaml_at(ctx: Context, ref: str, path: str) -> Any:
    import yaml

    text = read_at(ctx.repo, ref, path)
    if text is None:
        return {}
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput(f"{ref}:{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return loaded if isinstance(loaded, dict) else {}


def snapshot_at(ctx: Context, ref: str) -> Snapshot:
    state = state_at(ctx.repo, ref)  # empty where models.yaml did not exist yet
    commands: dict[str, str | None] = {name: model.train.command for name, model in state.models.items()}
    stages = _yaml_at(ctx, ref, "dvc.yaml").get("stages") or {}
    lock = _yaml_at(ctx, ref, "dvc.lock").get("stages") or {}
    return Snapshot(commands=commands, params=_yaml_at(ctx, ref, "params.yaml"), stages=stages, lock=lock)


def changed_paths(ctx: Context, base: str, head: str) -> list[str]:
    out = Git(ctx.repo).run("diff", "--name-only", "-z", base, head, "--", timeout=READ_TIMEOUT)
    return [p for p in out.split("\0") if p]


def train_matrix(ctx: Context, base: str, head: str = "HEAD", model: str | None = None) -> TrainMatrix:
    """The models to train between `base` and `head`; with `model`, that one (a dispatch asks for it)."""
    head_snapshot = snapshot_at(ctx, head)
    if model:
        if model not in head_snapshot.commands:
            known = ", ".join(head_snapshot.commands) or "none"
            raise BadInput(f"--model {model}: not a model in {head}:{MODELS_FILE} (models: {known})")
        return TrainMatrix(base, head, [ToTrain(model, ("asked for",))])
    if base == NO_BASE:
        return TrainMatrix(base, head, models_to_train(None, head_snapshot, []))
    base_snapshot = snapshot_at(ctx, base)
    return TrainMatrix(
        base, head, models_to_train(base_snapshot, head_snapshot, changed_paths(ctx, base, head))
    )
