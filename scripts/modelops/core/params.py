"""A model's section of params.yaml: its features, target, data files and training settings.

One parser for every reader (train, evaluate, drift), so a field means the same thing everywhere and a
mistake is reported the same way, naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.errors import BadInput


@dataclass(frozen=True)
class FeatureSpec:
    """A model's inputs as params.yaml lists them (`<model>: features: numeric/categorical`), and the
    optional `timestamp` column drift uses for its seasonal references."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    timestamp: str | None = None

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)


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
    timestamp: str | None = None

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec(self.numeric, self.categorical, self.timestamp)


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


def read_section(path: Path, model: str) -> dict[str, Any]:
    """The `<model>:` mapping of a params file."""
    section = _read_yaml(path).get(model)
    if not isinstance(section, dict):
        raise BadInput(
            f"{path}: no `{model}:` section (features, target and train settings of model {model!r})"
        )
    return section


def parse_features(section: dict[str, Any], path: Path, model: str) -> FeatureSpec:
    features = section.get("features")
    features = features if isinstance(features, dict) else {}
    numeric = tuple(str(f) for f in features.get("numeric") or ())
    categorical = tuple(str(f) for f in features.get("categorical") or ())
    if not numeric and not categorical:
        raise BadInput(f"{path}: {model}.features: list numeric and/or categorical feature names")
    timestamp = section.get("timestamp")
    return FeatureSpec(numeric, categorical, str(timestamp) if timestamp else None)


def load_features(path: Path, model: str) -> FeatureSpec:
    """Only the feature lists (what drift compares), without the training settings' checks."""
    return parse_features(read_section(path, model), path, model)


def load_params(repo: Path, model: str, params_path: str | Path | None = None) -> TrainingParams:
    """The model's section of params.yaml: what modelops itself reads (features, target, data paths).

    Everything else in the section (e.g. `train:`) belongs to the model's training command, which
    receives the whole section as MODELOPS_PARAMS_JSON and checks it itself.
    """
    path = Path(params_path) if params_path else repo / "params.yaml"
    section = read_section(path, model)
    features = parse_features(section, path, model)
    target = section.get("target")
    if not target:
        raise BadInput(f"{path}: {model}.target: name the label column")
    data_dir = str(section.get("data_dir", f"data/{model}"))
    return TrainingParams(
        model=model,
        source=str(path),
        target=str(target),
        numeric=features.numeric,
        categorical=features.categorical,
        train_path=str(section.get("train_data", f"{data_dir}/train.csv")),
        golden_path=str(section.get("golden_data", f"{data_dir}/golden.csv")),
        section=section,
        timestamp=features.timestamp,
    )
