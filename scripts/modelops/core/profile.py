"""The training data's profile, logged as data_profile.json on every version's run.

Per numeric feature: count, missing, mean, std, min, max, deciles (`quantiles`) and the inner decile
`edges`, binned by `core.drift.quantile_edges`, the function drift detection bins its reference with,
so serving's histograms and drift's bins agree. Per categorical feature: count, missing, the share and
the count of every category. Serving reads the edges back with `edges_of`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from modelops.core.drift import quantile_edges

PROFILE_ARTIFACT = "data_profile.json"
PROFILE_QUANTILES = tuple(round(q / 10, 1) for q in range(11))
PROFILE_BINS = 10


def data_profile(
    model: str,
    numeric: Mapping[str, ArrayLike],
    categorical: Mapping[str, Sequence[str | None]],
    target: tuple[str, Sequence[Any]],
    task: str = "binary",
) -> dict[str, Any]:
    """The profile of one training table: numeric columns as floats (NaN missing), categorical ones
    as text (None missing), and the (name, values) of the target, summarised by task: the positive
    rate (binary), the class shares (multiclass) or the value quantiles (regression)."""
    features: dict[str, Any] = {}
    for column, raw in numeric.items():
        values = np.asarray(raw, dtype=np.float64)
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
                edges=[float(e) for e in quantile_edges(present, PROFILE_BINS)],
            )
        features[column] = entry
    for column, cells in categorical.items():
        kept = [str(c) for c in cells if c is not None]
        counts = sorted(Counter(kept).items())
        features[column] = {
            "kind": "categorical",
            "count": len(kept),
            "missing": len(cells) - len(kept),
            "categories": {k: float(v) / max(len(kept), 1) for k, v in counts},
            "counts": dict(counts),
        }
    name, labels = target
    summary: dict[str, Any] = {"name": name}
    if task == "binary":
        summary["positive_rate"] = float((np.asarray(labels) == 1).mean())
    elif task == "multiclass":
        classes = Counter(str(v) for v in labels if not _missing(v))
        total = sum(classes.values())
        summary["classes"] = {k: v / total for k, v in sorted(classes.items())}
    else:
        values = np.array([_number(v) for v in labels], dtype=np.float64)
        summary.update(mean=float(np.nanmean(values)), std=float(np.nanstd(values)))
        summary["quantiles"] = {f"{q:.1f}": float(np.nanquantile(values, q)) for q in PROFILE_QUANTILES}
    return {"model": model, "n": len(labels), "target": summary, "features": features}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _clean_edges(values: Iterable[Any]) -> tuple[float, ...]:
    finite = {float(v) for v in values if v is not None and math.isfinite(float(v))}
    return tuple(sorted(finite))


def edges_of(entry: Mapping[str, Any]) -> tuple[float, ...]:
    """Reference edges from a profile entry: explicit edges, or its quantile values."""
    for key in ("edges", "bin_edges", "bins"):
        if isinstance(entry.get(key), list):
            return _clean_edges(entry[key])
    quantiles = entry.get("quantiles")
    if isinstance(quantiles, Mapping):
        return _clean_edges(v for _, v in sorted(quantiles.items(), key=lambda kv: float(kv[0])))
    if isinstance(quantiles, list):
        return _clean_edges(quantiles)
    return ()
