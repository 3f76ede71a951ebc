"""A GitHub REST double on pytest-httpserver: realistic JSON bodies and a record of the requests made.

The bodies carry the fields GitHub sends and PyGithub parses (url, html_url, issue_url, node_id, head,
base, user, labels, requested_reviewers, merged_at, merge_commit_sha, auto_merge), with URLs that point
back at the double, under the GitHub Enterprise Server prefix when there is one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from pytest_httpserver.httpserver import RequestHandler
from werkzeug import Request, Response

TOKEN = "ghp_test_token_0123456789"
OWNER = "acme"
REPO = "models"
REPOSITORY = f"{OWNER}/{REPO}"
BOT = "modelops-bot"
HEAD = "promote/churn/production/v7"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str


@dataclass
class GitHubDouble:
    server: HTTPServer
    prefix: str = ""  # "/api/v3" for GitHub Enterprise Server
    _ids: int = field(default=1000)

    @property
    def api_url(self) -> str:
        return self.server.url_for(self.prefix or "/").rstrip("/")

    @property
    def web_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    @property
    def graphql_path(self) -> str:
        # GHES serves GraphQL at /api/graphql beside /api/v3.
        return self.prefix.removesuffix("/v3") + "/graphql"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_API_URL": self.api_url,
            "GITHUB_REPOSITORY": REPOSITORY,
            **extra,
        }

    def repo_url(self, path: str = "") -> str:
        return f"{self.api_url}/repos/{REPOSITORY}{path}"

    # -- bodies -----------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def user(self, login: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": abs(hash(login)) % 100_000,
            "type": "User",
            "url": f"{self.api_url}/users/{login}",
            "html_url": f"{self.web_url}/{login}",
        }

    def label(self, name: str) -> dict[str, Any]:
        return {
            "id": self._next_id(),
            "name": name,
            "color": "ededed",
            "default": False,
            "url": self.repo_url(f"/labels/{name}"),
        }

    def pull(
        self,
        number: int,
        *,
        head: str = HEAD,
        base: str = "main",
        title: str = "Promote churn v7 to production",
        body: str = "Evidence attached.",
        state: str = "open",
        labels: tuple[str, ...] = (),
        requested: tuple[str, ...] = (),
        author: str = BOT,
        head_sha: str = "a" * 40,
        merged_at: str | None = None,
        merge_commit_sha: str | None = "f" * 40,
        auto_merge: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "url": self.repo_url(f"/pulls/{number}"),
            "id": 5_000 + number,
            "node_id": f"PR_kwDOtest{number}",
            "html_url": f"{self.web_url}/{REPOSITORY}/pull/{number}",
            "issue_url": self.repo_url(f"/issues/{number}"),
            "number": number,
            "state": state,
            "locked": False,
            "draft": False,
            "title": title,
            "body": body,
            "user": self.user(author),
            "labels": [self.label(name) for name in labels],
            "requested_reviewers": [self.user(login) for login in requested],
            "requested_teams": [],
            "head": {"label": f"{OWNER}:{head}", "ref": head, "sha": head_sha},
            "base": {"label": f"{OWNER}:{base}", "ref": base, "sha": "b" * 40},
            "created_at": "2026-01-05T10:00:00Z",
            "updated_at": "2026-01-05T10:00:00Z",
            "closed_at": merged_at if state == "closed" else None,
            "merged_at": merged_at,
            "merge_commit_sha": merge_commit_sha,
            "auto_merge": auto_merge,
        }

    def review(self, number: int, user: str, state: str, at: str) -> dict[str, Any]:
        review_id = self._next_id()
        return {
            "id": review_id,
            "node_id": f"PRR_{review_id}",
            "user": self.user(user),
            "body": "",
            "state": state,
            "html_url": f"{self.web_url}/{REPOSITORY}/pull/{number}#pullrequestreview-{review_id}",
            "pull_request_url": self.repo_url(f"/pulls/{number}"),
            "commit_id": "a" * 40,
            "submitted_at": at,
        }

    # -- expectations and what was seen --------------------------------------------------------------

    def expect(
        self, method: str, path: str, *, query: dict[str, str] | None = None, json_body: Any = None
    ) -> RequestHandler:
        """`path` is the REST path (`/repos/…`); the GHES prefix is added here."""
        kwargs: dict[str, Any] = {"method": method}
        if query is not None:
            kwargs["query_string"] = query
        if json_body is not None:
            kwargs["json"] = json_body
        return self.server.expect_request(self.prefix + path, **kwargs)

    def expect_graphql(self) -> RequestHandler:
        return self.server.expect_request(self.graphql_path, method="POST")

    def seen(self) -> list[Seen]:
        found = []
        for request, _ in self.server.log:
            raw = request.get_data(as_text=True)
            found.append(
                Seen(
                    method=request.method,
                    path=request.path,
                    query=dict(request.args),
                    body=json.loads(raw) if raw else None,
                    authorization=request.headers.get("Authorization", ""),
                )
            )
        return found

    def calls(self) -> list[tuple[str, str]]:
        return [(s.method, s.path.removeprefix(self.prefix)) for s in self.seen()]


def status(code: int, body: dict[str, Any] | str, **headers: str) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    content_type = "text/html" if isinstance(body, str) else "application/json"
    return Response(text, status=code, headers=headers, content_type=content_type)


class Sequence:
    """A handler answering with each response in turn, then repeating the last one."""

    def __init__(self, *responses: Response) -> None:
        self.responses = list(responses)
        self.times: list[float] = []

    def __call__(self, request: Request) -> Response:
        import time

        self.times.append(time.time())
        index = min(len(self.times) - 1, len(self.responses) - 1)
        return self.responses[index]
