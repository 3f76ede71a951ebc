"""Tasks and their metrics: what a model's outputs mean, which metrics the gate can judge, and the
paired intervals the gate reads.

A task fixes the shape of the predictions the gate scores:
  - binary: P(positive) per row (1-D), labels 0/1;
  - multiclass: class probabilities per row (n × K, columns in class-index order), labels 0..K−1;
  - regression: predicted values (1-D), labels real.

Every metric has a direction. The gate never reads "challenger − champion" raw: it reads the *gain*,
    gain = (challenger − champion)        for a metric where higher is better,
    gain = (champion − challenger)        for a metric where lower is better (log_loss, rmse, ...),
so "the CI lower bound of the gain clears gate.margin" means the same thing for every metric, and a
negative margin is always a tolerance in the metric's own units. The floor is the worst acceptable
value: a minimum for higher-is-better metrics, a maximum for lower-is-better ones.

Intervals. Three estimators, one result type (gate.PairedBootstrap, `delta` = the gain):
  - roc_auc: the exact multinomial bootstrap of modelops.core.gate (unchanged), or DeLong's variance
    computed with Sun & Xu's (2014) midrank algorithm in O(n log n) — the choice for large golden sets;
  - metrics that are smooth functions of per-row sums (accuracy, log_loss, brier, f1, f1_macro, rmse,
    mae, r2): a Poisson bootstrap. Each resample weights every unit by an independent Poisson(1) count;
    a metric is a function of weighted sums, so a resample costs one matrix product. Up to
    STREAM_UNITS rows a unit is a row (the textbook Poisson bootstrap). Beyond that, rows stream in
    chunks and each row is assigned to one of STREAM_UNITS units at random; units are then i.i.d. and
    carry the same sums, so resampling units estimates the same sampling distribution while memory
    stays flat in the number of rows (units × statistics, not resamples × rows);
  - rank metrics other than the binary AUC (average_precision, roc_auc_ovr): a Poisson bootstrap on
    row counts, exact per row (their golden sets are the usual few thousand rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from modelops.core import gate, metric_catalog
from modelops.core.gate import (
    FairnessResult,
    GateDecision,
    Measurements,
    PairedBootstrap,
    SliceResult,
    _percentile_ci,
    _Ranked,
)
from modelops.core.state import GateSettings

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# The metric table is core.metric_catalog's (it needs no numpy); its names are this module's too.
TASKS = metric_catalog.TASKS
DEFAULT_TASK = metric_catalog.DEFAULT_TASK
DECISION_THRESHOLD = metric_catalog.DECISION_THRESHOLD
METRICS = metric_catalog.METRICS
DEFAULT_METRIC = metric_catalog.DEFAULT_METRIC
FAIRNESS_METRIC = metric_catalog.FAIRNESS_METRIC
CALIBRATED_TASKS = metric_catalog.CALIBRATED_TASKS
Metric = metric_catalog.Metric
all_metric_names = metric_catalog.all_metric_names
metric = metric_catalog.metric
pairing_problem = metric_catalog.pairing_problem

PROBABILITY_EPS = 1e-15  # log loss clips probabilities like sklearn does
# Units of the streaming Poisson bootstrap. Enough that the bootstrap distribution of a smooth
# statistic of unit sums is indistinguishable from the per-row one (the CI's error is O(1/units)).
STREAM_UNITS = 20_000
STREAM_CHUNK = 1_000_000
# Above this many golden rows the binary AUC's paired CI comes from DeLong's variance (O(n log n))
# instead of the exact bootstrap (O(B·n)): both agree within a few per cent there (bench_metrics).
DELONG_ROWS = 500_000
# Resamples × units per matrix product block (float64: ≤ 16 MB).
WEIGHT_BLOCK = 2_000_000


# -- predictions --------------------------------------------------------------------------------------


def as_labels(task: str, y: ArrayLike) -> FloatArray | IntArray:
    arr = np.asarray(y)
    if task == "regression":
        values: FloatArray = arr.astype(np.float64)
        return values
    if task == "binary":
        binary: IntArray = (arr == 1).astype(np.int64) if arr.dtype != bool else arr.astype(np.int64)
        return binary
    classes: IntArray = arr.astype(np.int64)
    return classes


def as_predictions(task: str, predictions: ArrayLike) -> FloatArray:
    """Predictions in the task's shape; ValueError when the shape does not fit the task."""
    p = np.asarray(predictions, dtype=np.float64)
    if task == "multiclass":
        if p.ndim != 2 or p.shape[1] < 2:
            raise ValueError(f"multiclass predictions must be rows × classes, got shape {p.shape}")
        return p
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim != 1:
        raise ValueError(f"{task} predictions must be one value per row, got shape {p.shape}")
    return p


def model_outputs(model: Any, frame: Any, task: str, classes: Sequence[Any] | None = None) -> FloatArray:
    """A model's outputs on `frame` as the task reads them (what evaluation scores and serving serves).

    binary: P(positive) — predict_proba(x)[:, 1] when the model has it (the sklearn fast path), else
    predict(x): one column (or a 1-D result) is P(positive), two columns are [P(0), P(1)]. A model
    that only predicts hard 0/1 labels is scored as if those were probabilities: ranking metrics see
    one threshold, and calibration is judged on them as they are.
    multiclass: class probabilities, rows × classes — predict_proba, or predict returning one column
    per class (a frame whose columns are named after `classes` is read in that order, any other in
    its own); a model whose predict returns labels is one-hot encoded on `classes` (without them, on
    the labels it returned, sorted).
    regression: predict(x) as values.
    """
    if task != "regression" and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
        if task == "binary":
            positive: FloatArray = proba[:, 1]
            return positive
        return proba
    raw = model.predict(frame)
    named = [str(c) for c in getattr(raw, "columns", [])]
    if task == "multiclass" and classes is not None and {str(c) for c in classes} <= set(named):
        # A frame of probabilities with one column per class: take them in `classes` order.
        raw = raw[[raw.columns[named.index(str(c))] for c in classes]]
    values = np.asarray(getattr(raw, "to_numpy", lambda: raw)())
    if task == "multiclass":
        if values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1):
            labels = values.reshape(-1)
            known = classes if classes is not None else sorted({str(v) for v in labels})
            index = {str(c): k for k, c in enumerate(known)}
            onehot: FloatArray = np.zeros((len(labels), len(index)))
            for row, label in enumerate(labels):
                if str(label) in index:
                    onehot[row, index[str(label)]] = 1.0
            return onehot
        probabilities: FloatArray = values.astype(np.float64)
        return probabilities
    out: FloatArray = values.astype(np.float64)
    if out.ndim == 2:
        out = out[:, -1] if task == "binary" else out[:, 0]
    return out


def outputs_problem(
    task: str, outputs: FloatArray, rows: int, classes: Sequence[Any] | None = None
) -> str | None:
    """Why a model's outputs on `rows` rows do not mean what its task says (one line), or None."""
    multiclass = task == "multiclass"
    expected = "rows × classes" if multiclass else "one value per row"
    if not (
        (outputs.ndim == 2 and outputs.shape[0] == rows and outputs.shape[1] >= 2)
        if multiclass
        else outputs.shape == (rows,)
    ):
        return f"outputs of shape {outputs.shape}: a {task} model returns {expected}"
    if multiclass and classes is not None and outputs.shape[1] != len(classes):
        return f"{outputs.shape[1]} probability columns for {len(classes)} classes"
    if not np.all(np.isfinite(outputs)):
        return "non-finite outputs"
    if task != "regression" and (outputs.min() < 0.0 or outputs.max() > 1.0):
        meaning = "P(positive)" if task == "binary" else "class probabilities"
        return (
            f"a {task} model must output {meaning} in [0, 1]; it returned values in "
            f"[{outputs.min():.4g}, {outputs.max():.4g}] (is it a regression model? set gate.task)"
        )
    return None


def served_scores(task: str, outputs: FloatArray) -> FloatArray:
    """The one number per row the prediction-score histogram counts: P(positive) (binary), the top
    class's probability (multiclass), the predicted value (regression)."""
    if task == "multiclass":
        top: FloatArray = outputs.max(axis=1)
        return top
    return outputs


# -- sufficient statistics (metrics that are functions of per-row sums) -----------------------------


def _clipped(p: FloatArray) -> FloatArray:
    clipped: FloatArray = np.clip(p, PROBABILITY_EPS, 1 - PROBABILITY_EPS)
    return clipped


def _row_stats(m: Metric, y: FloatArray | IntArray, p: FloatArray) -> FloatArray:
    """Per-row statistics (rows × s) whose column sums determine the metric (see _from_sums)."""
    ones = np.ones(len(y))
    if m.task == "binary":
        if m.name == "log_loss":
            q = _clipped(p)
            return np.column_stack([-(y * np.log(q) + (1 - y) * np.log(1 - q)), ones])
        if m.name == "brier":
            return np.column_stack([(p - y) ** 2, ones])
        flagged = (p >= DECISION_THRESHOLD).astype(np.float64)
        if m.name == "accuracy":
            return np.column_stack([(flagged == y).astype(np.float64), ones])
        if m.name == "f1":
            # 2·tp, fp + fn
            return np.column_stack([2.0 * flagged * y, flagged * (1 - y) + (1 - flagged) * y])
    if m.task == "multiclass":
        k = p.shape[1]
        labels = y.astype(np.int64)
        if m.name == "log_loss":
            q = _clipped(p[np.arange(len(labels)), np.clip(labels, 0, k - 1)])
            q = np.where((labels >= 0) & (labels < k), q, PROBABILITY_EPS)
            return np.column_stack([-np.log(q), ones])
        chosen = np.argmax(p, axis=1)
        if m.name == "accuracy":
            return np.column_stack([(chosen == labels).astype(np.float64), ones])
        if m.name == "f1_macro":
            truth = labels[:, None] == np.arange(k)[None, :]
            pick = chosen[:, None] == np.arange(k)[None, :]
            tp = (truth & pick).astype(np.float64)
            errors = (truth ^ pick).astype(np.float64)  # fp + fn per class
            return np.concatenate([2.0 * tp, errors], axis=1)
    if m.task == "regression":
        err = p - y
        if m.name == "rmse":
            return np.column_stack([err**2, ones])
        if m.name == "mae":
            return np.column_stack([np.abs(err), ones])
        if m.name == "r2":
            return np.column_stack([err**2, y, y**2, ones])
    raise ValueError(f"{m.name} ({m.task}) is not computed from sums")


def _from_sums(m: Metric, sums: FloatArray) -> FloatArray:
    """The metric from column sums (… × s); NaN where it is undefined (e.g. an empty resample)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.name in ("log_loss", "brier", "accuracy", "mae"):
            out: FloatArray = sums[..., 0] / sums[..., 1]
        elif m.name == "rmse":
            out = np.sqrt(sums[..., 0] / sums[..., 1])
        elif m.name == "f1":
            out = sums[..., 0] / (sums[..., 0] + sums[..., 1])
        elif m.name == "f1_macro":
            k = sums.shape[-1] // 2
            tp2, errors = sums[..., :k], sums[..., k:]
            denominator = tp2 + errors
            # sklearn: a class with no true and no predicted rows scores F1 = 0 and still counts.
            per_class = np.where(denominator > 0, tp2 / np.where(denominator > 0, denominator, 1), 0.0)
            out = per_class.mean(axis=-1)
        elif m.name == "r2":
            sse, sy, syy, w = sums[..., 0], sums[..., 1], sums[..., 2], sums[..., 3]
            sst = syy - sy * sy / w
            out = 1.0 - sse / sst
        else:
            raise ValueError(f"{m.name} is not computed from sums")
    out = np.where(np.isfinite(out), out, np.nan)
    return out


# -- rank metrics --------------------------------------------------------------------------------------


def _weighted_average_precision(y: IntArray, p: FloatArray, counts: IntArray) -> FloatArray:
    """Average precision (sklearn's step-wise definition, ties as one threshold) per row of counts."""
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ps)) + 1]
    w = counts[:, order].astype(np.float64)
    tp = np.add.reduceat(w * ys, starts, axis=1)
    seen = np.add.reduceat(w, starts, axis=1)
    cum_tp, cum_seen = np.cumsum(tp, axis=1), np.cumsum(seen, axis=1)
    positives = cum_tp[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cum_seen > 0, cum_tp / cum_seen, 0.0)
        ap: FloatArray = (tp * precision).sum(axis=1) / positives
    return np.where(positives > 0, ap, np.nan)


def _rank_values(m: Metric, y: IntArray, p: FloatArray, counts: IntArray) -> FloatArray:
    if m.name == "roc_auc":
        return _Ranked.of(y, p).auc_of_counts(counts)
    if m.name == "average_precision":
        return _weighted_average_precision(y, p, counts)
    if m.name == "roc_auc_ovr":
        per_class = [
            _Ranked.of((y == k).astype(np.int64), p[:, k]).auc_of_counts(counts) for k in range(p.shape[1])
        ]
        # A class absent from the resample has no AUC: the macro mean over the others would be a
        # different metric, so the resample is degenerate (NaN) — as sklearn refuses it.
        stacked: FloatArray = np.mean(np.stack(per_class), axis=0)
        return stacked
    raise ValueError(f"{m.name} is not a rank metric")


# -- point values ---------------------------------------------------------------------------------------


def score(m: Metric, y: ArrayLike, predictions: ArrayLike) -> float:
    """The metric on all rows (NaN when undefined, e.g. an AUC with one class)."""
    labels = as_labels(m.task, y)
    p = as_predictions(m.task, predictions)
    if m.kind == "rank":
        ones = np.ones((1, len(labels)), dtype=np.int64)
        return float(_rank_values(m, labels.astype(np.int64), p, ones)[0])
    return float(_from_sums(m, _row_stats(m, labels, p).sum(axis=0)))


# -- Poisson bootstrap -------------------------------------------------------------------------------


def _weight_blocks(units: int, samples: int, seed: int) -> Iterator[FloatArray]:
    """Poisson(1) weights, resamples × units, block by block; block b from its own (seed, b) stream."""
    per_block = max(1, min(samples, WEIGHT_BLOCK // max(units, 1)))
    for block, start in enumerate(range(0, samples, per_block)):
        rng = np.random.default_rng([seed, 1, block])
        rows = min(per_block, samples - start)
        yield rng.poisson(1.0, size=(rows, units)).astype(np.float64)


def unit_sums(stats: Callable[[slice], FloatArray], n: int, seed: int) -> FloatArray:
    """Sum the per-row statistics into units (units × s), reading rows in chunks.

    n ≤ STREAM_UNITS: every row is its own unit (returned as is). Otherwise every row goes to one of
    STREAM_UNITS units drawn uniformly at random (reproducible from seed), chunk by chunk.
    """
    if n <= STREAM_UNITS:
        return stats(slice(0, n))
    rng = np.random.default_rng([seed, 2])
    total: FloatArray | None = None
    for start in range(0, n, STREAM_CHUNK):
        chunk = stats(slice(start, min(n, start + STREAM_CHUNK)))
        unit = rng.integers(0, STREAM_UNITS, size=len(chunk))
        summed: FloatArray = np.stack(
            [np.bincount(unit, weights=chunk[:, j], minlength=STREAM_UNITS) for j in range(chunk.shape[1])],
            axis=1,
        ).astype(np.float64)
        total = summed if total is None else total + summed
    assert total is not None
    return total


def poisson_bootstrap_sums(units: FloatArray, samples: int, seed: int) -> FloatArray:
    """Weighted sums per resample (samples × s) under Poisson(1) unit weights."""
    parts = [w @ units for w in _weight_blocks(units.shape[0], samples, seed)]
    return np.concatenate(parts, axis=0) if parts else np.empty((0, units.shape[1]))


def _poisson_counts(n: int, samples: int, seed: int) -> Iterator[IntArray]:
    for block in _weight_blocks(n, samples, seed):
        yield block.astype(np.int64)


def bootstrap_values(m: Metric, y: ArrayLike, models: list[ArrayLike], samples: int, seed: int) -> FloatArray:
    """The metric of each model on each Poisson resample (models × samples), all on the same weights."""
    labels = as_labels(m.task, y)
    preds = [as_predictions(m.task, p) for p in models]
    n = len(labels)
    if m.kind == "rank":
        int_labels = labels.astype(np.int64)
        parts = [
            np.stack([_rank_values(m, int_labels, p, counts) for p in preds])
            for counts in _poisson_counts(n, samples, seed)
        ]
        return np.concatenate(parts, axis=1) if parts else np.empty((len(models), 0))
    # Every model's statistics side by side: one weight matrix and one product serve all models.
    widths: list[int] = []

    def rows_of(rows: slice) -> FloatArray:
        parts = [_row_stats(m, labels[rows], p[rows]) for p in preds]
        widths[:] = [part.shape[1] for part in parts]
        return np.concatenate(parts, axis=1)

    sums = poisson_bootstrap_sums(unit_sums(rows_of, n, seed), samples, seed)
    bounds = np.cumsum([0, *widths])
    return np.stack([_from_sums(m, sums[:, bounds[k] : bounds[k + 1]]) for k in range(len(preds))])


def paired_interval(
    m: Metric,
    y: ArrayLike,
    champion: ArrayLike,
    challenger: ArrayLike,
    samples: int,
    seed: int,
    confidence: float = 0.95,
) -> PairedBootstrap:
    """Percentile CI of the gain (see the module docstring) from paired Poisson resamples.

    For roc_auc use modelops.core.gate.paired_bootstrap (exact multinomial) or delong_interval.
    """
    if samples < 1:
        raise ValueError(f"bootstrap samples must be ≥ 1, got {samples}")
    boot = bootstrap_values(m, y, [champion, challenger], samples, seed)
    sign = 1.0 if m.higher_is_better else -1.0
    gains = sign * (boot[1] - boot[0])
    low, high = _percentile_ci(gains, confidence)
    champion_value, challenger_value = score(m, y, champion), score(m, y, challenger)
    return PairedBootstrap(
        champion=champion_value,
        challenger=challenger_value,
        delta=m.gain(champion_value, challenger_value),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        samples=samples,
        seed=seed,
        degenerate=int(np.count_nonzero(~np.isfinite(gains))),
        challenger_ci=_percentile_ci(boot[1], confidence),
    )


def single_interval(
    m: Metric, y: ArrayLike, predictions: ArrayLike, samples: int, seed: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile CI of one model's metric (when there is no champion to pair with)."""
    return _percentile_ci(bootstrap_values(m, y, [predictions], samples, seed)[0], confidence)


# -- DeLong -------------------------------------------------------------------------------------------


def _sorted_midranks(sorted_x: FloatArray) -> FloatArray:
    """Midranks (1-based, ties share their mean rank) of an already sorted array, in its order."""
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_x)) + 1]
    ends = np.r_[starts[1:], len(sorted_x)]
    ranks: FloatArray = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _midranks(x: FloatArray) -> FloatArray:
    """1-based ranks with ties sharing their mean rank, in O(n log n)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = _sorted_midranks(x[order])
    return ranks


@dataclass(frozen=True)
class DeLong:
    aucs: FloatArray  # per model
    covariance: FloatArray  # models × models


def delong(y: ArrayLike, models: list[ArrayLike]) -> DeLong:
    """AUCs and their covariance by DeLong's method, with Sun & Xu's fast midrank algorithm.

    For each model: with m positives and n negatives, the positives' placement values are
    V10_i = (R_all(x_i) − R_pos(x_i)) / n and the negatives' V01_j = 1 − (R_all(y_j) − R_neg(y_j)) / m
    (midranks among all rows, among positives, among negatives); AUC = mean V10, and
    Cov = Cov(V10)/m + Cov(V01)/n across models.
    """
    labels = as_labels("binary", y)
    positive = labels == 1
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        k = len(models)
        return DeLong(np.full(k, np.nan), np.full((k, k), np.nan))
    v10 = np.empty((len(models), m))
    v01 = np.empty((len(models), n))
    # Where each row sits among the positives / the negatives (row order), to align models row by row.
    within = np.where(positive, np.cumsum(positive) - 1, np.cumsum(~positive) - 1)
    for k, raw in enumerate(models):
        s = np.asarray(raw, dtype=np.float64)
        # One sort per model: the positives' and negatives' sorted orders are subsequences of it.
        # Midranks do not depend on how ties are ordered, so the faster unstable sort will do.
        order = np.argsort(s)
        sorted_s, is_pos = s[order], positive[order]
        all_ranks = _sorted_midranks(sorted_s)
        pos_rows, neg_rows = within[order[is_pos]], within[order[~is_pos]]
        v10[k, pos_rows] = (all_ranks[is_pos] - _sorted_midranks(sorted_s[is_pos])) / n
        v01[k, neg_rows] = 1.0 - (all_ranks[~is_pos] - _sorted_midranks(sorted_s[~is_pos])) / m
    aucs: FloatArray = v10.mean(axis=1)
    covariance: FloatArray = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return DeLong(aucs, covariance)


def delong_interval(
    y: ArrayLike, champion: ArrayLike, challenger: ArrayLike, confidence: float = 0.95
) -> PairedBootstrap:
    """Normal CI of challenger − champion AUC from DeLong's paired variance (samples = 0: no resampling)."""
    result = delong(y, [champion, challenger])
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    champion_auc, challenger_auc = float(result.aucs[0]), float(result.aucs[1])
    cov = result.covariance
    delta = challenger_auc - champion_auc
    sd = math.sqrt(max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0))
    sd_challenger = math.sqrt(max(float(cov[1, 1]), 0.0))
    return PairedBootstrap(
        champion=champion_auc,
        challenger=challenger_auc,
        delta=delta,
        ci_low=delta - z * sd,
        ci_high=delta + z * sd,
        confidence=confidence,
        samples=0,
        seed=0,
        degenerate=0,
        challenger_ci=(challenger_auc - z * sd_challenger, challenger_auc + z * sd_challenger),
    )


# -- guardrails for every task -----------------------------------------------------------------------


def top_label_calibration_error(y: ArrayLike, probabilities: ArrayLike, bins: int = 10) -> float:
    """Multiclass ECE: Σ_bins share · |accuracy − mean confidence| of the most probable class."""
    p = as_predictions("multiclass", probabilities)
    labels = as_labels("multiclass", y)
    if len(labels) == 0:
        return math.nan
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(np.float64)
    which = np.minimum((np.clip(confidence, 0, 1) * bins).astype(np.int64), bins - 1)
    observed = np.bincount(which, weights=correct, minlength=bins)
    predicted = np.bincount(which, weights=confidence, minlength=bins)
    return float(np.abs(observed - predicted).sum() / len(labels))


def group_ratio(
    task: str, y: ArrayLike, predictions: ArrayLike, groups: ArrayLike
) -> tuple[float, dict[str, float]]:
    """min ÷ max over groups of the task's fairness metric (best ÷ worst error when lower is better).

    1 means every group is served equally well; NaN (a group where the metric is undefined, or fewer
    than two groups) fails the check.
    """
    m = metric(task, FAIRNESS_METRIC[task])
    labels = as_labels(task, y)
    p = as_predictions(task, predictions)
    values = np.asarray(groups).astype(str)
    per_group = {g: score(m, labels[values == g], p[values == g]) for g in sorted(set(values.tolist()))}
    finite = [v for v in per_group.values() if math.isfinite(v)]
    if len(finite) < 2 or len(finite) != len(per_group) or max(finite) <= 0:
        return math.nan, per_group
    return min(finite) / max(finite), per_group


def slice_results(
    m: Metric,
    y: ArrayLike,
    champion: ArrayLike | None,
    challenger: ArrayLike,
    columns: dict[str, ArrayLike],
    min_rows: int,
) -> list[SliceResult]:
    """The primary metric of both models in every value of every slice column (any task).

    A slice is judged when it has min_rows rows and, for classification, the metric is defined on it
    (both classes for an AUC). `positives` counts positive rows (binary), else 0.
    """
    labels = as_labels(m.task, y)
    chall = as_predictions(m.task, challenger)
    champ = None if champion is None else as_predictions(m.task, champion)
    out: list[SliceResult] = []
    for column, raw in columns.items():
        values = np.asarray(raw).astype(str)
        for value in sorted(set(values.tolist())):
            mask = values == value
            rows = int(mask.sum())
            challenger_value = score(m, labels[mask], chall[mask])
            champion_value = None if champ is None else score(m, labels[mask], champ[mask])
            out.append(
                SliceResult(
                    column=column,
                    value=value,
                    rows=rows,
                    positives=int(labels[mask].sum()) if m.task == "binary" else 0,
                    champion=champion_value,
                    challenger=challenger_value,
                    evaluable=rows >= min_rows and math.isfinite(challenger_value),
                )
            )
    return out


def fairness(
    task: str, y: ArrayLike, predictions: ArrayLike, groups: ArrayLike, column: str
) -> FairnessResult:
    """The fairness check's input for any task (see group_ratio)."""
    ratio, per_group = group_ratio(task, y, predictions, groups)
    return FairnessResult(column, ratio, per_group, metric=FAIRNESS_METRIC[task])


# -- the gate's recipe --------------------------------------------------------------------------------


def evaluate(
    settings: GateSettings,
    labels: ArrayLike,
    champion: ArrayLike | None,
    challenger: ArrayLike,
    *,
    slices: Mapping[str, ArrayLike] | None = None,
    groups: ArrayLike | None = None,
    latencies_ms: Sequence[float] = (),
) -> GateDecision:
    """The gate's whole recipe on one golden set, for the settings' task and primary metric: measure,
    then `gate.decide`.

    Predictions are in the task's shape (see the module's docstring). `champion` is None when the
    environment pins no version (only the absolute checks apply); `slices` maps each slice column to
    its values per row, `groups` holds the sensitive column's values (needed when settings name one)
    and `latencies_ms` the challenger's single-row timings. Raises ValueError for a metric the task
    does not have.
    """
    task = settings.task
    primary = metric(task, settings.primary_metric)
    y = np.asarray(labels)
    b, seed, confidence = settings.bootstrap_samples, settings.seed, settings.confidence
    exact_auc = task == "binary" and primary.name == "roc_auc"
    bootstrap: PairedBootstrap | None = None
    if champion is None:
        challenger_ci = (
            gate.single_bootstrap_ci(y, challenger, b, seed, confidence)
            if exact_auc
            else single_interval(primary, y, challenger, b, seed, confidence)
        )
    else:
        if exact_auc and len(y) > DELONG_ROWS:
            bootstrap = delong_interval(y, champion, challenger, confidence)
        elif exact_auc:
            bootstrap = gate.paired_bootstrap(y, champion, challenger, b, seed, confidence)
        else:
            bootstrap = paired_interval(primary, y, champion, challenger, b, seed, confidence)
        challenger_ci = bootstrap.challenger_ci
    per_slice = (
        gate.slice_metrics(y, champion, challenger, dict(slices or {}), settings.min_slice_rows)
        if exact_auc
        else slice_results(primary, y, champion, challenger, dict(slices or {}), settings.min_slice_rows)
    )
    ece_challenger = ece_champion = None
    if task == "binary":
        ece_challenger = gate.expected_calibration_error(y, challenger)
        ece_champion = gate.expected_calibration_error(y, champion) if champion is not None else None
    elif task == "multiclass":
        ece_challenger = top_label_calibration_error(y, challenger)
        ece_champion = top_label_calibration_error(y, champion) if champion is not None else None
    latency = gate.p99(latencies_ms)
    fairness_challenger = fairness_champion = None
    if settings.sensitive_column and groups is not None:
        column = settings.sensitive_column
        if task == "binary":
            fairness_challenger = gate.group_parity(y, challenger, groups, column)
            if champion is not None:
                fairness_champion = gate.group_parity(y, champion, groups, column)
        else:
            fairness_challenger = fairness(task, y, challenger, groups, column)
            if champion is not None:
                fairness_champion = fairness(task, y, champion, groups, column)
    challenger_value = score(primary, y, challenger)
    decision = gate.decide(
        settings,
        challenger_value=challenger_value,
        bootstrap=bootstrap,
        slices=per_slice,
        ece_champion=ece_champion,
        ece_challenger=ece_challenger,
        latency_p99_ms=latency,
        fairness=fairness_challenger,
        has_champion=champion is not None,
        higher_is_better=primary.higher_is_better,
        calibrated=task in CALIBRATED_TASKS,
    )
    measured = Measurements(
        challenger=challenger_value,
        champion=score(primary, y, champion) if champion is not None else None,
        challenger_ci=challenger_ci,
        bootstrap=bootstrap,
        slices=tuple(per_slice),
        ece_challenger=ece_challenger,
        ece_champion=ece_champion,
        latency_p99_ms=latency,
        fairness=fairness_challenger,
        fairness_champion=fairness_champion,
    )
    return GateDecision(decision.passed, decision.checks, decision.plain_rule, decision.notes, measured)
