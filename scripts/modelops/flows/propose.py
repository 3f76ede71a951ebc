"""`modelops propose`: a Promotion becomes a pull request that bumps models.yaml and the overlays.

The branch is deterministic (promote/<model>/<env>/v<version>), so proposing the same version twice
updates one PR; an open PR for an older version of the same model and environment is closed with a
comment that links its successor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.adapters.forges import forge_for
from modelops.adapters.git import Git
from modelops.adapters.gitread import state_at
from modelops.adapters.overlays import render_into
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
    from modelops.core.state import Model
    from modelops.core.verification import Verification


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
) -> ProposeResult:
    """Open (or update) the promotion PR; where the model allows it, ask the forge to auto-merge.

    The local forge has no background merger: `flows/chains.promote` merges its auto-merge PRs.
    """
    from modelops.adapters.registry import Registry

    by = by or ctx.actor
    git = Git(ctx.repo)
    # Decide against main as origin has it, not a possibly stale checkout.
    model = state_at(ctx.repo, _origin_main(git), label="origin/main").model(model_name)
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
        render_into(worktree, doc=doc)
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
        # (exit 0, with the reason), rather than failing a proposal that was made. The local forge has
        # no background merger: flows/chains.promote merges its auto-merge PRs.
        result.auto_merge_skipped = auto_merge_blocker(pr)
        if result.auto_merge_skipped is None:
            try:
                forge.enable_auto_merge(pr.number)
                result.auto_merge = True
            except AutoMergeUnavailable as exc:
                result.auto_merge_skipped = str(exc)
    return result


def _pipeline_checks(
    ctx: Context, model: Model, env: str, version: int, override_reason: str | None
) -> Verification:
    """Refuse before any branch exists: a freeze window, or a Version that has not soaked upstream."""
    from datetime import UTC, datetime

    from modelops.core.freeze import frozen_for
    from modelops.core.policy import PolicyConfig
    from modelops.core.verification import verify_upstream

    now = datetime.now(UTC)
    config = PolicyConfig.load(ctx.repo)
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
