"""`modelops board` over 500 models × 3 environments must build in ≤ 5 s with an index page ≤ 2 MB.

A real git repository with a generated models.yaml (full histories, canaries, quarantines) and a
rollback commit per quarantine; the board is built offline (no registry), as `modelops board --offline`.
Baseline, same run: the same facts gathered the same way (models.yaml, git log) and written as one
plain JSON file, i.e. what reading the data and printing it costs without the board's views and HTML.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.bench_render import _timed
from modelops.context import Context
from modelops.core.board import build_board
from modelops.core.board_html import render_site
from modelops.flows.board import gather, write_board

GOAL_SECONDS = 5.0
GOAL_BYTES = 2 * 1024 * 1024
ENVIRONMENTS = ("staging", "production", "production-eu")
# models.yaml is bounded at 1 MiB (core/document.py); 500 models × 3 environments with three history
# entries each is about 0.9 MiB, as large as a real file of that many models can get.
HISTORY = 3


def _history(i: int, env: str, pinned: int) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for n in range(1, HISTORY + 1):
        entries.append(
            {
                "at": f"2026-11-{(n + i) % 28 + 1:02d}T{n:02d}:00:00Z",
                "by": "alice" if n % 2 else "modelops-relay",
                "action": "promote" if n % 3 else "rollback",
                "from": max(1, pinned - 1),
                "to": pinned,
                "reason": "evaluation passed" if n % 3 else "ModelErrorRateHigh",
                **({"ref": f"inc-{i:04d}{n}"} if n % 3 == 0 else {}),
            }
        )
    return entries


def _models_yaml(count: int) -> str:
    models = {}
    for i in range(count):
        envs = {}
        for k, env in enumerate(ENVIRONMENTS):
            pinned = (i % 40) + 4 - k
            envs[env] = {
                "version": pinned,
                "alias": env,
                "run_id": None,
                "previous": pinned - 1,
                "replicas": 1,
                "canary": {"version": pinned + 2, "traffic": 10} if i % 4 == k else None,
                "quarantined": [pinned + 1] if i % 5 == 0 else [],
                "history": _history(i, env, pinned),
            }
        models[f"model-{i:04d}"] = {
            "registered_model": f"registered-{i:04d}",
            "owners": ["alice", "bob"],
            "promotion": {"canary_steps": [10]},
            "environments": envs,
        }
    doc = {"apiVersion": "modelops/v1", "registry": {"storage_uri_prefix": "s3://bench/m"}, "models": models}
    return yaml.safe_dump(doc, sort_keys=False, width=4096, default_flow_style=None)


def _git(repo: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, input=stdin)


def _repo(root: Path, count: int) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "models.yaml").write_text(_models_yaml(count), encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=bench", "-c", "user.email=b@b", "add", "models.yaml")
    _git(repo, "-c", "user.name=bench", "-c", "user.email=b@b", "commit", "-q", "-m", "seed")
    # One rollback commit per quarantine, written in one fast-import stream (seconds, not minutes).
    stream, mark = [], 1
    for i in range(0, count, 5):
        for k, env in enumerate(ENVIRONMENTS):
            pinned = (i % 40) + 4 - k
            message = f"rollback model-{i:04d} {env}: v{pinned + 1} → v{pinned}\n\nIncident: inc-{i:04d}3\n"
            data = message.encode()
            stream.append(
                f"commit refs/heads/main\nmark :{mark}\ncommitter bench <b@b> {1764500000 + mark} +0000\n"
                f"data {len(data)}\n{message}\n" + ("from refs/heads/main^0\n" if mark == 1 else "")
            )
            mark += 1
    _git(repo, "fast-import", "--quiet", stdin="".join(stream))
    _git(repo, "reset", "-q", "--hard", "main")
    return repo


def run(quick: bool) -> list[dict[str, object]]:
    count = 500
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="bench-board-") as tmp:
        root = Path(tmp)
        repo = _repo(root, count)
        ctx = Context(repo=repo, env={})
        out = root / "site"
        results = []

        def board() -> None:
            results.append(write_board(ctx, out, offline=True))

        def plain_json() -> None:
            staging = root / "json-staging"
            staging.mkdir(exist_ok=True)
            facts = gather(ctx, staging, offline=True)
            (root / "board.json").write_text(json.dumps(dataclasses.asdict(facts), default=str), "utf-8")

        value, value_cpu = _timed(board, repeat)
        baseline, baseline_cpu = _timed(plain_json, repeat)
        facts = gather(ctx, root / "json-staging", offline=True)
        render, _ = _timed(lambda: render_site(build_board(facts)), repeat)
        view = build_board(facts)
        view_json, _ = _timed(lambda: json.dumps(dataclasses.asdict(view), default=str), repeat)
        index_bytes = (out / "index.html").stat().st_size
        site_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        json_bytes = (root / "board.json").stat().st_size
        pages = results[-1].pages
    name = f"board: {count} models × {len(ENVIRONMENTS)} environments ({pages} pages, offline)"
    return [
        {
            "benchmark": f"{name}, models.yaml + git log to written site",
            "value": round(value, 3),
            "unit": "s",
            "baseline": "the same facts gathered the same way, written as one JSON file",
            "baseline_value": round(baseline, 3),
            "ratio": round(value / baseline, 3),
            "goal": f"≤ {GOAL_SECONDS:g} s",
            "met": value <= GOAL_SECONDS,
        },
        {
            "benchmark": f"{name}, models.yaml + git log to written site, CPU time",
            "value": round(value_cpu, 3),
            "unit": "s (CPU)",
            "baseline": "the same facts as one JSON file, CPU time",
            "baseline_value": round(baseline_cpu, 3),
            "ratio": round(value_cpu / baseline_cpu, 3),
            "goal": f"≤ {GOAL_SECONDS:g} s",
            "met": value_cpu <= GOAL_SECONDS,
        },
        {
            "benchmark": f"{name}, views + HTML in memory",
            "value": round(render, 3),
            "unit": "s",
            "baseline": "json.dumps of the same view model",
            "baseline_value": round(view_json, 3),
            "ratio": round(render / view_json, 3),
            "goal": "reported (no goal)",
            "met": True,
        },
        {
            "benchmark": f"{name}, index.html size (whole site {site_bytes / 1e6:.1f} MB)",
            "value": round(index_bytes / 1e6, 3),
            "unit": "MB",
            "baseline": "the gathered facts as JSON, MB",
            "baseline_value": round(json_bytes / 1e6, 3),
            "ratio": round(index_bytes / json_bytes, 3),
            "goal": "≤ 2 MB",
            "met": index_bytes <= GOAL_BYTES,
        },
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
