"""`modelops analyze` against a real Prometheus holding half an hour of canary and stable traffic.

The traffic is written as OpenMetrics with timestamps and loaded with `promtool tsdb
create-blocks-from openmetrics` (Prometheus' own backfill), so the queries, `increase()` and the
histogram buckets are Prometheus' own; nothing waits for half an hour of scrapes.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelops.core import contract
from modelops.core.document import ModelsDocument
from tests.helpers import modelops, require_binary
from tests.relay.sandbox import GitSandbox, git, make_git_sandbox

STEP_S = 15
MINUTES = 30
LATENCY_SHARE = {0.05: 0.6, 0.1: 0.9, 0.25: 0.995, 0.5: 1.0}


@dataclass(frozen=True)
class Series:
    model: str
    env: str
    version: int
    rate: float  # requests per second
    error: float
    slow: float = 0.0  # share moved from under 100 ms to 0.5-0.75 s


def _cumulative(series: Series, steps: int) -> Iterator[tuple[str, dict[str, str], list[float]]]:
    labels = {"model": series.model, "env": series.env, "version": str(series.version)}
    total = [series.rate * STEP_S * i for i in range(steps)]
    errors = [math.floor(t * series.error) for t in total]
    yield contract.REQUESTS_TOTAL, {**labels, "outcome": "error"}, [float(e) for e in errors]
    yield (
        contract.REQUESTS_TOTAL,
        {**labels, "outcome": "ok"},
        [t - e for t, e in zip(total, errors, strict=True)],
    )
    for le in (*contract.LATENCY_BUCKETS, math.inf):
        share = max((s for b, s in LATENCY_SHARE.items() if b <= le), default=0.0)
        if series.slow and le < 0.75:
            share = max(0.0, share - series.slow) if le >= 0.1 else share
        yield (
            f"{contract.LATENCY_SECONDS}_bucket",
            {**labels, "le": _le(le)},
            [math.floor(t * share) for t in total],
        )
    for i, le in enumerate((*contract.SCORE_BUCKETS, math.inf)):
        share = min(1.0, (i + 1) / 10)
        yield f"{contract.SCORE}_bucket", {**labels, "le": _le(le)}, [math.floor(t * share) for t in total]


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def openmetrics(series: list[Series], end: float) -> str:
    steps = MINUTES * 60 // STEP_S + 1
    start = end - (steps - 1) * STEP_S
    by_name: dict[str, list[str]] = {}
    for s in series:
        for name, labels, values in _cumulative(s, steps):
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            by_name.setdefault(name, []).extend(
                f"{name}{{{text}}} {v} {start + i * STEP_S:.0f}" for i, v in enumerate(values)
            )
    lines = []
    for name, rows in by_name.items():
        lines += [f"# TYPE {name} gauge", *rows]
    return "\n".join([*lines, "# EOF"]) + "\n"


SERIES = [
    # churn/production: v3 is a healthy canary beside stable v2.
    Series("churn", "production", 2, 45.0, 0.01),
    Series("churn", "production", 3, 5.0, 0.01),
    # churn/staging: v5 fails twice as often as stable v4.
    Series("churn", "staging", 4, 45.0, 0.01),
    Series("churn", "staging", 5, 5.0, 0.02),
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from modelops.sandbox.prom_stack import ManagedProcess, free_port

    promtool, binary = require_binary("promtool"), require_binary("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    source = work / "traffic.om"
    source.write_text(openmetrics(SERIES, time.time() - 5), encoding="utf-8")
    data = work / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
    )
    (work / "prometheus.yml").write_text("global: {}\n", encoding="utf-8")
    port = free_port()
    process = ManagedProcess(
        "prometheus",
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        work / "prometheus.log",
    ).start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    yield url
    process.stop()


def wait_ready(url: str) -> None:
    """Until a Prometheus or Pushgateway answers /-/ready."""
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


def analyze(box: GitSandbox, env: str, prometheus: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return modelops(
        "analyze",
        "--model",
        "churn",
        "--env",
        env,
        "--prometheus",
        prometheus,
        "--repo",
        str(box.clone),
        *flags,
    )


def with_canaries(root: Path) -> GitSandbox:
    box = make_git_sandbox(root)
    doc = ModelsDocument.load(box.clone / "models.yaml")
    started = (datetime.now(UTC) - timedelta(minutes=MINUTES - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc.start_canary("churn", "production", 3, 10, at=started, by="test", reason="gate passed")
    doc.promote("churn", "staging", 4, at="2026-01-01T00:00:00Z", by="test", reason="first")
    doc.start_canary("churn", "staging", 5, 10, at=started, by="test", reason="gate passed")
    (box.clone / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    git("commit", "--quiet", "-am", "canaries", cwd=box.clone)
    git("push", "--quiet", "origin", "HEAD:main", cwd=box.clone)
    return box


def test_a_healthy_canary_is_promoted_with_evidence(prometheus: str, tmp_path: Path) -> None:
    box = with_canaries(tmp_path)
    out = tmp_path / "evidence"
    result = analyze(box, "production", prometheus, "--dry-run", "--json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "promote", report["reason"]
    metrics = {m["metric"]: m for m in report["metrics"]}
    assert metrics["error_rate"]["status"] == "pass"
    # The window is the canary's own half hour: about 29 min x 5 requests/s.
    assert 8000 < metrics["error_rate"]["estimate"]["canary_n"] < 9500
    assert metrics["latency_p99"]["status"] == "pass" and metrics["score_distribution"]["status"] == "pass"
    assert json.loads((out / "analysis.json").read_text("utf-8"))["verdict"] == "promote"
    assert "| error_rate | pass |" in (out / "analysis.md").read_text("utf-8")


def test_a_canary_with_twice_the_errors_is_aborted_dropping_only_the_canary(
    prometheus: str, tmp_path: Path
) -> None:
    box = with_canaries(tmp_path)
    out = tmp_path / "evidence"
    result = analyze(box, "staging", prometheus, "--json", "--out", str(out))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "abort" and report["action"] == "rollback"
    written = json.loads((out / "analysis.json").read_text("utf-8"))
    assert written["action"] == "rollback" and written["detail"]["commit"] == report["detail"]["commit"]
    staging = box.origin_state().model("churn").env("staging")
    assert staging.canary is None and staging.version == 4 and 5 in staging.quarantined
    assert box.origin_state().model("churn").env("production").canary is not None  # untouched
    message = git("log", "-1", "--format=%B", "main", cwd=box.origin)
    assert message.startswith("rollback churn staging: v5 → v4")
    assert "| error_rate | fail |" in message
    # Looking again changes nothing: no canary runs any more.
    again = analyze(box, "staging", prometheus)
    assert again.returncode == 2 and "runs no canary" in again.stderr


def test_no_data_is_never_a_pass(prometheus: str, tmp_path: Path) -> None:
    box = with_canaries(tmp_path)
    doc = ModelsDocument.load(box.clone / "models.yaml")
    # A canary whose series Prometheus does not have.
    doc.rollback("churn", "production", at="2026-12-01T00:00:00Z", by="t", reason="x", quarantine=False)
    started = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc.start_canary("churn", "production", 7, 10, at=started, by="test", reason="gate passed")
    (box.clone / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    result = analyze(box, "production", prometheus, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "inconclusive"
    assert {m["metric"]: m["status"] for m in report["metrics"]}["error_rate"] == "missing"


def test_an_unreachable_prometheus_is_an_external_failure(tmp_path: Path) -> None:
    from modelops.sandbox.prom_stack import free_port

    box = with_canaries(tmp_path)
    result = analyze(box, "production", f"http://127.0.0.1:{free_port()}", "--dry-run")
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_relay_runs_the_analysis_for_a_canary_alert(
    prometheus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelops.context import Context
    from modelops.core.incident import Alert, IncidentKind, decide
    from modelops.relay.dispatch import FlowDispatcher

    box = with_canaries(tmp_path)
    monkeypatch.setenv("MODELOPS_PROMETHEUS_URL", prometheus)
    labels = {
        "alertname": "ChurnCanaryErrors",
        "action": "analyze",
        "model": "churn",
        "env": "staging",
        "version": "5",
    }
    decision = decide(Alert("firing", labels, {}, "2026-12-01T10:00:00Z", "f1"), box.origin_state())
    assert decision.kind is IncidentKind.ANALYZE and decision.incident is not None
    outcome = FlowDispatcher(Context(repo=box.clone)).analyze(decision.incident)
    assert outcome.detail == "canary analysis: abort (rollback)"
    staging = box.origin_state().model("churn").env("staging")
    assert staging.canary is None and 5 in staging.quarantined
