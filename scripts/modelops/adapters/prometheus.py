"""Prometheus' HTTP query API, for the canary analysis: instant queries, one vector each.

The URL comes from `--prometheus`, else MODELOPS_PROMETHEUS_URL. A Prometheus that does not answer is
an external failure (exit 3); a query that returns nothing is an empty vector, for the caller to
treat as missing data (never as a pass).
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping

from modelops.adapters.prom_stack import _prometheus_data, http_json
from modelops.errors import BadInput

ENV_URL = "MODELOPS_PROMETHEUS_URL"

Sample = tuple[dict[str, str], float]


class Prometheus:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def configured(cls, url: str | None, env: Mapping[str, str]) -> Prometheus:
        chosen = url or env.get(ENV_URL)
        if not chosen:
            raise BadInput(f"no Prometheus: pass --prometheus URL or set {ENV_URL}")
        if not chosen.startswith(("http://", "https://")):
            raise BadInput(f"--prometheus {chosen!r}: not an http(s) URL")
        return cls(chosen)

    def vector(self, promql: str, at: float) -> list[Sample]:
        query = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
        answer = http_json(f"{self.url}/api/v1/query?{query}", what="Prometheus query", timeout=self.timeout)
        data = _prometheus_data(answer, "Prometheus query")
        if not isinstance(data, dict) or data.get("resultType") != "vector":
            return []
        samples: list[Sample] = []
        for item in data.get("result") or []:
            try:
                value = float(item["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                value = math.nan
            samples.append((dict(item.get("metric") or {}), value))
        return samples
