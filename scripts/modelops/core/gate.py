"""The promotion gate: statistics on the golden set and the champion/challenger decision.

Primary metric. ROC AUC of challenger minus champion, scored on the same golden rows, with a paired
percentile bootstrap: every resample draws one multiset of rows and scores BOTH models on it, so the
noise the two models share cancels out of the difference. The gate promotes only when the lower bound
of the confidence interval clears the configured margin; "challenger − champion > 0.005 on the point
estimates" is reported next to it for comparison, never enforced (it blocks equal models most of the
time and lets real regressions through; see bench/bench_gate.py).

The bootstrap is vectorised. A resample is a vector of row counts (how often each row was drawn); the
AUC of a weighted sample is the Mann–Whitney statistic
    Σ_groups W⁺_g · (2·W⁻_{<g} + W⁻_g) / (2 · W⁺ · W⁻)
over groups of tied scores in ascending order, where W⁺/W⁻ are drawn positive/negative counts. All
terms are integers, so the only rounding is the final division: the values equal sklearn's
roc_auc_score on the expanded resample (to the last bit or two; sklearn integrates a curve in floats).

Guardrails (each reports value, threshold and pass/fail):
  - floor: challenger's primary metric ≥ floor (applies even without a champion);
  - slices: for each configured column and value with ≥ min_slice_rows golden rows and both classes
    present, challenger slice AUC ≥ champion slice AUC − slice_margin;
  - calibration: challenger ECE ≤ champion ECE + ece_margin (10 equal-width bins);
  - latency: p99 of single-row predictions ≤ latency_budget_ms;
  - fairness (when sensitive_column is set): min ÷ max over the column's groups of the per-group ROC
    AUC ≥ fairness_min_ratio ("the model ranks every group equally well"). Selection-rate and TPR
    ratios are reported, not judged: the groups' base rates legitimately differ (seniors churn more),
    and then even a perfectly calibrated model has unequal rates at any fixed threshold.
Without a champion only the absolute checks (floor, latency, fairness) apply.

Fails closed: a metric that could not be computed (NaN/None) is a failed check, never a pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from modelops.core.state import GateSettings

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

SUPPORTED_METRICS = ("roc_auc",)
PLAIN_RULE_DELTA = 0.005
DECISION_THRESHOLD = 0.5
ECE_BINS = 10
# Elements (resamples × rows) per block. Measured: blocks of ≤ 1 MB arrays run 2–3× faster than
# 3–16 MB ones (fresh large allocations cost page faults on every block and fall out of cache).
BLOCK_ELEMENTS = 100_000


# -- AUC ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ranked:
    """One model's scores, prepared once for any number of resamples.

    Negatives are kept in ascending score order; for each positive, `below`/`at_or_below` count the
    negatives scoring strictly below it / below or tied with it. On a resample with row counts w,
    2·U = Σ_positives w_i · (C[below_i] + C[at_or_below_i]) with C the running sum of negative counts
    in score order (a tie adds one half from each side of the sum).
    """

    positives: NDArray[np.intp]
    negatives_sorted: NDArray[np.intp]
    below: NDArray[np.intp]
    at_or_below: NDArray[np.intp] | None  # None when no positive ties with a negative
    negatives_first: bool = False  # rows are laid out as resample_order makes them: slice, don't gather

    @classmethod
    def of(cls, labels: IntArray, scores: FloatArray) -> _Ranked:
        positives = np.flatnonzero(labels == 1)
        negatives = np.flatnonzero(labels != 1)
        negatives_sorted = negatives[np.argsort(scores[negatives], kind="stable")]
        negative_scores = scores[negatives_sorted]
        positive_scores = scores[positives]
        below = np.searchsorted(negative_scores, positive_scores, side="left")
        at_or_below = np.searchsorted(negative_scores, positive_scores, side="right")
        tied = bool(np.any(below != at_or_below))
        contiguous = bool(np.array_equal(negatives_sorted, np.arange(len(negatives))))
        return cls(positives, negatives_sorted, below, at_or_below if tied else None, contiguous)

    def auc_of_counts(self, counts: IntArray, positive_counts: IntArray | None = None) -> FloatArray:
        """AUC for each row of `counts` (resamples × rows: how often each row was drawn).

        `positive_counts` (counts[:, positives]) is the same for every model; pass it to share it.
        """
        resamples = counts.shape[0]
        n_neg = len(self.negatives_sorted)
        if positive_counts is None:
            positive_counts = counts[:, n_neg:] if self.negatives_first else counts[:, self.positives]
        running = np.empty((resamples, n_neg + 1), dtype=np.int64)
        running[:, 0] = 0
        in_order = counts[:, :n_neg] if self.negatives_first else counts[:, self.negatives_sorted]
        np.cumsum(in_order, axis=1, out=running[:, 1:])
        w_neg = running[:, -1]
        w_pos = positive_counts.sum(axis=1)
        twice_u = np.einsum("ij,ij->i", positive_counts, running[:, self.below])
        if self.at_or_below is None:
            twice_u *= 2
        else:
            twice_u += np.einsum("ij,ij->i", positive_counts, running[:, self.at_or_below])
        denominator = 2 * w_pos * w_neg
        aucs: FloatArray = np.full(resamples, np.nan)
        np.divide(twice_u, denominator, out=aucs, where=denominator > 0)
        return aucs


def _labels(y: ArrayLike) -> IntArray:
    arr = np.asarray(y)
    labels: IntArray = (arr == 1).astype(np.int64) if arr.dtype != bool else arr.astype(np.int64)
    return labels


def _scores(s: ArrayLike) -> FloatArray:
    scores: FloatArray = np.asarray(s, dtype=np.float64)
    return scores


def roc_auc(y: ArrayLike, scores: ArrayLike) -> float:
    """ROC AUC (Mann–Whitney, ties count one half); NaN when a class is absent."""
    labels = _labels(y)
    ranked = _Ranked.of(labels, _scores(scores))
    return float(ranked.auc_of_counts(np.ones((1, len(labels)), dtype=np.int64))[0])


def _per_block(n: int, samples: int) -> int:
    return max(1, min(samples, BLOCK_ELEMENTS // max(n, 1)))


def _block_indices(n: int, samples: int, seed: int, block: int) -> IntArray:
    per_block = _per_block(n, samples)
    rows = min(per_block, samples - block * per_block)
    rng = np.random.default_rng([seed, block])
    indices: IntArray = rng.integers(0, n, size=(rows, n), dtype=np.int64)
    return indices


def resample_order(y: ArrayLike, first_model: ArrayLike) -> NDArray[np.intp]:
    """The row order resample indices refer to: negatives by the first model's score, then positives.

    Drawing positions uniformly in any fixed order of the rows is the same bootstrap; this order lets
    the first model read its counts by slicing instead of gathering. Resample b of bootstrap_aucs
    holds the rows `resample_order(y, models[0])[indices]` for the indices resample_blocks yields.
    """
    labels = _labels(y)
    scores = _scores(first_model)
    negatives = np.flatnonzero(labels != 1)
    negatives = negatives[np.argsort(scores[negatives], kind="stable")]
    order: NDArray[np.intp] = np.concatenate([negatives, np.flatnonzero(labels == 1)])
    return order


def resample_blocks(n: int, samples: int, seed: int) -> Iterator[IntArray]:
    """The bootstrap's row indices, block by block (resamples × n), reproducible from (n, samples, seed).

    Block b is drawn from its own generator seeded with (seed, b), so blocks can be drawn in parallel
    and a naive implementation can replay exactly the same resamples.
    """
    for block in range(math.ceil(samples / _per_block(n, samples)) if samples else 0):
        yield _block_indices(n, samples, seed, block)


def _counts(indices: IntArray, n: int) -> IntArray:
    """How often each row was drawn, per resample (row by row: no resamples × n temporary)."""
    if indices.shape[0] == 1:  # large n: one resample per block, no copy
        single: IntArray = np.bincount(indices[0], minlength=n)[None, :]
        return single
    counts: IntArray = np.empty(indices.shape, dtype=np.int64)
    for row, drawn in enumerate(indices):
        counts[row] = np.bincount(drawn, minlength=n)
    return counts


def bootstrap_aucs(
    y: ArrayLike, models: Sequence[ArrayLike], samples: int, seed: int, workers: int | None = None
) -> FloatArray:
    """AUC of each model on each bootstrap resample (models × samples), all models on the same rows.

    The rows of resample b are resample_order(y, models[0])[indices of resample b] (see resample_blocks).
    """
    labels = _labels(y)
    n = len(labels)
    order = resample_order(labels, models[0]) if len(models) else np.arange(n)
    labels = labels[order]
    ranked = [_Ranked.of(labels, _scores(s)[order]) for s in models]
    block_count = math.ceil(samples / _per_block(n, samples)) if samples else 0

    def block(b: int) -> FloatArray:
        counts = _counts(_block_indices(n, samples, seed, b), n)
        positive_counts = counts[:, len(ranked[0].negatives_sorted) :] if ranked else None
        return np.stack([r.auc_of_counts(counts, positive_counts) for r in ranked])

    threads = workers or min(2, os.cpu_count() or 1)
    if threads > 1 and block_count > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(block, range(block_count)))
    else:
        parts = [block(b) for b in range(block_count)]
    if not parts:
        return np.empty((len(models), 0))
    return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class PairedBootstrap:
    """challenger − champion on the primary metric, with a percentile CI from paired resamples."""

    champion: float
    challenger: float
    delta: float
    ci_low: float
    ci_high: float
    confidence: float
    samples: int
    seed: int
    degenerate: int  # resamples without both classes (excluded)
    challenger_ci: tuple[float, float] = (math.nan, math.nan)

    def as_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "delta": self.delta,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "samples": self.samples,
            "seed": self.seed,
            "degenerate_resamples": self.degenerate,
            "challenger_ci": list(self.challenger_ci),
        }


def _percentile_ci(values: FloatArray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(finite, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def paired_bootstrap(
    y: ArrayLike,
    champion: ArrayLike,
    challenger: ArrayLike,
    samples: int,
    seed: int,
    confidence: float = 0.95,
    workers: int | None = None,
) -> PairedBootstrap:
    if samples < 1:
        raise ValueError(f"bootstrap samples must be ≥ 1, got {samples}")
    boot = bootstrap_aucs(y, [champion, challenger], samples, seed, workers)
    deltas = boot[1] - boot[0]
    low, high = _percentile_ci(deltas, confidence)
    champion_auc, challenger_auc = roc_auc(y, champion), roc_auc(y, challenger)
    return PairedBootstrap(
        champion=champion_auc,
        challenger=challenger_auc,
        delta=challenger_auc - champion_auc,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        samples=samples,
        seed=seed,
        degenerate=int(np.count_nonzero(~np.isfinite(deltas))),
        challenger_ci=_percentile_ci(boot[1], confidence),
    )


def single_bootstrap_ci(
    y: ArrayLike, scores: ArrayLike, samples: int, seed: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile CI of one model's AUC (used when there is no champion to pair with)."""
    return _percentile_ci(bootstrap_aucs(y, [scores], samples, seed)[0], confidence)


# -- guardrail statistics ------------------------------------------------------------------------------


def expected_calibration_error(y: ArrayLike, probabilities: ArrayLike, bins: int = ECE_BINS) -> float:
    """Σ_bins (rows in bin / rows) · |observed positive rate − mean predicted probability|."""
    labels = _labels(y).astype(np.float64)
    p = np.clip(_scores(probabilities), 0.0, 1.0)
    if p.size == 0:
        return math.nan
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    observed = np.bincount(which, weights=labels, minlength=bins)
    predicted = np.bincount(which, weights=p, minlength=bins)
    return float(np.abs(observed - predicted).sum() / p.size)


def calibration_curve(
    y: ArrayLike, probabilities: ArrayLike, bins: int = ECE_BINS
) -> tuple[list[float], list[float], list[int]]:
    """(mean predicted, observed rate, rows) for the non-empty equal-width bins."""
    labels = _labels(y).astype(np.float64)
    p = np.clip(_scores(probabilities), 0.0, 1.0)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    rows = np.bincount(which, minlength=bins)
    observed = np.bincount(which, weights=labels, minlength=bins)
    predicted = np.bincount(which, weights=p, minlength=bins)
    keep = rows > 0
    return (
        [float(v) for v in predicted[keep] / rows[keep]],
        [float(v) for v in observed[keep] / rows[keep]],
        [int(v) for v in rows[keep]],
    )


def roc_points(y: ArrayLike, scores: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0,0) to (1,1)."""
    labels = _labels(y)
    s = _scores(scores)
    order = np.argsort(-s, kind="stable")
    sorted_scores, sorted_labels = s[order], labels[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(s) - 1]
    tp = np.cumsum(sorted_labels)[last_of_group]
    fp = (last_of_group + 1) - tp
    pos, neg = max(int(labels.sum()), 1), max(len(labels) - int(labels.sum()), 1)
    fpr: FloatArray = np.r_[0.0, fp / neg]
    tpr: FloatArray = np.r_[0.0, tp / pos]
    return fpr, tpr


@dataclass(frozen=True)
class SliceResult:
    column: str
    value: str
    rows: int
    positives: int
    champion: float | None
    challenger: float
    evaluable: bool  # enough rows and both classes present

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "value": self.value,
            "rows": self.rows,
            "positives": self.positives,
            "champion": self.champion,
            "challenger": self.challenger,
            "evaluable": self.evaluable,
        }


def slice_metrics(
    y: ArrayLike,
    champion: ArrayLike | None,
    challenger: ArrayLike,
    columns: Mapping[str, ArrayLike],
    min_rows: int,
) -> list[SliceResult]:
    """AUC of both models in every value of every slice column, sorted by column then value."""
    labels = _labels(y)
    chall = _scores(challenger)
    champ = None if champion is None else _scores(champion)
    out: list[SliceResult] = []
    for column, raw in columns.items():
        values = np.asarray(raw).astype(str)
        for value in sorted(set(values.tolist())):
            mask = values == value
            rows = int(mask.sum())
            positives = int(labels[mask].sum())
            evaluable = rows >= min_rows and 0 < positives < rows
            out.append(
                SliceResult(
                    column=column,
                    value=value,
                    rows=rows,
                    positives=positives,
                    champion=None if champ is None else roc_auc(labels[mask], champ[mask]),
                    challenger=roc_auc(labels[mask], chall[mask]),
                    evaluable=evaluable,
                )
            )
    return out


@dataclass(frozen=True)
class FairnessResult:
    """Per-group ROC AUC and its min/max ratio, plus (for the report) selection rate and TPR per group."""

    column: str
    ratio: float
    rates: Mapping[str, float]  # the judged quantity per group: ROC AUC
    selection_rates: Mapping[str, float] = field(default_factory=dict)
    true_positive_rates: Mapping[str, float] = field(default_factory=dict)
    metric: str = "roc_auc"
    threshold: float = DECISION_THRESHOLD

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "metric": self.metric,
            "threshold": self.threshold,
            "ratio": self.ratio,
            "rates": dict(self.rates),
            "selection_rates": dict(self.selection_rates),
            "true_positive_rates": dict(self.true_positive_rates),
        }


def group_parity(
    y: ArrayLike,
    probabilities: ArrayLike,
    groups: ArrayLike,
    column: str,
    threshold: float = DECISION_THRESHOLD,
) -> FairnessResult:
    """min ÷ max over groups of the ROC AUC: does the model rank each group's customers equally well?

    Selection-rate and TPR ratios are reported but not judged: when the groups' base rates differ (here
    seniors churn more), a perfectly calibrated model shows unequal selection rates and TPRs at any
    fixed threshold, so those ratios would measure the population rather than the model. A group
    without both classes makes the ratio NaN, which fails the check (fail closed).
    """
    labels = _labels(y)
    p = _scores(probabilities)
    flagged = p >= threshold
    values = np.asarray(groups).astype(str)
    aucs: dict[str, float] = {}
    selection: dict[str, float] = {}
    tpr: dict[str, float] = {}
    for value in sorted(set(values.tolist())):
        member = values == value
        positives = member & (labels == 1)
        aucs[value] = roc_auc(labels[member], p[member])
        selection[value] = float(flagged[member].mean())
        tpr[value] = float(flagged[positives].mean()) if positives.any() else math.nan
    finite = [a for a in aucs.values() if math.isfinite(a)]
    ratio = (
        min(finite) / max(finite)
        if len(finite) >= 2 and len(finite) == len(aucs) and max(finite) > 0
        else math.nan
    )
    return FairnessResult(column, ratio, aucs, selection, tpr, threshold=threshold)


def p99(latencies_ms: Sequence[float]) -> float:
    if not latencies_ms:
        return math.nan
    return float(np.percentile(np.asarray(latencies_ms, dtype=np.float64), 99))


# -- the decision --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    threshold: float | None
    passed: bool
    kind: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "detail": self.detail,
        }


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _check(name: str, kind: str, value: float | None, threshold: float, ok: bool, detail: str) -> Check:
    if not _finite(value):
        return Check(name, None, threshold, False, kind, f"missing metric: {name} could not be computed")
    return Check(name, value, threshold, ok, kind, detail)


@dataclass(frozen=True)
class Measurements:
    """What the gate measured on the golden set, beside its verdict (the evidence reports them)."""

    challenger: float  # the challenger's primary metric
    champion: float | None
    challenger_ci: tuple[float, float]
    bootstrap: PairedBootstrap | None
    slices: tuple[SliceResult, ...]
    ece_challenger: float | None  # None where the task has no calibration (regression)
    ece_champion: float | None
    latency_p99_ms: float
    fairness: FairnessResult | None
    fairness_champion: FairnessResult | None


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    checks: tuple[Check, ...]
    plain_rule: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    measured: Measurements | None = None

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def reasons(self) -> list[str]:
        return [c.detail or c.name for c in self.failed]


def primary_passes(ci_low: float, margin: float) -> bool:
    """The gate's rule on the primary metric: the CI lower bound of (challenger − champion) clears the margin."""
    return math.isfinite(ci_low) and ci_low > margin


def plain_rule_passes(delta: float, threshold: float = PLAIN_RULE_DELTA) -> bool:
    """The naive rule reported for comparison: point estimate of the gain above a fixed threshold."""
    return math.isfinite(delta) and delta > threshold


def decide(
    settings: GateSettings,
    *,
    challenger_value: float | None,
    bootstrap: PairedBootstrap | None,
    slices: Sequence[SliceResult] = (),
    ece_champion: float | None = None,
    ece_challenger: float | None = None,
    latency_p99_ms: float | None = None,
    fairness: FairnessResult | None = None,
    has_champion: bool,
    higher_is_better: bool = True,
    calibrated: bool = True,
) -> GateDecision:
    """Every check with value, threshold and verdict; passed only when there are checks and all pass.

    `bootstrap.delta` and its CI are the gain (positive = better, whatever the metric's direction);
    for a lower-is-better metric the floor is a ceiling and a slice may be worse by slice_margin
    upwards. `calibrated` is False for tasks without probabilities (regression): no ECE check.
    """
    metric = settings.primary_metric

    def better_or_equal(value: float, bound: float) -> bool:
        return value >= bound if higher_is_better else value <= bound

    sign = 1.0 if higher_is_better else -1.0
    checks: list[Check] = []
    notes: list[str] = []
    plain: dict[str, Any] = {"rule": f"{metric} challenger − champion > {PLAIN_RULE_DELTA}", "passed": None}

    if has_champion:
        if bootstrap is None:
            checks.append(
                Check(
                    f"{metric}.delta_ci_low",
                    None,
                    settings.margin,
                    False,
                    "primary",
                    "missing metric: no bootstrap",
                )
            )
        else:
            checks.append(
                _check(
                    f"{metric}.delta_ci_low",
                    "primary",
                    bootstrap.ci_low,
                    settings.margin,
                    primary_passes(bootstrap.ci_low, settings.margin),
                    f"{bootstrap.confidence:.0%} CI of challenger − champion is "
                    f"[{bootstrap.ci_low:+.4f}, {bootstrap.ci_high:+.4f}] (point {bootstrap.delta:+.4f}); "
                    f"the lower bound must exceed {settings.margin:+.4f}",
                )
            )
            plain["delta"] = bootstrap.delta
            plain["passed"] = plain_rule_passes(bootstrap.delta)
    else:
        notes.append("no champion pinned: only the absolute checks (floor, latency, fairness) apply")

    checks.append(
        _check(
            f"{metric}.floor",
            "floor",
            challenger_value,
            settings.floor,
            _finite(challenger_value) and better_or_equal(float(challenger_value or 0), settings.floor),
            f"challenger {metric} must be {'≥' if higher_is_better else '≤'} {settings.floor}",
        )
    )

    if has_champion:
        for s in slices:
            if not s.evaluable:
                continue
            name = f"slice.{s.column}={s.value}"
            if not _finite(s.champion):
                checks.append(
                    Check(
                        name,
                        s.challenger,
                        None,
                        False,
                        "slice",
                        f"missing metric: champion {metric} on {name}",
                    )
                )
                continue
            threshold = float(s.champion or 0) - sign * settings.slice_margin
            checks.append(
                _check(
                    name,
                    "slice",
                    s.challenger,
                    threshold,
                    _finite(s.challenger) and better_or_equal(s.challenger, threshold),
                    f"{s.rows} rows; challenger {metric} must be "
                    f"{'≥' if higher_is_better else '≤'} champion {s.champion:.4f} "
                    f"{'−' if higher_is_better else '+'} {settings.slice_margin}",
                )
            )
        skipped = [f"{s.column}={s.value}" for s in slices if not s.evaluable]
        if skipped:
            notes.append(
                f"slices below {settings.min_slice_rows} rows or without both classes, not judged: {', '.join(skipped)}"
            )
        if not calibrated:
            notes.append("no calibration check: the task's outputs are not probabilities")
        elif not _finite(ece_champion):
            checks.append(
                Check(
                    "calibration.ece",
                    ece_challenger,
                    None,
                    False,
                    "calibration",
                    "missing metric: champion ECE",
                )
            )
        else:
            threshold = float(ece_champion or 0) + settings.ece_margin
            checks.append(
                _check(
                    "calibration.ece",
                    "calibration",
                    ece_challenger,
                    threshold,
                    _finite(ece_challenger) and float(ece_challenger or 0) <= threshold,
                    f"challenger ECE must be ≤ champion {ece_champion:.4f} + {settings.ece_margin}",
                )
            )

    checks.append(
        _check(
            "latency.p99_ms",
            "latency",
            latency_p99_ms,
            settings.latency_budget_ms,
            _finite(latency_p99_ms) and float(latency_p99_ms or 0) <= settings.latency_budget_ms,
            f"p99 of single-row predictions must be ≤ {settings.latency_budget_ms:g} ms",
        )
    )

    if settings.sensitive_column:
        value = fairness.ratio if fairness is not None else None
        checks.append(
            _check(
                f"fairness.{'auc' if fairness is None or fairness.metric == 'roc_auc' else fairness.metric}_ratio"
                f"[{settings.sensitive_column}]",
                "fairness",
                value,
                settings.fairness_min_ratio,
                _finite(value) and float(value or 0) >= settings.fairness_min_ratio,
                f"min/max {'ROC AUC' if fairness is None else fairness.metric} across "
                f"{settings.sensitive_column} groups must be ≥ {settings.fairness_min_ratio}",
            )
        )

    passed = bool(checks) and all(c.passed for c in checks)
    return GateDecision(passed=passed, checks=tuple(checks), plain_rule=plain, notes=tuple(notes))
