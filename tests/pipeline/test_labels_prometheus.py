"""`modelops labels`: delayed labels reach the canary analysis through a real Pushgateway that a real
Prometheus scrapes, and count from their first batch."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops.core import contract
from tests.helpers import modelops, require_binary
from tests.pipeline.test_analyze_prometheus import analyze, wait_ready, with_canaries

SCRAPE_S = 1


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from modelops.sandbox.prom_stack import ManagedProcess, free_port

    gateway_binary, prometheus_binary = require_binary("pushgateway"), require_binary("prometheus")
    work = tmp_path_factory.mktemp("labels")
    gateway_port, prometheus_port = free_port(), free_port()
    gateway = ManagedProcess(
        "pushgateway",
        # Debian's build persists to /var/lib/prometheus by default, which every instance would share.
        [gateway_binary, f"--web.listen-address=127.0.0.1:{gateway_port}", "--persistence.file="],
        work / "gateway.log",
    ).start()
    (work / "prometheus.yml").write_text(
        f"global: {{scrape_interval: {SCRAPE_S}s}}\n"
        "scrape_configs:\n"
        "  - job_name: pushgateway\n"
        "    honor_labels: true\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{gateway_port}']}}]\n",
        encoding="utf-8",
    )
    prometheus = ManagedProcess(
        "prometheus",
        [
            prometheus_binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        work / "prometheus.log",
    ).start()
    urls = {
        "gateway": f"http://127.0.0.1:{gateway_port}",
        "prometheus": f"http://127.0.0.1:{prometheus_port}",
    }
    for url in urls.values():
        wait_ready(url)
    # A Prometheus that scrapes already, as a long-running one does: its first scrape can take seconds.
    deadline = time.monotonic() + 30
    while not _query(urls, 'up{job="pushgateway"} == 1') and time.monotonic() < deadline:
        time.sleep(0.2)
    yield urls
    prometheus.stop()
    gateway.stop()


def _batch(path: Path, rows: dict[int, tuple[int, int]]) -> Path:
    """`rows`: version -> (correct, wrong)."""
    lines = ["version,outcome"]
    for version, (correct, wrong) in rows.items():
        lines += [f"{version},correct"] * correct + [f"{version},wrong"] * wrong
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _labels(box, stack, batch: Path, *flags: str):
    return _cli(box, batch, "--pushgateway", stack["gateway"], "--scrape-interval", str(SCRAPE_S), *flags)


def _held(stack) -> str:
    with urllib.request.urlopen(f"{stack['gateway']}/metrics", timeout=5) as answer:
        return "".join(
            line
            for line in answer.read().decode().splitlines(True)
            if line.startswith(contract.LABELLED_TOTAL)
        )


def test_two_batches_reach_the_analysis_and_the_first_one_counts(stack, tmp_path: Path) -> None:
    box = with_canaries(tmp_path)
    # Canary v3 is wrong twice as often as stable v2: 20 % against 10 %.
    first = _labels(box, stack, _batch(tmp_path / "a.csv", {3: (120, 30), 2: (135, 15)}), "--json")
    assert first.returncode == 0, first.stderr
    recorded = json.loads(first.stdout)
    assert recorded["new_series"] == 4 and recorded["waited_s"] == 2 * SCRAPE_S, recorded
    second = _labels(box, stack, _batch(tmp_path / "b.csv", {3: (120, 30), 2: (135, 15)}), "--json")
    assert second.returncode == 0, second.stderr
    totals = json.loads(second.stdout)["totals"]
    assert totals == {"2": {"correct": 270, "wrong": 30}, "3": {"correct": 240, "wrong": 60}}
    assert json.loads(second.stdout)["new_series"] == 0
    time.sleep(2 * SCRAPE_S)

    result = analyze(box, "production", stack["prometheus"], "--dry-run", "--json")
    report = json.loads(result.stdout)
    labels = next(m for m in report["metrics"] if m["metric"] == "delayed_labels")
    assert labels["status"] != "unused", json.dumps(labels)
    estimate = labels["estimate"]
    # Both batches: 300 a side (increase() extrapolates a little past the last scrape), not 150.
    assert 280 <= estimate["canary_n"] <= 400 and 280 <= estimate["stable_n"] <= 400, estimate
    assert 0.17 <= estimate["canary"] <= 0.23 and 0.07 <= estimate["stable"] <= 0.13, estimate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version,outcome\n3,correct\n3,maybe\n", ":3: outcome: 'maybe' is not one of correct, wrong"),
        ("version,outcome\n3,correct\n2.0,wrong\n", ":3: version: '2.0' is not a registry version"),
        ("version,label\n3,1\n", ": missing column outcome (needs version, outcome)"),
        ("version,outcome\n", ": no rows; nothing to record"),
    ],
)
def test_a_bad_batch_is_refused_whole_and_publishes_nothing(
    stack, tmp_path: Path, text: str, expected: str
) -> None:
    box = with_canaries(tmp_path)
    before = _held(stack)
    batch = tmp_path / "bad.csv"
    batch.write_text(text, encoding="utf-8")
    result = _labels(box, stack, batch)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"modelops: error: {batch}{expected}"), line
    assert _held(stack) == before


def _cli(box, batch: Path, *flags: str, env: str = "production", environ: dict[str, str] | None = None):
    return modelops(
        "labels",
        "--model",
        "churn",
        "--env",
        env,
        "--file",
        str(batch),
        "--repo",
        str(box.clone),
        *flags,
        env=environ,
    )


def test_an_unknown_environment_or_a_missing_pushgateway_is_bad_input(stack, tmp_path: Path) -> None:
    box = with_canaries(tmp_path)
    batch = _batch(tmp_path / "a.csv", {3: (1, 0)})
    unknown = _cli(box, batch, "--pushgateway", stack["gateway"], env="prod")
    assert unknown.returncode == 2 and "prod" in unknown.stderr and "Traceback" not in unknown.stderr
    bare = _cli(box, batch, environ={"MODELOPS_PUSHGATEWAY_URL": ""})
    assert bare.returncode == 2 and "MODELOPS_PUSHGATEWAY_URL" in bare.stderr


def test_a_pushgateway_that_is_down_is_an_external_failure(tmp_path: Path) -> None:
    from modelops.sandbox.prom_stack import free_port

    box = with_canaries(tmp_path)
    result = _cli(
        box, _batch(tmp_path / "a.csv", {3: (1, 0)}), "--pushgateway", f"http://127.0.0.1:{free_port()}"
    )
    assert result.returncode == 3 and "Pushgateway" in result.stderr and "Traceback" not in result.stderr


def _query(stack, promql: str):
    from urllib.parse import quote

    with urllib.request.urlopen(
        f"{stack['prometheus']}/api/v1/query?query={quote(promql)}", timeout=5
    ) as answer:
        return json.loads(answer.read())["data"]["result"]
