"""The metric contract: one name per series, shared by serving, drift and monitoring."""

from __future__ import annotations

import re

from modelops.core import contract


def series_names() -> dict[str, str]:
    return {k: v for k, v in vars(contract).items() if k.isupper() and isinstance(v, str) and "_" in v}


def test_every_series_has_one_distinct_prometheus_name() -> None:
    names = [v for k, v in series_names().items() if not k.startswith("HEADER_")]
    assert len(names) == len(set(names)) >= 10
    assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", n) for n in names)


def test_histogram_buckets_are_increasing() -> None:
    for buckets in (contract.LATENCY_BUCKETS, contract.SCORE_BUCKETS):
        assert list(buckets) == sorted(set(buckets))
