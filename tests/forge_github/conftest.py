"""Fixtures: a GitHub double per test and a GitHubForge pointed at it, with waits recorded, not slept."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer

from modelops.adapters.github_forge import GitHubForge, RetryPolicy
from tests.forge_github.double import REPOSITORY, GitHubDouble


class Waits(list[float]):
    """Stands in for time.sleep: remembers how long the forge chose to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def github(httpserver: HTTPServer) -> Iterator[GitHubDouble]:
    yield GitHubDouble(httpserver)
    # A request the double had no answer for is a request the code should not have made.
    httpserver.check_assertions()


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def make_forge(github: GitHubDouble, waits: Waits) -> Callable[..., GitHubForge]:
    def make(double: GitHubDouble | None = None, **options: object) -> GitHubForge:
        options.setdefault("retry", RetryPolicy(max_attempts=4, max_wait_s=30.0, backoff_s=0.25))
        options.setdefault("sleep", waits)
        return GitHubForge(REPOSITORY, (double or github).env(), **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def forge(make_forge: Callable[..., GitHubForge]) -> GitHubForge:
    return make_forge()
