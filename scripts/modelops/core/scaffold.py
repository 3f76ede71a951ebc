"""`modelops init model`: what a new Model needs, planned as text from the files as they are now.

Pure: the caller reads the repository's files and passes their text in; the plan is every file to
create or rewrite, in full. Edits of YAML the repository already has (models.yaml, params.yaml,
dvc.yaml, monitoring/kustomization.yaml) are ruamel round trips, so comments, key order, quoting and
line endings of everything else survive; a file whose formatting the editor cannot reproduce is
refused before anything is planned. Nothing is written here: flows/init_model.py applies the plan
all at once or not at all.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops.core import scaffold_templates as t
from modelops.core.document import ModelsDocument, _yaml
from modelops.core.render import RESERVED_DIRS, render_model
from modelops.errors import BadInput

TASKS = ("binary", "multiclass", "regression")

MODELS = "models.yaml"
PARAMS = "params.yaml"
DVC = "dvc.yaml"
CODEOWNERS = ".github/CODEOWNERS"
MONITORING_KUSTOMIZATION = "monitoring/kustomization.yaml"
# The files init edits when they exist; the rest of what it writes is new.
EDITED = (MODELS, PARAMS, DVC, CODEOWNERS, MONITORING_KUSTOMIZATION)

# A Kubernetes name (RFC 1123 label): it becomes InferenceService and Application names.
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1123_MAX = 63
# Stricter, from models.schema.json: a letter first, at most 42 characters (room for `-<env>`).
MODEL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}[a-z0-9]$")
OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-_.]*$")


@dataclass(frozen=True)
class TaskPreset:
    """A task's first gate: unit-free metrics, so the defaults mean something for any data."""

    metric: str
    margin: float
    floor: float
    estimator: str
    score_name: str


PRESETS: Mapping[str, TaskPreset] = {
    "binary": TaskPreset("roc_auc", -0.02, 0.6, "HistGradientBoostingClassifier", "accuracy"),
    "multiclass": TaskPreset("roc_auc_ovr", -0.02, 0.6, "HistGradientBoostingClassifier", "accuracy"),
    # r2 ≥ 0: at least as good as predicting the mean, whatever the target's unit.
    "regression": TaskPreset("r2", -0.02, 0.0, "HistGradientBoostingRegressor", "R²"),
}

# An environment's pipeline settings carry over from the models already there; its state starts empty.
ENV_STATE: dict[str, Any] = {
    "version": None,
    "run_id": None,
    "previous": None,
    "canary": None,
    "quarantined": [],
    "history": [],
}
ENV_CARRIED = ("alias", "upstream", "soak", "canary_steps", "auto_promote", "replicas", "deployment_mode")
DEFAULT_ENVIRONMENTS: Mapping[str, Mapping[str, Any]] = {
    "staging": {"alias": "staging", "replicas": 1},
    "production": {"alias": "production", "replicas": 2},
}


@dataclass(frozen=True)
class InitPlan:
    model: str
    task: str
    created: dict[str, str] = field(default_factory=dict)
    modified: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> dict[str, str]:
        return {**self.created, **self.modified}

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "created": sorted(self.created),
            "modified": sorted(self.modified),
        }


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a Model, or None."""
    if len(name) > DNS_1123_MAX or not DNS_1123_LABEL.match(name):
        return (
            f"model name {name!r} is not a valid Kubernetes name (RFC 1123 label: lower-case letters, "
            "digits and '-', starting and ending with a letter or digit, at most 63 characters)"
        )
    if not MODEL_NAME.match(name):
        return (
            f"model name {name!r}: models.yaml needs a letter first and 2 to 42 characters "
            "(room for -<environment> in the names Argo CD generates)"
        )
    if name in RESERVED_DIRS:
        return f"model name {name!r} is reserved: applications/{name}/ holds shared manifests"
    return None


def new_paths(name: str) -> tuple[str, ...]:
    """The files init creates besides the rendered manifests (which live under applications/<name>/)."""
    return (
        f"training/{name}.py",
        f"training/{name}_data.py",
        f"monitoring/rules/model-{name}.yaml",
        f"monitoring/tests/model-{name}.test.yaml",
    )


def data_stage(name: str) -> str:
    return f"{name}_data"


# -- round-trip editing ------------------------------------------------------------------------


def _round_trip(text: str, filename: str, edit: Callable[[Any], None]) -> str:
    """Apply `edit` to the parsed YAML and dump it, refusing a file the editor would reformat."""
    newline = "\r\n" if "\r\n" in text else "\n"
    plain = text.replace("\r\n", "\n")
    yaml = _yaml()
    try:
        root = yaml.load(plain)
    except Exception as exc:  # ruamel's errors share no useful base beyond YAMLError's lazy import
        raise BadInput(f"{filename}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if root is None:
        root = _yaml().load("{}\n")
    elif not isinstance(root, dict):
        raise BadInput(f"{filename}: expected a mapping at the top level")
    else:
        buf = io.StringIO()
        yaml.dump(root, buf)
        if buf.getvalue() != plain:
            raise BadInput(
                f"{filename}: formatting the round-trip editor cannot preserve; "
                "use 2-space mappings and '  - ' sequence items"
            )
    edit(root)
    out = io.StringIO()
    _yaml().dump(root, out)
    dumped = out.getvalue()
    return dumped.replace("\n", newline) if newline != "\n" else dumped


def _append(mapping: Any, key: str, snippet: str, comment: str | None, indent: int) -> None:
    """Add `key` (parsed from `snippet`, comments and flow style kept) at the end of `mapping`."""
    # Parsed at its final depth, so comments inside it keep their columns in the dump.
    wrapped = "".join(f"{' ' * (2 * level)}_{level}:\n" for level in range(indent // 2))
    node = _yaml().load(wrapped + _indented(snippet, indent))
    for level in range(indent // 2):
        node = node[f"_{level}"]
    value = node[key]
    mapping[key] = value
    if comment is not None:
        mapping.yaml_set_comment_before_after_key(key, before="\n" + comment, indent=indent)


def _indented(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


# -- the pieces --------------------------------------------------------------------------------


def environments_like(doc: ModelsDocument) -> dict[str, dict[str, Any]]:
    """The environments a new Model gets: the first existing Model's pipeline, with no state."""
    models = doc.plain().get("models") or {}
    first = next(iter(models.values()), None) if isinstance(models, dict) else None
    source = (first or {}).get("environments") or DEFAULT_ENVIRONMENTS
    out: dict[str, dict[str, Any]] = {}
    for env, settings in source.items():
        carried = {k: settings[k] for k in ENV_CARRIED if k in settings}
        carried.setdefault("alias", env)
        cluster = (settings.get("destination") or {}).get("cluster")
        if cluster:  # the namespace stays the default: the other model's namespace is not this one's
            carried["destination"] = {"cluster": cluster}
        state = {k: list(v) if isinstance(v, list) else v for k, v in ENV_STATE.items()}
        merged = {**state, **carried}
        # In the existing environment's key order, then whatever it did not have.
        order = [k for k in settings if k in merged] + [k for k in merged if k not in settings]
        out[str(env)] = {k: merged[k] for k in order}
    return out


def _environments_yaml(environments: Mapping[str, Mapping[str, Any]]) -> str:
    lines = []
    for env, settings in environments.items():
        lines.append(f"{env}:")
        for key, value in settings.items():
            lines.append(f"  {key}: {_flow(value)}")
    return _indented("\n".join(lines) + "\n", 4)


def _flow(value: Any) -> str:
    """A value as a one-line YAML scalar or flow collection (JSON is valid flow YAML)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return value if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*", value) else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def models_entry(doc: ModelsDocument, name: str, task: str, owners: list[str], description: str) -> str:
    preset = PRESETS[task]
    return t.MODELS_ENTRY.substitute(
        name=name,
        task=task,
        owners=", ".join(owners),
        description=_flow(description),
        metric=preset.metric,
        margin=preset.margin,
        floor=preset.floor,
        seed=sum(ord(c) for c in name) + 20260000,
        environments=_environments_yaml(environments_like(doc)),
    )


def alert_files(name: str, budget_ms: float = 200.0) -> dict[str, str]:
    """The Model's PrometheusRule and its promtool unit tests, for a latency budget under 500 ms."""
    budget = budget_ms / 1000.0
    p99_ms = budget_ms * 1.99  # none within the budget, all within twice it (the test's buckets)
    values = {
        "name": name,
        "budget_ms": f"{budget_ms:g}",
        "budget_seconds": f"{budget:g}",
        "below": f"{budget:g}",
        "upper": f"{2 * budget:g}",
        "p99": f"{p99_ms:.4g}ms",  # how Prometheus' humanizeDuration prints a value under a second
    }
    return {
        f"monitoring/rules/model-{name}.yaml": t.ALERT_RULES.substitute(values),
        f"monitoring/tests/model-{name}.test.yaml": t.ALERT_TESTS.substitute(values),
    }


def codeowners_with(text: str | None, name: str) -> str:
    """CODEOWNERS with the Model's lines: beside the other models' overlays and training code."""
    team = f"@org/{name}-owners"
    entries = {
        "/applications/": [f"/applications/{name}/"],
        "/training/": [f"/training/{name}.py", f"/training/{name}_data.py"],
    }
    newline = "\r\n" if text and "\r\n" in text else "\n"
    lines = (text or "").replace("\r\n", "\n").splitlines()
    width = max([len(p) for group in entries.values() for p in group] + [27]) + 1
    homeless: list[str] = []
    for prefix, paths in entries.items():
        new = [f"{p.ljust(width)}{team}" for p in paths]
        last = max((i for i, line in enumerate(lines) if line.startswith(prefix)), default=None)
        if last is None:
            homeless.extend(new)
        else:
            lines[last + 1 : last + 1] = new
    if homeless:
        lines.extend(["", f"# {name}'s overlays and training code: its owners.", *homeless])
    return newline.join(lines) + newline


def _add_params(root: Any, name: str, task: str) -> None:
    if name in root:
        raise BadInput(f"{PARAMS}: a `{name}:` section exists already; choose another model name")
    snippet = t.PARAMS_SECTION.substitute(
        name=name, stage=data_stage(name), estimator=PRESETS[task].estimator
    )
    comment = (
        f"{name} ({task}), scaffolded by `modelops init model`: training/{name}.py reads this section as\n"
        "MODELOPS_PARAMS_JSON; modelops itself reads target and features."
    )
    _append(root, name, snippet, comment, indent=0)


def _add_stage(root: Any, name: str) -> None:
    stages = root.get("stages")
    if stages is None:
        root["stages"] = stages = _yaml().load("{}\n")
    stage = data_stage(name)
    if stage in stages:
        raise BadInput(f"{DVC}: stages.{stage} exists already; choose another model name")
    _append(stages, stage, t.DVC_STAGE.substitute(name=name, stage=stage), None, indent=2)


def _add_rule_file(root: Any, name: str) -> None:
    resources = root.get("resources")
    entry = f"rules/model-{name}.yaml"
    if resources is None:
        root["resources"] = resources = _yaml().load("[]\n")
    if entry not in resources:
        resources.append(entry)


# -- the plan ----------------------------------------------------------------------------------


def plan_init(
    name: str,
    task: str,
    files: Mapping[str, str | None],
    *,
    existing: frozenset[str] = frozenset(),
    owners: list[str] | None = None,
    description: str | None = None,
) -> InitPlan:
    """Everything init writes for Model `name`.

    `files` holds the current text of EDITED (None: absent); `existing` the repository-relative paths
    already on disk among what init would create. Raises BadInput, naming the first obstacle.
    """
    problem = name_problem(name)
    if problem:
        raise BadInput(problem)
    if task not in TASKS:
        raise BadInput(f"--task {task}: not a task; use one of {', '.join(TASKS)}")
    owners = owners or [f"{name}-owners"]
    for owner in owners:
        if not OWNER.match(owner):
            raise BadInput(f"--owner {owner!r}: not a GitHub login")
    models_text = files.get(MODELS)
    if models_text is None:
        raise BadInput(f"{MODELS}: file not found; run init in the repository")
    doc = ModelsDocument(models_text, filename=MODELS)
    state = doc.state()
    if name in state.models:
        raise BadInput(f"{MODELS}: model {name!r} exists already (models.{name}); choose another name")
    taken = {m.registered_model: m.name for m in state.models.values()}
    if name in taken:
        raise BadInput(
            f"{MODELS}: models.{taken[name]}.registered_model is {name!r} already; choose another name"
        )
    owned = (f"applications/{name}/", f"data/{name}/")
    clash = sorted(p for p in existing if p in new_paths(name) or p.startswith(owned))
    if clash:
        raise BadInput(f"{clash[0]}: exists already; model {name!r} would overwrite it")

    entry = models_entry(doc, name, task, owners, description or f"TODO: what {name} predicts ({task}).")
    comment = f"{name}: scaffolded by `modelops init model` (README: bring your own model)."
    new_models = _round_trip(
        models_text, MODELS, lambda root: _append(root["models"], name, entry, comment, indent=2)
    )
    new_doc = ModelsDocument(new_models, filename=MODELS)
    problems = new_doc.problems()
    if problems:  # a template out of step with the schema: a bug, said plainly
        raise BadInput(problems[0].render(f"{MODELS} (as init would write it)"))
    new_state = new_doc.state()
    prefix = str((new_doc.plain().get("registry") or {}).get("storage_uri_prefix") or "")
    if not prefix:
        raise BadInput(f"{MODELS}: registry.storage_uri_prefix is missing; render needs it")

    created: dict[str, str] = {
        f"training/{name}.py": t.TRAINING_SCRIPT.substitute(
            name=name, task=task, estimator=PRESETS[task].estimator, score_name=PRESETS[task].score_name
        ),
        f"training/{name}_data.py": t.DATA_SCRIPT.substitute(
            name=name,
            stage=data_stage(name),
            target_comment=t.TARGETS[task][0],
            target_expression=t.TARGETS[task][1],
        ),
        **alert_files(name, new_state.model(name).gate.latency_budget_ms),
        **render_model(new_state.model(name), prefix),
    }
    modified: dict[str, str] = {MODELS: new_models}
    edits: dict[str, Callable[[Any], None]] = {
        PARAMS: lambda root: _add_params(root, name, task),
        DVC: lambda root: _add_stage(root, name),
        MONITORING_KUSTOMIZATION: lambda root: _add_rule_file(root, name),
    }
    for path, edit in edits.items():
        text = files.get(path)
        if text is None:
            if path == MONITORING_KUSTOMIZATION:
                raise BadInput(f"{path}: file not found; the rule files are listed there for Argo CD")
            created[path] = _round_trip("", path, edit)
        else:
            modified[path] = _round_trip(text, path, edit)
    owners_text = files.get(CODEOWNERS)
    (modified if owners_text is not None else created)[CODEOWNERS] = codeowners_with(owners_text, name)
    return InitPlan(model=name, task=task, created=dict(sorted(created.items())), modified=modified)
