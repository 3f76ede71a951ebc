"""Many writers rolling back different models at once, each from its own clone of one origin."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from modelops.adapters.overlays import render_into
from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.flows.rollback import rollback
from tests.helpers import REPO_ROOT, with_copies_of_churn
from tests.relay.sandbox import git

AT = "2026-11-20T09:00:00Z"


def seed(root: Path, writers: int) -> tuple[Path, list[str]]:
    """A bare origin whose models.yaml holds `writers` models, each serving v2 with v1 to fall back to,
    and their rendered overlays."""
    origin, seeder = root / "origin.git", root / "seed"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    git("clone", "--quiet", str(origin), str(seeder), cwd=root)
    text = (REPO_ROOT / "models.yaml").read_text("utf-8")
    models = [f"m{i}" for i in range(writers)]
    text = with_copies_of_churn(text, models)
    doc = ModelsDocument(text)
    for name in models:
        doc.promote(name, "production", 1, at=AT, by="seed", reason="seed")
        doc.promote(name, "production", 2, at=AT, by="seed", reason="seed")
    (seeder / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    render_into(seeder)  # as in a real repository: each model's overlays are already there
    git("add", "-A", cwd=seeder)
    git("commit", "--quiet", "-m", "seed", cwd=seeder)
    git("push", "--quiet", "origin", "HEAD:main", cwd=seeder)
    return origin, models


def roll_back_all(root: Path, origin: Path, models: list[str], processes: bool = False) -> list[float]:
    """Each model rolled back from a clone of its own, all at once; the seconds each one took.

    With `processes`, each writer is a process of its own, as writers on separate runners are; threads
    of one process share one interpreter lock, so their parsing and rendering take turns."""
    clones = []
    for name in models:
        clone = root / f"clone-{name}"
        git("clone", "--quiet", str(origin), str(clone), cwd=root)
        clones.append(clone)
    pool: Executor = (
        ProcessPoolExecutor(max_workers=len(models), mp_context=multiprocessing.get_context("fork"))
        if processes
        else ThreadPoolExecutor(max_workers=len(models))
    )
    with pool:
        return list(pool.map(_roll_back_one, models, clones))


def _roll_back_one(name: str, clone: Path) -> float:
    started = time.perf_counter()
    rollback(
        Context(repo=clone),
        model=name,
        env="production",
        reason="errors",
        by="bench",
        sync_registry=False,
    )
    return time.perf_counter() - started
