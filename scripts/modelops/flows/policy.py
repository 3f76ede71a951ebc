"""`modelops policy check`: judge the models.yaml change between a base ref and the working tree.

Facts come from three places: the two desired states (git), the pull request (a `facts_provider`,
e.g. the forge; or the explicit `--approvals/--labels/--author` flags) and the registry tags of the
Versions the change starts serving (MLflow, read only for those Versions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from modelops.context import Context
from modelops.core.policy import PolicyConfig, PolicyResult, PullRequestFacts, evaluate_promotion, tags_needed
from modelops.errors import BadInput
from modelops.flows.changes import state_at, working_state

POLICY_FILE = Path("policies") / "promotion.yaml"

FactsProvider = Callable[[int | None], PullRequestFacts]


def load_config(repo: Path) -> PolicyConfig:
    path = repo / POLICY_FILE
    if not path.is_file():
        return PolicyConfig()
    import yaml

    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: expected a mapping of settings")
    return PolicyConfig.from_mapping(raw, source=str(POLICY_FILE))


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
        from modelops.flows.propose import forge_for

        pr = forge_for(ctx).get(number)
        return PullRequestFacts(number=pr.number, labels=pr.labels, approvals=pr.approvals, author=pr.author)

    return provide


def check_policy(
    ctx: Context,
    base_ref: str,
    *,
    pr: int | None = None,
    facts: PullRequestFacts | None = None,
    facts_provider: FactsProvider | None = None,
) -> PolicyResult:
    base = state_at(ctx, base_ref)
    head = working_state(ctx)
    config = load_config(ctx.repo)
    if facts is None:
        facts = facts_provider(pr) if facts_provider is not None else PullRequestFacts(number=pr)
    tags = registry_tags(ctx, tags_needed(base, head, config))
    return evaluate_promotion(base, head, facts, tags, config)
