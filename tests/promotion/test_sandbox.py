"""`modelops sandbox create`: a world with an origin, a registry and a DVC remote, used with no flags."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.helpers import REPO_ROOT, modelops, run


def test_a_sandbox_has_an_origin_a_registry_and_a_dvc_remote_that_its_clone_uses(sandbox):
    for key in ("repo", "origin", "dvc_remote", "forge", "workdir"):
        assert Path(sandbox[key]).is_absolute() and Path(sandbox[key]).exists(), key
    assert sandbox["tracking_uri"].startswith("sqlite:////")
    repo = Path(sandbox["repo"])
    assert run(["git", "remote", "get-url", "origin"], cwd=repo).stdout.strip() == sandbox["origin"]
    assert run(["git", "rev-parse", "--is-bare-repository"], cwd=sandbox["origin"]).stdout.strip() == "true"
    # The data is on the sandbox's remote: a clone with an empty cache pulls it.
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    status = run([sys.executable, "-m", "dvc", "status", "--cloud", "--json"], cwd=repo, env=env)
    assert json.loads(status.stdout or "{}") == {}
    # Inside the clone, commands use the sandbox's registry even when the shell points elsewhere.
    shown = modelops("status", "--json", cwd=repo, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert shown.returncode == 0, shown.stderr
    assert "error" not in json.loads(shown.stdout)["registry"]
    # The clone's working tree is clean: the sandbox's own settings are git-ignored.
    assert run(["git", "status", "--porcelain"], cwd=repo).stdout == ""


def test_sandbox_create_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    result = modelops("sandbox", "create", str(tmp_path), cwd=REPO_ROOT)
    assert result.returncode == 2 and "not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_sandbox_create_on_a_file_or_under_one_is_exit_2_naming_the_path(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("mine", encoding="utf-8")
    for target in (afile, afile / "inside"):
        result = modelops("sandbox", "create", str(target), cwd=REPO_ROOT)
        assert result.returncode == 2, result.stderr
        assert str(target) in result.stderr and "internal error" not in result.stderr
    assert afile.read_text("utf-8") == "mine"
