"""What the demo tests share: one `modelops demo` run per module, and reading the sandbox it leaves."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.helpers import REPO_ROOT, modelops, require_binary, run


def run_demo(tmp_path_factory: Any, name: str, *args: str) -> dict[str, Any]:
    """`modelops demo ARGS --quick --json` in a new directory; fails the module when a step failed."""
    require_binary("git")
    if os.environ.get("CI", "").lower() == "true":
        # In CI the real alerting path (and the analysis, which reads Prometheus) is what the demo proves.
        require_binary("prometheus")
        require_binary("alertmanager")
    workdir = tmp_path_factory.mktemp(name) / "run"
    result = modelops("demo", *args, "--workdir", str(workdir), "--quick", "--json", cwd=REPO_ROOT)
    report = json.loads(result.stdout)
    failed = [s for s in report["steps"] if not s["ok"]]
    assert result.returncode == 0, f"{failed}\n{result.stderr[-3000:]}"
    world = workdir / "world"
    return {
        "report": report,
        "workdir": workdir,
        "world": world,
        "repo": world / "repo",
        "origin": world / "origin.git",
    }


def origin_git(demo: dict[str, Any], *args: str) -> str:
    return run(["git", *args], cwd=demo["origin"]).stdout


def step(demo: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The one step of the timeline whose name starts with `prefix`."""
    found = [s for s in demo["report"]["steps"] if s["name"].startswith(prefix)]
    assert len(found) == 1, [s["name"] for s in demo["report"]["steps"]]
    return dict(found[0])
