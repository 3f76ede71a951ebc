"""Push contention never drops a rollback: writers wait their turn within a deadline, not a count."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.adapters.git import Git
from modelops.errors import ExternalError
from tests.helpers import require_binary
from tests.relay.sandbox import git
from tests.rollback.contention import roll_back_all, seed

WRITERS = 10


def test_ten_rollbacks_of_different_models_at_once_all_land(tmp_path: Path) -> None:
    require_binary("git")
    origin, models = seed(tmp_path, WRITERS)
    roll_back_all(tmp_path, origin, models)  # raises if any one gave up
    subjects = git("log", "--format=%s", "main", cwd=origin).splitlines()
    assert sorted(s for s in subjects if s.startswith("rollback ")) == sorted(
        f"rollback {m} production: v2 → v1" for m in models
    )


def test_past_the_deadline_the_message_says_what_to_do(tmp_path: Path) -> None:
    origin, _ = seed(tmp_path, 1)
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(origin), str(clone), cwd=tmp_path)
    rival = tmp_path / "rival"
    git("clone", "--quiet", str(origin), str(rival), cwd=tmp_path)

    def always_loses(worktree: Path) -> str:
        # Another writer lands first every time: the push that follows is rejected.
        git("commit", "--quiet", "--allow-empty", "-m", "rival", cwd=rival)
        git("push", "--quiet", "origin", "HEAD:main", cwd=rival)
        (worktree / "touched").write_text("x")
        return "change"

    with pytest.raises(
        ExternalError, match=r"other writers kept winning for 1s .*run the same command again"
    ):
        Git(clone).land("main", always_loses, deadline_s=1.0)
    assert not list(Path(tmp_path).glob("modelops-wt-*"))
