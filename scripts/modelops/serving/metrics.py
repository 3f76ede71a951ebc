"""The metric contract, exported by the predictor on the model server's own /metrics.

KServe's REST server renders prometheus_client's default REGISTRY on /metrics, so the series are
registered there. Series of a version that stopped serving here are kept (counters must not vanish
under a rate() that spans a hot swap); only `modelops_model_info` moves to the serving version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from modelops.core import contract
from modelops.serving.summaries import FeatureBins, FeatureSummaries, ScoreCounts

LABELS = list(contract.SERVING_LABELS)
SCORE_HELP = (
    "Prediction scores: P(positive) (binary), the top class's probability (multiclass), "
    "the predicted value (regression)."
)


@dataclass(frozen=True)
class SeriesKey:
    model: str
    env: str
    version: str

    def labels(self) -> dict[str, str]:
        return {"model": self.model, "env": self.env, "version": self.version}


def _add_histogram(
    family: HistogramMetricFamily,
    labels: list[str],
    edges: Sequence[float],
    counts: Sequence[int],
    total: float,
) -> None:
    cumulative, buckets = 0, []
    for edge, count in zip(edges, counts, strict=False):
        cumulative += count
        buckets.append((_le(edge), float(cumulative)))
    buckets.append(("+Inf", float(cumulative + counts[-1])))
    family.add_metric(labels, buckets, sum_value=total)
    if edges and edges[0] < 0:
        # prometheus_client drops _count and _sum when a bucket edge is negative (OpenMetrics' rule for
        # _sum); the text format Prometheus scrapes has both, and rate(_count) needs them.
        named = dict(zip(family._labelnames, labels, strict=True))
        family.samples.append(Sample(family.name + "_count", named, buckets[-1][1]))
        family.samples.append(Sample(family.name + "_sum", named, total))


class _SummaryCollector(Collector):
    """Feature summaries need per-feature bucket edges, and the score histogram per-version ones (a
    regression's bins are its target's range), which a prometheus_client Histogram cannot have (its
    buckets are fixed per metric), so they are rendered from the running counts."""

    def __init__(self, owner: ServingMetrics) -> None:
        self._owner = owner

    def collect(self) -> Iterator[Metric]:
        values = HistogramMetricFamily(
            contract.FEATURE_VALUE,
            "Values of numeric model inputs, binned on the reference profile's edges.",
            labels=[*LABELS, "feature"],
        )
        categories = CounterMetricFamily(
            contract.FEATURE_CATEGORY_TOTAL,
            "Values of categorical model inputs, per category.",
            labels=[*LABELS, "feature", "category"],
        )
        missing = CounterMetricFamily(
            contract.FEATURE_MISSING_TOTAL,
            "Missing (null, NaN or non-finite) values of model inputs.",
            labels=[*LABELS, "feature"],
        )
        scores = HistogramMetricFamily(contract.SCORE, SCORE_HELP, labels=LABELS)
        for key, summaries, score_counts in self._owner.all_summaries():
            base = [key.model, key.env, key.version]
            edges, counts, total = score_counts.snapshot()
            _add_histogram(scores, base, edges, counts, total)
            for feature, edges, counts, total in summaries.numeric():
                _add_histogram(values, [*base, feature], edges, counts, total)
            for feature, counted in summaries.categorical():
                for category, count in sorted(counted.items()):
                    categories.add_metric([*base, feature, category], float(count))
            for feature, count in summaries.missing():
                missing.add_metric([*base, feature], float(count))
        yield scores
        yield values
        yield categories
        yield missing


def _le(edge: float) -> str:
    return repr(float(edge))


class ServingMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests = Counter(
            contract.REQUESTS_TOTAL,
            "Predict requests, by outcome (ok|error).",
            [*LABELS, "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            contract.LATENCY_SECONDS,
            "End-to-end predict latency in seconds.",
            LABELS,
            buckets=contract.LATENCY_BUCKETS,
            registry=registry,
        )
        self.version_start = Gauge(
            contract.VERSION_START,
            "When this version started serving here (unix seconds).",
            LABELS,
            registry=registry,
        )
        self.info = Gauge(
            contract.MODEL_INFO, "The version serving here (=1).", [*LABELS, "run_id"], registry=registry
        )
        self._lock = threading.Lock()
        self._summaries: dict[SeriesKey, FeatureSummaries] = {}
        self._scores: dict[SeriesKey, ScoreCounts] = {}
        self._info_labels: dict[tuple[str, str], tuple[str, ...]] = {}
        registry.register(_SummaryCollector(self))

    def all_summaries(self) -> list[tuple[SeriesKey, FeatureSummaries, ScoreCounts]]:
        with self._lock:
            return [(key, summaries, self._scores[key]) for key, summaries in self._summaries.items()]

    def summaries(self, key: SeriesKey) -> FeatureSummaries | None:
        with self._lock:
            return self._summaries.get(key)

    def scores(self, key: SeriesKey) -> ScoreCounts | None:
        with self._lock:
            return self._scores.get(key)

    def start_serving(
        self,
        key: SeriesKey,
        run_id: str,
        specs: Iterable[FeatureBins],
        at: float | None = None,
        score_edges: Sequence[float] = contract.SCORE_BUCKETS,
    ) -> FeatureSummaries:
        """Mark `key` as the version serving for its model and env, from now; returns its summaries.

        A version that comes back (a rollback) keeps counting into the summaries and scores it had."""
        with self._lock:
            summaries = self._summaries.setdefault(key, FeatureSummaries(specs))
            self._scores.setdefault(key, ScoreCounts(score_edges))
            previous = self._info_labels.get((key.model, key.env))
            if previous is not None:
                self.info.remove(*previous)
            current = (key.model, key.env, key.version, run_id)
            self.info.labels(*current).set(1)
            self._info_labels[(key.model, key.env)] = current
            self.version_start.labels(**key.labels()).set(time.time() if at is None else at)
            # Both outcomes exist from the first scrape, so an error ratio is 0, not "no data".
            for outcome in ("ok", "error"):
                self.requests.labels(**key.labels(), outcome=outcome)
            self.latency.labels(**key.labels())
            return summaries


_shared: ServingMetrics | None = None
_shared_lock = threading.Lock()


def shared_metrics() -> ServingMetrics:
    """The process-wide instance on the default registry (a series name can register only once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ServingMetrics()
        return _shared
