"""Canary analysis: compare the canary with the stable Version over the same window, and decide.

The verdict is `abort`, `promote` or `inconclusive`, and it can never be `promote` on nothing: a
required metric whose series is missing, NaN or whose query failed blocks promotion.

The analysis runs again and again while the canary serves (a scheduled workflow, the relay), so every
test stays valid under repeated looks:

- proportions (error rate; the latency tail; wrong predictions on delayed labels) use the mixture
  sequential probability ratio test (mSPRT, Johari et al. 2017) on the difference canary − stable,
  with a normal mixing distribution whose scale is the tolerance. Its p-value is always valid: the
  chance that it ever drops below alpha on an equal canary, however often it is looked at, is at
  most alpha. The matching confidence sequence gives an upper bound on the difference that holds at
  every look at once;
- the score distribution uses KS (the DKW bound on binned CDFs, conservative) with alpha spent per
  look (look k spends alpha·6/(π²k²), which sums to alpha), and PSI as the effect size: a different
  model may shift its scores a little; only a significant shift beyond `score_psi` aborts.

Abort: Holm across the metrics' always-valid p-values at `alpha_abort` (family-wise over metrics and
looks). Promote: every metric's upper bound is inside its tolerance at `alpha_promote` — an
intersection-union test, so no correction is needed across metrics. Anything else is `inconclusive`
until the deadline; after it the verdict stays `inconclusive` (expired): too little evidence is a
reason to ask a human, never a reason to pass or to abort (the low-traffic false aborts of other tools).

Latency: "is the canary's p99 worse" is tested as "do more than 1 % of the canary's requests take
longer than the stable p99", with both read from the same histogram buckets by the linear
interpolation histogram_quantile uses. The tolerance is a tail share (2 % by default: twice the
1 % a p99 leaves).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal

Verdict = Literal["promote", "abort", "inconclusive"]
Status = Literal["pass", "fail", "inconclusive", "missing", "unused"]

Buckets = tuple[tuple[float, float], ...]  # (upper bound `le`, cumulative count), +Inf last


@dataclass(frozen=True)
class Arm:
    """What one side (canary or stable) served over the window; None when the query found nothing."""

    requests: float | None = None
    errors: float | None = None
    latency: Buckets | None = None
    scores: Buckets | None = None
    labelled: float | None = None
    wrong: float | None = None
    failures: Mapping[str, str] = field(default_factory=dict)  # metric → query error


@dataclass(frozen=True)
class AnalysisSettings:
    alpha_abort: float = 0.01
    alpha_promote: float = 0.01
    # Error rate: a regression is a rise by `error_ratio` × stable (1.0 = doubled), at least `error_floor`.
    error_ratio: float = 1.0
    error_floor: float = 0.005
    quantile: float = 0.99
    latency_tail_tolerance: float = 0.01  # added to the 1 % tail a p99 leaves
    score_psi: float = 0.2
    label_tolerance: float = 0.02
    min_requests: int = 250
    min_labels: int = 200
    interval_seconds: int = 300
    deadline_seconds: int = 7200

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str = "promotion.analysis") -> AnalysisSettings:
        """models.yaml's `promotion.analysis` (already schema-checked); durations for interval/deadline."""
        from modelops.core.alert_rules import parse_duration
        from modelops.errors import BadInput

        d = cls()
        values = {k: type(getattr(d, k))(raw[k]) for k in cls.__dataclass_fields__ if k in raw}
        for key, field_name in (("interval", "interval_seconds"), ("deadline", "deadline_seconds")):
            if key in raw:
                try:
                    values[field_name] = max(1, parse_duration(str(raw[key])) // 1000)
                except BadInput:
                    raise BadInput(
                        f"{where}.{key}: {raw[key]!r} is not a duration such as 5m or 2h"
                    ) from None
        return cls(**values)


@dataclass(frozen=True)
class MetricResult:
    name: str
    status: Status
    message: str
    required: bool = True
    p_value: float | None = None  # always-valid, for the abort test
    estimate: Mapping[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.name,
            "status": self.status,
            "required": self.required,
            "p_value": self.p_value,
            "message": self.message,
            "estimate": dict(self.estimate),
        }


@dataclass(frozen=True)
class Analysis:
    verdict: Verdict
    reason: str
    metrics: tuple[MetricResult, ...]
    elapsed_seconds: float
    expired: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "expired": self.expired,
            "elapsed_seconds": self.elapsed_seconds,
            "metrics": [m.as_dict() for m in self.metrics],
        }

    def markdown(self, title: str) -> str:
        lines = [f"### {title}: **{self.verdict}**", "", self.reason, ""]
        lines += ["| metric | status | p (always valid) | evidence |", "|---|---|---|---|"]
        for m in self.metrics:
            p = "—" if m.p_value is None else f"{m.p_value:.3g}"
            lines.append(f"| {m.name} | {m.status} | {p} | {m.message} |")
        return "\n".join(lines) + "\n"


# -- statistics ------------------------------------------------------------------------------


def msprt_log_lr(diff: float, variance: float, tau: float) -> float:
    """log of the mixture likelihood ratio for a normal estimate `diff` with `variance`, N(0, τ²) mix."""
    if variance <= 0:
        return math.inf if diff != 0 else 0.0
    t2 = tau * tau
    return 0.5 * math.log(variance / (variance + t2)) + diff * diff * t2 / (2 * variance * (variance + t2))


def always_valid_p(diff: float, variance: float, tau: float) -> float:
    """One-sided (canary worse) always-valid p-value of the mSPRT."""
    if diff <= 0:
        return 1.0
    log_lr = msprt_log_lr(diff, variance, tau)
    return 1.0 if log_lr <= 0 else max(0.0, math.exp(-log_lr))


def confidence_radius(variance: float, tau: float, alpha: float) -> float:
    """Half-width of the mSPRT confidence sequence: holds at every look at once with prob. 1 − alpha."""
    if variance <= 0:
        return 0.0
    t2 = tau * tau
    return math.sqrt(
        2
        * variance
        * (variance + t2)
        / t2
        * (math.log(1 / alpha) + 0.5 * math.log((variance + t2) / variance))
    )


def spent_alpha_p(p: float, look: int) -> float:
    """A fixed-sample p-value at look k turned always valid by spending alpha·6/(π²k²) on that look."""
    weight = 6 / (math.pi**2 * max(1, look) ** 2)
    return min(1.0, p / weight)


def holm(pvalues: Sequence[float], alpha: float) -> list[bool]:
    """Which hypotheses Holm's step-down rejects at family-wise `alpha`."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - rank):
            break
        rejected[i] = True
    return rejected


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding rank q·total."""
    if not buckets or not math.isfinite(buckets[-1][1]) or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower  # Prometheus returns the highest finite bound
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return None


def share_above(bound: float, buckets: Buckets) -> float:
    """Interpolated share of observations above `bound` (the inverse of histogram_quantile)."""
    total = buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if bound <= le:
            if math.isinf(le):
                return (total - below) / total
            at = below + (count - below) * (bound - lower) / (le - lower) if le > lower else count
            return (total - at) / total
        lower, below = le, count
    return 0.0


def _bad(*values: float | None) -> bool:
    return any(v is None or not math.isfinite(v) or v < 0 for v in values)


def _bad_buckets(buckets: Buckets | None) -> bool:
    if not buckets or not math.isinf(buckets[-1][0]):
        return True
    counts = [c for _, c in buckets]
    return any(not math.isfinite(c) for c in counts) or any(b < a for a, b in itertools.pairwise(counts))


# -- the metrics -----------------------------------------------------------------------------


def compare_proportions(
    name: str,
    canary: tuple[float, float],
    stable: tuple[float, float],
    tolerance: float,
    settings: AnalysisSettings,
    *,
    minimum: int,
    required: bool = True,
    unit: str = "",
) -> MetricResult:
    """Is the canary's rate (events/trials) worse than stable's by more than chance, or surely not by
    more than `tolerance`?"""
    (xc, nc), (xs, ns) = canary, stable
    if nc < minimum or ns < minimum:
        return MetricResult(
            name,
            "inconclusive",
            f"too little data: {nc:.0f} canary and {ns:.0f} stable {unit or 'samples'} (needs {minimum} each)",
            required,
            estimate={
                "canary_n": nc,
                "stable_n": ns,
                "needed_n": needed_samples(
                    (xc + xs) / (nc + ns) if nc + ns > 0 and xc + xs > 0 else tolerance,
                    tolerance,
                    ns / nc if nc > 0 else 1.0,
                    settings,
                ),
            },
        )
    pc, ps = xc / nc, xs / ns
    pooled = (xc + xs) / (nc + ns)
    floor_c, floor_s = 0.5 / nc, 0.5 / ns
    null_var = max(pooled, floor_c) * (1 - pooled) * (1 / nc + 1 / ns)
    var = max(pc, floor_c) * (1 - pc) / nc + max(ps, floor_s) * (1 - ps) / ns
    diff = pc - ps
    p = always_valid_p(diff, null_var, tolerance)
    upper = diff + confidence_radius(var, tolerance, settings.alpha_promote)
    estimate = {
        "canary": pc,
        "stable": ps,
        "difference": diff,
        "upper_bound": upper,
        "tolerance": tolerance,
        "canary_n": nc,
        "stable_n": ns,
        "needed_n": needed_samples(max(pooled, floor_c), tolerance, ns / nc, settings),
    }
    text = f"canary {pc:.4%} vs stable {ps:.4%} (n {nc:.0f}/{ns:.0f}); upper bound of the rise {upper:+.4%}"
    if upper < tolerance:
        return MetricResult(name, "pass", f"{text} < tolerance {tolerance:.2%}", required, p, estimate)
    return MetricResult(name, "inconclusive", f"{text}, tolerance {tolerance:.2%}", required, p, estimate)


def needed_samples(rate: float, tolerance: float, ratio: float, settings: AnalysisSettings) -> float:
    """Canary samples a fixed-sample one-sided test needs to see a rise of `tolerance` with 80 % power
    (stable has `ratio` times as many). The sequential test needs somewhat more; it is the power check's
    yardstick: if the canary cannot reach it before the deadline, the analysis says so."""
    z = NormalDist().inv_cdf(1 - settings.alpha_abort) + NormalDist().inv_cdf(0.8)
    return z * z * rate * (1 - rate) * (1 + 1 / max(ratio, 1e-9)) / (tolerance * tolerance)


def power_note(metric: MetricResult, elapsed_seconds: float, settings: AnalysisSettings) -> MetricResult:
    """An undecided metric, told how far it is from enough data, and whether the deadline allows it."""
    n, needed = metric.estimate.get("canary_n"), metric.estimate.get("needed_n")
    if metric.status != "inconclusive" or not n or not needed or elapsed_seconds <= 0:
        return metric
    per_second = n / elapsed_seconds
    left = max(0.0, needed - n) / per_second if per_second > 0 else math.inf
    fits = elapsed_seconds + left <= settings.deadline_seconds
    note = f"; power: about {needed:,.0f} canary samples needed, {n:,.0f} so far" + (
        f", about {left / 60:.0f} min more" if fits else ", more than the deadline allows (underpowered)"
    )
    return MetricResult(
        metric.name, metric.status, metric.message + note, metric.required, metric.p_value, metric.estimate
    )


def _error_rate(c: Arm, s: Arm, settings: AnalysisSettings) -> MetricResult:
    name = "error_rate"
    if name in c.failures or name in s.failures:
        return MetricResult(name, "missing", f"query failed: {c.failures.get(name) or s.failures.get(name)}")
    if _bad(c.requests, c.errors, s.requests, s.errors):
        return MetricResult(name, "missing", "no request series for canary or stable (or NaN)")
    assert c.requests is not None and c.errors is not None and s.requests is not None and s.errors is not None
    stable_rate = s.errors / s.requests if s.requests else 0.0
    tolerance = max(settings.error_floor, settings.error_ratio * stable_rate)
    return compare_proportions(
        name,
        (c.errors, c.requests),
        (s.errors, s.requests),
        tolerance,
        settings,
        minimum=settings.min_requests,
        unit="requests",
    )


def _latency(c: Arm, s: Arm, settings: AnalysisSettings) -> MetricResult:
    name = f"latency_p{round(settings.quantile * 100)}"
    if "latency" in c.failures or "latency" in s.failures:
        return MetricResult(
            name, "missing", f"query failed: {c.failures.get('latency') or s.failures.get('latency')}"
        )
    if _bad_buckets(c.latency) or _bad_buckets(s.latency):
        return MetricResult(name, "missing", "no latency histogram for canary or stable (or NaN)")
    assert c.latency is not None and s.latency is not None
    nc, ns = c.latency[-1][1], s.latency[-1][1]
    stable_q = histogram_quantile(settings.quantile, s.latency)
    canary_q = histogram_quantile(settings.quantile, c.latency)
    if stable_q is None or nc <= 0:
        return MetricResult(name, "inconclusive", "no latency observations yet", estimate={"canary_n": nc})
    tail = 1 - settings.quantile
    canary_tail = share_above(stable_q, c.latency)
    result = compare_proportions(
        name,
        (canary_tail * nc, nc),
        (tail * ns, ns),
        settings.latency_tail_tolerance,
        settings,
        minimum=settings.min_requests,
        unit="requests",
    )
    estimate = {**result.estimate, "canary_p99_s": canary_q, "stable_p99_s": stable_q}
    message = (
        f"p99 canary {_ms(canary_q)} vs stable {_ms(stable_q)}; "
        f"canary requests slower than the stable p99: {result.message}"
    )
    return MetricResult(name, result.status, message, True, result.p_value, estimate)


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def _on_shared_edges(a: Buckets, b: Buckets) -> tuple[Buckets, Buckets]:
    """Both histograms on the edges they share. A regression's score bins are its training target's
    deciles, so two versions trained on different data bin differently; a cumulative count at a
    shared edge is exact in both, so comparing on those is a coarser but honest comparison."""
    shared = {le for le, _ in a} & {le for le, _ in b}
    return tuple(x for x in a if x[0] in shared), tuple(x for x in b if x[0] in shared)


def _scores(c: Arm, s: Arm, settings: AnalysisSettings, look: int) -> MetricResult:
    name = "score_distribution"
    if "scores" in c.failures or "scores" in s.failures:
        return MetricResult(
            name, "missing", f"query failed: {c.failures.get('scores') or s.failures.get('scores')}"
        )
    if _bad_buckets(c.scores) or _bad_buckets(s.scores):
        return MetricResult(name, "missing", "no score histogram for canary or stable (or NaN)")
    assert c.scores is not None and s.scores is not None
    from modelops.core.drift import psi

    canary_scores, stable_scores = _on_shared_edges(c.scores, s.scores)
    if len(canary_scores) < 3:
        return MetricResult(
            name, "missing", "canary and stable bin scores on different edges and share fewer than two"
        )
    nc, ns = canary_scores[-1][1], stable_scores[-1][1]
    if nc < settings.min_requests or ns < settings.min_requests:
        return MetricResult(
            name,
            "inconclusive",
            f"too little data: {nc:.0f} canary and {ns:.0f} stable scores",
            estimate={"canary_n": nc},
        )
    cdf_c = [count / nc for _, count in canary_scores]
    cdf_s = [count / ns for _, count in stable_scores]
    d = max(abs(a - b) for a, b in zip(cdf_c, cdf_s, strict=True))
    n_eff = nc * ns / (nc + ns)
    fixed_p = min(1.0, 2 * math.exp(-2 * n_eff * d * d))  # DKW: conservative on binned CDFs
    p = spent_alpha_p(fixed_p, look)

    def cells(buckets: Buckets) -> list[float]:
        counts = [count for _, count in buckets]
        return [b - a for a, b in zip([0.0, *counts], counts, strict=False)]

    index = psi(cells(stable_scores), cells(canary_scores))
    estimate = {"ks": d, "psi": index, "canary_n": nc, "stable_n": ns}
    text = f"KS D={d:.3f}, PSI={index:.3f} (limit {settings.score_psi})"
    if index > settings.score_psi:
        return MetricResult(name, "inconclusive", f"{text}: shifted", True, p, estimate)
    # Within the band, a significant KS alone is a different model, not a broken one: never abort on it.
    return MetricResult(name, "pass", f"{text}: within the band", True, 1.0, estimate)


def _labels(c: Arm, s: Arm, settings: AnalysisSettings) -> MetricResult:
    name = "delayed_labels"
    if _bad(c.labelled, c.wrong, s.labelled, s.wrong):
        return MetricResult(name, "unused", "no labelled outcomes yet", required=False)
    assert c.labelled is not None and c.wrong is not None and s.labelled is not None and s.wrong is not None
    if c.labelled < settings.min_labels or s.labelled < settings.min_labels:
        return MetricResult(
            name,
            "unused",
            f"{c.labelled:.0f} canary and {s.labelled:.0f} stable labelled outcomes (uses {settings.min_labels} each)",
            required=False,
        )
    return compare_proportions(
        name,
        (c.wrong, c.labelled),
        (s.wrong, s.labelled),
        settings.label_tolerance,
        settings,
        minimum=settings.min_labels,
        required=False,
        unit="labelled outcomes",
    )


def analyse(canary: Arm, stable: Arm, settings: AnalysisSettings, elapsed_seconds: float) -> Analysis:
    look = max(1, math.ceil(elapsed_seconds / settings.interval_seconds))
    metrics = [
        _error_rate(canary, stable, settings),
        _latency(canary, stable, settings),
        _scores(canary, stable, settings, look),
        _labels(canary, stable, settings),
    ]
    tested = [(i, m.p_value) for i, m in enumerate(metrics) if m.p_value is not None]
    # A p-value that underflowed to 0.0 is the strongest evidence there is, not a missing one.
    rejected = holm([p for _, p in tested], settings.alpha_abort)
    for (i, _), hit in zip(tested, rejected, strict=True):
        if hit:
            metrics[i] = MetricResult(
                metrics[i].name,
                "fail",
                metrics[i].message + f" — worse (Holm, family-wise α={settings.alpha_abort})",
                metrics[i].required,
                metrics[i].p_value,
                metrics[i].estimate,
            )
    metrics = [power_note(m, elapsed_seconds, settings) for m in metrics]
    failed = [m for m in metrics if m.status == "fail"]
    expired = elapsed_seconds >= settings.deadline_seconds
    if failed:
        names = ", ".join(m.name for m in failed)
        return Analysis(
            "abort", f"the canary is worse than stable on {names}", tuple(metrics), elapsed_seconds
        )
    missing = [m for m in metrics if m.status == "missing"]
    waiting = [m for m in metrics if m.status == "inconclusive"]
    if not missing and not waiting:
        return Analysis(
            "promote",
            f"every metric is within its tolerance (α={settings.alpha_promote}, valid at every look)",
            tuple(metrics),
            elapsed_seconds,
        )
    why = "; ".join(
        f"{m.name}: {'missing' if m.status == 'missing' else 'not yet decided'}" for m in missing + waiting
    )
    if expired:
        reason = f"no verdict by the deadline ({settings.deadline_seconds // 60} min): {why}; a human decides"
    else:
        left = settings.deadline_seconds - elapsed_seconds
        reason = f"waiting ({left / 60:.0f} min to the deadline): {why}"
    return Analysis("inconclusive", reason, tuple(metrics), elapsed_seconds, expired)
