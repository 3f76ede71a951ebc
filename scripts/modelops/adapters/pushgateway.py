"""Raising ModelRollbackFailed: a counter Prometheus can read, from a job that does not stay up.

Locally the counter lives in a node-exporter textfile under the state directory. In CI it is pushed to
a Pushgateway (MODELOPS_PUSHGATEWAY_URL, with MODELOPS_PUSHGATEWAY_AUTH as `user:password` for basic
auth). A GitHub-hosted runner cannot reach an in-cluster Pushgateway: the URL must be one the runner
can reach (an ingress), or unset. A workflow run keeps no state, so the pushed value is the failure's
Unix time: it only ever grows, which is all the alert's increase() needs.
"""

from __future__ import annotations

import time
from pathlib import Path

from modelops.core.contract import ROLLBACK_FAILED_TOTAL
from modelops.errors import ExternalError
from modelops.files import write_atomically


def bump_textfile(directory: Path, model: str, env: str) -> float:
    return bump_counter(directory, ROLLBACK_FAILED_TOTAL, {"model": model, "env": env})


def bump_counter(directory: Path, metric: str, labels: dict[str, str]) -> float:
    """Add one to a counter in `<directory>/<metric without _total>.prom` (a node-exporter textfile)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{metric.removesuffix('_total')}.prom"
    series = metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    values: dict[str, float] = {}
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
    values[series] = values.get(series, 0.0) + 1
    body = f"# TYPE {metric} counter\n" + "".join(f"{k} {v:g}\n" for k, v in sorted(values.items()))
    write_atomically(path, body)
    return values[series]


def push(url: str, model: str, env: str, timeout: float = 10.0, auth: str = "") -> float:
    from prometheus_client import CollectorRegistry, Counter, push_to_gateway
    from prometheus_client.exposition import basic_auth_handler, default_handler

    user, _, password = auth.partition(":")

    def handler(url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes):  # type: ignore[no-untyped-def]
        if auth:
            return basic_auth_handler(url, method, timeout, headers, data, user, password)
        return default_handler(url, method, timeout, headers, data)

    registry = CollectorRegistry()
    counter = Counter(
        ROLLBACK_FAILED_TOTAL.removesuffix("_total"),
        "Rollbacks that failed",
        ["model", "env"],
        registry=registry,
    )
    value = time.time()
    counter.labels(model=model, env=env).inc(value)
    try:
        push_to_gateway(
            url,
            job="modelops-rollback",
            grouping_key={"model": model, "env": env},
            registry=registry,
            timeout=timeout,
            handler=handler,
        )
    except OSError as exc:
        raise ExternalError(f"Pushgateway {url}: push failed: {exc}") from None
    return value


def _request(url: str, method: str, auth: str, timeout: float, body: bytes | None = None) -> bytes:
    import base64
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "text/plain; version=0.0.4")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise ExternalError(f"Pushgateway {url}: {method} answered {exc.code}: {detail}") from None
    except (OSError, ValueError) as exc:
        raise ExternalError(f"Pushgateway {url}: {method} failed: {exc}") from None


def _group_path(url: str, job: str, grouping: dict[str, str]) -> str:
    from urllib.parse import quote

    parts = [
        f"job/{quote(job, safe='')}",
        *(f"{quote(k, safe='')}/{quote(v, safe='')}" for k, v in grouping.items()),
    ]
    return f"{url.rstrip('/')}/metrics/" + "/".join(parts)


def read_group(
    url: str, job: str, grouping: dict[str, str], metric: str, *, auth: str = "", timeout: float = 10.0
) -> list[tuple[dict[str, str], float]]:
    """The samples of `metric` in one group, as the Pushgateway holds them now (none for a new group)."""
    import json

    wanted = {"job": job, **grouping}
    try:
        groups = json.loads(_request(f"{url.rstrip('/')}/api/v1/metrics", "GET", auth, timeout))["data"]
    except (ValueError, KeyError, TypeError):
        raise ExternalError(f"Pushgateway {url}: /api/v1/metrics is not the Pushgateway's JSON") from None
    for group in groups:
        if group.get("labels") != wanted:
            continue
        family = group.get(metric) or {}
        return [
            ({k: v for k, v in m["labels"].items() if k not in wanted and k != "instance"}, float(m["value"]))
            for m in family.get("metrics", [])
        ]
    return []


def put_group(
    url: str,
    job: str,
    grouping: dict[str, str],
    metric: str,
    samples: list[tuple[dict[str, str], float]],
    *,
    help_text: str,
    auth: str = "",
    timeout: float = 10.0,
) -> None:
    """Replace the group with these counter samples (PUT: what is not sent is gone)."""
    lines = [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
    for labels, value in samples:
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        lines.append(f"{metric}{{{text}}} {value:.17g}")
    _request(_group_path(url, job, grouping), "PUT", auth, timeout, ("\n".join(lines) + "\n").encode())
