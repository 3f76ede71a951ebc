"""`modelops rollback`: a commit on main that returns an environment to its previous version.

A rollback is pre-approved: it lands directly on main (fetch, re-apply, bounded retry), quarantines the
bad version, re-renders the overlays, then asks the registry to follow. If MLflow is down the commit
still lands and `sync-registry` catches up later. It is idempotent per incident: the incident id is
recorded in the environment's history, and a second request for it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from modelops.adapters.git import Git, Moved, PushRefused
from modelops.adapters.gitread import state_at
from modelops.adapters.notify import Notifier
from modelops.adapters.overlays import render_into
from modelops.context import MODELS_FILE, Context
from modelops.core.clock import utc_stamp
from modelops.core.document import ModelsDocument, edits_commute
from modelops.core.state import DesiredState
from modelops.core.text import single_line
from modelops.errors import ExternalError, ModelOpsError
from modelops.files import write_atomically


@dataclass
class RollbackResult:
    model: str
    env: str
    from_version: int | None
    to_version: int | None
    commit: str | None
    already_done: bool
    incident: str | None
    registry_synced: bool = False
    attempts: int = 0

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["from"] = out.pop("from_version")
        out["to"] = out.pop("to_version")
        return out


def rollback(
    ctx: Context,
    *,
    model: str,
    env: str,
    reason: str,
    incident: str | None = None,
    alertname: str | None = None,
    version: int | None = None,
    by: str | None = None,
    sync_registry: bool = True,
    drill: bool = False,
    details: str | None = None,
) -> RollbackResult:
    """`details` (the canary analysis as Markdown, generated here, not alert text) goes into the
    commit message only, before the trailers."""
    # Every value below reaches the commit message and the history: one line each, so none can write
    # a trailer of its own (the relay passes alert text through; the CLI refuses it outright).
    by = single_line(by or ctx.actor, limit=100)
    reason = single_line(reason)
    incident = single_line(incident, limit=100) if incident else incident
    alertname = single_line(alertname, limit=200) if alertname else alertname
    # Validate against the checkout first, so a bad model or env is exit 2 before anything moves.
    ModelsDocument.load(ctx.models_path).state().model(model).env(env)
    notifier = Notifier(ctx)
    notifier.notify(
        "rollback.started",
        f"rolling back {model} {env}" + (f" (incident {incident})" if incident else "") + f": {reason}",
        model=model,
        env=env,
        incident=incident,
    )
    outcome: dict[str, int] = {}

    def change(worktree: Path) -> str | None:
        doc = ModelsDocument.load(worktree / MODELS_FILE, shown_as=f"origin/main:{MODELS_FILE}")
        doc.check_round_trip()
        plan = doc.rollback(
            model,
            env,
            at=utc_stamp(),
            by=by,
            reason=f"drill: {reason}" if drill else reason,
            ref=incident,
            bad_version=version,
            run_id=None,
            quarantine=not drill,
        )
        if plan is None:
            return None  # this incident's rollback already landed, or the bad version is gone already
        write_atomically(worktree / MODELS_FILE, doc.dump())
        render_into(worktree, doc=doc)
        outcome.update(from_version=plan.from_version, to_version=plan.to_version)
        lines = [
            f"rollback {model} {env}: v{plan.from_version} → v{plan.to_version}",
            "",
            f"Reason: {reason}",
            "Drill: yes (nothing quarantined)" if drill else f"Quarantined: v{plan.from_version}",
        ]
        if incident:
            lines.append(f"Incident: {incident}")
        if alertname:
            lines.append(f"Alert: {alertname}")
        if details:
            lines += ["", details.strip(), ""]
        lines.append(f"Rolled-back-by: {by}")
        return "\n".join(lines) + "\n"

    git = Git(ctx.repo)
    try:
        try:
            landed = git.land("main", change, replay=_StillHolds(git))
        except PushRefused as refused:
            if ctx.forge_kind != "github":
                raise
            url = _rollback_pull_request(
                ctx, git, change, model=model, env=env, incident=incident, reason=reason
            )
            raise ExternalError(
                f"{refused}; opened {url} with the same commit: a person merges it now (its checks start "
                "only when it is closed and reopened, when the workflow's own token opened it). To land "
                "rollbacks by themselves, add the GitHub App to the bypass list of main's review ruleset "
                "(docs/github.md)"
            ) from None
    except ModelOpsError as exc:
        notifier.notify("rollback.failed", f"{model} {env}: {exc}", model=model, env=env, incident=incident)
        raise
    result = RollbackResult(
        model=model,
        env=env,
        from_version=outcome.get("from_version"),
        to_version=outcome.get("to_version"),
        commit=landed.commit,
        already_done=not landed.changed,
        incident=incident,
        attempts=landed.attempts,
    )
    git.fast_forward_checkout("main")
    # Already done: a run killed after its push left the registry behind, and this run finishes it.
    tip = landed.commit if landed.changed else git.fetch_tip("main")
    if tip and sync_registry:
        landed_state = state_at(ctx.repo, tip, label="origin/main")
        result.registry_synced = _follow_in_registry(ctx, landed_state, model, env, notifier)
    notifier.notify(
        "rollback.finished",
        f"{model} {env}: "
        + (
            "already rolled back for this incident"
            if result.already_done
            else f"v{result.from_version} → v{result.to_version} in {(landed.commit or '')[:10]}"
        ),
        commit=landed.commit,
        model=model,
        env=env,
        incident=incident,
    )
    return result


class _StillHolds:
    """Judges a rollback replayed onto a main that moved: kept when the winners changed other models
    only, so their models.yaml edits and ours commute and no other file was changed by both. Our own
    two texts are read once; each retry reads only the new tip and the replayed result."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self.ours: tuple[str, str, str, str] | None = None

    def __call__(self, moved: Moved) -> bool:
        if moved.shared_paths - {MODELS_FILE}:
            return False
        try:
            if self.ours is None or self.ours[:2] != (moved.base, moved.ours):
                base, ours = (self.git.show(ref, MODELS_FILE) for ref in (moved.base, moved.ours))
                self.ours = (moved.base, moved.ours, base, ours)
            tip, result = (self.git.show(ref, MODELS_FILE) for ref in (moved.tip, moved.result))
        except ModelOpsError:
            return False  # models.yaml went away on one side: the re-apply says what is wrong
        return edits_commute(self.ours[2], self.ours[3], tip, result)


def _rollback_pull_request(
    ctx: Context,
    git: Git,
    change: Callable[[Path], str | None],
    *,
    model: str,
    env: str,
    incident: str | None,
    reason: str,
) -> str:
    """The fallback when main refuses the direct commit: the same change as a PR, for a person to merge."""
    from modelops.adapters.github_forge import GitHubForge

    branch = f"rollback/{model}/{env}/{_slug(incident or utc_stamp())}"
    git.land(branch, change, force=True)
    owners = ModelsDocument.load(ctx.models_path).state().model(model).owners
    forge = GitHubForge.from_env(ctx.env)
    title = f"Rollback {model} {env}: merge now"
    body = "\n".join(
        [
            f"## Rollback: {model} in {env}",
            "",
            f"- **Reason:** {reason}",
            f"- **Incident:** {incident or 'none'}",
            "",
            "main's rules refused the direct rollback commit, so it waits here: **merge this now**. The "
            "promotion policy lets exactly this change pass without a review.",
            "",
            "So that rollbacks land by themselves next time, add the GitHub App to the bypass list of "
            "main's review ruleset (docs/github.md, then `modelops doctor github`).",
        ]
    )
    existing = forge.find_open(branch)
    if existing is not None:
        return existing.url
    pr = forge.open(
        head=branch, base="main", title=title, body=body, labels=["rollback"], reviewers=list(owners)
    )
    return pr.url


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:80]


def _follow_in_registry(ctx: Context, state: DesiredState, model: str, env: str, notifier: Notifier) -> bool:
    """Move the aliases now; a registry outage is reported, not fatal: git already says what serves."""
    from modelops.adapters.registry import Registry

    try:
        Registry.for_context(ctx).follow(state, only=(model, env))
        return True
    except ModelOpsError as exc:
        notifier.notify(
            "rollback.registry_pending",
            f"{model} {env}: the commit landed but the registry did not follow ({exc}); "
            "`modelops sync-registry` will catch up",
            model=model,
            env=env,
        )
        return False
