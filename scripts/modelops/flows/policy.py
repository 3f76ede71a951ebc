"""`modelops policy check` and the policy-checked merge: judge a models.yaml change.

Facts come from three places: the two desired states (git), the pull request (a `facts_provider`,
e.g. the forge; or the explicit `--approvals/--labels/--author` flags) and the registry tags of the
Versions the change starts serving (MLflow, read only for those Versions). The same judgement runs on
the working tree against a base ref (`check_policy`) and on a merge result against the base as it is
now (`check_merge_result`, which the local forge's merge obeys as branch protection would).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from modelops.adapters.forges import forge_for, local_forge
from modelops.adapters.git import Git
from modelops.adapters.gitread import state_at
from modelops.context import MODELS_FILE, Context
from modelops.core.document import ModelsDocument
from modelops.core.forge import PullRequest
from modelops.core.policy import PolicyConfig, PolicyResult, PullRequestFacts, evaluate_promotion, tags_needed
from modelops.core.state import DesiredState
from modelops.errors import Denied

FactsProvider = Callable[[int | None], PullRequestFacts]


def registry_tags(ctx: Context, wanted: list[tuple[str, int]]) -> dict[tuple[str, int], Mapping[str, str]]:
    """Tags of each wanted (registered model, Version); a Version the registry lacks has no tags."""
    if not wanted:
        return {}
    from modelops.adapters.registry import Registry

    registry = Registry.for_context(ctx)
    found: dict[tuple[str, int], Mapping[str, str]] = {}
    for name, version in wanted:
        info = registry.version(name, version)
        found[(name, version)] = dict(info.tags) if info is not None else {}
    return found


def explicit_facts(
    pr: int | None, approvals: str | None = None, labels: str | None = None, author: str | None = None
) -> PullRequestFacts:
    """PR facts stated on the command line (comma-separated logins and labels)."""

    def split(value: str | None) -> tuple[str, ...]:
        return tuple(part.strip() for part in (value or "").split(",") if part.strip())

    return PullRequestFacts(
        number=pr, labels=split(labels), approvals=split(approvals), author=(author or "").strip()
    )


def forge_facts_provider(ctx: Context) -> FactsProvider | None:
    """PR facts from the configured forge (the sandbox's local forge, or GitHub); None when there is none."""
    if ctx.forge_kind == "none":
        return None

    def provide(number: int | None) -> PullRequestFacts:
        if number is None:
            return PullRequestFacts(number=None)
        return PullRequestFacts.of(forge_for(ctx).get(number))

    return provide


def _judge(
    ctx: Context, base: DesiredState, head: DesiredState, facts: PullRequestFacts, config: PolicyConfig
) -> PolicyResult:
    return evaluate_promotion(base, head, facts, registry_tags(ctx, tags_needed(base, head, config)), config)


def check_policy(
    ctx: Context,
    base_ref: str,
    *,
    pr: int | None = None,
    facts: PullRequestFacts | None = None,
    facts_provider: FactsProvider | None = None,
) -> PolicyResult:
    base = state_at(ctx.repo, base_ref)
    head = ModelsDocument.load(ctx.models_path).state()
    config = PolicyConfig.load(ctx.repo)
    if facts is None:
        facts = facts_provider(pr) if facts_provider is not None else PullRequestFacts(number=pr)
    return _judge(ctx, base, head, facts, config)


def check_merge_result(ctx: Context, pr: PullRequest, merged: Path) -> PolicyResult:
    """The promotion policy on a merge about to land: the base as it is now against the merge result.

    A version quarantined on main after the PR was approved (a rollback elsewhere) is then refused."""
    base_tip = Git(ctx.repo).run("rev-parse", "HEAD^1", cwd=merged)
    base = state_at(ctx.repo, base_tip)
    head = ModelsDocument(
        (merged / MODELS_FILE).read_text("utf-8"),
        filename=f"#{pr.number} merged into {pr.base}:{MODELS_FILE}",
    ).state()
    # The policy as the checkout has it, never as the PR rewrites it.
    return _judge(ctx, base, head, PullRequestFacts.of(pr), PolicyConfig.load(ctx.repo))


def merge_pull_request(ctx: Context, number: int, *, by: str, check: bool = True) -> PullRequest:
    """Merge a local-forge PR, refusing as branch protection would when the policy says no."""
    forge = local_forge(ctx)

    def policy(pr: PullRequest, merged: Path) -> None:
        result = check_merge_result(ctx, pr, merged)
        if not result.allowed:
            denial = result.denials[0]
            raise Denied(f"#{pr.number} cannot merge: {denial.render()}")

    merged = forge.merge(number, by=by, check=policy if check else None)
    Git(ctx.repo).fast_forward_checkout("main")
    from modelops.adapters.notify import Notifier

    Notifier(ctx).notify(
        "promotion.merged",
        f"#{merged.number} {merged.title} (merged by {by})",
        commit=merged.merge_commit,
        pr=merged.number,
    )
    return merged
