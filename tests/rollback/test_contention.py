"""Push contention never drops a rollback: writers wait their turn within a deadline, not a count."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import modelops.flows.rollback as rollback_flow
from modelops.adapters.git import LAND_CAP_FACTOR, Git
from modelops.adapters.overlays import render_into
from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.errors import ExternalError
from modelops.flows.rollback import rollback
from tests.helpers import require_binary
from tests.relay.sandbox import git
from tests.rollback.contention import AT, roll_back_all, seed

WRITERS = 10


def test_ten_rollbacks_of_different_models_at_once_all_land(tmp_path: Path) -> None:
    require_binary("git")
    origin, models = seed(tmp_path, WRITERS)
    roll_back_all(tmp_path, origin, models)  # raises if any one gave up
    subjects = git("log", "--format=%s", "main", cwd=origin).splitlines()
    assert sorted(s for s in subjects if s.startswith("rollback ")) == sorted(
        f"rollback {m} production: v2 → v1" for m in models
    )
    landed = ModelsDocument(git("show", "main:models.yaml", cwd=origin) + "\n")
    landed.check_round_trip()  # replayed commits merged into a file the editor still reproduces
    assert all(landed.state().model(m).env("production").version == 1 for m in models)


def _clones(root: Path, origin: Path, *names: str) -> list[Path]:
    for name in names:
        git("clone", "--quiet", str(origin), str(root / name), cwd=root)
    return [root / name for name in names]


def _losing_the_race_once(monkeypatch: pytest.MonkeyPatch, rival: Callable[[], None]) -> list[Path]:
    """Our rollback's renders; the first one lets `rival` land on origin before our push."""
    renders: list[Path] = []

    def render_then_lose(worktree: Path, **kwargs: Any) -> Any:
        renders.append(worktree)
        result = render_into(worktree, **kwargs)
        if len(renders) == 1:
            rival()
        return result

    monkeypatch.setattr(rollback_flow, "render_into", render_then_lose)
    return renders


def _roll_back(clone: Path, model: str) -> rollback_flow.RollbackResult:
    return rollback(
        Context(repo=clone), model=model, env="production", reason="errors", by="test", sync_registry=False
    )


def test_a_rollback_that_lost_the_race_to_another_models_rollback_is_replayed_not_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin, _ = seed(tmp_path, 2)
    ours, theirs = _clones(tmp_path, origin, "ours", "theirs")

    def rival() -> None:
        with monkeypatch.context() as inner:
            inner.setattr(rollback_flow, "render_into", render_into)
            _roll_back(theirs, "m1")

    renders = _losing_the_race_once(monkeypatch, rival)
    result = _roll_back(ours, "m0")
    assert len(renders) == 1, "the lost race re-applied the rollback instead of replaying its commit"
    assert result.attempts == 2 and result.commit == git("rev-parse", "main", cwd=origin)
    landed = ModelsDocument(git("show", "main:models.yaml", cwd=origin) + "\n")
    landed.check_round_trip()
    state = landed.state()
    assert [state.model(m).env("production").version for m in ("m0", "m1")] == [1, 1]
    assert [state.model(m).env("production").quarantined for m in ("m0", "m1")] == [(2,), (2,)]
    checkout = _clones(tmp_path, origin, "check")[0]
    assert render_into(checkout, check=True).clean  # m0's and m1's overlays both follow models.yaml


def test_a_rollback_whose_model_another_writer_changed_meanwhile_is_re_applied_on_the_new_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both edits touch m0: a replayed commit could be right only by luck, so it is applied afresh."""
    origin, _ = seed(tmp_path, 1)
    ours, theirs = _clones(tmp_path, origin, "ours", "theirs")

    def rival() -> None:
        doc = ModelsDocument.load(theirs / "models.yaml")
        doc.promote("m0", "staging", 2, at=AT, by="rival", reason="staging moves on")
        (theirs / "models.yaml").write_text(doc.dump(), encoding="utf-8")
        render_into(theirs)
        git("commit", "--quiet", "-am", "promote m0 staging", cwd=theirs)
        git("push", "--quiet", "origin", "HEAD:main", cwd=theirs)

    renders = _losing_the_race_once(monkeypatch, rival)
    result = _roll_back(ours, "m0")
    assert len(renders) == 2 and result.attempts == 2
    state = ModelsDocument(git("show", "main:models.yaml", cwd=origin) + "\n").state()
    assert state.model("m0").env("production").version == 1
    assert state.model("m0").env("staging").version == 2


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
        ExternalError, match=r"other writers kept winning for (\d+)s .*run the same command again"
    ) as error:
        Git(clone).land("main", always_loses, deadline_s=1.0)
    waited = int(re.search(r"winning for (\d+)s", str(error.value)).group(1))  # type: ignore[union-attr]
    # Main moved on every attempt: each landing restarts the 1 s wait, up to the cap of two.
    assert waited >= LAND_CAP_FACTOR * 1.0
    assert not list(Path(tmp_path).glob("modelops-wt-*"))
