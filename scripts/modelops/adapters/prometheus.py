"""Prometheus' HTTP query API, for the canary analysis: instant queries, one vector each.

The URL comes from `--prometheus`, else MODELOPS_PROMETHEUS_URL. A Prometheus that does not answer is
an external failure (exit 3); a query that returns nothing is an empty vector, for the caller to
treat as missing data (never as a pass).
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from modelops.errors import BadInput, ExternalError

ENV_URL = "MODELOPS_PROMETHEUS_URL"
HTTP_TIMEOUT = 5.0
HTTP_ATTEMPTS = 3

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
        data = prometheus_data(answer, "Prometheus query")
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


def http_json(
    url: str,
    *,
    what: str,
    method: str = "GET",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT,
    attempts: int = HTTP_ATTEMPTS,
) -> Any:
    """GET/POST JSON with a timeout and bounded retries on connection errors and 5xx."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        request_headers["Content-Type"] = "application/json"
    problem = "no attempt"
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(0.2 * 2**attempt, 2.0))
        request = urllib.request.Request(url, data=data, headers=request_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", errors="replace").strip().splitlines()
            problem = f"HTTP {exc.code}" + (f": {detail[0]}" if detail else "")
            if exc.code < 500:
                break
        except (OSError, TimeoutError) as exc:
            problem = str(getattr(exc, "reason", None) or exc)
        except ValueError:
            problem = "the answer is not JSON"
            break
    raise ExternalError(f"{what}: {url} failed ({problem})")


def prometheus_data(answer: Any, what: str) -> Any:
    if not isinstance(answer, dict) or answer.get("status") != "success":
        error = answer.get("error") if isinstance(answer, dict) else answer
        raise ExternalError(f"{what}: Prometheus answered {error!r}")
    return answer.get("data")
