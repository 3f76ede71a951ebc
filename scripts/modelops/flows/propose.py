"""`modelops propose`: a Promotion becomes a pull request that bumps models.yaml and the overlays.

The branch is deterministic (promote/<model>/<env>/v<version>), so proposing the same version twice
updates one PR; an open PR for an older version of the same model and environment is closed with a
comment that links its successor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.adapters.git import Git
from modelops.context import MODELS_FILE, Context
from modelops.core.clock import utc_stamp
from modelops.core.document import ModelsDocument
from modelops.core.forge import AutoMergeUnavailable, Forge, PullRequest, auto_merge_blocker
from modelops.core.pipeline import stage
from modelops.core.promotion import (
    PromotionPlan,
    check_evaluation,
    commit_message,
    plan_promotion,
    pr_body,
)
from modelops.errors import BadInput, Denied, ModelOpsError
from modelops.files import write_atomically

if TYPE_CHECKING:
    from modelops.core.policy import PolicyResult
    from modelops.core.state import Model
    from modelops.core.verification import Verification
from modelops.flows.rollback import actor


@dataclass
class ProposeResult:
    pr: int
    url: str
    branch: str
    created: bool
    title: str
    traffic: int
    superseded: list[int] = field(default_factory=list)
    auto_merge: bool = False
    auto_merge_skipped: str | None = None  # why the PR waits for a person instead
    merged: bool = False
    merge_commit: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def forge_for(ctx: Context) -> Forge:
    if ctx.forge_kind == "local" and ctx.local_forge_dir is not None:
        from modelops.adapters.local_forge import LocalForge

        return LocalForge(ctx.local_forge_dir, ctx.repo, author=actor())
    if ctx.forge_kind == "github":
        from modelops.adapters.github_forge import GitHubForge

        return GitHubForge.from_env(ctx.env)
    raise BadInput("no forge configured: run inside a sandbox, or set GITHUB_TOKEN and GITHUB_REPOSITORY")


def _evidence(ctx: Context, plan: PromotionPlan, run_id: str | None, evidence_dir: Path | None) -> str | None:
    if evidence_dir is not None:
        report = evidence_dir / "report.md"
        if not report.is_file():
            raise BadInput(
                f"{report}: no evaluation report there (run modelops evaluate --out {evidence_dir})"
            )
        return report.read_text("utf-8")
    if run_id is None:
        return None
    from modelops.adapters.registry import Registry

    try:
        return Registry.for_context(ctx).download_text(run_id, f"evaluation/{plan.env}/report.md")
    except ModelOpsError:
        return None


def _full_report(ctx: Context, registry: Any, run_id: str | None) -> str | None:
    """Where a reviewer finds everything: the Actions run (its evidence artifact), else the MLflow run."""
    env = ctx.env
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']} (the run's evidence artifact)"
    url = registry.run_url(run_id) if run_id else None
    return str(url) if url and str(url).startswith(("http://", "https://")) else None


def propose(
    ctx: Context,
    model_name: str,
    version: int,
    env: str,
    *,
    traffic: int | None = None,
    override_reason: str | None = None,
    evidence_dir: Path | None = None,
    by: str | None = None,
    merge_check: bool = True,
) -> ProposeResult:
    from modelops.adapters.registry import Registry

    by = by or actor()
    git = Git(ctx.repo)
    # Decide against main as origin has it, not a possibly stale checkout.
    base_doc = ModelsDocument(git.show(_origin_main(git), MODELS_FILE), filename=f"origin/main:{MODELS_FILE}")
    model = base_doc.state().model(model_name)
    plan = plan_promotion(model, model.env(env), version, traffic, override_reason)

    proof = _pipeline_checks(ctx, model, env, version, override_reason)

    registry = Registry.for_context(ctx)
    info = registry.require_version(model.registered_model, version)
    problem = check_evaluation(info.tags, plan)
    if problem and not override_reason:
        raise Denied(f"{problem}; a human may pass --override-reason to propose anyway")

    lineage = {
        "MLflow version": f"[{model.registered_model} v{version}]({registry.version_url(model.registered_model, version)})",
        "MLflow run": f"[{info.run_id}]({registry.run_url(info.run_id)})" if info.run_id else "unknown",
        "git commit (training)": info.tags.get("git_commit", "unknown"),
        "golden md5": info.tags.get("eval.golden_md5") or info.tags.get("data.golden_md5", "unknown"),
        "evaluated against": f"v{info.tags['eval.champion_version']}"
        if info.tags.get("eval.champion_version") not in (None, "", "none")
        else "no champion",
        "eval.passed": info.tags.get("eval.passed", "missing"),
    }
    body = pr_body(
        plan,
        report_markdown=_evidence(ctx, plan, info.run_id, evidence_dir),
        lineage=lineage,
        owners=model.owners,
        full_report=_full_report(ctx, registry, info.run_id),
    )
    if proof.required:
        body += f"\n### Verified upstream\n\n{proof.markdown()}\n"

    def change(worktree: Path) -> str | None:
        from modelops.flows.render import render

        doc = ModelsDocument.load(worktree / MODELS_FILE, shown_as=f"origin/main:{MODELS_FILE}")
        doc.check_round_trip()
        reason = override_reason or "evaluation passed"
        overriding = bool(override_reason) and version in model.quarantined_anywhere()
        if plan.is_canary:
            doc.start_canary(
                model_name,
                env,
                version,
                plan.traffic,
                at=utc_stamp(),
                by=by,
                reason=reason,
                run_id=info.run_id,
                override=overriding,
            )
        else:
            doc.promote(
                model_name,
                env,
                version,
                at=utc_stamp(),
                by=by,
                reason=reason,
                run_id=info.run_id,
                override=overriding,
            )
        write_atomically(worktree / MODELS_FILE, doc.dump())
        render(Context(repo=worktree))
        return commit_message(plan, by)

    git.land(plan.branch, change, force=True)
    forge = forge_for(ctx)
    existing = forge.find_open(plan.branch)
    if existing is not None:
        pr = forge.update(existing.number, title=plan.title, body=body, labels=plan.labels)
    else:
        pr = forge.open(
            head=plan.branch,
            base="main",
            title=plan.title,
            body=body,
            labels=plan.labels,
            reviewers=[o for o in model.owners if o != by],
        )
    result = ProposeResult(
        pr=pr.number,
        url=pr.url,
        branch=plan.branch,
        created=existing is None,
        title=plan.title,
        traffic=plan.traffic,
    )
    result.superseded = _close_superseded(forge, plan, pr)
    if stage(model, model.env(env)).auto_promote and not override_reason:
        # The PR is open whatever happens here: a forge that will not auto-merge leaves it to a person
        # (exit 0, with the reason), rather than failing a proposal that was made.
        result.auto_merge_skipped = auto_merge_blocker(pr)
        if result.auto_merge_skipped is None:
            try:
                forge.enable_auto_merge(pr.number)
                result.auto_merge = True
            except AutoMergeUnavailable as exc:
                result.auto_merge_skipped = str(exc)
        if (
            result.auto_merge and ctx.forge_kind == "local"
        ):  # the local forge has no background merger: merge now if policy allows
            merged = merge_pull_request(ctx, pr.number, by="auto-merge", check=merge_check)
            result.merged, result.merge_commit = True, merged.merge_commit
    return result


def _pipeline_checks(
    ctx: Context, model: Model, env: str, version: int, override_reason: str | None
) -> Verification:
    """Refuse before any branch exists: a freeze window, or a Version that has not soaked upstream."""
    from datetime import UTC, datetime

    from modelops.core.freeze import frozen_for
    from modelops.core.verification import verify_upstream
    from modelops.flows.policy import load_config

    now = datetime.now(UTC)
    config = load_config(ctx.repo)
    frozen = frozen_for(config.freeze_windows, env, config.protected_environments, now)
    if frozen is not None:
        window, _, end = frozen
        raise Denied(
            f"promotions are frozen by window {window.name!r} until {end.strftime('%Y-%m-%dT%H:%M:%SZ')}; "
            "rollbacks and drills are not"
        )
    proof = verify_upstream(model, env, version, now)
    if proof.required and not proof.passed and not override_reason:
        raise Denied(f"{model.name} → {env}: {proof.message}; a human may pass --override-reason")
    return proof


def _origin_main(git: Git) -> str:
    tip = git.fetch_tip("main")
    if tip is None:
        raise BadInput("origin has no main branch")
    return tip


def _close_superseded(forge: Forge, plan: PromotionPlan, successor: PullRequest) -> list[int]:
    closed = []
    prefix = f"promote/{plan.model}/{plan.env}/"
    for other in forge.list("open"):
        if other.head.startswith(prefix) and other.number != successor.number:
            forge.close(
                other.number, f"Superseded by #{successor.number}: {successor.title} ({successor.url})"
            )
            closed.append(other.number)
    return closed


def merge_pull_request(ctx: Context, number: int, *, by: str, check: bool = True) -> PullRequest:
    """Merge a local-forge PR, refusing as branch protection would when the policy says no."""
    from modelops.adapters.local_forge import LocalForge

    forge = forge_for(ctx)
    if not isinstance(forge, LocalForge):
        raise BadInput("merging from the command line is for the local forge; on GitHub, merge the PR there")

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


def check_merge_result(ctx: Context, pr: PullRequest, merged: Path) -> PolicyResult:
    """The promotion policy on a merge about to land: the base as it is now against the merge result.

    A version quarantined on main after the PR was approved (a rollback elsewhere) is then refused."""
    from modelops.core.policy import PullRequestFacts, evaluate_promotion, tags_needed
    from modelops.flows.changes import state_at
    from modelops.flows.policy import load_config, registry_tags

    git = Git(ctx.repo)
    base_tip = git.run("rev-parse", "HEAD^1", cwd=merged)
    base = state_at(ctx, base_tip)
    head = ModelsDocument(
        (merged / MODELS_FILE).read_text("utf-8"),
        filename=f"#{pr.number} merged into {pr.base}:{MODELS_FILE}",
    ).state()
    config = load_config(ctx.repo)  # the policy as the checkout has it, never as the PR rewrites it
    facts = PullRequestFacts(number=pr.number, labels=pr.labels, approvals=pr.approvals, author=pr.author)
    return evaluate_promotion(base, head, facts, registry_tags(ctx, tags_needed(base, head, config)), config)


def check_pull_request(ctx: Context, pr: PullRequest) -> PolicyResult:
    """The promotion policy on what the PR changes: its head against its merge base with the base branch."""
    from modelops.core.policy import PullRequestFacts, evaluate_promotion, tags_needed
    from modelops.flows.changes import state_at
    from modelops.flows.policy import load_config, registry_tags

    git = Git(ctx.repo)
    base_tip, head_tip = git.fetch_tip(pr.base), git.fetch_tip(pr.head)
    if base_tip is None or head_tip is None:
        raise BadInput(f"#{pr.number}: branch {pr.base if base_tip is None else pr.head} is not on origin")
    merge_base = git.run("merge-base", base_tip, head_tip)
    base, head = state_at(ctx, merge_base), state_at(ctx, head_tip)
    config = load_config(ctx.repo)
    facts = PullRequestFacts(number=pr.number, labels=pr.labels, approvals=pr.approvals, author=pr.author)
    return evaluate_promotion(base, head, facts, registry_tags(ctx, tags_needed(base, head, config)), config)
