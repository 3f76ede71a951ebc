"""A rollback where main refuses the direct commit (protected as docs/github.md says, and no App on the
bypass list): it is not retried into the wall, the same commit becomes a PR for a person to merge now,
and the command fails (exit 3), so rollback.yml pages. The origin's pre-receive hook speaks GitHub's
words for a ruleset refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug import Request, Response

from tests.forge_github.double import REPOSITORY, GitHubDouble
from tests.helpers import modelops
from tests.relay.sandbox import ENV, MODEL, GitSandbox, git, make_git_sandbox

PULLS = f"/repos/{REPOSITORY}/pulls"
HOOK = """#!/bin/sh
while read old new ref; do
  echo "$ref" >> "{log}"
  if [ "$ref" = "refs/heads/main" ]; then
    echo "error: GH013: Repository rule violations found for refs/heads/main." >&2
    echo "- Changes must be made through a pull request." >&2
    exit 1
  fi
done
"""


@pytest.fixture
def protected(tmp_path: Path) -> tuple[GitSandbox, Path]:
    sandbox = make_git_sandbox(tmp_path / "git")
    log = tmp_path / "pushes.log"
    hook = sandbox.origin / "hooks" / "pre-receive"
    hook.write_text(HOOK.replace("{log}", str(log)))
    hook.chmod(0o755)
    return sandbox, log


def rollback(sandbox: GitSandbox, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    args = [
        "rollback",
        "--model",
        MODEL,
        "--env",
        ENV,
        "--reason",
        "error ratio 9%",
        "--incident",
        "inc-7",
        "--json",
    ]
    return modelops(*args, cwd=sandbox.clone, env={"GITHUB_ACTIONS": "", **(env or {})})


def test_a_refused_rollback_becomes_a_pr_to_merge_now_and_fails_so_that_it_pages(
    protected: tuple[GitSandbox, Path], github: GitHubDouble
) -> None:
    sandbox, log = protected
    before = sandbox.origin_head()
    opened: list[dict] = []

    def create(request: Request) -> Response:
        opened.append(json.loads(request.get_data()))
        pr = github.pull(21, head=opened[-1]["head"], title=opened[-1]["title"], body=opened[-1]["body"])
        return Response(json.dumps(pr), status=201, content_type="application/json")

    github.expect("GET", PULLS).respond_with_json([])
    github.expect("POST", PULLS).respond_with_handler(create)
    github.expect("POST", f"/repos/{REPOSITORY}/issues/21/labels").respond_with_json(
        [github.label("rollback")]
    )
    github.expect("POST", f"{PULLS}/21/requested_reviewers").respond_with_json(github.pull(21), status=201)

    result = rollback(sandbox, github.env())

    assert result.returncode == 3, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "GH013: Repository rule violations found" in error
    assert f"{github.web_url}/{REPOSITORY}/pull/21" in error and "bypass list" in error
    # main is untouched, and was asked once: a rule is not a race to retry.
    assert sandbox.origin_head() == before
    assert log.read_text().splitlines().count("refs/heads/main") == 1
    branch = "rollback/churn/production/inc-7"
    assert git("log", "-1", "--format=%s", branch, cwd=sandbox.origin) == "rollback churn production: v2 → v1"
    [pr] = opened
    assert (pr["head"], pr["base"]) == (branch, "main") and "merge this now" in pr["body"]


def test_without_github_the_refusal_is_one_line_and_nothing_is_retried(
    protected: tuple[GitSandbox, Path],
) -> None:
    sandbox, log = protected
    result = rollback(sandbox)
    assert result.returncode == 3
    error = result.stderr.strip().splitlines()[-1]
    assert "refused by the repository: GH013" in error
    assert log.read_text().splitlines() == ["refs/heads/main"]
