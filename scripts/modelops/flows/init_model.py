"""`modelops init model NAME --task T`: scaffold a new Model, all of it or nothing.

The plan (core/scaffold.py) is computed from the files as they are; applying it stages every file as
a temp file beside its target, then renames them into place. A failure at any point (a full disk, a
rename refused half-way, an interrupt) restores what was replaced and removes what was created, so a
refused or failed init leaves the repository as it found it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.context import Context
from modelops.core.scaffold import EDITED, InitPlan, data_stage, new_paths, plan_init


@dataclass(frozen=True)
class InitResult:
    plan: InitPlan
    dry_run: bool
    next_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.plan.as_dict(),
            "written": [] if self.dry_run else sorted(self.plan.files),
            "dry_run": self.dry_run,
            "next": self.next_steps,
        }


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None


def _existing(repo: Path, name: str) -> frozenset[str]:
    found = {p for p in new_paths(name) if (repo / p).exists()}
    for directory in (repo / "applications" / name, repo / "data" / name):
        if directory.exists():
            found.add(directory.relative_to(repo).as_posix() + "/")
    return frozenset(found)


def init_model(
    ctx: Context,
    name: str,
    task: str,
    *,
    owners: list[str] | None = None,
    description: str | None = None,
    dry_run: bool = False,
) -> InitResult:
    repo = ctx.repo
    plan = plan_init(
        name,
        task,
        {path: _read(repo / path) for path in EDITED},
        existing=_existing(repo, name),
        owners=owners,
        description=description,
    )
    if not dry_run:
        apply_files(repo, plan.files)
    steps = [
        f"dvc repro {data_stage(name)}   # the synthetic data; replace training/{name}_data.py with yours",
        "git add -A && git commit -m 'Add model " + name + "' && git push",
        f"modelops train --model {name}",
    ]
    return InitResult(plan=plan, dry_run=dry_run, next_steps=steps)


def _mode_for_new_file() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def apply_files(repo: Path, files: Mapping[str, str]) -> None:
    """Write every file or none: staged beside its target, then renamed; undone on any failure."""
    staged: list[tuple[Path, Path]] = []
    made_dirs: list[Path] = []
    originals: dict[Path, bytes | None] = {}
    new_mode = _mode_for_new_file()
    try:
        for relative, text in files.items():
            target = repo / relative
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            for directory in reversed(missing):
                directory.mkdir()
                made_dirs.append(directory)
            originals[target] = target.read_bytes() if target.exists() else None
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".init.tmp", dir=target.parent)
            staged.append((Path(tmp_name), target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
            os.chmod(tmp_name, (target.stat().st_mode & 0o7777) if target.exists() else new_mode)
        replaced: list[Path] = []
        try:
            for tmp, target in staged:
                os.replace(tmp, target)
                replaced.append(target)
        except BaseException:
            for target in reversed(replaced):
                original = originals[target]
                if original is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_bytes(original)
            raise
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for directory in reversed(made_dirs):
            with contextlib.suppress(OSError):  # not empty: something else wrote there meanwhile
                directory.rmdir()
        raise
