"""Drift statistics and the drift verdict: is a window of live inputs still like the training data?

Per feature, a significance test answers "is there any difference?" and an effect size answers "is it
big enough to matter?". A feature drifts only when both say yes: the test's p-value, adjusted across
all features with Benjamini–Hochberg, is below `alpha`, AND the effect is beyond its band (PSI above
`psi_drift`, or the KS statistic D above a minimum effect). On a 100k-row window a shift far too small
to hurt a model is still "significant"; the effect band keeps it from being called drift.

- numeric features: two-sample Kolmogorov–Smirnov (D computed here, vectorised; the p-value from the
  same null distributions scipy.stats.ks_2samp uses, so both agree), and PSI over the reference's
  quantile bins with ±inf outer edges so values outside the training range are counted, not dropped;
- categorical features: Pearson's chi-squared of the current counts against the reference counts
  rescaled to the current total. Categories unseen on either side are handled by additive smoothing:
  every category in the union of both sides gets +0.5 on the reference side (Jeffreys' prior) before
  rescaling, so a category that never occurred in training has a small positive expectation instead
  of a zero that would make the statistic infinite. A new category with real traffic therefore still
  gives a very large statistic (and is listed as new), a category that vanished from the current
  window simply observes 0;
- histogram summaries exported by the serving runtime (counts per reference quantile bin): the
  chi-squared test on the bins, PSI, and D evaluated at the bin edges (a lower bound of the exact D).

Signals that point at a broken pipeline rather than a changed world are reported apart from drift and
never count as drift (retraining on broken inputs would bake the bug into the next model): a sudden
PSI above `pipeline_bug_psi` (the previous window was still inside the drift band), a jump in the
null rate, a feature that became constant, and a large share of categories never seen in training.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from modelops.core.state import DriftSettings
from modelops.errors import BadInput

FloatArray = npt.NDArray[np.float64]

DEFAULT_BINS = 10
# Share used in place of an empty bin's share, so PSI stays finite.
PSI_EPSILON = 1e-4
# Minimum KS D that counts as a real effect (about a quarter of a standard deviation in a mean shift).
KS_MIN_EFFECT = 0.1
# Reference-side pseudo-count added to every category (see the module docstring).
CHI2_SMOOTHING = 0.5
# A seasonal reference needs at least this many rows; below it the whole reference is used.
MIN_SEASONAL_ROWS = 200
# Absolute increase of a feature's null rate that is reported as a pipeline problem.
NULL_RATE_JUMP = 0.05
# Share of current rows in categories never seen in training that is reported as a pipeline problem.
NEW_CATEGORY_SHARE = 0.05
# scipy.stats.ks_2samp computes the exact null distribution up to this sample size.
KS_EXACT_MAX_N = 10000
# Below this, a KS p-value is reported as its DKW upper bound (see ks_pvalue).
TINY_PVALUE = 1e-12
# PSI over DEFAULT_BINS quantile bins reads noise below about ten rows a bin: a one-row window's PSI
# alone is past any drift band. So a window smaller than this is refused, never judged.
MIN_WINDOW_ROWS = 10 * DEFAULT_BINS


def require_window_rows(rows: int, source: str, minimum: int = MIN_WINDOW_ROWS) -> None:
    """Refuse (BadInput) a current window too small to be a distribution."""
    if rows < minimum:
        noun = "row" if rows == 1 else "rows"
        raise BadInput(
            f"{source}: the window has {rows} {noun}; drift needs at least {minimum} "
            f"(ten a PSI bin): wait for more traffic or widen the window"
        )


Status = Literal["stable", "watch", "drift", "pipeline_suspect"]
Severity = Literal["major", "minor"]


# -- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KsResult:
    statistic: float
    pvalue: float
    method: Literal["exact", "asymp"]


def ks_2samp(a: npt.ArrayLike, b: npt.ArrayLike) -> KsResult:
    """Two-sided two-sample KS test; agrees with scipy.stats.ks_2samp(a, b) (method='auto')."""
    return ks_2samp_sorted(np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64)))


def ks_2samp_sorted(a_sorted: FloatArray, b_sorted: FloatArray) -> KsResult:
    """KS test on samples already sorted ascending (the reference is sorted once and reused)."""
    n1, n2 = a_sorted.shape[0], b_sorted.shape[0]
    if min(n1, n2) == 0:
        raise ValueError("KS test needs two non-empty samples")
    d = _ks_statistic(a_sorted, b_sorted) if n1 >= n2 else _ks_statistic(b_sorted, a_sorted)
    return ks_pvalue(d, n1, n2)


def _ks_statistic(big: FloatArray, small: FloatArray) -> float:
    """max |F_big - F_small| over the union of both samples, evaluated in O(len(small) · log len(big)).

    Between two consecutive points of `small`, F_small is constant and F_big only grows, so over the
    points of `big` in [s_k, s_k+1) the difference is smallest at s_k itself and largest at the last
    point of `big` below s_k+1, whose ECDF value is count(big < s_k+1). Every value used is one that
    scipy's evaluation over the whole union also produces (same integer counts, same divisions), so D
    is bit-identical, without searching a million reference points.
    """
    n_big, n_small = big.shape[0], small.shape[0]
    f_small = _count_at_or_below_self(small) / n_small
    below = np.searchsorted(big, small, side="left")
    at_or_below = _at_or_below(big, small, below)
    at_points = at_or_below / n_big - f_small
    below_next = below / n_big - np.concatenate([[0.0], f_small[:-1]])
    largest = max(float(at_points.max()), float(below_next.max()))
    return max(float(np.clip(-at_points.min(), 0, 1)), largest)


def _count_at_or_below_self(sorted_values: FloatArray) -> npt.NDArray[np.int64]:
    """For each element of a sorted array, how many elements are ≤ it (the end of its run of ties)."""
    n = sorted_values.shape[0]
    new_run = np.concatenate([[False], sorted_values[1:] != sorted_values[:-1]])
    run_ends: npt.NDArray[np.int64] = np.concatenate([np.flatnonzero(new_run), [n]]).astype(np.int64)
    ends: npt.NDArray[np.int64] = run_ends[np.cumsum(new_run)]
    return ends


def _at_or_below(big: FloatArray, queries: FloatArray, below: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """searchsorted(big, queries, "right") from the "left" answer: only queries tied with `big` move."""
    tied = below < big.shape[0]
    tied[tied] = big[below[tied]] == queries[tied]
    result = below.copy()
    if tied.any():
        result[tied] = np.searchsorted(big, queries[tied], side="right")
    return result


def ks_pvalue(d: float, n1: int, n2: int) -> KsResult:
    """Two-sided p-value of D for sample sizes n1, n2, chosen as scipy's method='auto' chooses."""
    from scipy.stats import kstwo  # type: ignore[import-untyped]

    if max(n1, n2) <= KS_EXACT_MAX_N:
        exact = _ks_exact(d, n1, n2)
        if exact is not None:
            return KsResult(exact[0], exact[1], "exact")
    m, n = sorted([float(n1), float(n2)], reverse=True)
    n_effective = float(np.round(m * n / (m + n)))
    # Dvoretzky–Kiefer–Wolfowitz with Massart's constant bounds the same distribution from above. When
    # the bound is already negligible, report it instead of the exact tail, which takes ~0.1 s per
    # feature on large samples; the two differ by less than TINY_PVALUE, far below any alpha.
    bound = 2.0 * math.exp(-2.0 * n_effective * d * d)
    if bound < TINY_PVALUE:
        return KsResult(d, bound, "asymp")
    p = float(np.clip(kstwo.sf(d, n_effective), 0.0, 1.0))
    return KsResult(d, p, "asymp")


def _ks_exact(d: float, n1: int, n2: int) -> tuple[float, float] | None:
    """The exact null distribution of D (Hodges' lattice-path count), as scipy computes it.

    scipy keeps this distribution in a private helper; when a scipy release moves it, the asymptotic
    distribution is used instead (it differs from scipy's answer only for small samples).
    """
    try:
        from scipy.stats._stats_py import _attempt_exact_2kssamp  # type: ignore[import-untyped]
    except ImportError:
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ok, d_exact, p = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
    if not ok:
        return None
    return float(d_exact), float(np.clip(p, 0.0, 1.0))


@dataclass(frozen=True)
class ChiSquareResult:
    statistic: float
    pvalue: float
    categories: tuple[str, ...]
    observed: tuple[float, ...]
    expected: tuple[float, ...]

    @property
    def dof(self) -> int:
        return len(self.categories) - 1


def chi_square(observed: npt.ArrayLike, expected: npt.ArrayLike) -> tuple[float, float]:
    """Pearson's statistic and p-value; agrees with scipy.stats.chisquare(observed, expected)."""
    from scipy.stats import chi2  # type: ignore[import-untyped]

    obs = np.asarray(observed, dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    if obs.shape != exp.shape or obs.size < 2:
        raise ValueError("chi-squared needs two equal-length count vectors with at least two cells")
    statistic = float(((obs - exp) ** 2 / exp).sum())
    return statistic, float(chi2.sf(statistic, obs.size - 1))


def chi_square_against_reference(
    reference: Mapping[str, float], current: Mapping[str, float], smoothing: float = CHI2_SMOOTHING
) -> ChiSquareResult:
    """Current counts against reference counts rescaled to the current total (with smoothing)."""
    categories = tuple(sorted(set(reference) | set(current)))
    ref = np.array([float(reference.get(c, 0.0)) + smoothing for c in categories])
    obs = np.array([float(current.get(c, 0.0)) for c in categories])
    if len(categories) < 2:
        # One category on both sides: nothing can differ.
        return ChiSquareResult(0.0, 1.0, categories, tuple(obs.tolist()), tuple(obs.tolist()))
    expected = ref / ref.sum() * obs.sum()
    statistic, pvalue = chi_square(obs, expected)
    return ChiSquareResult(statistic, pvalue, categories, tuple(obs.tolist()), tuple(expected.tolist()))


def quantile_edges(sorted_values: FloatArray, bins: int = DEFAULT_BINS) -> FloatArray:
    """Inner edges of `bins` equal-frequency bins of the reference (duplicates from ties merged)."""
    if sorted_values.size == 0:
        return np.empty(0)
    # Edges are order statistics of the reference (numpy's "lower" quantile method): for a discrete
    # feature they are values it takes, so bins read "≤ 2 calls" rather than "≤ 1.2000000004 calls".
    position = np.floor(np.linspace(0.0, 1.0, bins + 1)[1:-1] * (sorted_values.size - 1)).astype(np.int64)
    inner = sorted_values[position]
    return np.unique(inner)


def bin_counts_sorted(sorted_values: FloatArray, edges: FloatArray) -> FloatArray:
    """Counts in (-inf, e0], (e0, e1], …, (e_last, +inf) — Prometheus' `le` convention."""
    at_or_below = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], at_or_below, [sorted_values.size]])).astype(np.float64)


def bin_counts(values: npt.ArrayLike, edges: FloatArray) -> FloatArray:
    return bin_counts_sorted(np.sort(np.asarray(values, dtype=np.float64)), edges)


def psi(
    reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, epsilon: float = PSI_EPSILON
) -> float:
    """Population stability index of two count vectors over the same bins."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    p = ref / ref.sum() if ref.sum() > 0 else np.zeros_like(ref)
    q = cur / cur.sum() if cur.sum() > 0 else np.zeros_like(cur)
    p = np.where(p > 0, p, epsilon)
    q = np.where(q > 0, q, epsilon)
    return float(((q - p) * np.log(q / p)).sum())


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (step-up, monotone, capped at 1); compare each with alpha."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return [float(x) for x in adjusted]


# -- what is compared ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericReference:
    """A numeric feature of the reference, prepared once: sorted values, quantile edges, bin counts."""

    sorted_values: FloatArray
    edges: FloatArray
    counts: FloatArray
    n_missing: int

    @classmethod
    def from_values(cls, values: npt.ArrayLike, bins: int = DEFAULT_BINS) -> NumericReference:
        raw = np.asarray(values, dtype=np.float64)
        missing = np.isnan(raw)
        present = np.sort(raw[~missing] if missing.any() else raw)
        edges = quantile_edges(present, bins)
        return cls(present, edges, bin_counts_sorted(present, edges), int(raw.size - present.size))

    @property
    def n(self) -> int:
        return int(self.sorted_values.size) + self.n_missing


@dataclass(frozen=True)
class NumericSample:
    """Raw current values of a numeric feature (NaN = missing)."""

    values: FloatArray

    @classmethod
    def of(cls, values: npt.ArrayLike) -> NumericSample:
        return cls(np.asarray(values, dtype=np.float64))


@dataclass(frozen=True)
class NumericHistogram:
    """Current counts per bin over `edges` (inner edges; outer bins are open), as the runtime exports."""

    edges: FloatArray
    counts: FloatArray
    n_missing: int = 0


@dataclass(frozen=True)
class CategoricalCounts:
    counts: Mapping[str, float]
    n_missing: int = 0

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> CategoricalCounts:
        counts: dict[str, float] = {}
        missing = 0
        for v in values:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                missing += 1
            else:
                key = str(v)
                counts[key] = counts.get(key, 0.0) + 1.0
        return cls(counts, missing)

    @property
    def n_present(self) -> float:
        return float(sum(self.counts.values()))


Current = NumericSample | NumericHistogram | CategoricalCounts


# -- per-feature comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineSignal:
    feature: str
    kind: Literal["psi_jump", "null_rate_jump", "constant", "new_categories", "empty"]
    detail: str


@dataclass(frozen=True)
class FeatureComparison:
    """Statistics of one feature before the family-wide verdict."""

    feature: str
    kind: Literal["numeric", "categorical", "prediction"]
    test: Literal["ks", "chi2", "chi2_binned", "none"]
    statistic: float
    pvalue: float
    ks_d: float | None
    psi: float
    n_reference: int
    n_current: int
    null_rate_reference: float
    null_rate_current: float
    bins: tuple[str, ...]
    reference_share: tuple[float, ...]
    current_share: tuple[float, ...]
    new_categories: tuple[str, ...] = ()
    constant: bool = False


@dataclass(frozen=True)
class FeatureResult:
    comparison: FeatureComparison
    p_adjusted: float
    status: Status
    top: bool
    signals: tuple[PipelineSignal, ...]

    @property
    def feature(self) -> str:
        return self.comparison.feature

    @property
    def drifted(self) -> bool:
        return self.status == "drift"

    def as_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "feature": c.feature,
            "kind": c.kind,
            "test": c.test,
            "statistic": c.statistic,
            "p_value": c.pvalue,
            "p_adjusted": self.p_adjusted,
            "ks_d": c.ks_d,
            "psi": c.psi,
            "status": self.status,
            "drift": self.drifted,
            "top_feature": self.top,
            "n_reference": c.n_reference,
            "n_current": c.n_current,
            "null_rate_reference": c.null_rate_reference,
            "null_rate_current": c.null_rate_current,
            "new_categories": list(c.new_categories),
            "pipeline_signals": [s.kind for s in self.signals],
        }


def _rate(missing: float, total: float) -> float:
    return float(missing / total) if total > 0 else 0.0


def _edge_labels(edges: FloatArray) -> tuple[str, ...]:
    if edges.size == 0:
        return ("all",)
    labels = [f"≤{edges[0]:.4g}"]
    labels += [f"({lo:.4g}, {hi:.4g}]" for lo, hi in itertools.pairwise(edges)]
    labels.append(f">{edges[-1]:.4g}")
    return tuple(labels)


def _shares(counts: FloatArray) -> tuple[float, ...]:
    total = float(counts.sum())
    return tuple((counts / total).tolist()) if total > 0 else tuple(0.0 for _ in counts)


def compare_numeric(
    name: str,
    reference: NumericReference,
    current: NumericSample | NumericHistogram,
    kind: Literal["numeric", "prediction"] = "numeric",
) -> FeatureComparison:
    ref_null = _rate(reference.n_missing, reference.n)
    if isinstance(current, NumericHistogram):
        return _compare_histogram(name, reference, current, kind, ref_null)
    values = current.values
    present = np.sort(values[~np.isnan(values)])
    n_cur = int(values.size)
    cur_null = _rate(n_cur - present.size, n_cur)
    if present.size == 0 or reference.sorted_values.size == 0:
        return FeatureComparison(
            name, kind, "none", 0.0, 1.0, None, 0.0, reference.n, n_cur, ref_null, cur_null, (), (), (),
            constant=False,
        )  # fmt: skip
    ks = ks_2samp_sorted(reference.sorted_values, present)
    cur_counts = bin_counts_sorted(present, reference.edges)
    return FeatureComparison(
        feature=name,
        kind=kind,
        test="ks",
        statistic=ks.statistic,
        pvalue=ks.pvalue,
        ks_d=ks.statistic,
        psi=psi(reference.counts, cur_counts),
        n_reference=reference.n,
        n_current=n_cur,
        null_rate_reference=ref_null,
        null_rate_current=cur_null,
        bins=_edge_labels(reference.edges),
        reference_share=_shares(reference.counts),
        current_share=_shares(cur_counts),
        constant=bool(
            present[0] == present[-1] and reference.sorted_values[0] != reference.sorted_values[-1]
        ),
    )


def _compare_histogram(
    name: str,
    reference: NumericReference,
    current: NumericHistogram,
    kind: Literal["numeric", "prediction"],
    ref_null: float,
) -> FeatureComparison:
    edges = np.asarray(current.edges, dtype=np.float64)
    counts = np.asarray(current.counts, dtype=np.float64)
    if counts.size != edges.size + 1:
        raise BadInput(
            f"feature {name!r}: {counts.size} counts for {edges.size} inner edges (expected {edges.size + 1})"
        )
    # The runtime bins with the reference's edges; if it bins with other edges, bin the reference likewise.
    ref_counts = bin_counts_sorted(reference.sorted_values, edges)
    n_present = float(counts.sum())
    n_cur = int(n_present) + current.n_missing
    cur_null = _rate(current.n_missing, n_cur)
    if n_present == 0:
        return FeatureComparison(
            name, kind, "none", 0.0, 1.0, None, 0.0, reference.n, n_cur, ref_null, cur_null, (), (), ()
        )
    bins = _edge_labels(edges)
    chi = chi_square_against_reference(dict(zip(bins, ref_counts.tolist(), strict=True)),
                                       dict(zip(bins, counts.tolist(), strict=True)))  # fmt: skip
    cdf_ref = np.cumsum(ref_counts)[:-1] / max(ref_counts.sum(), 1.0)
    cdf_cur = np.cumsum(counts)[:-1] / n_present
    d = float(np.abs(cdf_ref - cdf_cur).max()) if edges.size else 0.0
    occupied = int((counts > 0).sum())
    return FeatureComparison(
        feature=name,
        kind=kind,
        test="chi2_binned",
        statistic=chi.statistic,
        pvalue=chi.pvalue,
        ks_d=d,
        psi=psi(ref_counts, counts),
        n_reference=reference.n,
        n_current=n_cur,
        null_rate_reference=ref_null,
        null_rate_current=cur_null,
        bins=bins,
        reference_share=_shares(ref_counts),
        current_share=_shares(counts),
        constant=occupied == 1 and int((ref_counts > 0).sum()) > 1,
    )


def compare_categorical(
    name: str, reference: CategoricalCounts, current: CategoricalCounts
) -> FeatureComparison:
    ref_total = reference.n_present + reference.n_missing
    cur_total = current.n_present + current.n_missing
    ref_null = _rate(reference.n_missing, ref_total)
    cur_null = _rate(current.n_missing, cur_total)
    if current.n_present == 0:
        return FeatureComparison(
            name, "categorical", "none", 0.0, 1.0, None, 0.0, int(ref_total), int(cur_total), ref_null,
            cur_null, (), (), (),
        )  # fmt: skip
    chi = chi_square_against_reference(reference.counts, current.counts)
    ref_counts = np.array([float(reference.counts.get(c, 0.0)) for c in chi.categories])
    cur_counts = np.array(chi.observed)
    new = tuple(
        c for c in chi.categories if reference.counts.get(c, 0.0) == 0 and current.counts.get(c, 0.0) > 0
    )
    seen_now = [c for c, v in current.counts.items() if v > 0]
    seen_before = [c for c, v in reference.counts.items() if v > 0]
    return FeatureComparison(
        feature=name,
        kind="categorical",
        test="chi2",
        statistic=chi.statistic,
        pvalue=chi.pvalue,
        ks_d=None,
        psi=psi(ref_counts, cur_counts),
        n_reference=int(ref_total),
        n_current=int(cur_total),
        null_rate_reference=ref_null,
        null_rate_current=cur_null,
        bins=chi.categories,
        reference_share=_shares(ref_counts),
        current_share=_shares(cur_counts),
        new_categories=new,
        constant=len(seen_now) == 1 and len(seen_before) > 1,
    )


# -- the verdict ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftReport:
    model: str
    env: str
    reference: str
    features: tuple[FeatureResult, ...]
    prediction: FeatureResult | None
    alpha: float
    ks_min_effect: float
    settings: DriftSettings
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def all_results(self) -> tuple[FeatureResult, ...]:
        return (*self.features, *((self.prediction,) if self.prediction else ()))

    @property
    def drifted_features(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.drifted)

    @property
    def prediction_drifted(self) -> bool:
        return self.prediction is not None and self.prediction.drifted

    @property
    def drift(self) -> bool:
        return bool(self.drifted_features) or self.prediction_drifted

    @property
    def pipeline_signals(self) -> tuple[PipelineSignal, ...]:
        return tuple(s for f in self.all_results for s in f.signals)

    @property
    def severity(self) -> Severity | None:
        """Major when a top feature or the prediction score drifts; minor when only others do."""
        if not self.drift:
            return None
        if self.prediction_drifted or any(f.top and f.drifted for f in self.features):
            return "major"
        return "minor"

    def psi_by_feature(self) -> dict[str, float]:
        return {f.feature: f.comparison.psi for f in self.all_results}

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "env": self.env,
            "reference": self.reference,
            "drift": self.drift,
            "severity": self.severity,
            "drifted_features": list(self.drifted_features),
            "prediction_drift": self.prediction_drifted,
            "pipeline_issues": [s.__dict__ for s in self.pipeline_signals],
            "bands": {
                "alpha": self.alpha,
                "psi_watch": self.settings.psi_watch,
                "psi_drift": self.settings.psi_drift,
                "pipeline_bug_psi": self.settings.pipeline_bug_psi,
                "ks_min_effect": self.ks_min_effect,
                "multiple_testing": "benjamini-hochberg",
            },
            "features": [f.as_dict() for f in self.features],
            "prediction": self.prediction.as_dict() if self.prediction else None,
            "notes": list(self.notes),
        }


def _signals(
    c: FeatureComparison, settings: DriftSettings, previous_psi: float | None
) -> list[PipelineSignal]:
    found: list[PipelineSignal] = []
    if c.test == "none" and c.n_current > 0:
        found.append(PipelineSignal(c.feature, "empty", "no non-missing values in the current window"))
    # "Sudden": the previous window of this model and environment was still inside the drift band.
    # Without a previous window nothing says the change was sudden, so a large PSI is judged as drift.
    if c.psi > settings.pipeline_bug_psi and previous_psi is not None and previous_psi <= settings.psi_drift:
        found.append(
            PipelineSignal(
                c.feature,
                "psi_jump",
                f"PSI {c.psi:.3f} > {settings.pipeline_bug_psi} after {previous_psi:.3f} in the previous window",
            )
        )
    if c.null_rate_current - c.null_rate_reference > NULL_RATE_JUMP:
        found.append(
            PipelineSignal(
                c.feature,
                "null_rate_jump",
                f"null rate {c.null_rate_current:.1%} vs {c.null_rate_reference:.1%} in the reference",
            )
        )
    if c.constant:
        found.append(
            PipelineSignal(c.feature, "constant", "one value in the current window, varied in training")
        )
    if c.new_categories:
        share = sum(s for b, s in zip(c.bins, c.current_share, strict=True) if b in c.new_categories)
        if share > NEW_CATEGORY_SHARE:
            shown = ", ".join(c.new_categories[:5])
            found.append(
                PipelineSignal(
                    c.feature, "new_categories", f"{share:.1%} of rows in unseen categories ({shown})"
                )
            )
    return found


def assess(
    model: str,
    env: str,
    reference: str,
    comparisons: Sequence[FeatureComparison],
    settings: DriftSettings,
    *,
    prediction: FeatureComparison | None = None,
    previous_psi: Mapping[str, float] | None = None,
    ks_min_effect: float = KS_MIN_EFFECT,
    notes: Sequence[str] = (),
) -> DriftReport:
    """Adjust p-values across the family (features and prediction score) and give each its status."""
    family = [*comparisons, *((prediction,) if prediction else ())]
    adjusted = benjamini_hochberg([c.pvalue for c in family])
    top = set(settings.top_features)
    results: list[FeatureResult] = []
    for c, p_adj in zip(family, adjusted, strict=True):
        signals = tuple(_signals(c, settings, (previous_psi or {}).get(c.feature)))
        effect = c.psi > settings.psi_drift or (c.ks_d is not None and c.ks_d > ks_min_effect)
        status: Status
        if signals:
            status = "pipeline_suspect"
        elif p_adj < settings.alpha and effect:
            status = "drift"
        elif c.psi > settings.psi_watch or (
            p_adj < settings.alpha and c.ks_d is not None and c.ks_d > ks_min_effect / 2
        ):
            status = "watch"
        else:
            status = "stable"
        results.append(FeatureResult(c, p_adj, status, not top or c.feature in top, signals))
    pred = results.pop() if prediction else None
    return DriftReport(
        model=model,
        env=env,
        reference=reference,
        features=tuple(results),
        prediction=pred,
        alpha=settings.alpha,
        ks_min_effect=ks_min_effect,
        settings=settings,
        notes=tuple(notes),
    )


# -- seasonal reference ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceChoice:
    rows: npt.NDArray[np.bool_] | None  # None = the whole reference
    description: str
    month: int | None


def choose_reference(
    reference_months: npt.NDArray[np.int64] | None,
    current_months: npt.NDArray[np.int64] | None,
    mode: str,
    min_rows: int = MIN_SEASONAL_ROWS,
) -> ReferenceChoice:
    """With `same_month`, compare against the reference rows of the current window's dominant month."""
    if mode != "same_month":
        return ReferenceChoice(None, "whole reference (seasonal_reference: none)", None)
    if current_months is None or reference_months is None:
        return ReferenceChoice(None, "whole reference (no timestamp column to pick a month)", None)
    if current_months.size == 0:
        return ReferenceChoice(None, "whole reference (current window has no timestamps)", None)
    month = int(np.bincount(current_months, minlength=13).argmax())
    rows = reference_months == month
    count = int(rows.sum())
    name = MONTH_NAMES[month]
    if count < min_rows:
        return ReferenceChoice(
            None, f"whole reference ({name} has {count} reference rows, fewer than {min_rows})", month
        )
    return ReferenceChoice(
        rows, f"{name} rows of the reference ({count} rows, seasonal_reference: same_month)", month
    )


MONTH_NAMES = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# -- the serving runtime's summaries --------------------------------------------------------------


def parse_snapshot(data: Any, source: str) -> tuple[dict[str, Current], int | None]:
    """Read `{"features": {name: {"edges", "counts"} | {"categories"}}, "n": N}` into comparable counts.

    `edges` may be the inner edges (len(counts) - 1) or all edges including ±inf (len(counts) + 1).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("features"), Mapping):
        raise BadInput(f"{source}: expected a JSON object with a 'features' mapping")
    out: dict[str, Current] = {}
    for name, raw in data["features"].items():
        where = f"{source}: features.{name}"
        if not isinstance(raw, Mapping):
            raise BadInput(f"{where}: expected an object with 'edges' and 'counts', or 'categories'")
        missing = raw.get("missing", 0)
        try:
            n_missing = int(missing)
            if "categories" in raw:
                cats = raw["categories"]
                if not isinstance(cats, Mapping):
                    raise BadInput(f"{where}.categories: expected a mapping of category to count")
                out[str(name)] = CategoricalCounts({str(k): float(v) for k, v in cats.items()}, n_missing)
                continue
            edges = np.asarray(raw["edges"], dtype=np.float64)
            counts = np.asarray(raw["counts"], dtype=np.float64)
        except KeyError as exc:
            raise BadInput(f"{where}: missing {exc.args[0]!r}") from None
        except (TypeError, ValueError):
            raise BadInput(f"{where}: edges, counts and missing must be numbers") from None
        if edges.size == counts.size + 1:
            edges = edges[1:-1]
        if edges.size + 1 != counts.size:
            raise BadInput(f"{where}: {counts.size} counts do not fit {edges.size} edges")
        if np.any(counts < 0) or np.any(np.diff(edges) <= 0):
            raise BadInput(f"{where}: counts must be non-negative and edges strictly increasing")
        out[str(name)] = NumericHistogram(edges, counts, n_missing)
    n = data.get("n")
    return out, (int(n) if isinstance(n, int | float) else None)
