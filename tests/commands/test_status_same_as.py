"""`modelops status --same-as FILE`: the drill's last check, that the rollback restored every pin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import REPO_ROOT, modelops
from tests.workflows.workflow_files import WORKFLOWS_DIR


def test_same_pins_pass_and_a_changed_pin_is_named(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "models.yaml", repo / "models.yaml")
    before = modelops("status", "--offline", "--json", cwd=repo)
    assert before.returncode == 0, before.stderr
    (tmp_path / "before.json").write_text(before.stdout)

    assert (
        modelops("status", "--offline", "--same-as", str(tmp_path / "before.json"), cwd=repo).returncode == 0
    )

    recorded = json.loads(before.stdout)
    model, envs = next(iter(recorded["models"].items()))
    env, pinned = next(iter(envs["environments"].items()))
    pinned["version"] = 999
    (tmp_path / "moved.json").write_text(json.dumps(recorded))
    result = modelops("status", "--offline", "--same-as", str(tmp_path / "moved.json"), cwd=repo)
    assert result.returncode == 1
    assert f"{model} {env} version: 999 then" in result.stdout


def test_a_file_that_is_no_status_output_is_bad_input(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "models.yaml", repo / "models.yaml")
    (tmp_path / "x.json").write_text("[1, 2]")
    result = modelops("status", "--offline", "--same-as", str(tmp_path / "x.json"), cwd=repo)
    assert result.returncode == 2 and "x.json" in result.stderr


def test_the_drill_runs_only_modelops_no_gh_no_jq() -> None:
    text = (WORKFLOWS_DIR / "drill.yml").read_text("utf-8")
    assert "gh pr" not in text and "--admin" not in text and "jq " not in text
    assert "modelops pr merge --proposal promotion.json" in text
    assert "modelops status --offline --same-as before.json" in text
