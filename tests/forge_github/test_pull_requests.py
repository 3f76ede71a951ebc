"""GitHubForge speaks GitHub's REST paths: what it asks for, and what it makes of the answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from modelops.adapters.github_forge import GitHubForge
from modelops.core.policy import PullRequestFacts
from modelops.errors import BadInput, ExternalError
from tests.forge_github.double import BOT, HEAD, OWNER, REPOSITORY, TOKEN, GitHubDouble, status

PULLS = f"/repos/{REPOSITORY}/pulls"
ISSUES = f"/repos/{REPOSITORY}/issues"


def no_reviews(github: GitHubDouble, number: int) -> None:
    github.expect("GET", f"{PULLS}/{number}/reviews").respond_with_json([])


# -- opening a promotion ---------------------------------------------------------------------------


def test_open_creates_the_pull_request_labels_it_and_asks_the_owners_for_review(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("POST", PULLS).respond_with_json(github.pull(12), status=201)
    github.expect("POST", f"{ISSUES}/12/labels").respond_with_json(
        [github.label("promotion"), github.label("model:churn")]
    )
    github.expect("POST", f"{PULLS}/12/requested_reviewers").respond_with_json(
        github.pull(12, requested=("alice", "bob")), status=201
    )

    pr = forge.open(
        head=HEAD,
        base="main",
        title="Promote churn v7 to production",
        body="Evidence attached.",
        labels=["promotion", "model:churn"],
        reviewers=["alice", BOT, "bob", "alice"],
    )

    seen = github.seen()
    assert [(s.method, s.path) for s in seen] == [
        ("POST", PULLS),
        ("POST", f"{ISSUES}/12/labels"),
        ("POST", f"{PULLS}/12/requested_reviewers"),
    ]
    assert seen[0].body == {
        "title": "Promote churn v7 to production",
        "body": "Evidence attached.",
        "base": "main",
        "head": HEAD,
    }
    assert seen[1].body == {"labels": ["promotion", "model:churn"]}  # as GitHub's OpenAPI documents it
    # The PR's author (the bot) cannot be asked to review its own PR; nobody is asked twice.
    assert seen[2].body == {"reviewers": ["alice", "bob"]}
    assert pr.number == 12
    assert pr.url.endswith(f"/{REPOSITORY}/pull/12")
    assert pr.state == "open"
    assert pr.author == BOT
    assert pr.labels == ("promotion", "model:churn")
    assert pr.reviewers == ("alice", "bob")
    assert pr.head == HEAD and pr.base == "main"
    assert pr.head_sha == "a" * 40
    assert pr.merge_commit is None


def test_every_request_carries_the_token(github: GitHubDouble, forge: GitHubForge) -> None:
    github.expect("GET", PULLS).respond_with_json([])

    forge.find_open(HEAD)

    (seen,) = github.seen()
    assert seen.authorization in (f"token {TOKEN}", f"Bearer {TOKEN}")


def test_a_reviewer_who_is_not_a_collaborator_is_a_warning_and_the_others_are_still_asked(
    github: GitHubDouble, make_forge: Callable[..., GitHubForge], capsys: pytest.CaptureFixture[str]
) -> None:
    refused = {
        "message": "Reviews may only be requested from collaborators. One or more of the users or teams "
        "you specified is not a collaborator of the acme/models repository.",
        "documentation_url": "https://docs.github.com/rest/pulls/review-requests",
    }

    def requested_reviewers(request):  # type: ignore[no-untyped-def]
        wanted = request.get_json()["reviewers"]
        if "mallory" in wanted:
            return status(422, refused)
        return status(201, github.pull(12, requested=tuple(wanted)))

    github.expect("POST", PULLS).respond_with_json(github.pull(12), status=201)
    github.expect("POST", f"{PULLS}/12/requested_reviewers").respond_with_handler(requested_reviewers)

    pr = make_forge().open(
        head=HEAD, base="main", title="t", body="b", labels=[], reviewers=["alice", "mallory"]
    )

    asked = [s.body for s in github.seen() if s.path.endswith("/requested_reviewers")]
    assert asked == [
        {"reviewers": ["alice", "mallory"]},
        {"reviewers": ["alice"]},
        {"reviewers": ["mallory"]},
    ]
    assert pr.reviewers == ("alice",)
    warning = capsys.readouterr().err
    assert "mallory" in warning and "#12" in warning and "collaborators" in warning
    assert warning.count("\n") == 1


def test_open_when_the_pull_request_already_exists_adopts_and_updates_it(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    # What GitHub answers when a retried or concurrent creation finds the branch already has its PR.
    github.expect("POST", PULLS).respond_with_response(
        status(
            422,
            {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {OWNER}:{HEAD}.",
                    }
                ],
            },
        )
    )
    github.expect(
        "GET", PULLS, query={"state": "open", "head": f"{OWNER}:{HEAD}", "base": "main"}
    ).respond_with_json([github.pull(9, title="old title", requested=("alice",))])
    github.expect("PATCH", f"{PULLS}/9").respond_with_json(
        github.pull(9, title="new title", requested=("alice",))
    )
    github.expect("PUT", f"{ISSUES}/9/labels").respond_with_json([github.label("promotion")])
    github.expect("POST", f"{PULLS}/9/requested_reviewers").respond_with_json(github.pull(9), status=201)
    no_reviews(github, 9)

    pr = forge.open(
        head=HEAD, base="main", title="new title", body="b", labels=["promotion"], reviewers=["bob"]
    )

    assert github.calls() == [
        ("POST", PULLS),
        ("GET", PULLS),
        ("GET", f"{PULLS}/9/reviews"),
        ("PATCH", f"{PULLS}/9"),
        ("PUT", f"{ISSUES}/9/labels"),
        ("GET", f"{PULLS}/9/reviews"),
        ("POST", f"{PULLS}/9/requested_reviewers"),
    ]
    assert (pr.number, pr.title, pr.labels) == (9, "new title", ("promotion",))
    assert pr.reviewers == ("alice", "bob")


# -- the idempotent path: find the open PR, then update it ---------------------------------------------


def test_find_open_asks_for_open_prs_from_the_owners_branch_into_the_base(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", PULLS).respond_with_json([github.pull(4, labels=("promotion",))])
    github.expect("GET", f"{PULLS}/4/reviews").respond_with_json(
        [github.review(4, "alice", "APPROVED", "2026-01-05T11:00:00Z")]
    )

    pr = forge.find_open(HEAD, base="main")

    first = github.seen()[0]
    assert (first.method, first.path) == ("GET", PULLS)
    assert first.query == {"state": "open", "head": f"{OWNER}:{HEAD}", "base": "main"}
    assert pr is not None
    assert (pr.number, pr.labels, pr.approvals) == (4, ("promotion",), ("alice",))


def test_find_open_returns_none_when_the_branch_has_no_open_pr(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect(
        "GET", PULLS, query={"state": "open", "head": f"{OWNER}:{HEAD}", "base": "staging"}
    ).respond_with_json([])

    assert forge.find_open(HEAD, base="staging") is None
    assert github.calls() == [("GET", PULLS)]


def test_update_edits_title_and_body_and_replaces_the_labels(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("PATCH", f"{PULLS}/4").respond_with_json(
        github.pull(4, title="Promote churn v8 to production", body="new evidence", labels=("stale",))
    )
    github.expect("PUT", f"{ISSUES}/4/labels").respond_with_json([github.label("promotion")])
    no_reviews(github, 4)

    pr = forge.update(4, title="Promote churn v8 to production", body="new evidence", labels=["promotion"])

    seen = github.seen()
    assert [(s.method, s.path) for s in seen] == [
        ("PATCH", f"{PULLS}/4"),
        ("PUT", f"{ISSUES}/4/labels"),
        ("GET", f"{PULLS}/4/reviews"),
    ]
    assert seen[0].body == {"title": "Promote churn v8 to production", "body": "new evidence"}
    assert seen[1].body == {"labels": ["promotion"]}
    assert (pr.title, pr.body, pr.labels) == (
        "Promote churn v8 to production",
        "new evidence",
        ("promotion",),
    )


def test_find_open_then_update_is_how_a_second_proposal_refreshes_the_first(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", PULLS).respond_with_json([github.pull(4)])
    github.expect("PATCH", f"{PULLS}/4").respond_with_json(github.pull(4, title="v8"))
    github.expect("PUT", f"{ISSUES}/4/labels").respond_with_json([])
    no_reviews(github, 4)

    existing = forge.find_open(HEAD)
    assert existing is not None
    forge.update(existing.number, title="v8", body="b", labels=[])

    assert ("POST", PULLS) not in github.calls()


# -- comments and closing --------------------------------------------------------------------------


def test_close_comments_first_then_closes(github: GitHubDouble, forge: GitHubForge) -> None:
    github.expect("POST", f"{ISSUES}/3/comments").respond_with_json(
        {"id": 1, "body": "Superseded by #4", "user": github.user(BOT)}, status=201
    )
    github.expect("PATCH", f"{PULLS}/3").respond_with_json(github.pull(3, state="closed"))
    no_reviews(github, 3)

    pr = forge.close(3, "Superseded by #4")

    seen = github.seen()
    assert [(s.method, s.path) for s in seen[:2]] == [
        ("POST", f"{ISSUES}/3/comments"),
        ("PATCH", f"{PULLS}/3"),
    ]
    assert seen[0].body == {"body": "Superseded by #4"}
    assert seen[1].body == {"state": "closed"}
    assert pr.state == "closed"


def test_close_without_a_comment_only_closes(github: GitHubDouble, forge: GitHubForge) -> None:
    github.expect("PATCH", f"{PULLS}/3").respond_with_json(github.pull(3, state="closed"))
    no_reviews(github, 3)

    forge.close(3)

    assert github.calls() == [("PATCH", f"{PULLS}/3"), ("GET", f"{PULLS}/3/reviews")]


# -- reading a PR back ------------------------------------------------------------------------------


def test_get_maps_reviews_and_the_latest_review_of_each_user_decides_the_approvals(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", f"{PULLS}/5").respond_with_json(
        github.pull(5, labels=("promotion", "override"), requested=("carol",))
    )
    github.expect("GET", f"{PULLS}/5/reviews").respond_with_json(
        [
            github.review(5, "alice", "APPROVED", "2026-01-05T11:00:00Z"),
            github.review(5, "bob", "APPROVED", "2026-01-05T11:05:00Z"),
            github.review(5, "alice", "CHANGES_REQUESTED", "2026-01-05T12:00:00Z"),
            github.review(5, "dave", "CHANGES_REQUESTED", "2026-01-05T12:10:00Z"),
            github.review(5, "bob", "COMMENTED", "2026-01-05T12:30:00Z"),
            github.review(5, "dave", "APPROVED", "2026-01-05T13:00:00Z"),
        ]
    )

    pr = forge.get(5)

    # alice withdrew hers; bob's comment does not withdraw his approval; dave came round.
    assert pr.approvals == ("bob", "dave")
    assert pr.reviews[0].user == "alice"
    assert pr.reviews[0].state == "APPROVED"
    assert pr.reviews[0].at == "2026-01-05T11:00:00Z"
    assert len(pr.reviews) == 6
    assert pr.labels == ("promotion", "override")
    assert pr.reviewers == ("carol",)


def test_a_merged_pr_reads_as_merged_with_its_merge_commit(github: GitHubDouble, forge: GitHubForge) -> None:
    github.expect("GET", f"{PULLS}/6").respond_with_json(
        github.pull(6, state="closed", merged_at="2026-01-06T09:00:00Z", merge_commit_sha="c" * 40)
    )
    no_reviews(github, 6)

    pr = forge.get(6)

    assert (pr.state, pr.merge_commit) == ("merged", "c" * 40)


def test_get_of_a_missing_pr_names_the_number_and_repository(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", f"{PULLS}/404").respond_with_json(
        {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, status=404
    )

    with pytest.raises(BadInput, match=rf"^no pull request #404 in {REPOSITORY}$"):
        forge.get(404)


def test_list_open_maps_every_open_pr_with_its_reviews(github: GitHubDouble, forge: GitHubForge) -> None:
    github.expect("GET", PULLS).respond_with_json(
        [
            github.pull(8, head="promote/churn/staging/v8"),
            github.pull(7, auto_merge={"merge_method": "merge"}),
        ]
    )
    github.expect("GET", f"{PULLS}/8/reviews").respond_with_json([])
    github.expect("GET", f"{PULLS}/7/reviews").respond_with_json(
        [github.review(7, "alice", "APPROVED", "2026-01-05T11:00:00Z")]
    )

    prs = forge.list("open")

    assert github.seen()[0].query["state"] == "open"
    assert [(p.number, p.head, p.approvals, p.auto_merge) for p in prs] == [
        (7, HEAD, ("alice",), True),
        (8, "promote/churn/staging/v8", (), False),
    ]


def test_list_merged_keeps_only_merged_prs(github: GitHubDouble, forge: GitHubForge) -> None:
    github.expect("GET", PULLS).respond_with_json(
        [github.pull(3, state="closed", merged_at="2026-01-04T09:00:00Z"), github.pull(2, state="closed")]
    )
    no_reviews(github, 3)
    no_reviews(github, 2)

    merged = forge.list("merged")
    closed = forge.list("closed")

    assert github.seen()[0].query["state"] == "closed"
    assert [p.number for p in merged] == [3]
    assert [p.number for p in closed] == [2]


def test_list_rejects_an_unknown_state(forge: GitHubForge) -> None:
    with pytest.raises(BadInput, match="'draft'"):
        forge.list("draft")


def test_pull_request_facts_are_what_the_promotion_policy_reads(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", f"{PULLS}/5").respond_with_json(github.pull(5, labels=("override",), author="carol"))
    github.expect("GET", f"{PULLS}/5/reviews").respond_with_json(
        [
            github.review(5, "alice", "APPROVED", "2026-01-05T11:00:00Z"),
            github.review(5, "bob", "CHANGES_REQUESTED", "2026-01-05T11:00:00Z"),
        ]
    )

    facts = forge.pull_request_facts(5)

    assert facts == PullRequestFacts(number=5, labels=("override",), approvals=("alice",), author="carol")


# -- auto-merge --------------------------------------------------------------------------------------


def test_enable_auto_merge_sends_the_graphql_mutation_for_the_prs_node(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", f"{PULLS}/7").respond_with_json(github.pull(7))
    github.expect_graphql().respond_with_json(
        {"data": {"enablePullRequestAutoMerge": {"actor": github.user(BOT), "clientMutationId": None}}}
    )

    forge.enable_auto_merge(7)

    seen = github.seen()
    assert [(s.method, s.path) for s in seen] == [("GET", f"{PULLS}/7"), ("POST", "/graphql")]
    mutation = seen[1].body
    assert "enablePullRequestAutoMerge" in mutation["query"]
    assert mutation["variables"] == {"input": {"pullRequestId": "PR_kwDOtest7", "mergeMethod": "MERGE"}}
    assert seen[1].authorization.endswith(TOKEN)


def test_auto_merge_refused_by_the_repository_settings_is_one_clear_line(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("GET", f"{PULLS}/7").respond_with_json(github.pull(7))
    github.expect_graphql().respond_with_json(
        {
            "data": {"enablePullRequestAutoMerge": None},
            "errors": [
                {
                    "type": "UNPROCESSABLE",
                    "path": ["enablePullRequestAutoMerge"],
                    "message": "Pull request Auto merge is not allowed for this repository",
                }
            ],
        }
    )

    with pytest.raises(ExternalError) as failure:
        forge.enable_auto_merge(7)

    message = str(failure.value)
    assert message.startswith("GitHub POST /graphql")
    assert "Auto merge is not allowed for this repository" in message
    assert "Allow auto-merge" in message
    assert "\n" not in message


# -- GitHub Enterprise Server ---------------------------------------------------------------------------


def test_github_enterprise_server_paths_carry_the_api_v3_prefix_and_graphql_lives_beside_it(
    github: GitHubDouble, make_forge: Callable[..., GitHubForge]
) -> None:
    ghes = GitHubDouble(github.server, prefix="/api/v3")
    ghes.expect("GET", f"{PULLS}/7").respond_with_json(ghes.pull(7))
    ghes.expect("GET", f"{PULLS}/7/reviews").respond_with_json([])
    ghes.expect("POST", f"{ISSUES}/7/comments").respond_with_json({"id": 1, "body": "hi"}, status=201)
    ghes.expect_graphql().respond_with_json(
        {"data": {"enablePullRequestAutoMerge": {"clientMutationId": None}}}
    )
    forge = make_forge(ghes)

    pr = forge.get(7)
    forge.comment(7, "hi")
    forge.enable_auto_merge(7)

    assert [(s.method, s.path) for s in ghes.seen()] == [
        ("GET", f"/api/v3{PULLS}/7"),
        ("GET", f"/api/v3{PULLS}/7/reviews"),
        ("POST", f"/api/v3{ISSUES}/7/comments"),
        ("GET", f"/api/v3{PULLS}/7"),
        ("POST", "/api/graphql"),
    ]
    assert pr.url == f"{ghes.web_url}/{REPOSITORY}/pull/7"


# -- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["GITHUB_TOKEN", "GITHUB_REPOSITORY"])
def test_from_env_names_the_missing_variable(github: GitHubDouble, missing: str) -> None:
    env = github.env()
    del env[missing]

    with pytest.raises(BadInput, match=missing):
        GitHubForge.from_env(env)


def test_from_env_reads_the_repository(github: GitHubDouble) -> None:
    forge = GitHubForge.from_env(github.env(GITHUB_REPOSITORY="other/place"))

    assert forge.repository == "other/place"
    assert github.seen() == []  # building a forge costs no request


def test_a_malformed_repository_is_bad_input(github: GitHubDouble) -> None:
    with pytest.raises(BadInput, match="OWNER/REPO"):
        GitHubForge("just-a-name", github.env())


def test_auto_merge_on_a_pr_that_may_merge_already_merges_it_at_its_reviewed_head(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    # GitHub refuses to enable auto-merge when nothing is left to wait for.
    github.expect("GET", f"{PULLS}/7").respond_with_json(github.pull(7, head_sha="d" * 40))
    github.expect_graphql().respond_with_json(
        {
            "data": {"enablePullRequestAutoMerge": None},
            "errors": [{"type": "UNPROCESSABLE", "message": "Pull request Pull request is in clean status"}],
        }
    )
    github.expect("PUT", f"{PULLS}/7/merge").respond_with_json(
        {"sha": "e" * 40, "merged": True, "message": "Pull Request successfully merged"}
    )

    forge.enable_auto_merge(7)

    seen = github.seen()
    assert [(s.method, s.path) for s in seen] == [
        ("GET", f"{PULLS}/7"),
        ("POST", "/graphql"),
        ("PUT", f"{PULLS}/7/merge"),
    ]
    assert seen[2].body == {"merge_method": "merge", "sha": "d" * 40}
