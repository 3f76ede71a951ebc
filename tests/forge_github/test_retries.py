"""Rate limits are waited out within a bound; 5xx answers are retried a bounded number of times.

Waits are recorded by the `waits` fixture instead of slept, except in the one test that shows a
primary rate limit really being waited out against the clock.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from modelops.adapters.github_forge import GitHubForge, RetryPolicy
from modelops.errors import ExternalError
from tests.forge_github.conftest import Waits
from tests.forge_github.double import REPOSITORY, GitHubDouble, Sequence, status

PULLS = f"/repos/{REPOSITORY}/pulls"
ISSUES = f"/repos/{REPOSITORY}/issues"
PRIMARY_LIMIT = {
    "message": "API rate limit exceeded for user ID 1.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
SECONDARY_LIMIT = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
BAD_GATEWAY = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def rate_limited(reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Used": "5000",
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Resource": "core",
    }


def test_a_primary_rate_limit_is_waited_out_until_its_reset_and_the_request_retried(
    github: GitHubDouble, make_forge: Callable[..., GitHubForge]
) -> None:
    reset = int(time.time()) + 1
    answers = Sequence(status(403, PRIMARY_LIMIT, **rate_limited(reset)), status(200, []))
    github.expect("GET", PULLS).respond_with_handler(answers)
    forge = make_forge(sleep=time.sleep, retry=RetryPolicy(max_wait_s=5.0))

    assert forge.find_open("promote/churn/production/v7") is None

    assert len(answers.times) == 2
    assert answers.times[1] >= reset, "the retry came before the limit was reset"


def test_a_403_that_only_says_remaining_0_is_a_rate_limit_too(
    github: GitHubDouble, forge: GitHubForge, waits: Waits
) -> None:
    now = time.time()
    answers = Sequence(status(403, {"message": "Forbidden"}, **rate_limited(int(now) + 10)), status(200, []))
    github.expect("GET", PULLS).respond_with_handler(answers)

    forge.find_open("promote/churn/production/v7")

    assert len(answers.times) == 2
    (waited,) = waits
    assert 9 <= waited <= 12


def test_a_429_with_retry_after_waits_that_long_and_retries_even_a_post(
    github: GitHubDouble, forge: GitHubForge, waits: Waits
) -> None:
    answers = Sequence(
        status(429, SECONDARY_LIMIT, **{"Retry-After": "7"}),
        status(201, {"id": 1, "body": "hello"}),
    )
    github.expect("POST", f"{ISSUES}/3/comments").respond_with_handler(answers)

    forge.comment(3, "hello")

    assert waits == [7.0]
    assert github.calls() == [("POST", f"{ISSUES}/3/comments")] * 2
    assert [s.body for s in github.seen()] == [{"body": "hello"}] * 2


def test_a_secondary_rate_limit_without_headers_waits_a_minute(
    github: GitHubDouble, make_forge: Callable[..., GitHubForge], waits: Waits
) -> None:
    answers = Sequence(status(403, SECONDARY_LIMIT), status(200, []))
    github.expect("GET", PULLS).respond_with_handler(answers)

    make_forge(retry=RetryPolicy(max_wait_s=90.0)).find_open("x")

    assert waits == [60.0]
    assert len(answers.times) == 2


def test_a_rate_limit_that_lifts_beyond_the_wait_cap_fails_at_once_with_one_line(
    github: GitHubDouble, forge: GitHubForge, waits: Waits
) -> None:
    reset = int(time.time()) + 3600
    github.expect("GET", f"{PULLS}/7").respond_with_response(
        status(403, PRIMARY_LIMIT, **rate_limited(reset))
    )

    with pytest.raises(ExternalError) as failure:
        forge.get(7)

    message = str(failure.value)
    assert message.startswith(f"GitHub GET {PULLS}/7: 403 API rate limit exceeded")
    assert "retry later" in message
    assert "\n" not in message
    assert waits == []
    assert len(github.seen()) == 1


def test_the_cap_bounds_the_sum_of_the_waits_not_only_each_one(
    github: GitHubDouble, make_forge: Callable[..., GitHubForge], waits: Waits
) -> None:
    github.expect("GET", PULLS).respond_with_response(status(429, SECONDARY_LIMIT, **{"Retry-After": "20"}))

    with pytest.raises(ExternalError, match="429"):
        make_forge(retry=RetryPolicy(max_attempts=10, max_wait_s=30.0)).find_open("x")

    assert waits == [20.0]
    assert len(github.seen()) == 2


def test_502_twice_then_200_succeeds_after_backing_off(
    github: GitHubDouble, forge: GitHubForge, waits: Waits
) -> None:
    answers = Sequence(status(502, BAD_GATEWAY), status(502, BAD_GATEWAY), status(200, [github.pull(4)]))
    github.expect("GET", PULLS).respond_with_handler(answers)
    github.expect("GET", f"{PULLS}/4/reviews").respond_with_json([])

    pr = forge.find_open("promote/churn/production/v7")

    assert pr is not None and pr.number == 4
    assert len(answers.times) == 3
    assert waits == [0.25, 0.5]


def test_502_forever_fails_after_the_bounded_number_of_attempts(
    github: GitHubDouble, forge: GitHubForge, waits: Waits
) -> None:
    github.expect("GET", f"{PULLS}/7").respond_with_response(status(502, BAD_GATEWAY))

    with pytest.raises(ExternalError) as failure:
        forge.get(7)

    assert len(github.seen()) == 4
    assert waits == [0.25, 0.5, 1.0]
    message = str(failure.value)
    assert message.startswith(f"GitHub GET {PULLS}/7: 502 502 Bad Gateway")  # the proxy's page, untagged
    assert message.endswith("(gave up after 4 attempts)")
    assert "\n" not in message


def test_an_edit_is_retried_after_a_502_too(github: GitHubDouble, forge: GitHubForge) -> None:
    answers = Sequence(status(502, BAD_GATEWAY), status(200, github.pull(4, title="v8")))
    github.expect("PATCH", f"{PULLS}/4").respond_with_handler(answers)
    github.expect("PUT", f"{ISSUES}/4/labels").respond_with_json([])
    github.expect("GET", f"{PULLS}/4/reviews").respond_with_json([])

    pr = forge.update(4, title="v8", body="b", labels=[])

    assert pr.title == "v8"
    assert len(answers.times) == 2


def test_a_503_with_retry_after_waits_as_told(github: GitHubDouble, forge: GitHubForge, waits: Waits) -> None:
    answers = Sequence(
        status(503, {"message": "Service Unavailable"}, **{"Retry-After": "3"}), status(200, [])
    )
    github.expect("GET", PULLS).respond_with_handler(answers)

    forge.find_open("x")

    assert waits == [3.0]


def test_a_forbidden_answer_is_not_retried_and_says_what_to_check(
    github: GitHubDouble, forge: GitHubForge, waits: Waits
) -> None:
    github.expect("POST", PULLS).respond_with_response(
        status(403, {"message": "Resource not accessible by integration"})
    )

    with pytest.raises(ExternalError) as failure:
        forge.open(head="h", base="main", title="t", body="b", labels=[], reviewers=[])

    assert str(failure.value) == (
        f"GitHub POST {PULLS}: 403 Resource not accessible by integration; "
        f"check that GITHUB_TOKEN may write pull requests of {REPOSITORY}"
    )
    assert len(github.seen()) == 1
    assert waits == []


def test_a_validation_error_is_one_line_with_githubs_details(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    github.expect("PATCH", f"{PULLS}/4").respond_with_response(
        status(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
            },
        )
    )

    with pytest.raises(ExternalError, match=rf"^GitHub PATCH {PULLS}/4: 422 Validation Failed \(invalid\)$"):
        forge.update(4, title="t", body="b", labels=[])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_github_is_retried_for_reads_then_one_line(waits: Waits) -> None:
    env = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": f"http://127.0.0.1:{closed_port()}"}
    forge = GitHubForge(REPOSITORY, env, retry=RetryPolicy(max_attempts=3, backoff_s=0.25), sleep=waits)

    with pytest.raises(ExternalError) as failure:
        forge.get(7)

    assert waits == [0.25, 0.5]
    message = str(failure.value)
    assert message.startswith(f"GitHub GET {PULLS}/7: ConnectionError: Connection refused")
    assert env["GITHUB_API_URL"] in message
    assert message.endswith("(gave up after 3 attempts)")


def test_a_post_to_an_unreachable_github_is_not_repeated(waits: Waits) -> None:
    env = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": f"http://127.0.0.1:{closed_port()}"}
    forge = GitHubForge(REPOSITORY, env, sleep=waits)

    with pytest.raises(ExternalError, match=rf"^GitHub POST {ISSUES}/7/comments: ConnectionError"):
        forge.comment(7, "hello")

    assert waits == []
