"""One way to build a GitHub API client: token, GHES base URL, timeout, bounded retries.

Retries are urllib3's, through PyGithub's `GithubRetry`: 5xx answers are retried a bounded number of
times with exponential backoff, honouring `Retry-After` (capped); a 403 that says "rate limit" waits
for `X-RateLimit-Reset` (primary limit) or a fixed pause (secondary limit), but never longer than
`max_rate_limit_wait_s` — past that the call fails instead of hanging a webhook or a workflow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from modelops.errors import BadInput, ExternalError

if TYPE_CHECKING:
    import github

DEFAULT_API_URL = "https://api.github.com"
T = TypeVar("T")


def github_client(
    env: Mapping[str, str] | None = None,
    *,
    timeout_s: int = 15,
    retries: int = 3,
    backoff_factor: float = 0.5,
    backoff_max_s: float = 30.0,
    retry_after_max_s: int = 60,
    max_rate_limit_wait_s: float = 120.0,
    secondary_rate_wait_s: float = 60.0,
    seconds_between_requests: float | None = None,
    seconds_between_writes: float | None = None,
) -> github.Github:
    """A `github.Github` from GITHUB_TOKEN and GITHUB_API_URL (default https://api.github.com)."""
    from github import Auth, Github, GithubRetry

    env = os.environ if env is None else env
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise BadInput("GITHUB_TOKEN is not set; export a token that may use this repository's API")
    base_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise BadInput(f"GITHUB_API_URL={base_url!r}: expected an http(s) URL such as {DEFAULT_API_URL}")
    retry = GithubRetry(
        total=retries,
        connect=retries,
        read=0,  # a POST that reached GitHub may have taken effect: do not repeat it blindly
        status=retries,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max_s,
        retry_after_max=retry_after_max_s,
        respect_retry_after_header=True,
        raise_on_status=False,
        secondary_rate_wait=secondary_rate_wait_s,
        max_rate_limit_wait=max_rate_limit_wait_s,
    )
    return Github(
        auth=Auth.Token(token),
        base_url=base_url,
        timeout=timeout_s,
        retry=retry,
        seconds_between_requests=seconds_between_requests,
        seconds_between_writes=seconds_between_writes,
        user_agent="modelops",
    )


def repository_name(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    name = env.get("GITHUB_REPOSITORY", "")
    if name.count("/") != 1 or not all(name.split("/")):
        raise BadInput(f"GITHUB_REPOSITORY={name!r}: expected OWNER/REPO")
    return name


def call_github(what: str, fn: Callable[[], T]) -> T:
    """Run one API call; any failure becomes a one-line ExternalError naming what was attempted."""
    from github import GithubException
    from requests import RequestException
    from urllib3.exceptions import HTTPError

    try:
        return fn()
    except GithubException as exc:
        raise ExternalError(f"GitHub: {what} failed: HTTP {exc.status} {_message(exc.data)}") from None
    except (RequestException, HTTPError, OSError) as exc:
        raise ExternalError(f"GitHub: {what} failed: {type(exc).__name__}: {_first_line(exc)}") from None


def _message(data: Any) -> str:
    if isinstance(data, Mapping) and data.get("message"):
        return str(data["message"])
    return _first_line(data)


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:200] if text else ""
