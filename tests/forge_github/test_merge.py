"""`modelops pr merge` on GitHub, as the drill uses it: the PR a proposal opened is merged at its head,
under main's rules, and a refusal is GitHub's own words in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from werkzeug import Response

from tests.forge_github.double import REPOSITORY, GitHubDouble
from tests.helpers import REPO_ROOT, modelops

PULLS = f"/repos/{REPOSITORY}/pulls"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "models.yaml", repo / "models.yaml")
    (tmp_path / "promotion.json").write_text(json.dumps({"pr": 7, "branch": "promote/churn/staging/v6"}))
    return repo


def test_the_proposals_pr_is_merged_at_its_reviewed_head(github: GitHubDouble, repo: Path) -> None:
    merged = github.pull(7, state="closed", head_sha="d" * 40, merged_at="2026-01-05T11:00:00Z")
    answers = iter([github.pull(7, head_sha="d" * 40), merged])
    github.expect("GET", f"{PULLS}/7").respond_with_handler(
        lambda _r: Response(json.dumps(next(answers)), content_type="application/json")
    )
    github.expect("PUT", f"{PULLS}/7/merge").respond_with_json(
        {"sha": "f" * 40, "merged": True, "message": "Pull Request successfully merged"}
    )
    github.expect("GET", f"{PULLS}/7/reviews").respond_with_json([])

    result = modelops(
        "pr", "merge", "--proposal", str(repo.parent / "promotion.json"), "--json", cwd=repo, env=github.env()
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "merged"
    [put] = [s for s in github.seen() if s.method == "PUT"]
    assert put.body == {"merge_method": "merge", "sha": "d" * 40}


def test_a_merge_main_refuses_is_githubs_message_in_one_line(github: GitHubDouble, repo: Path) -> None:
    github.expect("GET", f"{PULLS}/7").respond_with_json(github.pull(7))
    github.expect("PUT", f"{PULLS}/7/merge").respond_with_json(
        {
            "message": "Repository rule violations found\n\nAt least 1 approving review is required.",
            "status": "405",
        },
        status=405,
    )

    result = modelops("pr", "merge", "7", cwd=repo, env=github.env())

    assert result.returncode == 3
    [line] = result.stderr.strip().splitlines()
    assert "Repository rule violations found" in line and "approving review is required" in line


def test_a_proposal_file_without_a_pr_is_bad_input(github: GitHubDouble, repo: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{}")
    result = modelops("pr", "merge", "--proposal", str(tmp_path / "bad.json"), cwd=repo, env=github.env())
    assert result.returncode == 2 and "bad.json" in result.stderr
    assert github.seen() == []
