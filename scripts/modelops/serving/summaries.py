"""Per-feature summaries of what a serving version receives, for drift detection.

Numeric features are counted into fixed bins. The bins come from the training data's profile (the
`data_profile.json` artifact of the version's run) so that serving counts and the reference share
edges; without a profile a generic scale is used. Categorical features are counted per category,
with a bounded number of distinct categories so a misbehaving client cannot blow up label cardinality.

Snapshot format (what `modelops drift --current FILE` reads):

    {"model": "churn", "env": "staging", "version": "3", "n": 1200,
     "features": {"tenure_months": {"edges": [e0, ..., ek], "counts": [c0, ..., ck+1], "missing": 4},
                  "contract": {"categories": {"monthly": 700, "yearly": 496}, "missing": 4}}}

`edges` are the finite upper bounds of Prometheus' `le` buckets: counts[0] counts values ≤ e0,
counts[i] values in (e[i-1], e[i]], and the last count values above the last edge, so
len(counts) == len(edges) + 1. `n` is the number of rows observed; missing values are counted apart
and are not in `counts`/`categories`.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelops.core import contract
from modelops.core.profile import edges_of

# Without a reference profile: a symmetric, roughly logarithmic scale that resolves small counts and
# money-like amounts alike. Coarse, but stable across versions, which is what comparisons need.
GENERIC_EDGES: tuple[float, ...] = (
    -1000.0,
    -100.0,
    -10.0,
    -1.0,
    0.0,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1000.0,
    10000.0,
)
MAX_CATEGORIES = 100
OTHER_CATEGORY = "__other__"
NUMERIC_TYPES = frozenset({"double", "float", "long", "integer", "datetime"})


@dataclass(frozen=True)
class FeatureBins:
    """How serving counts one input: its histogram edges (numeric) or its known categories."""

    name: str
    kind: str  # "numeric" | "categorical"
    edges: tuple[float, ...] = ()
    known_categories: tuple[str, ...] = ()


def _profile_features(profile: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not profile:
        return {}
    features = profile.get("features", profile)
    return features if isinstance(features, Mapping) else {}


def _categories_from(entry: Mapping[str, Any]) -> tuple[str, ...]:
    categories = entry.get("categories")
    if isinstance(categories, Mapping):
        return tuple(str(c) for c in categories)
    if isinstance(categories, list):
        return tuple(str(c) for c in categories)
    return ()


def feature_bins(
    input_types: Mapping[str, str], profile: Mapping[str, Any] | None = None
) -> list[FeatureBins]:
    """One spec per model input, numeric or categorical by the signature's type, edges from the profile."""
    reference = _profile_features(profile)
    specs = []
    for name, type_name in input_types.items():
        entry = reference.get(name)
        entry = entry if isinstance(entry, Mapping) else {}
        if type_name in NUMERIC_TYPES:
            specs.append(FeatureBins(name, "numeric", edges=edges_of(entry) or GENERIC_EDGES))
        else:
            specs.append(FeatureBins(name, "categorical", known_categories=_categories_from(entry)))
    return specs


def score_edges(task: str, profile: Mapping[str, Any] | None = None) -> tuple[float, ...]:
    """The prediction-score histogram's edges for a task: the fixed probability scale for binary
    (P(positive)) and multiclass (the top class's probability); for regression, the training target's
    deciles from the profile, so the bins fit the values the model was trained to predict (the
    generic scale without a profile)."""
    if task != "regression":
        return contract.SCORE_BUCKETS
    target = profile.get("target") if profile else None
    return (edges_of(target) if isinstance(target, Mapping) else ()) or GENERIC_EDGES


class ScoreCounts:
    """The prediction-score histogram of one serving version, on its own edges (a regression's
    bins differ by model, so one Histogram with fixed buckets cannot hold them). Thread-safe."""

    def __init__(self, edges: Iterable[float]) -> None:
        self.edges = tuple(float(e) for e in edges)
        self._edges = np.asarray(self.edges, dtype=float)
        self._lock = threading.Lock()
        self.counts = [0] * (len(self.edges) + 1)
        self.total = 0.0

    def observe(self, scores: np.ndarray) -> None:
        values = np.asarray(scores, dtype=float).reshape(-1)
        # side="left": a value equal to an edge is counted in that edge's bucket, as Prometheus' `le`.
        binned = np.bincount(np.searchsorted(self._edges, values, side="left"), minlength=len(self.counts))
        total = float(values.sum())
        with self._lock:
            self.total += total
            for i, c in enumerate(binned.tolist()):
                self.counts[i] += c

    def snapshot(self) -> tuple[tuple[float, ...], list[int], float]:
        """(edges, non-cumulative counts, sum of the scores)."""
        with self._lock:
            return self.edges, list(self.counts), self.total


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


@dataclass
class _Numeric:
    spec: FeatureBins
    counts: list[int]
    total: float = 0.0
    missing: int = 0


@dataclass
class _Categorical:
    spec: FeatureBins
    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0


class FeatureSummaries:
    """Running counts for one serving version. Thread-safe: requests observe concurrently."""

    def __init__(self, specs: Iterable[FeatureBins]) -> None:
        self._lock = threading.Lock()
        self.n = 0
        self._features: dict[str, _Numeric | _Categorical] = {}
        for spec in specs:
            if spec.kind == "numeric":
                self._features[spec.name] = _Numeric(spec, [0] * (len(spec.edges) + 1))
            else:
                self._features[spec.name] = _Categorical(spec)

    def observe(self, frame: pd.DataFrame) -> None:
        updates: list[tuple[_Numeric | _Categorical, Any, int, float]] = []
        for name, summary in self._features.items():
            if name not in frame.columns:
                continue
            column = frame[name]
            if isinstance(summary, _Numeric):
                try:
                    values = column.to_numpy(dtype=float, na_value=np.nan)
                except (TypeError, ValueError):
                    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
                finite = np.isfinite(values)
                values = values[finite]
                # side="left" puts a value equal to an edge into that edge's bin: Prometheus' `le`.
                index = np.searchsorted(np.asarray(summary.spec.edges, dtype=float), values, side="left")
                binned = np.bincount(index, minlength=len(summary.counts))
                updates.append((summary, binned, int(len(finite) - finite.sum()), float(values.sum())))
            else:
                counted = Counter(str(v) for v in column.tolist() if not _missing(v))
                updates.append((summary, counted, len(column) - sum(counted.values()), 0.0))
        with self._lock:
            self.n += len(frame)
            for summary, counted, missing, total in updates:
                summary.missing += missing
                if isinstance(summary, _Numeric):
                    summary.total += total
                    for i, c in enumerate(counted):
                        summary.counts[i] += int(c)
                else:
                    for category, c in counted.items():
                        key = str(category)
                        if key not in summary.counts and len(summary.counts) >= MAX_CATEGORIES:
                            key = OTHER_CATEGORY
                        summary.counts[key] = summary.counts.get(key, 0) + int(c)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            features: dict[str, Any] = {}
            for name, summary in self._features.items():
                if isinstance(summary, _Numeric):
                    features[name] = {
                        "edges": list(summary.spec.edges),
                        "counts": list(summary.counts),
                        "missing": summary.missing,
                    }
                else:
                    categories = {c: 0 for c in summary.spec.known_categories}
                    categories.update(summary.counts)
                    features[name] = {"categories": categories, "missing": summary.missing}
            return {"n": self.n, "features": features}

    def numeric(self) -> list[tuple[str, tuple[float, ...], list[int], float]]:
        """(feature, edges, non-cumulative counts, sum of values) for the Prometheus exposition."""
        with self._lock:
            return [
                (name, s.spec.edges, list(s.counts), s.total)
                for name, s in self._features.items()
                if isinstance(s, _Numeric)
            ]

    def categorical(self) -> list[tuple[str, dict[str, int]]]:
        with self._lock:
            return [
                (name, dict(s.counts)) for name, s in self._features.items() if isinstance(s, _Categorical)
            ]

    def missing(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(name, s.missing) for name, s in self._features.items()]
