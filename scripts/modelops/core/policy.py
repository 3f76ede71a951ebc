"""The promotion policy: may this pull request's change to models.yaml merge?

Pure: the caller gathers the facts (the desired state before and after, who approved, the labels,
and the registry tags of the Versions the change starts serving) and gets back one PolicyDecision per rule
and change. Every denial names its rule and the fix. policies/promotion.md describes the rules;
policies/promotion.yaml holds their settings (`PolicyConfig.from_mapping`).

Only protected Environments (production by default) are judged. A rollback (the pin back to the
previous Version with the Version it left quarantined, or a dropped canary whose Version is
quarantined) is always allowed: it restores what served before and must never wait for a review.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelops.core import lineage
from modelops.core.diff import EnvChange, diff_states
from modelops.core.forge import PullRequest
from modelops.core.freeze import FreezeWindow, frozen_for, parse_windows
from modelops.core.notifications import NotificationSettings
from modelops.core.pipeline import stage
from modelops.core.state import DesiredState, Model
from modelops.core.verification import verify_upstream
from modelops.errors import BadInput

POLICY_FILE = Path("policies") / "promotion.yaml"

DEFAULT_REQUIRED_TAGS: Mapping[str, str | None] = {
    lineage.EVAL_PASSED: "true",
    lineage.GIT_COMMIT: None,
    lineage.EVAL_GOLDEN_MD5: None,
    lineage.DATA_VERSION: None,
}


@dataclass(frozen=True)
class PullRequestFacts:
    """What the forge knows about the pull request: approvals are reviewer logins with an approving review."""

    number: int | None
    labels: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()
    author: str = ""

    @classmethod
    def of(cls, pr: PullRequest) -> PullRequestFacts:
        """The facts the policy reads from a forge's pull request."""
        return cls(number=pr.number, labels=pr.labels, approvals=pr.approvals, author=pr.author)


@dataclass(frozen=True)
class PolicyConfig:
    protected_environments: tuple[str, ...] = ("production",)
    # Tag → required value (None: present, non-empty and not "unknown").
    required_tags: Mapping[str, str | None] = field(default_factory=lambda: dict(DEFAULT_REQUIRED_TAGS))
    owner_approvals: int = 1
    override_label: str = "override"
    override_extra_approvals: int = 1
    multi_model_label: str = "multi-model"
    max_models_per_pr: int = 1
    max_canary_traffic: int = 50
    # Spans in which promotions are denied (rollbacks and drills never are): core/freeze.py.
    freeze_windows: tuple[FreezeWindow, ...] = ()
    # Which event goes to which channel: core/notifications.py.
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    @classmethod
    def load(cls, repo: Path) -> PolicyConfig:
        """The repository's policies/promotion.yaml; the defaults when there is none."""
        path = repo / POLICY_FILE
        if not path.is_file():
            return cls()
        import yaml

        try:
            raw = yaml.safe_load(path.read_text("utf-8")) or {}
        except yaml.YAMLError as exc:
            raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise BadInput(f"{path}: expected a mapping of settings")
        return cls.from_mapping(raw, source=str(POLICY_FILE))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "policies/promotion.yaml") -> PolicyConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise BadInput(f"{source}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
        defaults = cls()
        try:
            return cls(
                protected_environments=tuple(
                    str(e) for e in raw.get("protected_environments", defaults.protected_environments)
                ),
                required_tags={
                    str(k): None if v is None else str(v)
                    for k, v in dict(raw.get("required_tags", defaults.required_tags)).items()
                },
                owner_approvals=int(raw.get("owner_approvals", defaults.owner_approvals)),
                override_label=str(raw.get("override_label", defaults.override_label)),
                override_extra_approvals=int(
                    raw.get("override_extra_approvals", defaults.override_extra_approvals)
                ),
                multi_model_label=str(raw.get("multi_model_label", defaults.multi_model_label)),
                max_models_per_pr=int(raw.get("max_models_per_pr", defaults.max_models_per_pr)),
                max_canary_traffic=int(raw.get("max_canary_traffic", defaults.max_canary_traffic)),
                freeze_windows=parse_windows(raw.get("freeze_windows"), source),
                notifications=NotificationSettings.from_mapping(raw.get("notifications"), source),
            )
        except (TypeError, ValueError) as exc:
            raise BadInput(f"{source}: {exc}") from None


@dataclass(frozen=True)
class PolicyDecision:
    rule: str
    passed: bool
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "passed": self.passed, "message": self.message, "fix": self.fix}

    def render(self) -> str:
        mark = "ok  " if self.passed else "DENY"
        text = f"{mark} {self.rule}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix and not self.passed else text


@dataclass(frozen=True)
class PolicyResult:
    decisions: tuple[PolicyDecision, ...]

    @property
    def allowed(self) -> bool:
        return all(d.passed for d in self.decisions)

    @property
    def denials(self) -> tuple[PolicyDecision, ...]:
        return tuple(d for d in self.decisions if not d.passed)

    def as_dict(self) -> dict[str, object]:
        return {"allowed": self.allowed, "decisions": [d.as_dict() for d in self.decisions]}


VersionTags = Callable[[str, int], Mapping[str, str]] | Mapping[tuple[str, int], Mapping[str, str]]


def protected_changes(base: DesiredState, head: DesiredState, config: PolicyConfig) -> list[EnvChange]:
    return [c for c in diff_states(base, head) if c.env in config.protected_environments]


def pipeline_rules(
    base: DesiredState, head: DesiredState, config: PolicyConfig, now: datetime, overridden: bool
) -> list[PolicyDecision]:
    """Freeze windows and verified upstream, for every Environment (protected or not)."""
    decisions: list[PolicyDecision] = []
    for change in diff_states(base, head):
        if change.kind == "rollback" or not change.introduced_versions:
            continue
        where = f"{change.model}/{change.env}"
        frozen = frozen_for(config.freeze_windows, change.env, config.protected_environments, now)
        if frozen is not None:
            window, _, end = frozen
            decisions.append(
                PolicyDecision(
                    "freeze",
                    False,
                    f"{where}: promotions are frozen by window {window.name!r} until "
                    f"{end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
                    + (f" ({window.reason})" if window.reason else ""),
                    "wait for the window to end; rollbacks and drills are not frozen",
                )
            )
        model = base.models.get(change.model)
        if model is None or change.env not in model.environments:
            continue
        for version in change.introduced_versions:
            proof = verify_upstream(model, change.env, version, now)
            if not proof.required:
                continue
            decisions.append(
                PolicyDecision(
                    "verified-upstream",
                    proof.passed or overridden,
                    f"{where}: {proof.message}"
                    + ("; skipped under the override label" if overridden and not proof.passed else ""),
                    f"let v{version} soak in {proof.upstream} first, or label the PR `{config.override_label}` and get "
                    f"{config.owner_approvals + config.override_extra_approvals} owner approvals",
                )
            )
    return decisions


def tags_needed(
    base: DesiredState, head: DesiredState, config: PolicyConfig = PolicyConfig()
) -> list[tuple[str, int]]:
    """(registered model, Version) pairs whose tags the evaluation will read: fetch these, nothing else."""
    needed: dict[tuple[str, int], None] = {}
    for change in protected_changes(base, head, config):
        model = head.models.get(change.model)
        if model is None:
            continue
        for version in change.introduced_versions:
            needed[(model.registered_model, version)] = None
    return list(needed)


def _lookup(version_tags: VersionTags, registered: str, version: int) -> Mapping[str, str]:
    if isinstance(version_tags, Mapping):
        return version_tags.get((registered, version), {})
    return version_tags(registered, version)


def _who(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names) if names else "nobody"


def _pr(facts: PullRequestFacts) -> str:
    return f"PR #{facts.number}" if facts.number is not None else "the pull request"


def _owner_approvers(model: Model, facts: PullRequestFacts) -> list[str]:
    """Owners who approved; the author's own approval never counts."""
    approvers = {a.lower() for a in facts.approvals if a.lower() != facts.author.lower()}
    return [o for o in model.owners if o.lower() in approvers]


def evaluate_promotion(
    base: DesiredState,
    head: DesiredState,
    facts: PullRequestFacts,
    version_tags: VersionTags,
    config: PolicyConfig = PolicyConfig(),
    now: datetime | None = None,
) -> PolicyResult:
    changes = protected_changes(base, head, config)
    labels = {label.lower() for label in facts.labels}
    overridden = config.override_label.lower() in labels
    pipeline = pipeline_rules(base, head, config, now or datetime.now(UTC), overridden)
    if not changes:
        envs = "/".join(config.protected_environments)
        scope = PolicyDecision("scope", True, f"no {envs} pin, canary or quarantine changed")
        return PolicyResult((scope, *pipeline))
    decisions: list[PolicyDecision] = list(pipeline)
    reviewed_models: dict[str, Model] = {}
    for change in changes:
        where = f"{change.model}/{change.env}"
        if change.kind == "rollback":
            decisions.append(
                PolicyDecision("rollback", True, f"{change.describe()}: a rollback is allowed without review")
            )
            continue
        model = head.models.get(change.model) or base.models[change.model]
        reviewed_models[model.name] = model
        decisions.extend(_version_rules(change, model, base, head, version_tags, config, overridden))
        decisions.extend(_canary_rules(change, model, where, config))
    for model in reviewed_models.values():
        decisions.extend(_approval_rules(model, facts, config, overridden))
    decisions.append(_one_model_rule(list(reviewed_models), labels, config))
    return PolicyResult(tuple(decisions))


def _version_rules(
    change: EnvChange,
    model: Model,
    base: DesiredState,
    head: DesiredState,
    version_tags: VersionTags,
    config: PolicyConfig,
    overridden: bool,
) -> list[PolicyDecision]:
    where = f"{change.model}/{change.env}"
    decisions: list[PolicyDecision] = []
    quarantined: set[int] = set(model.quarantined_anywhere())
    if change.model in base.models:
        quarantined |= base.models[change.model].quarantined_anywhere()
    for version in change.introduced_versions:
        tags = _lookup(version_tags, model.registered_model, version)
        problems = []
        for key, wanted in config.required_tags.items():
            value = tags.get(key)
            if not value or value == lineage.UNKNOWN:
                problems.append(f"{key} missing")
            elif wanted is not None and value.lower() != wanted.lower():
                problems.append(f"{key}={value} (needs {wanted})")
        if problems:
            decisions.append(
                PolicyDecision(
                    "lineage",
                    False,
                    f"{where}: {model.registered_model} v{version} lacks evaluation evidence: {'; '.join(problems)}",
                    f"run `modelops evaluate --model {model.name} --candidate {version}` and propose a version "
                    "that passed the gate (its tags record eval.passed, git_commit, eval.golden_md5, data_version)",
                )
            )
        else:
            decisions.append(
                PolicyDecision("lineage", True, f"{where}: v{version} passed evaluation with lineage tags")
            )
        if version in quarantined:
            decisions.append(
                PolicyDecision(
                    "not-quarantined",
                    overridden,
                    f"{where}: v{version} is quarantined (rolled back before)"
                    + ("; brought back under the override label" if overridden else ""),
                    f"propose another version, or label the PR `{config.override_label}` and get "
                    f"{config.owner_approvals + config.override_extra_approvals} owner approvals",
                )
            )
        else:
            decisions.append(
                PolicyDecision("not-quarantined", True, f"{where}: v{version} is not quarantined")
            )
    return decisions


def _canary_rules(change: EnvChange, model: Model, where: str, config: PolicyConfig) -> list[PolicyDecision]:
    decisions: list[PolicyDecision] = []
    after, before = change.after, change.before
    if after is not None and after.canary is not None:
        traffic = after.canary.traffic
        decisions.append(
            PolicyDecision(
                "canary-limit",
                traffic <= config.max_canary_traffic,
                f"{where}: canary v{after.canary.version} takes {traffic}% (limit {config.max_canary_traffic}%)",
                f"keep the canary at or below {config.max_canary_traffic}%, then pin the version at 100%",
            )
        )
    env = model.environments.get(change.env)
    steps = stage(model, env).canary_steps if env is not None else model.canary_steps
    if change.kind == "promote" and steps and after is not None and after.version is not None:
        version = after.version
        had_canary = before is not None and before.canary is not None and before.canary.version == version
        first_pin = before is None or before.version is None
        if had_canary or first_pin:
            why = "was the canary" if had_canary else "is the first pin (nothing to canary against)"
            decisions.append(PolicyDecision("canary-first", True, f"{where}: v{version} {why}"))
        else:
            decisions.append(
                PolicyDecision(
                    "canary-first",
                    False,
                    f"{where}: v{version} goes to 100% without a canary step (canary_steps {list(steps)})",
                    f"first merge a canary: `modelops propose --model {model.name} --version {version} "
                    f"--env {change.env} --traffic {steps[0]}`, then pin it at 100%",
                )
            )
    return decisions


def _approval_rules(
    model: Model, facts: PullRequestFacts, config: PolicyConfig, overridden: bool
) -> list[PolicyDecision]:
    approvers = _owner_approvers(model, facts)
    decisions = [
        PolicyDecision(
            "owner-approval",
            len(approvers) >= config.owner_approvals,
            f"{model.name}: approved by owner(s) {_who(approvers)} (owners: {_who(list(model.owners))}; "
            f"{config.owner_approvals} needed)",
            f"ask {' or '.join(o for o in model.owners if o != facts.author) or 'another owner'} to approve "
            f"{_pr(facts)} (the author's own approval does not count)",
        )
    ]
    if overridden:
        needed = config.owner_approvals + config.override_extra_approvals
        decisions.append(
            PolicyDecision(
                "override",
                len(approvers) >= needed,
                f"{model.name}: labelled `{config.override_label}`, {len(approvers)} of {needed} owner approvals",
                f"an override needs {needed} approvals from distinct owners ({_who(list(model.owners))}), "
                f"or remove the `{config.override_label}` label",
            )
        )
    return decisions


def _one_model_rule(models: list[str], labels: set[str], config: PolicyConfig) -> PolicyDecision:
    if len(models) <= config.max_models_per_pr:
        return PolicyDecision("one-model", True, f"{len(models)} model(s) changed in protected environments")
    allowed = config.multi_model_label.lower() in labels
    return PolicyDecision(
        "one-model",
        allowed,
        f"{len(models)} models changed in protected environments ({', '.join(models)})"
        + (f"; labelled `{config.multi_model_label}`" if allowed else ""),
        f"split the pull request per model, or label it `{config.multi_model_label}`",
    )
