"""Repository settings on the REST double: what `modelops doctor github` reads, as GitHub answers it.

`Settings.complete()` is a fork set up as docs/github.md says; a test takes one piece away and checks
that the doctor names it. The bodies carry GitHub's field names (repository-ruleset, environment,
actions-variable, actions-secret, codeowners-errors). Kept apart from double.py: these routes register
on the same pytest-httpserver.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.forge_github.double import REPOSITORY

APP_ID = 1001
REQUIRED_CHECKS = (
    "lint and type check",
    "unit tests",
    "desired state and manifests",
    "workflow lint",
    "promotion policy",
)
VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "AWS_ROLE_ARN",
    "AWS_REGION",
    "EKS_CLUSTER",
    "MODELOPS_APP_CLIENT_ID",
    "MODELOPS_PROMETHEUS_URL",
)
OPTIONAL_VARIABLES = (
    "PROPOSE_PRODUCTION",
    "MODELOPS_PUSHGATEWAY_URL",
    "DRILL_KNOWN_GOOD_VERSION",
    "MLFLOW_READ_URI",
)


USER_URLS = (
    "avatar", "events", "followers", "following", "gists", "html", "organizations", "received_events",
    "repos", "starred", "subscriptions", "url",
)  # fmt: skip
REPO_URLS = (
    "archive", "assignees", "blobs", "branches", "collaborators", "comments", "commits", "compare",
    "contents", "contributors", "deployments", "downloads", "events", "forks", "git_commits", "git_refs",
    "git_tags", "hooks", "html", "issue_comment", "issue_events", "issues", "keys", "labels", "languages",
    "merges", "milestones", "notifications", "pulls", "releases", "stargazers", "statuses", "subscribers",
    "subscription", "tags", "teams", "trees", "clone", "git", "ssh", "svn", "mirror",
)  # fmt: skip


def simple_user(login: str, kind: str = "Organization") -> dict[str, Any]:
    """GitHub's simple-user, every required field present."""
    user: dict[str, Any] = {
        f"{name}_url" if name != "url" else "url": f"https://api.github.com/users/{login}/{name}"
        for name in USER_URLS
    }
    return {
        **user,
        "login": login,
        "id": 1,
        "node_id": f"O_{login}",
        "gravatar_id": "",
        "type": kind,
        "site_admin": False,
    }


def full_repository() -> dict[str, Any]:
    """GitHub's full-repository for the double's repository, as an admin reads it."""
    owner, name = REPOSITORY.split("/")
    urls = {f"{n}_url": f"https://api.github.com/repos/{REPOSITORY}/{n}" for n in REPO_URLS}
    counts = dict.fromkeys(
        ("forks", "forks_count", "open_issues", "open_issues_count", "size", "stargazers_count", "watchers",
         "watchers_count", "network_count", "subscribers_count"),
        0,
    )  # fmt: skip
    flags = dict.fromkeys(("fork", "private", "has_issues", "has_projects", "has_wiki", "has_pages",
                           "has_discussions", "archived", "disabled"), False)  # fmt: skip
    return {
        **urls,
        **counts,
        **flags,
        "mirror_url": None,
        "id": 1,
        "node_id": "R_1",
        "name": name,
        "full_name": REPOSITORY,
        "owner": simple_user(owner),
        "url": f"https://api.github.com/repos/{REPOSITORY}",
        "html_url": f"https://github.com/{REPOSITORY}",
        "description": "models delivered by GitOps",
        "homepage": None,
        "language": "Python",
        "license": None,
        "default_branch": "main",
        "allow_auto_merge": True,
        "pushed_at": "2026-01-05T10:00:00Z",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-05T10:00:00Z",
    }


def _ruleset(
    id_: int, name: str, rules: list[dict[str, Any]], bypass: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "target": "branch",
        "source_type": "Repository",
        "source": REPOSITORY,
        "enforcement": "active",
        "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
        "rules": rules,
        "bypass_actors": bypass,
        "node_id": f"RRS_{id_}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }


def _environment(name: str, reviewers: list[str], prevent_self_review: bool) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [{"id": 1, "node_id": "GA_1", "type": "branch_policy"}]
    if reviewers:
        rules.append(
            {
                "id": 2,
                "node_id": "GA_2",
                "type": "required_reviewers",
                "prevent_self_review": prevent_self_review,
                "reviewers": [
                    {"type": "Team", "reviewer": {"id": i, "slug": slug, "name": slug}}
                    for i, slug in enumerate(reviewers)
                ],
            }
        )
    return {
        "id": abs(hash(name)) % 10_000,
        "node_id": f"EN_{name}",
        "name": name,
        "url": f"/repos/{REPOSITORY}/environments/{name}",
        "html_url": f"https://github.com/{REPOSITORY}/deployments/activity_log?environments_filter={name}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "protection_rules": rules,
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    }


def _secret(name: str) -> dict[str, str]:
    return {"name": name, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}


@dataclass
class Settings:
    repo: dict[str, Any]
    rulesets: list[dict[str, Any]]
    environments: list[dict[str, Any]]
    branch_policies: dict[str, list[str]]
    variables: list[str]
    secrets: dict[str, list[str]]
    codeowner_errors: list[dict[str, Any]] = field(default_factory=list)
    codeowners_file: bool = True

    @classmethod
    def complete(cls) -> Settings:
        history = _ruleset(1, "main: history", [{"type": "deletion"}, {"type": "non_fast_forward"}], [])
        review = _ruleset(
            2,
            "main: review",
            [
                {
                    "type": "pull_request",
                    "parameters": {
                        "required_approving_review_count": 1,
                        "require_code_owner_review": True,
                        "dismiss_stale_reviews_on_push": True,
                        "require_last_push_approval": True,
                        "required_review_thread_resolution": False,
                    },
                },
                {
                    "type": "required_status_checks",
                    "parameters": {
                        "strict_required_status_checks_policy": True,
                        "required_status_checks": [{"context": c} for c in REQUIRED_CHECKS],
                    },
                },
            ],
            [{"actor_id": APP_ID, "actor_type": "Integration", "bypass_mode": "always"}],
        )
        both = ["MLFLOW_TRACKING_TOKEN", "MODELOPS_APP_PRIVATE_KEY", "MODELOPS_PUSHGATEWAY_AUTH"]
        return cls(
            repo=full_repository(),
            rulesets=[history, review],
            environments=[
                _environment("automation", [], False),
                _environment("production", ["ml-platform", "model-owners"], True),
            ],
            branch_policies={"automation": ["main"], "production": ["main"]},
            variables=[*VARIABLES, *OPTIONAL_VARIABLES],
            secrets={"automation": list(both), "production": list(both)},
        )

    # -- routes ---------------------------------------------------------------------------------

    def serve(self, server: HTTPServer, prefix: str = "") -> Settings:
        base = f"{prefix}/repos/{REPOSITORY}"
        routes = {
            "": lambda _r: self.repo,
            "/rulesets": lambda _r: [
                {k: v for k, v in r.items() if k not in ("rules", "conditions", "bypass_actors")}
                for r in self.rulesets
            ],
            "/actions/variables": lambda _r: {
                "total_count": len(self.variables),
                "variables": [
                    {
                        "name": n,
                        "value": "x",
                        "created_at": "2026-01-01T00:00:00Z",
                        "updated_at": "2026-01-01T00:00:00Z",
                    }
                    for n in self.variables
                ],
            },
            "/environments": lambda _r: {
                "total_count": len(self.environments),
                "environments": self.environments,
            },
        }
        for path, body in routes.items():
            server.expect_request(base + path, method="GET").respond_with_handler(_json(body))
        for ruleset in self.rulesets:
            server.expect_request(f"{base}/rulesets/{ruleset['id']}", method="GET").respond_with_handler(
                _json(lambda _r, rs=ruleset: rs)
            )
        for env in ("automation", "production"):
            server.expect_request(f"{base}/environments/{env}/secrets", method="GET").respond_with_handler(
                _json(
                    lambda _r, e=env: {
                        "total_count": len(self.secrets.get(e, [])),
                        "secrets": [_secret(n) for n in self.secrets.get(e, [])],
                    }
                )
            )
            server.expect_request(
                f"{base}/environments/{env}/deployment-branch-policies", method="GET"
            ).respond_with_handler(
                _json(
                    lambda _r, e=env: {
                        "total_count": len(self.branch_policies.get(e, [])),
                        "branch_policies": [
                            {"id": i, "node_id": f"BP_{i}", "name": n, "type": "branch"}
                            for i, n in enumerate(self.branch_policies.get(e, []))
                        ],
                    }
                )
            )
        server.expect_request(f"{base}/codeowners/errors", method="GET").respond_with_handler(
            self._codeowners
        )
        return self

    def _codeowners(self, _request: Request) -> Response:
        if not self.codeowners_file:
            return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")
        return Response(
            json.dumps({"errors": self.codeowner_errors}), status=200, content_type="application/json"
        )

    def copy(self) -> Settings:
        return copy.deepcopy(self)


def _json(body: Any):  # type: ignore[no-untyped-def]
    def handler(request: Request) -> Response:
        return Response(json.dumps(body(request)), status=200, content_type="application/json")

    return handler
