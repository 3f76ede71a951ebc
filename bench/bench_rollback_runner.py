"""Rollback speed on a runner: rollback.yml run by act, from the dispatch to the commit on origin.

The world of tests/workflow_runs (the GitHub double, a real mlflow server, the sandbox's origin, the
Kubernetes double). Value: rollback.yml as it is, installing requirements-rollback.lock. Baseline, in
the same run: the same workflow installing the full requirements.lock, as it did before.

What "cold" means here: every run builds its virtualenv from nothing in a fresh workspace, and uv
copies every file out of its package cache (UV_LINK_MODE=copy, no hardlinks); the world's venv cache,
which the loop's jobs link in, is off. Nothing downloads (the
project's rule: no network at run time), so a GitHub-hosted runner's download and unpacking of the
wheels is not in these figures; it grows with the same package count and size, so the ratio holds
and a real cold runner's absolute times are higher.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FULL_LOCK = "lock: requirements.lock"
LEAN_LOCK = "lock: requirements-rollback.lock"
SEEDED = "promote churn v2 and visits v2 to staging and production"


def _dispatch_to_commit(world: Any, incident: str) -> float:
    head = world.hub.main_sha()
    started = time.perf_counter()
    answer = world.dispatch_workflow(
        "rollback.yml",
        {"model": "churn", "env": "production", "reason": "bench", "incident": incident},
        world.hub.token_of("alice"),
    )
    assert answer.status_code == 204, answer.text
    while world.hub.main_sha() == head:
        if time.perf_counter() - started > 900:
            raise AssertionError(f"no rollback commit after 900 s: {[r.result for r in world.hub.runs]}")
        time.sleep(0.1)
    took = time.perf_counter() - started
    world.hub.wait_idle()
    return took


def _pin_back(world: Any, clone: Path, lock_line: str) -> None:
    """Production back on v2 (previous v1), rollback.yml installing `lock_line`."""
    from tests.workflow_runs.world import git

    git(clone, "fetch", "--quiet", "origin")
    git(clone, "reset", "--quiet", "--hard", "origin/main")
    seeded = git(clone, "log", "--format=%H", "--fixed-strings", "--grep", SEEDED, "-n1", "origin/main")
    git(clone, "checkout", "--quiet", seeded, "--", "models.yaml", "applications")
    workflow = clone / ".github" / "workflows" / "rollback.yml"
    text = workflow.read_text("utf-8").replace(FULL_LOCK, LEAN_LOCK).replace(LEAN_LOCK, lock_line)
    workflow.write_text(text, encoding="utf-8")
    git(clone, "commit", "--quiet", "-am", f"bench: production v2 again, rollback.yml {lock_line}")
    world.hub.ruleset_enforced = False
    pushed = world.push_as("alice", clone)
    world.hub.ruleset_enforced = True
    assert pushed.returncode == 0, pushed.stderr
    world.hub.wait_idle()


def run(quick: bool) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.workflow_runs.world import build_world, fresh_clone

    times: dict[str, list[float]] = {"full": [], "lean": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench-rollback-runner-") as tmp,
        build_world(Path(tmp), venv_cache=False) as world,
    ):
        world.hub.ruleset_enforced = True
        world.runner_env["UV_LINK_MODE"] = "copy"
        clone = fresh_clone(world, "bench")
        # Only rollback.yml runs: the pushes that set the bench up start nothing else (a disabled
        # workflow starts no run), so no cold sync.yml install competes with the measured runs.
        world.hub.disabled_workflows.update(
            p.name for p in (clone / ".github" / "workflows").glob("*.yml") if p.name != "rollback.yml"
        )
        for round_ in range(1 if quick else 2):
            for label, lock_line in (("full", FULL_LOCK), ("lean", LEAN_LOCK)):
                _pin_back(world, clone, lock_line)
                times[label].append(_dispatch_to_commit(world, f"bench-{label}-{round_}"))
    lean, full = min(times["lean"]), min(times["full"])
    return [
        {
            "benchmark": "rollback.yml by act, fresh venv, files copied from uv's cache (no download): "
            "dispatch → commit on origin",
            "value": round(lean, 1),
            "unit": "s",
            "baseline": "the same workflow installing requirements.lock",
            "baseline_value": round(full, 1),
            "ratio": round(lean / full, 3),
            "goal": "≤ 30 s and ≤ 0.25×",
            "met": lean <= 30 and lean / full <= 0.25,
        }
    ]
