"""A repository's setup as GitHub's REST API tells it: rulesets, auto-merge, environments, variables,
secret names, CODEOWNERS errors, and an App's installation as the App itself sees it.

Read-only, one request each (lists are read up to 100 entries, GitHub's largest page). The token
must be a repository admin's: rulesets' bypass lists, environments' secrets and variables are settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from modelops.adapters.github_client import (
    GitHubCalls,
    RetryPolicy,
    app_private_key,
    call_github,
    github_client,
    repository_name,
)
from modelops.core.doctor import Bypass, Environment, Installation, RepositorySetup, Ruleset
from modelops.errors import BadInput

DEFAULT_BRANCH_REFS = ("~DEFAULT_BRANCH", "~ALL")


class GitHubSettings:
    def __init__(
        self,
        env: Mapping[str, str],
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.env = env
        self.repository = repository_name(env)
        self._client = github_client(env)
        self._calls = GitHubCalls(
            str(self._client.requester.base_url),
            retry=retry or RetryPolicy(max_attempts=3, max_wait_s=30.0),
            sleep=sleep,
            forbidden_hint=f"doctor needs a token of an admin of {self.repository}",
        )

    def _get(self, path: str, **parameters: Any) -> Any:
        requester = self._client.requester
        full = f"/repos/{self.repository}{path}"
        _, data = self._calls(
            "GET", full, lambda: requester.requestJsonAndCheck("GET", full, parameters=parameters or None)
        )
        return data

    def _get_or_none(self, path: str) -> Any:
        from modelops.errors import ExternalError

        try:
            return self._get(path)
        except ExternalError as exc:
            if ": 404 " in str(exc):
                return None
            raise

    # -- the facts -------------------------------------------------------------------------------

    def read(
        self,
        *,
        environments: tuple[str, ...],
        app: Installation | None = None,
        relay: Installation | None = None,
        relay_mode: str = "repository",
    ) -> RepositorySetup:
        repo = self._get("")
        default = str(repo.get("default_branch") or "main")
        return RepositorySetup(
            repository=self.repository,
            allow_auto_merge=bool(repo.get("allow_auto_merge")),
            rulesets=self._rulesets(default),
            environments=self._environments(environments),
            variables=frozenset(
                v["name"] for v in (self._get("/actions/variables", per_page=100) or {}).get("variables", [])
            ),
            codeowner_errors=self._codeowner_errors(),
            app=app,
            relay=relay,
            relay_mode=relay_mode,
        )

    def _rulesets(self, default_branch: str) -> tuple[Ruleset, ...]:
        found = []
        for summary in self._get("/rulesets", per_page=100, includes_parents="true") or []:
            if summary.get("target", "branch") != "branch":
                continue
            full = self._get(f"/rulesets/{summary['id']}")
            include = ((full.get("conditions") or {}).get("ref_name") or {}).get("include") or []
            exclude = ((full.get("conditions") or {}).get("ref_name") or {}).get("exclude") or []
            main_ref = f"refs/heads/{default_branch}"
            targets = (
                any(r in DEFAULT_BRANCH_REFS or r == main_ref for r in include) and main_ref not in exclude
            )
            rules = full.get("rules") or []
            checks: set[str] = set()
            approvals, code_owners, strict, grouping = 0, False, False, ""
            for rule in rules:
                params = rule.get("parameters") or {}
                if rule.get("type") == "required_status_checks":
                    checks |= {c["context"] for c in params.get("required_status_checks") or []}
                    strict = strict or bool(params.get("strict_required_status_checks_policy"))
                if rule.get("type") == "merge_queue":
                    grouping = str(params.get("grouping_strategy") or "")
                if rule.get("type") == "pull_request":
                    approvals = int(params.get("required_approving_review_count") or 0)
                    code_owners = bool(params.get("require_code_owner_review"))
            found.append(
                Ruleset(
                    name=str(full.get("name", summary.get("name", ""))),
                    enforcement=str(full.get("enforcement", "")),
                    targets_default_branch=targets,
                    rules=frozenset(str(r.get("type")) for r in rules),
                    required_checks=frozenset(checks),
                    approvals=approvals,
                    code_owner_review=code_owners,
                    strict_checks=strict,
                    queue_grouping=grouping,
                    bypass=tuple(
                        Bypass(
                            str(b.get("actor_type")), b.get("actor_id"), str(b.get("bypass_mode", "always"))
                        )
                        for b in full.get("bypass_actors") or []
                    ),
                )
            )
        return tuple(found)

    def _environments(self, wanted: tuple[str, ...]) -> dict[str, Environment]:
        listed = {
            e["name"]: e for e in (self._get("/environments", per_page=100) or {}).get("environments", [])
        }
        found = {}
        for name in wanted:
            raw = listed.get(name)
            if raw is None:
                continue
            reviewers: list[str] = []
            self_review = False
            for rule in raw.get("protection_rules") or []:
                if rule.get("type") == "required_reviewers":
                    self_review = bool(rule.get("prevent_self_review"))
                    for r in rule.get("reviewers") or []:
                        who = r.get("reviewer") or {}
                        reviewers.append(str(who.get("login") or who.get("slug") or who.get("name") or "?"))
            found[name] = Environment(
                name=name,
                reviewers=tuple(reviewers),
                prevent_self_review=self_review,
                main_only=self._main_only(name, raw.get("deployment_branch_policy")),
                secrets=frozenset(
                    s["name"]
                    for s in (self._get(f"/environments/{name}/secrets", per_page=100) or {}).get(
                        "secrets", []
                    )
                ),
            )
        return found

    def _main_only(self, name: str, policy: Any) -> bool:
        if not policy:
            return False  # any branch may deploy
        if policy.get("protected_branches"):
            return True
        if policy.get("custom_branch_policies"):
            listed = self._get(f"/environments/{name}/deployment-branch-policies", per_page=100) or {}
            names = {
                p.get("name")
                for p in listed.get("branch_policies", [])
                if p.get("type", "branch") == "branch"
            }
            return names == {"main"}
        return False

    def _codeowner_errors(self) -> tuple[str, ...]:
        found = self._get_or_none("/codeowners/errors")
        if found is None:
            return ("no CODEOWNERS file on the default branch",)
        return tuple(
            f"line {e.get('line')}: {e.get('kind', 'error')} {e.get('source', '').strip()}".rstrip()
            for e in found.get("errors") or []
        )


def app_installation(
    env: Mapping[str, str], client_id: str, key_path: str | None, who: str
) -> Installation | None:
    """The App's installation on the repository, with its permissions; None when no key is given."""
    from github import Auth, GithubIntegration

    from modelops.adapters.github_client import APP_PRIVATE_KEY_FILE, api_url

    if not client_id:
        return None
    key = app_private_key({APP_PRIVATE_KEY_FILE: key_path} if key_path else dict(env))
    owner, name = repository_name(env).split("/")
    integration = GithubIntegration(auth=Auth.AppAuth(client_id, key), base_url=api_url(env))
    found = call_github(
        f"finding {who}'s installation on {owner}/{name} (is it installed there?)",
        lambda: integration.get_repo_installation(owner, name),
    )
    permissions = dict(found.permissions or {})
    if not permissions:
        raise BadInput(f"{who}: GitHub listed no permissions for its installation")
    return Installation(app=str(found.app_slug or client_id), permissions=permissions)
