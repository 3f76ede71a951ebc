"""A git sandbox for relay tests: a bare origin and a working clone whose production pins v2 (previous v1)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from modelops.core.document import ModelsDocument
from tests.helpers import REPO_ROOT

MODEL = "churn"
ENV = "production"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, text=True, capture_output=True).stdout.strip()


@dataclass(frozen=True)
class GitSandbox:
    origin: Path
    clone: Path

    def origin_log(self) -> list[str]:
        """Subjects of the commits on origin/main, newest first."""
        return git("log", "--format=%s", "main", cwd=self.origin).splitlines()

    def rollback_commits(self) -> list[str]:
        return [s for s in self.origin_log() if s.startswith("rollback ")]

    def origin_head(self) -> str:
        return git("rev-parse", "main", cwd=self.origin)

    def origin_state(self):  # type: ignore[no-untyped-def]
        text = git("show", "main:models.yaml", cwd=self.origin)
        return ModelsDocument(text).state()


def make_git_sandbox(root: Path) -> GitSandbox:
    root.mkdir(parents=True, exist_ok=True)
    origin, clone = root / "origin.git", root / "repo"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    git("clone", "--quiet", str(origin), str(clone), cwd=root)
    shutil.copy(REPO_ROOT / "models.yaml", clone / "models.yaml")
    doc = ModelsDocument.load(clone / "models.yaml")
    doc.promote(MODEL, ENV, 1, at="2026-01-01T00:00:00Z", by="test", reason="first version")
    doc.promote(MODEL, ENV, 2, at="2026-01-02T00:00:00Z", by="test", reason="better version")
    (clone / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    git("add", "models.yaml", cwd=clone)
    git("commit", "--quiet", "-m", "production pins churn v2", cwd=clone)
    git("push", "--quiet", "origin", "HEAD:main", cwd=clone)
    return GitSandbox(origin=origin, clone=clone)
