"""What the relay does with an incident it has claimed: roll back, or ask for a retrain.

A Dispatcher answers with an Outcome (dispatched, or refused for good) or raises ExternalError, which
the relay records as failed and answers with a 5xx so Alertmanager delivers again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from modelops.adapters.incidents import State
from modelops.core.incident import Incident
from modelops.core.rollback import NotServing
from modelops.core.state import DesiredState
from modelops.errors import BadInput, Denied, ExternalError, ModelOpsError

if TYPE_CHECKING:
    from modelops.adapters.github_dispatch import GitHubDispatch
    from modelops.context import Context


@dataclass(frozen=True)
class Outcome:
    state: State
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
        from modelops.context import MODELS_FILE
        from modelops.core.document import ModelsDocument

        try:
            git = Git(self.ctx.repo)
            tip = git.fetch_tip("main")
            if tip is None:
                return None
            return ModelsDocument(git.show(tip, MODELS_FILE), filename=f"origin/main:{MODELS_FILE}").state()
        except ModelOpsError:
            return None

    def rollback(self, incident: Incident) -> Outcome:
        if self.github is not None:
            with self._serial:
                target = self.github.dispatch(incident)
            return Outcome(State.DISPATCHED, f"dispatched to {target}", target)
        try:
            from modelops.flows.rollback import rollback
        except ImportError as exc:
            raise ExternalError(f"the rollback flow is not available in this installation ({exc})") from None
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
            return Outcome(State.REFUSED, str(exc))
        except (Denied, BadInput) as exc:
            # Nothing safe to fall back to yet, or models.yaml broken on main: a human can fix either,
            # so the next re-send decides again.
            return Outcome(State.DEFERRED, str(exc))
        if result.already_done:
            return Outcome(State.DISPATCHED, "already rolled back", result.commit)
        return Outcome(
            State.DISPATCHED, f"rolled back v{result.from_version} -> v{result.to_version}", result.commit
        )

    def retrain(self, incident: Incident) -> Outcome:
        try:
            from modelops.flows.retrain import github_dispatch, ledger_for, request_retrain
        except ImportError as exc:
            raise ExternalError(f"the retrain flow is not available in this installation ({exc})") from None
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
                    ledger=ledger_for(self.ctx, self.ledger_dir if self.github is not None else None),
                )
        except (Denied, BadInput) as exc:
            return Outcome(State.REFUSED, str(exc))
        # A RetrainDecision: action go | skip | ... (debounced), why, and what was launched if anything.
        action = getattr(result, "action", None) or getattr(result, "decision", "decided")
        why = getattr(result, "reason", "")
        return Outcome(
            State.DISPATCHED,
            f"retrain {action}" + (f": {why}" if why else ""),
            getattr(result, "handle", None),
        )

    def analyze(self, incident: Incident) -> Outcome:
        """The canary analysis of the alerted environment: here, or analyze.yml on GitHub."""
        if self.github is not None:
            with self._serial:
                target = self.github.send("analyze", "analyze.yml", {})
            return Outcome(State.DISPATCHED, f"dispatched to {target}", target)
        from modelops.flows.analyze import analyze

        try:
            with self._serial:
                result = analyze(self.ctx, incident.model, incident.env)
        except (Denied, BadInput) as exc:
            return Outcome(State.REFUSED, str(exc))  # e.g. the canary is gone already
        return Outcome(
            State.DISPATCHED,
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
    import importlib

    for module in (
        "modelops.flows.rollback",
        "modelops.flows.sync_registry",
        "modelops.flows.render",
        "mlflow",
    ):
        try:
            importlib.import_module(module)
        except Exception:  # a missing optional piece shows up, with its reason, at dispatch time
            return
