"""A pull request as every forge reports it: who approves is who approved last."""

from __future__ import annotations

from modelops.core.forge import PullRequest, Review
from modelops.core.policy import PullRequestFacts


def pr(*reviews: Review) -> PullRequest:
    return PullRequest(7, "t", "b", "promote/churn/production/v2", "main", "open", "u", reviews=reviews)


def test_a_later_change_request_or_dismissal_withdraws_an_approval_and_comments_do_not() -> None:
    assert pr(
        Review("alice", "APPROVED"), Review("bob", "APPROVED"), Review("bob", "COMMENTED")
    ).approvals == (
        "alice",
        "bob",
    )
    assert pr(Review("alice", "APPROVED"), Review("alice", "CHANGES_REQUESTED")).approvals == ()
    assert pr(Review("alice", "APPROVED"), Review("alice", "DISMISSED")).approvals == ()


def test_the_policy_reads_number_labels_approvals_and_author_from_a_pull_request() -> None:
    request = PullRequest(
        5,
        "t",
        "b",
        "h",
        "main",
        "open",
        "u",
        labels=("override",),
        author="carol",
        reviews=(Review("alice", "APPROVED"),),
    )
    assert PullRequestFacts.of(request) == PullRequestFacts(
        number=5, labels=("override",), approvals=("alice",), author="carol"
    )
