"""Which models to train after a change: those whose training code, params or data changed.

Pure: two snapshots of what defines a model's training (models.yaml's train.command, params.yaml,
dvc.yaml and dvc.lock, read at two refs) and the paths git says changed between them. A model trains
when any of these changed:

- its training code: a path its `train.command` names (`python training/x.py`, `python -m pkg.mod`),
  or the command itself; a new model trains too;
- its params: its section of params.yaml;
- its data: a DVC stage that writes its training table (dvc.yaml's definition, dvc.lock's md5s, the
  params the stage reads, a file the stage depends on), or the table's own `.dvc` file.

Code a script imports from elsewhere is not followed: list it in the stage's or the command's paths.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NO_BASE = "0" * 40  # what GitHub sends as `before` for the first push of a branch


@dataclass(frozen=True)
class Snapshot:
    """What defines training, at one ref (plain data as parsed from the files; {} when absent)."""

    commands: Mapping[str, str | None] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    stages: Mapping[str, Any] = field(default_factory=dict)
    lock: Mapping[str, Any] = field(default_factory=dict)

    def train_path(self, model: str) -> str:
        """Where the model's training table is (the defaults of modelops train's params reader)."""
        section = self.params.get(model)
        section = section if isinstance(section, dict) else {}
        data_dir = str(section.get("data_dir", f"data/{model}"))
        return str(section.get("train_data", f"{data_dir}/train.csv"))

    def param(self, dotted: str) -> Any:
        node: Any = self.params
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def stages_writing(self, path: str) -> list[str]:
        return [name for name, stage in self.stages.items() if path in _paths(_get(stage, "outs"))]


@dataclass(frozen=True)
class ToTrain:
    model: str
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "reasons": list(self.reasons)}


def _get(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


def _paths(entries: Any) -> list[str]:
    """dvc.yaml deps/outs: plain paths, or one-key mappings `{path: {options}}`."""
    out = []
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, str):
            out.append(_normal(entry))
        elif isinstance(entry, dict) and len(entry) == 1:
            out.append(_normal(str(next(iter(entry)))))
    return out


def _stage_params(stage: Any) -> list[str]:
    """The params keys a stage reads (params.yaml only; `{file: [keys]}` entries name other files)."""
    keys = []
    for entry in _get(stage, "params") or ():
        if isinstance(entry, str):
            keys.append(entry)
        elif isinstance(entry, dict):
            for file, names in entry.items():
                if str(file) == "params.yaml" and isinstance(names, list):
                    keys.extend(str(n) for n in names)
    return keys


def _normal(path: str) -> str:
    return path[2:] if path.startswith("./") else path.rstrip("/")


def command_paths(command: str | None) -> list[str]:
    """The repository paths a training command names: scripts, and modules run with -m."""
    if not command:
        return []
    try:
        argv = shlex.split(command)
    except ValueError:
        return []
    found = []
    for previous, token in zip(["", *argv], argv, strict=False):
        if previous == "-m":
            module = token.replace(".", "/")
            found.extend([f"{module}.py", module])
        elif "/" in token or token.endswith((".py", ".sh", ".R", ".ipynb")):
            found.append(_normal(token))
    return found


def _touches(changed: Iterable[str], path: str) -> list[str]:
    return sorted(p for p in changed if p == path or p.startswith(path + "/"))


def reasons_for(model: str, base: Snapshot, head: Snapshot, changed: frozenset[str]) -> list[str]:
    reasons: list[str] = []
    if model not in base.commands:
        return [f"{model} is new in models.yaml"]
    command = head.commands.get(model)
    if base.commands.get(model) != command:
        reasons.append(f"models.{model}.train.command changed")
    for path in command_paths(command):
        reasons.extend(f"training code {p} changed" for p in _touches(changed, path))
    if base.params.get(model) != head.params.get(model):
        reasons.append(f"params.yaml: {model} changed")
    train_path = head.train_path(model)
    for stage in dict.fromkeys([*base.stages_writing(train_path), *head.stages_writing(train_path)]):
        if base.stages.get(stage) != head.stages.get(stage):
            reasons.append(f"dvc.yaml: stage {stage} changed")
        if base.lock.get(stage) != head.lock.get(stage):
            reasons.append(f"dvc.lock: stage {stage} changed")
        definition = head.stages.get(stage) or base.stages.get(stage)
        for key in _stage_params(definition):
            if base.param(key) != head.param(key):
                reasons.append(f"params.yaml: {key} changed (read by stage {stage})")
        for dep in _paths(_get(definition, "deps")):
            reasons.extend(f"{p} changed (a dependency of stage {stage})" for p in _touches(changed, dep))
    if f"{train_path}.dvc" in changed:
        reasons.append(f"{train_path}.dvc changed")
    return list(dict.fromkeys(reasons))


def models_to_train(base: Snapshot | None, head: Snapshot, changed: Iterable[str]) -> list[ToTrain]:
    """In models.yaml order; with no base (a first push), every model."""
    if base is None:
        return [ToTrain(m, ("no base commit to compare with",)) for m in head.commands]
    paths = frozenset(_normal(p) for p in changed)
    out = []
    for model in head.commands:
        reasons = reasons_for(model, base, head, paths)
        if reasons:
            out.append(ToTrain(model, tuple(reasons)))
    return out


def workflow_matrix(models: Iterable[ToTrain]) -> dict[str, list[dict[str, str]]]:
    """For a workflow's strategy.matrix: {include: [{model}]}."""
    return {"include": [{"model": m.model} for m in models]}
