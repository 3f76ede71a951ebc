"""One way to build a GitHub API client, and one way to make a request to it.

`github_client` reads the credentials: GITHUB_TOKEN, or a GitHub App's client ID and private key
(MODELOPS_APP_CLIENT_ID with MODELOPS_APP_PRIVATE_KEY or MODELOPS_APP_PRIVATE_KEY_FILE), from which
installation tokens are minted (a JWT signed RS256) and renewed before their hour runs out.

`GitHubCalls` runs one request under a `RetryPolicy`: 5xx answers are retried with capped exponential
backoff for a bounded number of attempts; rate limits (Retry-After, or X-RateLimit-Remaining 0 with
X-RateLimit-Reset, or a secondary-limit message) are waited out while the total wait for one request
stays within `max_wait_s`, and remembered, so that the next request before the limit lifts is not
sent at all. A network error is retried only for idempotent methods; a POST is repeated only after
GitHub answered 5xx or "rate limited". Every failure is one line with GitHub's own message.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from modelops.errors import BadInput, ExternalError

if TYPE_CHECKING:
    import github

DEFAULT_API_URL = "https://api.github.com"
APP_CLIENT_ID = "MODELOPS_APP_CLIENT_ID"
APP_PRIVATE_KEY = "MODELOPS_APP_PRIVATE_KEY"
APP_PRIVATE_KEY_FILE = "MODELOPS_APP_PRIVATE_KEY_FILE"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
# The reset time is whole seconds and GitHub's clock is not ours.
RATE_LIMIT_RESET_MARGIN_S = 1.0
# GitHub's guidance for a secondary rate limit without Retry-After: wait at least a minute.
SECONDARY_RATE_LIMIT_WAIT_S = 60.0
# Installation tokens live one hour; renew well before, so a clock a little off never sends a dead one.
TOKEN_RENEW_BEFORE_S = 300.0
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one GitHub request tries: attempts in all, and the most time spent waiting between them."""

    max_attempts: int = 4
    max_wait_s: float = 60.0
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1)))


def github_client(
    env: Mapping[str, str] | None = None,
    *,
    timeout_s: int = 15,
    lazy: bool = True,
    clock: Callable[[], float] = time.time,
) -> github.Github:
    """A `github.Github` without urllib3 retries (`GitHubCalls` retries), from the environment's credentials."""
    from github import Github

    env = os.environ if env is None else env
    base_url = api_url(env)
    return Github(
        auth=github_auth(env, base_url, timeout_s=timeout_s, clock=clock),
        base_url=base_url,
        timeout=timeout_s,
        retry=None,
        lazy=lazy,
        user_agent="modelops",
    )


def api_url(env: Mapping[str, str]) -> str:
    base_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise BadInput(f"GITHUB_API_URL={base_url!r}: expected an http(s) URL such as {DEFAULT_API_URL}")
    return base_url


def github_auth(
    env: Mapping[str, str], base_url: str, *, timeout_s: int = 15, clock: Callable[[], float] = time.time
) -> Any:
    """The App's renewing installation token when its client ID is set, else GITHUB_TOKEN."""
    from github import Auth

    if env.get(APP_CLIENT_ID):
        return installation_token(
            env[APP_CLIENT_ID],
            app_private_key(env),
            repository_name(env),
            base_url,
            timeout_s=timeout_s,
            clock=clock,
        )
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise BadInput(
            f"GITHUB_TOKEN is not set (nor {APP_CLIENT_ID}); export a token that may use this repository's API"
        )
    return Auth.Token(token)


def app_private_key(env: Mapping[str, str]) -> str:
    if key := env.get(APP_PRIVATE_KEY, ""):
        return key
    if path := env.get(APP_PRIVATE_KEY_FILE, ""):
        try:
            return Path(path).read_text("utf-8")
        except OSError as exc:
            raise BadInput(f"{APP_PRIVATE_KEY_FILE}={path}: unreadable ({exc.strerror or exc})") from None
    raise BadInput(f"{APP_CLIENT_ID} is set but neither {APP_PRIVATE_KEY} nor {APP_PRIVATE_KEY_FILE} is")


def installation_token(
    client_id: str,
    private_key: str,
    repository: str,
    base_url: str,
    *,
    timeout_s: int = 15,
    clock: Callable[[], float] = time.time,
) -> Any:
    """A GitHub App installation token for one repository, minted from the App's private key.

    PyGithub signs the JWT (RS256, issuer the client ID) and asks for the token; this finds the
    installation once and mints again `TOKEN_RENEW_BEFORE_S` before the token's `expires_at`.
    The class is built here so that importing this module does not import PyGithub.
    """
    from github import Auth, GithubIntegration

    if "PRIVATE KEY-----" not in private_key:
        raise BadInput(
            f"{APP_PRIVATE_KEY}: expected the App's PEM private key (-----BEGIN ... PRIVATE KEY-----)"
        )

    class InstallationToken(Auth.Auth):  # type: ignore[misc]
        def __init__(self) -> None:
            self.repository = repository
            self._clock = clock
            self._integration = GithubIntegration(
                auth=Auth.AppAuth(client_id, private_key), base_url=base_url, timeout=timeout_s
            )
            self._installation: int | None = None
            self._token = ""
            self._expires_at = 0.0
            self.minted = 0  # how many tokens this process asked for: renewals show up here

        @property
        def token_type(self) -> str:
            return "token"

        @property
        def token(self) -> str:
            if not self._token or self._clock() >= self._expires_at - TOKEN_RENEW_BEFORE_S:
                self._mint()
            return self._token

        @property
        def _masked_token(self) -> str:
            return "token (installation token removed)"

        def _mint(self) -> None:
            owner, name = self.repository.split("/")
            if self._installation is None:
                found = call_github(
                    f"finding the App's installation on {self.repository} (is the App installed there?)",
                    lambda: self._integration.get_repo_installation(owner, name),
                )
                self._installation = int(found.id)
            installation = self._installation
            minted = call_github(
                f"minting an installation token for {self.repository}",
                lambda: self._integration.get_access_token(installation),
            )
            self._token = str(minted.token)
            self._expires_at = minted.expires_at.timestamp()
            self.minted += 1

    return InstallationToken()


def repository_name(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    name = env.get("GITHUB_REPOSITORY", "")
    if name.count("/") != 1 or not all(name.split("/")):
        raise BadInput(f"GITHUB_REPOSITORY={name!r}: expected OWNER/REPO")
    return name


def call_github(what: str, fn: Callable[[], T]) -> T:
    """Run one API call, once; any failure becomes a one-line ExternalError naming what was attempted."""
    from github import GithubException
    from requests import RequestException
    from urllib3.exceptions import HTTPError

    try:
        return fn()
    except GithubException as exc:
        raise ExternalError(f"GitHub: {what} failed: HTTP {exc.status} {message_of(exc.data)}") from None
    except (RequestException, HTTPError, OSError) as exc:
        raise ExternalError(f"GitHub: {what} failed: {type(exc).__name__}: {_network_reason(exc)}") from None


Refine = Callable[[int, str, str], None]


class GitHubCalls:
    """Requests under one retry policy, sharing what GitHub said about rate limits."""

    def __init__(
        self,
        api: str,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        forbidden_hint: str = "",
    ) -> None:
        self.api_url = api
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._forbidden_hint = forbidden_hint
        self._limited_until = 0.0

    def __call__(
        self, method: str, path: str, request: Callable[[], T], *, refine: Refine | None = None
    ) -> T:
        """Run `request`; `refine(status, message, failure)` may turn a GitHub answer into its own error."""
        from github import GithubException
        from requests import RequestException
        from urllib3.exceptions import HTTPError

        waited = self._wait_out_a_known_limit(method, path)
        attempt = 0
        while True:
            attempt += 1
            try:
                return request()
            except GithubException as exc:
                status = exc.status
                message = message_of(exc.data)
                failure = f"GitHub {method} {path}: {status} {message}".rstrip()
                if refine is not None:
                    refine(status, message, failure)
                rate_wait = self._rate_limit_wait(status, _headers(exc.headers), message)
                if rate_wait is not None:
                    self._limited_until = max(self._limited_until, self._clock() + rate_wait)
                    if waited + rate_wait > self.retry.max_wait_s:
                        raise ExternalError(
                            f"{failure}; the rate limit lifts in {rate_wait:.0f} s, more than the "
                            f"{self.retry.max_wait_s:.0f} s a request waits: retry later"
                        ) from None
                    wait = rate_wait
                elif 500 <= status < 600:
                    retry_after = _retry_after(_headers(exc.headers), self._clock())
                    wait = self.retry.backoff(attempt) if retry_after is None else retry_after
                elif status in (401, 403) and self._forbidden_hint:
                    raise ExternalError(f"{failure}; {self._forbidden_hint}") from None
                else:
                    raise ExternalError(failure) from None
            except (RequestException, HTTPError, OSError) as exc:
                failure = (
                    f"GitHub {method} {path}: {type(exc).__name__}: {_network_reason(exc)} ({self.api_url})"
                )
                if method not in IDEMPOTENT_METHODS:
                    raise ExternalError(failure) from None
                wait = self.retry.backoff(attempt)
            if attempt >= self.retry.max_attempts:
                raise ExternalError(f"{failure} (gave up after {attempt} attempts)") from None
            wait = max(0.0, min(wait, self.retry.max_wait_s - waited))
            if wait > 0:
                self._sleep(wait)
                waited += wait

    def _wait_out_a_known_limit(self, method: str, path: str) -> float:
        """A limit GitHub already announced is waited out here, without asking again (or refused)."""
        remaining = self._limited_until - self._clock()
        if remaining <= 0:
            return 0.0
        if remaining > self.retry.max_wait_s:
            raise ExternalError(
                f"GitHub {method} {path}: not sent, the rate limit GitHub announced lifts in "
                f"{remaining:.0f} s, more than the {self.retry.max_wait_s:.0f} s a request waits: retry later"
            )
        self._sleep(remaining)
        return remaining

    def _rate_limit_wait(self, status: int, headers: Mapping[str, str], message: str) -> float | None:
        """Seconds to wait when GitHub says "rate limited"; None when it said something else."""
        if status not in (403, 429):
            return None
        now = self._clock()
        retry_after = _retry_after(headers, now)
        if retry_after is not None:
            return retry_after
        reset = headers.get("x-ratelimit-reset", "")
        if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
            return max(0.0, int(reset) - now) + RATE_LIMIT_RESET_MARGIN_S
        lowered = message.lower()
        if status == 429 or "secondary rate limit" in lowered or "rate limit exceeded" in lowered:
            return SECONDARY_RATE_LIMIT_WAIT_S
        return None


# -- reading GitHub's answers ------------------------------------------------------------------------


def _headers(raw: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in dict(raw or {}).items()}


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def message_of(data: Any) -> str:
    """GitHub's own words: `message` plus the details of `errors` (REST 422s and GraphQL)."""
    if not isinstance(data, Mapping):
        return _first_line(data)
    details = []
    for error in data.get("errors") or ():
        if isinstance(error, Mapping):
            details.append(str(error.get("message") or error.get("code") or ""))
        elif error:
            details.append(str(error))
    details = [d for d in details if d]
    message = str(data.get("message") or "")
    if message and details:
        text = f"{message} ({'; '.join(details)})"
    elif message or details:
        text = message or "; ".join(details)
    else:
        text = _first_line(data.get("data", "")) if isinstance(data.get("data"), str) else ""
    return _first_line(text)


def _network_reason(exc: BaseException) -> str:
    """The OS's words ("Connection refused") rather than urllib3's nested reprs."""
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
    if errno:
        return errno.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    return _first_line(text)


def _first_line(value: object) -> str:
    text = re.sub(r"<[^>]*>", " ", str(value))  # a proxy's HTML error page
    return " ".join(text.split())[:300]
