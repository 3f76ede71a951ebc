"""`modelops train-matrix` on a real git history: what a push trains, as train.yml reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, modelops

COPIED = ("models.yaml", "params.yaml", "dvc.yaml", "dvc.lock", "training", "README.md", "policies")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, text=True, capture_output=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    for name in COPIED:
        source = REPO_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seed")
    return root


def commit(repo: Path, message: str, edits: dict[str, tuple[str, str]]) -> str:
    for path, (old, new) in edits.items():
        text = (repo / path).read_text("utf-8")
        assert old in text, f"{path}: {old!r}"
        (repo / path).write_text(text.replace(old, new, 1), encoding="utf-8")
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")


def matrix(repo: Path, *args: str) -> dict:
    result = modelops("train-matrix", "--json", *args, cwd=repo)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_docs_only_commit_trains_nothing_and_says_so(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "docs", {"README.md": ("# modelops", "# modelops (fork)")})
    assert matrix(repo, "--base", base)["matrix"] == {"include": []}
    outputs = tmp_path / "github_output"
    result = modelops("train-matrix", "--base", base, "--github-output", str(outputs), cwd=repo)
    assert "no model's training code, params or data changed" in result.stdout
    assert outputs.read_text("utf-8") == 'matrix={"include":[]}\nany=false\n'


def test_a_push_touching_both_models_trains_both(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "churn script", {"training/churn.py": ('"""Train', '"""Train (v2)')})
    commit(repo, "visits params", {"params.yaml": ("    max_iter: 150", "    max_iter: 160")})
    report = matrix(repo, "--base", base)
    assert report["matrix"] == {"include": [{"model": "churn"}, {"model": "visits"}]}
    reasons = {m["model"]: m["reasons"] for m in report["models"]}
    assert reasons == {
        "churn": ["training code training/churn.py changed"],
        "visits": ["params.yaml: visits changed"],
    }
    outputs = tmp_path / "github_output"
    modelops("train-matrix", "--base", base, "--github-output", str(outputs), cwd=repo)
    assert outputs.read_text("utf-8").splitlines()[-1] == "any=true"
    # The last commit alone touched visits only.
    assert matrix(repo, "--base", "HEAD~1")["matrix"] == {"include": [{"model": "visits"}]}


def test_a_dispatch_names_its_model_and_a_first_push_trains_every_model(repo: Path) -> None:
    assert matrix(repo, "--base", "HEAD", "--model", "visits")["matrix"] == {"include": [{"model": "visits"}]}
    assert [m["model"] for m in matrix(repo, "--base", "0" * 40)["models"]] == ["churn", "visits"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "no-such-ref"], "--base no-such-ref: no such commit"),
        (["--base", "HEAD", "--model", "nope"], "--model nope: not a model in HEAD:models.yaml"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(repo: Path, args: list[str], message: str) -> None:
    result = modelops("train-matrix", *args, cwd=repo)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
