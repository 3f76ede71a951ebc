"""Is a fork set up for the loop? What GitHub says about the repository, against what the workflows need.

Pure: the facts (`RepositorySetup`, read from GitHub by an adapter) and the expectations (`Expectations`,
read from the workflow files) come in; one `Check` per item goes out, each ok, missing (with the fix),
or skipped (could not be checked with the credentials given). A missing required item is a failed setup.

Main's protection is two rulesets, because a ruleset's bypass list covers all of its rules: one keeps
main's history (no deletion, no force push) with nobody bypassing; the other requires the pull request
and the checks, and only the GitHub App bypasses it, which is all a rollback commit needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# What the App needs, and what the relay needs per dispatch mode (GitHub's permission names).
APP_PERMISSIONS = {"contents": "write", "pull_requests": "write"}
RELAY_PERMISSIONS = {"repository": {"contents": "write"}, "workflow": {"actions": "write"}}
# Never needed by either: holding one is more than a rollback or a dispatch needs.
EXCESS_PERMISSIONS = ("administration", "secrets", "workflows", "environments", "members")
HISTORY_RULES = frozenset({"deletion", "non_fast_forward"})
SETTINGS = "Settings → Rules → Rulesets"


@dataclass(frozen=True)
class Bypass:
    actor_type: str  # Integration | OrganizationAdmin | RepositoryRole | Team | DeployKey
    actor_id: int | None
    mode: str  # always | pull_request


@dataclass(frozen=True)
class Ruleset:
    name: str
    enforcement: str  # active | evaluate | disabled
    targets_default_branch: bool
    rules: frozenset[str]
    required_checks: frozenset[str] = frozenset()
    approvals: int = 0
    code_owner_review: bool = False
    bypass: tuple[Bypass, ...] = ()
    strict_checks: bool = False  # "Require branches to be up to date before merging"
    queue_grouping: str = ""  # the merge queue's grouping strategy, when the ruleset has one

    @property
    def guards_main(self) -> bool:
        return self.enforcement == "active" and self.targets_default_branch


@dataclass(frozen=True)
class Environment:
    name: str
    reviewers: tuple[str, ...] = ()
    prevent_self_review: bool = False
    main_only: bool = False
    secrets: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Installation:
    """An App's installation on the repository, as the App's own credentials see it."""

    app: str
    permissions: Mapping[str, str]


@dataclass(frozen=True)
class RepositorySetup:
    repository: str
    allow_auto_merge: bool
    rulesets: tuple[Ruleset, ...]
    environments: Mapping[str, Environment]
    variables: frozenset[str]
    codeowner_errors: tuple[str, ...] = ()
    app: Installation | None = None  # None: not checked (no App credentials given)
    relay: Installation | None = None
    relay_mode: str = "repository"


@dataclass(frozen=True)
class Expectations:
    required_checks: tuple[str, ...]
    variables: tuple[str, ...]
    optional_variables: tuple[str, ...] = ()
    secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # environment -> names
    optional_secrets: tuple[str, ...] = ()
    auto_merge_needed: bool = True
    reviewed_environments: tuple[str, ...] = ("production",)


@dataclass(frozen=True)
class Check:
    item: str
    status: str  # ok | missing | skipped
    detail: str = ""
    fix: str = ""
    required: bool = True

    def as_dict(self) -> dict[str, object]:
        return {
            "item": self.item,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "required": self.required,
        }

    def line(self) -> str:
        text = f"{self.status:<8}{self.item}"
        if self.detail:
            text += f": {self.detail}"
        if self.fix and self.status != "ok":
            text += f" — {self.fix}"
        return text


def failed(checks: list[Check]) -> bool:
    return any(c.status == "missing" and c.required for c in checks)


def _ok(item: str, detail: str = "") -> Check:
    return Check(item, "ok", detail)


def _missing(item: str, detail: str, fix: str, *, required: bool = True) -> Check:
    return Check(item, "missing", detail, fix, required)


def _permissions(
    item: str, who: Installation | None, needed: Mapping[str, str], how_to_check: str, *, required: bool
) -> Check:
    if who is None:
        return Check(item, "skipped", "not checked", how_to_check, required=False)
    lacking = [f"{k}: {v}" for k, v in needed.items() if who.permissions.get(k) != v]
    if lacking:
        return _missing(
            item,
            f"{who.app} lacks {', '.join(lacking)}",
            "App settings → Permissions & events, then accept the new permissions in the installation",
            required=required,
        )
    excess = [k for k in EXCESS_PERMISSIONS if who.permissions.get(k) in ("write", "admin")]
    if excess:
        return _missing(
            item,
            f"{who.app} also holds {', '.join(f'{k}: write' for k in excess)}",
            "remove what a rollback or a dispatch does not need",
            required=required,
        )
    return _ok(item, f"{who.app}: " + ", ".join(f"{k}: {v}" for k, v in needed.items()))


def _rulesets(setup: RepositorySetup, expect: Expectations) -> list[Check]:
    active = [r for r in setup.rulesets if r.guards_main]
    checks = []
    history = [r for r in active if r.rules >= HISTORY_RULES]
    unbypassed = [r for r in history if not r.bypass]
    if unbypassed:
        checks.append(
            _ok("main's history", f"ruleset {unbypassed[0].name!r}: no deletion, no force push, no bypass")
        )
    elif history:
        actors = ", ".join(b.actor_type for b in history[0].bypass)
        checks.append(
            _missing(
                "main's history",
                f"ruleset {history[0].name!r} lets {actors} delete or force-push main",
                f"move Restrict deletions and Block force pushes to a ruleset with an empty bypass list ({SETTINGS})",
            )
        )
    else:
        checks.append(
            _missing(
                "main's history",
                "no active ruleset on the default branch restricts deletions and blocks force pushes",
                f"{SETTINGS} → New branch ruleset 'main: history', target the default branch, no bypass",
            )
        )
    review = [r for r in active if "pull_request" in r.rules]
    if not review:
        checks.append(
            _missing(
                "pull request required",
                "no active ruleset on the default branch requires a pull request",
                f"{SETTINGS} → ruleset 'main: review': Require a pull request, 1 approval, code owners",
            )
        )
    else:
        rs = review[0]
        if rs.approvals >= 1 and rs.code_owner_review:
            checks.append(
                _ok("pull request required", f"ruleset {rs.name!r}: {rs.approvals} approval(s), code owners")
            )
        else:
            checks.append(
                _missing(
                    "pull request required",
                    f"ruleset {rs.name!r}: {rs.approvals} approval(s), code owner review "
                    f"{'on' if rs.code_owner_review else 'off'}",
                    "require 1 approval and review from Code Owners",
                )
            )
    required = frozenset().union(*(r.required_checks for r in active if "required_status_checks" in r.rules))
    lacking = [c for c in expect.required_checks if c not in required]
    if lacking:
        checks.append(
            _missing(
                "required checks",
                "not required: " + ", ".join(lacking),
                "Require status checks to pass → add the job names of pr.yml",
            )
        )
    else:
        checks.append(_ok("required checks", ", ".join(expect.required_checks)))
    checks.append(_current_main(active))
    checks.append(_bypass([r for r in active if r.rules & {"pull_request", "required_status_checks"}]))
    return checks


def _current_main(active: list[Ruleset]) -> Check:
    """The promotion policy is a check: it judged main as it was when it ran. A Version quarantined on
    main after that (a rollback elsewhere) would still merge on the old green check, unless GitHub makes
    the checks run again on the current main, by a merge queue or by up-to-date branches."""
    item = "checks judged on the current main"
    queue = next((r for r in active if "merge_queue" in r.rules), None)
    if queue is not None and queue.queue_grouping == "ALLGREEN":
        return _ok(item, f"ruleset {queue.name!r}: merge queue (pr.yml runs on merge_group)")
    if queue is not None:
        # HEADGREEN checks only the group's head: one PR's approvals would pass the whole group.
        return _missing(
            item,
            f"ruleset {queue.name!r}: the merge queue checks only the head of a group ({queue.queue_grouping})",
            "merge queue → Only merge non-failing pull requests (grouping ALLGREEN)",
        )
    strict = next((r for r in active if "required_status_checks" in r.rules and r.strict_checks), None)
    if strict is not None:
        return _ok(item, f"ruleset {strict.name!r}: branches must be up to date before merging")
    return _missing(
        item,
        "a pull request can merge on checks that judged an older main (e.g. before a quarantine)",
        "ruleset 'main: review' → Require merge queue, or Require status checks → "
        "Require branches to be up to date before merging",
    )


def _bypass(review: list[Ruleset]) -> Check:
    item = "bypass: only the GitHub App"
    if not review:
        return _missing(item, "no review ruleset to bypass", "create the review ruleset first")
    bypass = review[0].bypass
    apps = [b for b in bypass if b.actor_type == "Integration" and b.mode == "always"]
    others = [b for b in bypass if b.actor_type != "Integration"]
    if not apps:
        return _missing(
            item,
            f"ruleset {review[0].name!r} has no GitHub App bypassing it: a rollback cannot land on main",
            "Bypass list → Add bypass → the App (MODELOPS_APP_CLIENT_ID), Always",
        )
    if others:
        return _missing(
            item,
            "also bypassing: " + ", ".join(b.actor_type for b in others),
            "remove everyone but the App from the bypass list",
        )
    return _ok(item, f"ruleset {review[0].name!r}")


def _environments(setup: RepositorySetup, expect: Expectations) -> list[Check]:
    checks = []
    for name in expect.secrets:
        env = setup.environments.get(name)
        item = f"environment {name}"
        if env is None:
            checks.append(_missing(item, "does not exist", "Settings → Environments → New environment"))
            continue
        problems = []
        if not env.main_only:
            problems.append("deployable from any branch")
        if name in expect.reviewed_environments:
            if not env.reviewers:
                problems.append("no required reviewers")
            elif not env.prevent_self_review:
                problems.append("self-review allowed")
        if problems:
            checks.append(
                _missing(
                    item,
                    ", ".join(problems),
                    "Deployment branches: main only"
                    + (
                        "; Required reviewers, Prevent self-review"
                        if name in expect.reviewed_environments
                        else ""
                    ),
                )
            )
        else:
            who = f"; reviewers {', '.join(env.reviewers)}" if env.reviewers else ""
            checks.append(_ok(item, f"main only{who}"))
    return checks


def _variables(setup: RepositorySetup, expect: Expectations) -> list[Check]:
    checks = []
    for name in (*expect.variables, *expect.optional_variables):
        required = name in expect.variables
        if name in setup.variables:
            checks.append(_ok(f"variable {name}"))
        else:
            checks.append(
                _missing(
                    f"variable {name}",
                    "not set" + ("" if required else " (optional)"),
                    "Settings → Secrets and variables → Actions → Variables (docs/github.md says what)",
                    required=required,
                )
            )
    return checks


def _secrets(setup: RepositorySetup, expect: Expectations) -> list[Check]:
    checks = []
    for env_name, names in expect.secrets.items():
        env = setup.environments.get(env_name)
        for name in names:
            required = name not in expect.optional_secrets
            item = f"secret {name} in {env_name}"
            if env is not None and name in env.secrets:
                checks.append(_ok(item))
            else:
                checks.append(
                    _missing(
                        item,
                        "not set" + ("" if required else " (optional)"),
                        f"Settings → Environments → {env_name} → Add environment secret",
                        required=required,
                    )
                )
    return checks


def diagnose(setup: RepositorySetup, expect: Expectations) -> list[Check]:
    checks = [
        _permissions(
            "GitHub App installed",
            setup.app,
            APP_PERMISSIONS,
            "pass --app-key FILE with MODELOPS_APP_CLIENT_ID to check the installation and its permissions",
            required=True,
        ),
        *_rulesets(setup, expect),
    ]
    if setup.allow_auto_merge:
        checks.append(_ok("auto-merge allowed"))
    else:
        checks.append(
            _missing(
                "auto-merge allowed",
                "off: staging promotions wait for a person",
                "Settings → General → Pull Requests → Allow auto-merge",
                required=expect.auto_merge_needed,
            )
        )
    checks += _environments(setup, expect)
    checks += _variables(setup, expect)
    checks += _secrets(setup, expect)
    if setup.codeowner_errors:
        checks += [
            _missing("CODEOWNERS", error, "name a user or team that exists and can write here")
            for error in setup.codeowner_errors
        ]
    else:
        checks.append(_ok("CODEOWNERS", "every owner exists"))
    mode = setup.relay_mode
    checks.append(
        _permissions(
            f"relay may dispatch ({'repository' if mode == 'repository' else 'workflow'}_dispatch)",
            setup.relay,
            RELAY_PERMISSIONS.get(mode, RELAY_PERMISSIONS["repository"]),
            "pass --relay-client-id ID --relay-key FILE (the relay's App) to check it",
            required=True,
        )
    )
    return checks
