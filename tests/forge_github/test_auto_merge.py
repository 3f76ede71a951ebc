"""Auto-merge on GitHub: a repository that does not allow it leaves the PR to a person (not a failed
proposal), a PR in `unstable` status is merged as auto-merge would, and a PR the workflow's own token
opened is never auto-merged, since its merge would start no sync.yml."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelops.adapters.github_forge import GitHubForge
from modelops.core.forge import WORKFLOW_TOKEN_USER, AutoMergeUnavailable, PullRequest, auto_merge_blocker
from tests.forge_github.double import REPOSITORY, GitHubDouble

PULLS = f"/repos/{REPOSITORY}/pulls"


def refused(message: str) -> dict[str, object]:
    return {
        "data": {"enablePullRequestAutoMerge": None},
        "errors": [{"type": "UNPROCESSABLE", "path": ["enablePullRequestAutoMerge"], "message": message}],
    }


def test_a_repository_without_allow_auto_merge_is_a_reason_to_wait_not_a_failure(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", f"{PULLS}/7").respond_with_json(github.pull(7))
    github.expect_graphql().respond_with_json(
        refused("Pull request Auto merge is not allowed for this repository")
    )

    with pytest.raises(AutoMergeUnavailable) as failure:
        forge.enable_auto_merge(7)

    assert "Allow auto-merge" in str(failure.value)
    assert [s.method for s in github.seen()] == ["GET", "POST"], "nothing merged, nothing retried"


def test_a_pr_in_unstable_status_is_merged_at_its_head_as_auto_merge_would(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    # Unstable: mergeable, only checks that are not required fail or still run.
    github.expect("GET", f"{PULLS}/7").respond_with_json(github.pull(7, head_sha="d" * 40))
    github.expect_graphql().respond_with_json(refused("Pull request Pull request is in unstable status"))
    github.expect("PUT", f"{PULLS}/7/merge").respond_with_json(
        {"sha": "e" * 40, "merged": True, "message": "Pull Request successfully merged"}
    )

    forge.enable_auto_merge(7)

    seen = github.seen()
    assert [(s.method, s.path) for s in seen][-1] == ("PUT", f"{PULLS}/7/merge")
    assert seen[-1].body == {"merge_method": "merge", "sha": "d" * 40}


PR = PullRequest(
    number=7, title="t", body="", head="promote/churn/staging/v7", base="main", state="open", url=""
)


def test_a_pr_opened_by_the_workflows_own_token_is_never_auto_merged() -> None:
    reason = auto_merge_blocker(replace(PR, author=WORKFLOW_TOKEN_USER))
    assert reason is not None and "sync.yml" in reason and "GitHub App" in reason
    assert auto_merge_blocker(replace(PR, author="modelops-promoter[bot]")) is None
