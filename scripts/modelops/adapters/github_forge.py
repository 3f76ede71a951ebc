"""Pull requests on GitHub (or GitHub Enterprise Server), through PyGithub.

The client takes `github_client`'s credentials (a token, or an App's renewing installation token),
GITHUB_API_URL and timeout, with urllib3's retries turned off: every request goes through
`GitHubCalls` (github_client.py), whose one retry policy covers every method, waits out rate limits
within a bound and keeps GitHub's own message. PyGithub 2.x's `GithubRetry` did not retry PATCH, did
not wait on a 429 without Retry-After nor on a 403 that only says `X-RateLimit-Remaining: 0`, and capped
each wait but not their sum.

A repeated PR creation that finds its PR already exists adopts that PR.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from modelops.adapters.github_client import GitHubCalls, RetryPolicy, github_client, repository_name
from modelops.core.forge import AutoMergeUnavailable, PullRequest, Review
from modelops.errors import BadInput, ExternalError

if TYPE_CHECKING:
    import github
    from github.PullRequest import PullRequest as GhPullRequest
    from github.Repository import Repository

    from modelops.core.policy import PullRequestFacts

T = TypeVar("T")

LIST_STATES = ("open", "closed", "merged", "all")
# Listing closed PRs of a busy repository could mean thousands of requests; history beyond this is
# what the GitHub UI is for.
CLOSED_LIST_LIMIT = 100
AUTO_MERGE_HINT = "turn on 'Allow auto-merge' in the repository's settings (Settings → General)"


class GitHubForge:
    """The `Forge` protocol on GitHub's REST API (and one GraphQL mutation for auto-merge)."""

    def __init__(
        self,
        repository: str,
        env: Mapping[str, str] | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: int = 15,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        warnings: TextIO | None = None,
    ) -> None:
        self.repository = repository_name({"GITHUB_REPOSITORY": repository})
        self.owner = repository.split("/")[0]
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._warnings = warnings
        # Lazy: handles to the repository, a PR or an issue cost no request until they are used.
        self._github: github.Github = github_client(env, timeout_s=timeout_s, clock=clock)
        self.api_url = str(self._github.requester.base_url)
        self._calls = GitHubCalls(
            self.api_url,
            retry=self.retry,
            sleep=sleep,
            clock=clock,
            forbidden_hint=f"check that GITHUB_TOKEN may write pull requests of {repository}",
        )
        self._repo_handle: Repository | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> GitHubForge:
        """From GITHUB_REPOSITORY and GITHUB_TOKEN (and GITHUB_API_URL for GitHub Enterprise Server)."""
        env = os.environ if env is None else env
        if not env.get("GITHUB_TOKEN"):
            raise BadInput(
                "GITHUB_TOKEN is not set; export a token that may write this repository's pull requests"
            )
        if not env.get("GITHUB_REPOSITORY"):
            raise BadInput("GITHUB_REPOSITORY is not set; export it as OWNER/REPO")
        return cls(repository_name(env), env, **options)

    # -- the Forge protocol ----------------------------------------------------------------------

    def find_open(self, head: str, base: str = "main") -> PullRequest | None:
        found = self._call(
            "GET",
            f"{self._path}/pulls",
            lambda: list(self._repo.get_pulls(state="open", head=f"{self.owner}:{head}", base=base)),
        )
        return self._with_reviews(found[0]) if found else None

    def open(
        self, *, head: str, base: str, title: str, body: str, labels: list[str], reviewers: list[str]
    ) -> PullRequest:
        try:
            created = self._call(
                "POST",
                f"{self._path}/pulls",
                lambda: self._repo.create_pull(base=base, head=head, title=title, body=body),
            )
        except _PullRequestExists:
            # An earlier attempt (or a concurrent run) created it: make that PR say what this one would.
            existing = self.find_open(head, base)
            if existing is None:
                raise ExternalError(
                    f"GitHub POST {self._path}/pulls: 422 a pull request for {self.owner}:{head} exists "
                    f"but is not open against {base}; close it or push to a new branch"
                ) from None
            updated = self.update(existing.number, title=title, body=body, labels=labels)
            requested = self._request_reviews(updated.number, updated.author, reviewers)
            return replace(updated, reviewers=_unique((*updated.reviewers, *requested)))
        pr = _pull_request(created, reviews=())
        if labels:
            self._call(
                "POST",
                f"{self._path}/issues/{pr.number}/labels",
                lambda: self._labels("POST", pr.number, labels),
                number=pr.number,
            )
        requested = self._request_reviews(pr.number, pr.author, reviewers)
        return replace(
            pr, labels=_unique((*pr.labels, *labels)), reviewers=_unique((*pr.reviewers, *requested))
        )

    def update(self, number: int, *, title: str, body: str, labels: list[str]) -> PullRequest:
        pull = self._repo.get_pull(number)
        self._call(
            "PATCH", f"{self._path}/pulls/{number}", lambda: pull.edit(title=title, body=body), number=number
        )
        self._call(
            "PUT",
            f"{self._path}/issues/{number}/labels",
            lambda: self._labels("PUT", number, labels),
            number=number,
        )
        return replace(self._with_reviews(pull), labels=tuple(labels))

    def _labels(self, method: str, number: int, labels: list[str]) -> None:
        # {"labels": [...]}, the body GitHub documents (PyGithub sends a bare array, which the
        # OpenAPI description no longer lists).
        path = f"{self._path}/issues/{number}/labels"
        self._github.requester.requestJsonAndCheck(method, path, input={"labels": list(labels)})

    def comment(self, number: int, body: str) -> None:
        self._call(
            "POST",
            f"{self._path}/issues/{number}/comments",
            lambda: self._repo.get_issue(number).create_comment(body),
            number=number,
        )

    def close(self, number: int, comment: str | None = None) -> PullRequest:
        if comment:
            self.comment(number, comment)
        pull = self._repo.get_pull(number)
        self._call("PATCH", f"{self._path}/pulls/{number}", lambda: pull.edit(state="closed"), number=number)
        return self._with_reviews(pull)

    def get(self, number: int) -> PullRequest:
        return self._with_reviews(self._fetch(number))

    def list(self, state: str = "open") -> list[PullRequest]:
        if state not in LIST_STATES:
            raise BadInput(f"pull request state {state!r}: expected one of {', '.join(LIST_STATES)}")
        api_state = "open" if state == "open" else "all" if state == "all" else "closed"

        def fetch() -> list[GhPullRequest]:
            pulls = self._repo.get_pulls(state=api_state, sort="created", direction="desc")
            return list(pulls) if state == "open" else list(pulls[:CLOSED_LIST_LIMIT])

        found = [self._with_reviews(p) for p in self._call("GET", f"{self._path}/pulls", fetch)]
        if state in ("closed", "merged"):
            found = [p for p in found if p.state == state]
        return sorted(found, key=lambda p: p.number)

    def enable_auto_merge(self, number: int) -> None:
        pull = self._fetch(number)
        try:
            self._call(
                "POST",
                "/graphql (enablePullRequestAutoMerge)",
                lambda: pull.enable_automerge(merge_method="MERGE"),
                number=number,
            )
        except ExternalError as exc:
            refusal = str(exc).lower()
            if "auto merge is not allowed" in refusal:
                raise AutoMergeUnavailable(f"{exc}; {AUTO_MERGE_HINT}") from None
            if "clean status" not in refusal and "unstable status" not in refusal:
                raise
            # GitHub enables auto-merge only on a PR still waiting for checks or reviews; one that may
            # merge now ("clean", or "unstable": only checks that are not required fail or run) is
            # merged now, as auto-merge would. The sha refuses a head that moved meanwhile.
            head_sha = pull.head.sha
            self._call(
                "PUT",
                f"{self._path}/pulls/{number}/merge",
                lambda: pull.merge(merge_method="merge", sha=head_sha),
                number=number,
            )

    def merge(self, number: int) -> PullRequest:
        """Merge now, at the head that was reviewed; GitHub applies main's rules (a bypass actor passes)."""
        pull = self._fetch(number)
        head_sha = pull.head.sha
        self._call(
            "PUT",
            f"{self._path}/pulls/{number}/merge",
            lambda: pull.merge(merge_method="merge", sha=head_sha),
            number=number,
        )
        return self.get(number)

    # -- what the promotion policy needs -----------------------------------------------------------

    def pull_request_facts(self, number: int | None) -> PullRequestFacts:
        from modelops.core.policy import PullRequestFacts

        if number is None:
            return PullRequestFacts(number=None)
        return PullRequestFacts.of(self.get(number))

    # -- requests --------------------------------------------------------------------------------

    @property
    def _path(self) -> str:
        return f"/repos/{self.repository}"

    @property
    def _repo(self) -> Repository:
        if self._repo_handle is None:
            self._repo_handle = self._github.get_repo(self.repository)
        return self._repo_handle

    def _fetch(self, number: int) -> GhPullRequest:
        pull = self._repo.get_pull(number)
        return self._call("GET", f"{self._path}/pulls/{number}", pull.complete, number=number)

    def _with_reviews(self, pull: GhPullRequest) -> PullRequest:
        number = pull.number
        reviews = self._call(
            "GET",
            f"{self._path}/pulls/{number}/reviews",
            lambda: [_review(r) for r in self._repo.get_pull(number).get_reviews()],
            number=number,
        )
        return _pull_request(pull, reviews=tuple(reviews))

    def _request_reviews(self, number: int, author: str, reviewers: Iterable[str]) -> tuple[str, ...]:
        """Ask for reviews; returns who was asked. A login GitHub refuses (not a collaborator) is a warning."""
        wanted = [r for r in _unique(reviewers) if r.casefold() != author.casefold()]
        if not wanted:
            return ()
        try:
            self._ask_review(number, wanted)
            return tuple(wanted)
        except _Unprocessable as refused:
            if len(wanted) == 1:
                self._warn(f"could not request a review of #{number} from {wanted[0]}: {refused}")
                return ()
        # One refused login fails the whole request: ask one by one to keep the others.
        asked: tuple[str, ...] = ()
        for reviewer in wanted:
            try:
                self._ask_review(number, [reviewer])
                asked = (*asked, reviewer)
            except _Unprocessable as refused:
                self._warn(f"could not request a review of #{number} from {reviewer}: {refused}")
        return asked

    def _ask_review(self, number: int, reviewers: Sequence[str]) -> None:
        from github.GithubObject import NotSet

        users = [r for r in reviewers if "/" not in r]
        teams = [r.split("/", 1)[1] for r in reviewers if "/" in r]  # "org/team" asks the team
        pull = self._repo.get_pull(number)
        self._call(
            "POST",
            f"{self._path}/pulls/{number}/requested_reviewers",
            lambda: pull.create_review_request(reviewers=users or NotSet, team_reviewers=teams or NotSet),
            number=number,
            unprocessable_is_expected=True,
        )

    def _warn(self, message: str) -> None:
        print(f"warning: {message}", file=self._warnings or sys.stderr, flush=True)

    def _call(
        self,
        method: str,
        path: str,
        request: Callable[[], T],
        *,
        number: int | None = None,
        unprocessable_is_expected: bool = False,
    ) -> T:
        """Run one request under the retry policy; every failure becomes one line naming the request."""

        def refine(status: int, message: str, failure: str) -> None:
            if status == 404 and number is not None:
                raise BadInput(f"no pull request #{number} in {self.repository}") from None
            if status == 422:
                if method == "POST" and path.endswith("/pulls") and "already exists" in message.lower():
                    raise _PullRequestExists(failure) from None
                if unprocessable_is_expected:
                    raise _Unprocessable(message) from None

        return self._calls(method, path, request, refine=refine)


class _PullRequestExists(ExternalError):
    """GitHub refused to create a PR because an open one for the same head and base exists."""


class _Unprocessable(ExternalError):
    """A 422 the caller knows how to live with (e.g. a reviewer who is not a collaborator)."""


# -- mapping PyGithub objects to the forge's types ---------------------------------------------------


def _pull_request(pull: GhPullRequest, *, reviews: tuple[Review, ...]) -> PullRequest:
    # Only fields present in both the list and the single-PR JSON: reading any other attribute of a
    # lazily listed PR would cost one more request per PR.
    merged = pull.merged_at is not None
    return PullRequest(
        number=pull.number,
        title=pull.title or "",
        body=pull.body or "",
        head=pull.head.ref,
        base=pull.base.ref,
        state="merged" if merged else pull.state,
        url=pull.html_url or "",
        labels=tuple(label.name for label in pull.labels),
        reviewers=tuple(user.login for user in pull.requested_reviewers),
        reviews=reviews,
        author=pull.user.login if pull.user is not None else "",
        head_sha=pull.head.sha or "",
        merge_commit=pull.merge_commit_sha if merged else None,
        auto_merge=pull.auto_merge is not None,
    )


def _review(review: Any) -> Review:
    submitted = review.submitted_at
    at = submitted.strftime("%Y-%m-%dT%H:%M:%SZ") if submitted is not None else ""
    user = review.user.login if review.user is not None else "ghost"
    return Review(user=user, state=str(review.state), at=at)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))
