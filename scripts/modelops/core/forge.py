"""Pull requests, whatever forge hosts them: GitHub in production, the local forge in a sandbox.

A Promotion is a pull request. Review is the approval; merging is what makes it true in git.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from modelops.errors import ExternalError


@dataclass(frozen=True)
class Review:
    user: str
    state: str  # "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED"
    at: str = ""


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    head: str
    base: str
    state: str  # "open" | "closed" | "merged"
    url: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    reviews: tuple[Review, ...] = ()
    author: str = ""
    head_sha: str = ""
    merge_commit: str | None = None
    auto_merge: bool = False
    comments: tuple[str, ...] = field(default=())

    @property
    def approvals(self) -> tuple[str, ...]:
        """Users whose latest review approves (a later change request withdraws an approval)."""
        latest: dict[str, str] = {}
        for review in self.reviews:
            if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review.user] = review.state
        return tuple(sorted(u for u, s in latest.items() if s == "APPROVED"))


class Forge(Protocol):
    """What the promotion flow needs from a forge. Implementations: LocalForge, GitHubForge."""

    def find_open(self, head: str, base: str = "main") -> PullRequest | None: ...

    def open(
        self, *, head: str, base: str, title: str, body: str, labels: list[str], reviewers: list[str]
    ) -> PullRequest: ...

    def update(self, number: int, *, title: str, body: str, labels: list[str]) -> PullRequest: ...

    def comment(self, number: int, body: str) -> None: ...

    def close(self, number: int, comment: str | None = None) -> PullRequest: ...

    def get(self, number: int) -> PullRequest: ...

    def list(self, state: str = "open") -> list[PullRequest]: ...

    def enable_auto_merge(self, number: int) -> None:
        """Merge once checks and reviews allow; raises AutoMergeUnavailable when the forge will not."""
        ...


# GitHub attributes a merge to whoever enabled auto-merge; a push by the workflow's own token starts no
# workflow, so a promotion merged that way would never reach sync.yml.
WORKFLOW_TOKEN_USER = "github-actions[bot]"


class AutoMergeUnavailable(ExternalError):
    """The PR is open, but nothing will merge it by itself: a person merges it (the message says why)."""


def auto_merge_blocker(pr: PullRequest) -> str | None:
    """Why auto-merge must not be enabled on `pr`, or None."""
    if pr.author == WORKFLOW_TOKEN_USER:
        return (
            f"#{pr.number} was opened with the workflow's own token: its checks never start and a merge "
            "by that token starts no sync.yml; set up the GitHub App (docs/github.md) or merge it by hand"
        )
    return None
