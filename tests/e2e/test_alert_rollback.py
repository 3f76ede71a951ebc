"""The whole loop, with every part real: a bad version fails its predictions, Prometheus fires
ModelErrorRateHigh after the burn-in and `for`, Alertmanager posts to the relay, the relay commits the
rollback on origin, the server following models.yaml swaps back, and the alert resolves."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.core.alert_rules import parse_duration
from modelops.sandbox.loop import (
    LoopTimes,
    Service,
    Traffic,
    VersionFault,
    branch_head,
    parse_timestamp,
    poll,
    sample_rows,
    start_relay,
    start_serving,
    start_stack,
    wait_for_alert,
    wait_for_alert_resolved,
    wait_for_commit,
    wait_for_relay_dispatch,
    wait_for_serving_version,
)
from tests.e2e.world import ENV, MODEL, World, build_world
from tests.helpers import require_binary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ALERT = "ModelErrorRateHigh"
BAD, GOOD = "2", "1"
BAD_LABELS = {"model": MODEL, "env": ENV, "version": BAD}


@pytest.fixture
def world(tmp_path: Path) -> World:
    require_binary("prometheus")
    require_binary("alertmanager")
    return build_world(tmp_path)


@pytest.fixture
def servers(world: World, tmp_path: Path) -> Iterator[dict[str, Any]]:
    logs = tmp_path / "logs"
    token = secrets.token_hex(16)
    token_file = tmp_path / "secrets" / "relay-token"
    token_file.parent.mkdir()
    token_file.write_text(token, encoding="utf-8")
    token_file.chmod(0o600)
    services: dict[str, Service] = {}
    stack = None
    try:
        # Both import heavy libraries on start; starting them side by side saves that time once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            relay_start = pool.submit(start_relay, world.clone, logs, token)
            serving_start = pool.submit(
                start_serving, world.clone, MODEL, ENV, logs, follow=True, poll_interval=1.0
            )
            for name, future in (("relay", relay_start), ("serving", serving_start)):
                with contextlib.suppress(Exception):
                    services[name] = future.result()
            relay, serving = relay_start.result(), serving_start.result()
        stack = start_stack(
            world.clone,
            tmp_path / "stack",
            relay_url=relay.url,
            relay_token_file=token_file,
            scrape_targets=[("modelops-serving", serving.url.split("://", 1)[1])],
        )
        yield {"relay": relay, "serving": serving, "stack": stack, "logs": logs}
    finally:
        if stack is not None:
            stack.stop()
        for service in services.values():
            service.stop()


def rule_durations(rules_dir: Path) -> tuple[float, float]:
    """(burn-in, for) of ModelErrorRateHigh as the running Prometheus has them."""
    groups = yaml.safe_load((rules_dir / "model-rollback.yaml").read_text("utf-8"))["groups"]
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == ALERT)
    burn_in = re.search(r"modelops_version_start_time_seconds\)\s*>\s*([0-9.]+)", rule["expr"])
    assert burn_in, rule["expr"]
    return float(burn_in.group(1)), parse_duration(rule["for"]) / 1000


def test_an_alert_on_a_failing_version_rolls_it_back_by_a_commit_and_the_server_follows(
    world: World, servers: dict[str, Any], tmp_path: Path
) -> None:
    stack, relay, serving = servers["stack"], servers["relay"], servers["serving"]
    burn_in, for_s = rule_durations(tmp_path / "stack" / "monitoring" / "rules")
    origin_before = branch_head(world.origin)
    times = LoopTimes()
    rows = sample_rows(world.clone / "data" / "churn" / "golden.csv", limit=200, drop=("churned",))

    with Traffic(serving.url, MODEL, rows, rate=5.0, fault=VersionFault(BAD, error_rate=0.5)) as traffic:
        pending = wait_for_alert(stack, ALERT, BAD_LABELS, state="pending", timeout=90)
        started = stack.query(f'modelops_version_start_time_seconds{{model="{MODEL}",version="{BAD}"}}')
        assert len(started) == 1, started
        times.version_start = float(started[0]["value"][1])
        assert world.origin_subjects()[0] == "promote churn v2 to production", "rolled back too early"

        firing = wait_for_alert(stack, ALERT, BAD_LABELS, state="firing", timeout=60)
        times.alert_active, times.alert_firing_seen = firing.active_at, firing.observed_at
        assert firing.active_at == pending.active_at
        assert firing.labels["action"] == "rollback"

        notified = poll(
            "Alertmanager to route the alert to the relay",
            lambda: (
                next(
                    (
                        a
                        for a in stack.alertmanager_alerts()
                        if all(a["labels"].get(k) == v for k, v in {**BAD_LABELS, "alertname": ALERT}.items())
                    ),
                    None,
                ),
                "not yet",
            ),
            timeout=30,
        )
        assert "modelops-relay" in {r["name"] for r in notified["receivers"]}

        commit = wait_for_commit(
            world.origin, after=origin_before, subject_prefix=f"rollback {MODEL} {ENV}", timeout=90
        )
        times.commit_seen, times.commit_time = commit.observed_at, commit.committed_at
        wait_for_serving_version(serving.url, MODEL, GOOD, timeout=60)
        times.serving_converged = poll(
            "traffic answered by v1", lambda: (traffic.first_answer_from(GOOD), "not yet"), timeout=30
        )
        times.alert_resolved = wait_for_alert_resolved(stack, ALERT, BAD_LABELS, timeout=90)
        # A few seconds of answers from the version rolled back to: the fault was v2's alone.
        settled = times.serving_converged + 1.0
        poll(
            "answers from v1",
            lambda: (True if sum(traffic.counts(since=settled).values()) >= 10 else None, ""),
            30,
        )
        after_swap = traffic.counts(since=settled)
    # The relay logs the dispatch once the registry has followed too, which may be after all of the above.
    dispatched = wait_for_relay_dispatch(relay, kind="rollback", model=MODEL, timeout=60)

    # The alert judged v2 only after its burn-in, and fired only after `for` more.
    assert firing.active_at - times.version_start >= burn_in
    assert firing.observed_at - firing.active_at >= for_s
    assert commit.committed_at >= int(firing.active_at + for_s) - 1, (
        "the rollback landed before the alert fired"
    )

    # The relay acted on the alert Alertmanager sent it, once, and the commit says so.
    assert dispatched["detail"] == f"rolled back v{BAD} -> v{GOOD}"
    assert dispatched["ref"] == commit.sha
    assert dispatched["alertname"] == ALERT
    assert commit.subject == f"rollback {MODEL} {ENV}: v{BAD} → v{GOOD}"
    assert f"Incident: {dispatched['incident']}" in commit.body
    assert f"Alert: {ALERT}" in commit.body
    assert [s for s in world.origin_subjects() if s.startswith("rollback ")] == [commit.subject]

    production = world.origin_models().state().model(MODEL).env(ENV)
    assert production.version == int(GOOD)
    assert int(BAD) in production.quarantined
    assert production.history[-1].action == "rollback"
    assert production.history[-1].ref == dispatched["incident"]

    # The bad version really failed, and once the server followed the commit it answered well.
    before_swap = traffic.counts()
    assert before_swap[(BAD, 500)] > 0 and before_swap[(BAD, 200)] > 0, before_swap
    assert {status for _, status in before_swap} <= {200, 500}, before_swap
    assert set(after_swap) == {(GOOD, 200)}, after_swap
    firing_now = [a for a in stack.alerts() if a["labels"]["alertname"] == ALERT and a["state"] == "firing"]
    assert not firing_now, firing_now

    times.extra["relay_dispatched_logged"] = parse_timestamp(dispatched["ts"])
    figures = times.as_dict()
    (tmp_path / "loop-times.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    durations = figures["durations"]
    print(
        f"\nalert active → rollback commit: {durations['alert_active_to_commit_s']:.1f}s "
        f"(firing → commit {durations['alert_firing_to_commit_s']:.1f}s, "
        f"commit → serving v{GOOD} {durations['commit_to_serving_s']:.1f}s, "
        f"commit → resolved {durations['commit_to_resolved_s']:.1f}s) — {tmp_path / 'loop-times.json'}"
    )
