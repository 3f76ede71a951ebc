"""What the relay does with an incident it has claimed: roll back, or ask for a retrain.

A Dispatcher answers with an Outcome (dispatched, or refused for good) or raises ExternalError, which
the relay records as failed and answers with a 5xx so Alertmanager delivers again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from modelops.core.incident import Incident, IncidentState
from modelops.core.rollback import NotServing
from modelops.core.state import DesiredState
from modelops.errors import BadInput, Denied, ModelOpsError

if TYPE_CHECKING:
    from modelops.adapters.github_dispatch import GitHubDispatch
    from modelops.context import Context


@dataclass(frozen=True)
class Outcome:
    state: IncidentState
    detail: str
    ref: str | None = None


class Dispatcher(Protocol):
    name: str

    def desired_state(self) -> DesiredState | None:
        """What origin's main says now, to refuse or defer rollbacks without git work; None: unknown."""
        ...

    def rollback(self, incident: Incident) -> Outcome: ...

    def retrain(self, incident: Incident) -> Outcome: ...

    def analyze(self, incident: Incident) -> Outcome: ...


class FlowDispatcher:
    """Run the use cases in this process (the sandbox, or a repository without GitHub credentials), or
    start their workflows on GitHub.

    The flows commit to the same working clone, so one dispatch runs at a time. With GitHub, the retrain
    ledger lives in `ledger_dir` (the relay's own volume): the repository is a read-only checkout there,
    and the relay's ledger is the only one that outlives a run.
    """

    name = "local"

    def __init__(
        self, ctx: Context, github: GitHubDispatch | None = None, ledger_dir: Path | None = None
    ) -> None:
        self.ctx = ctx
        self.github = github
        self.ledger_dir = ledger_dir
        self._serial = threading.Lock()
        if github is not None:
            self.name = "github"
        else:
            # The first rollback should not pay for importing MLflow: warm the imports while idle.
            threading.Thread(target=_warm_imports, name="modelops-warm-imports", daemon=True).start()

    def desired_state(self) -> DesiredState | None:
        if self.github is not None:
            return None  # the workflow decides on GitHub; the relay's checkout may lag behind
        from modelops.adapters.git import Git
        from modelops.adapters.gitread import state_at

        try:
            tip = Git(self.ctx.repo).fetch_tip("main")
            if tip is None:
                return None
            state = state_at(self.ctx.repo, tip, label="origin/main")
        except ModelOpsError:
            return None
        return state if state.models else None  # no models.yaml on main: the flow says why

    def rollback(self, incident: Incident) -> Outcome:
        if self.github is not None:
            with self._serial:
                target = self.github.dispatch(incident)
            return Outcome(IncidentState.DISPATCHED, f"dispatched to {target}", target)
        from modelops.flows.rollback import rollback

        try:
            with self._serial:
                result = rollback(
                    self.ctx,
                    model=incident.model,
                    env=incident.env,
                    reason=incident.reason,
                    incident=incident.id,
                    alertname=incident.alertname,
                    version=incident.version,
                    by="relay",
                )
        except NotServing as exc:  # the alerted version does not serve: that cannot change
            return Outcome(IncidentState.REFUSED, str(exc))
        except (Denied, BadInput) as exc:
            # Nothing safe to fall back to yet, or models.yaml broken on main: a human can fix either,
            # so the next re-send decides again.
            return Outcome(IncidentState.DEFERRED, str(exc))
        if result.already_done:
            return Outcome(IncidentState.DISPATCHED, "already rolled back", result.commit)
        return Outcome(
            IncidentState.DISPATCHED,
            f"rolled back v{result.from_version} -> v{result.to_version}",
            result.commit,
        )

    def retrain(self, incident: Incident) -> Outcome:
        from modelops.adapters.ledger import Ledger
        from modelops.flows.retrain import github_dispatch, request_retrain

        try:
            with self._serial:
                result = request_retrain(
                    self.ctx,
                    model=incident.model,
                    severity=incident.severity,
                    reason=incident.reason,
                    source="drift",
                    dispatch=github_dispatch(self.ctx, self.github) if self.github is not None else "auto",
                    # On GitHub the relay's own volume; locally the repository's, which the detached
                    # `modelops retrain --run-id` executor reads.
                    ledger=Ledger.for_context(self.ctx, self.ledger_dir if self.github is not None else None),
                )
        except (Denied, BadInput) as exc:
            return Outcome(IncidentState.REFUSED, str(exc))
        # Debounced: go (and what was launched) or skip, and why.
        return Outcome(
            IncidentState.DISPATCHED,
            f"retrain {result.action}" + (f": {result.reason}" if result.reason else ""),
            result.handle,
        )

    def analyze(self, incident: Incident) -> Outcome:
        """The canary analysis of the alerted environment: here, or analyze.yml on GitHub."""
        if self.github is not None:
            with self._serial:
                target = self.github.send("analyze", "analyze.yml", {})
            return Outcome(IncidentState.DISPATCHED, f"dispatched to {target}", target)
        from modelops.flows.chains import analyze

        try:
            with self._serial:
                result = analyze(self.ctx, incident.model, incident.env)
        except (Denied, BadInput) as exc:
            return Outcome(IncidentState.REFUSED, str(exc))  # e.g. the canary is gone already
        return Outcome(
            IncidentState.DISPATCHED,
            f"canary analysis: {result.analysis.verdict} ({result.action})",
            result.detail.get("commit") or result.detail.get("url"),
        )


def dispatcher_for(
    ctx: Context,
    *,
    github_mode: str = "repository",
    github_ref: str | None = None,
    ledger_dir: Path | None = None,
) -> Dispatcher:
    """GitHub when its credentials and GITHUB_REPOSITORY are set outside a sandbox; the flows otherwise."""
    if ctx.forge_kind == "github":
        from modelops.adapters.github_dispatch import GitHubDispatch

        sender = GitHubDispatch.from_env(ctx.env, mode=github_mode, ref=github_ref)
        return FlowDispatcher(ctx, sender, ledger_dir)
    return FlowDispatcher(ctx, ledger_dir=ledger_dir)


def _warm_imports() -> None:
    try:
        import mlflow  # noqa: F401

        import modelops.adapters.registry
        import modelops.flows.rollback  # noqa: F401
    except Exception:  # a missing optional piece shows up, with its reason, at dispatch time
        return
