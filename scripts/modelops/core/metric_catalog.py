"""Which metrics each task has and which way each one is better: the table models.yaml's gate settings
are checked against. Kept apart from the metrics' arithmetic (core.metrics, numpy) so that reading and
validating models.yaml, which every rollback does, needs no numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TASKS = ("binary", "multiclass", "regression")
DEFAULT_TASK = "binary"
DECISION_THRESHOLD = 0.5


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    higher_is_better: bool
    description: str
    kind: str  # "sums" (Poisson bootstrap on sufficient statistics) or "rank"

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"

    def gain(self, champion: float, challenger: float) -> float:
        """challenger − champion, signed so that positive always means better."""
        diff = challenger - champion
        return diff if self.higher_is_better else -diff

    def acceptable(self, value: float, floor: float) -> bool:
        """The floor is the worst acceptable value: a minimum, or a maximum when lower is better."""
        if not math.isfinite(value):
            return False
        return value >= floor if self.higher_is_better else value <= floor


def _m(name: str, task: str, higher: bool, description: str, kind: str = "sums") -> Metric:
    return Metric(name, task, higher, description, kind)


METRICS: dict[str, dict[str, Metric]] = {
    "binary": {
        m.name: m
        for m in (
            _m("roc_auc", "binary", True, "ROC AUC of P(positive)", "rank"),
            _m("average_precision", "binary", True, "area under the precision-recall curve", "rank"),
            _m("log_loss", "binary", False, "mean negative log-likelihood"),
            _m("brier", "binary", False, "mean squared error of P(positive)"),
            _m("accuracy", "binary", True, f"share correct at P ≥ {DECISION_THRESHOLD}"),
            _m("f1", "binary", True, f"F1 of the positive class at P ≥ {DECISION_THRESHOLD}"),
        )
    },
    "multiclass": {
        m.name: m
        for m in (
            _m("roc_auc_ovr", "multiclass", True, "macro one-vs-rest ROC AUC", "rank"),
            _m("accuracy", "multiclass", True, "share whose most probable class is right"),
            _m("f1_macro", "multiclass", True, "unweighted mean of the per-class F1"),
            _m("log_loss", "multiclass", False, "mean negative log-likelihood of the true class"),
        )
    },
    "regression": {
        m.name: m
        for m in (
            _m("rmse", "regression", False, "root mean squared error"),
            _m("mae", "regression", False, "mean absolute error"),
            _m("r2", "regression", True, "coefficient of determination"),
        )
    },
}
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "roc_auc_ovr", "regression": "rmse"}
# The per-group metric whose min/max ratio the fairness check judges (each is ≥ 0 for any sane model).
FAIRNESS_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mae"}
# Expected calibration error needs probabilities: binary P(positive), multiclass top-label confidence.
CALIBRATED_TASKS = ("binary", "multiclass")


def all_metric_names() -> list[str]:
    """Every metric some task supports, in registry order (the schema's enum)."""
    names: list[str] = []
    for per_task in METRICS.values():
        names.extend(n for n in per_task if n not in names)
    return names


def metric(task: str, name: str) -> Metric:
    """The metric `name` of `task`; ValueError names the supported ones."""
    if task not in METRICS:
        raise ValueError(f"unknown task {task!r} (tasks: {', '.join(TASKS)})")
    try:
        return METRICS[task][name]
    except KeyError:
        raise ValueError(f"{name!r} is not a {task} metric ({task}: {', '.join(METRICS[task])})") from None


def pairing_problem(task: str, name: str) -> str | None:
    """None when the gate supports metric `name` on `task`, else why not (one line)."""
    try:
        metric(task, name)
    except ValueError as exc:
        return str(exc)
    return None
