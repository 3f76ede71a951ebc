"""Whether an InferenceService serves what models.yaml asks, judged from what KServe itself reports.

KServe copies `status.observedGeneration` from the Knative Service (Knative mode) or the Deployment
(Standard mode), never from the InferenceService, so it cannot be compared with `metadata.generation`.
What can be read instead (kserve `pkg/apis/serving/v1beta1/inference_service_status.go`):

- the `Ready` condition (it aggregates `PredictorReady` and `IngressReady`) and `Stopped`;
- `modelStatus.transitionStatus`: `BlockedByFailedLoad` or `InvalidSpec` never heal on their own;
- Knative mode only: the predictor's `latestCreatedRevision`, `latestReadyRevision` and `traffic`
  targets. A new spec has been rolled out once the latest created revision is the latest ready one
  and carries the expected share of the traffic.

Deployment modes (names since KServe 0.16): `Knative` runs revisions and splits traffic between them
(`canaryTrafficPercent`); `Standard`, the default of KServe's own install, runs a Deployment and
reports no traffic at all. `Serverless` and `RawDeployment` are KServe's deprecated names for them.
The annotation is always rendered, so the cluster's default mode never decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

KNATIVE = "Knative"
STANDARD = "Standard"
MODES = (KNATIVE, STANDARD)
LEGACY_MODES = {"Serverless": KNATIVE, "RawDeployment": STANDARD}
# The project's canary is Knative's traffic split, so an environment that says nothing gets Knative.
DEFAULT_MODE = KNATIVE
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"

State = Literal["ready", "progressing", "degraded"]
READY: Final[State] = "ready"
PROGRESSING: Final[State] = "progressing"
DEGRADED: Final[State] = "degraded"

# Transition states KServe leaves only when the spec changes.
BLOCKED = ("BlockedByFailedLoad", "InvalidSpec")


def deployment_mode(name: str) -> str:
    """KServe's current name for a deployment mode; ValueError for one KServe does not know."""
    mode = LEGACY_MODES.get(name, name)
    if mode not in MODES:
        known = ", ".join((*MODES, *LEGACY_MODES))
        raise ValueError(f"unknown KServe deployment mode {name!r} (known: {known})")
    return mode


@dataclass(frozen=True)
class Wanted:
    """What the rendered spec asks for: one storageUri, a canary share (Knative only), a mode."""

    storage_uri: str
    canary_traffic: int | None = None
    mode: str = DEFAULT_MODE


@dataclass(frozen=True)
class Verdict:
    state: State
    reason: str

    @property
    def ready(self) -> bool:
        return self.state == READY


def dig(obj: Any, *path: str) -> Any:
    """The value at a path of mapping keys, or None where the path stops."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def condition(isvc: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any] | None:
    conditions = dig(isvc, "status", "conditions")
    if not isinstance(conditions, list):
        return None
    return next((c for c in conditions if isinstance(c, Mapping) and c.get("type") == kind), None)


def describe(cond: Mapping[str, Any] | None) -> str:
    """A condition as one line: `Ready False: RevisionFailed: Revision "x" failed …`."""
    if cond is None:
        return "no Ready condition yet"
    parts = [f"{cond.get('type')} {cond.get('status')}"]
    parts += [str(cond[k]) for k in ("reason", "message") if cond.get(k)]
    return ": ".join(parts)


def reported(isvc: Mapping[str, Any] | None) -> str | None:
    """The InferenceService's own account of itself, for when Argo CD gives none (before v3.5 the
    Application's health has no message): why it is not Ready, or that it is."""
    return health(isvc).reason if isinstance(isvc, Mapping) else None


def health(isvc: Mapping[str, Any]) -> Verdict:
    """Conditions and model status only: what Argo CD's health check for InferenceService reads."""
    stopped = condition(isvc, "Stopped")
    if stopped is not None and stopped.get("status") == "True":
        return Verdict(DEGRADED, "stopped (the serving.kserve.io/stop annotation is set)")
    transition = dig(isvc, "status", "modelStatus", "transitionStatus")
    ready = condition(isvc, "Ready")
    if transition in BLOCKED:
        failure = dig(isvc, "status", "modelStatus", "lastFailureInfo") or {}
        said = ": ".join(str(failure[k]) for k in ("reason", "message") if failure.get(k))
        if not said and ready is not None and ready.get("status") != "True":
            said = describe(ready)
        return Verdict(DEGRADED, f"model {transition}" + (f": {said}" if said else ""))
    if ready is None or ready.get("status") != "True":
        return Verdict(PROGRESSING, describe(ready))
    if transition == "InProgress":
        return Verdict(PROGRESSING, "model load InProgress")
    return Verdict(READY, "Ready")


def _percent(target: Mapping[str, Any]) -> int:
    value = target.get("percent")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _revisions(isvc: Mapping[str, Any], wanted: Wanted) -> Verdict:
    """Knative mode: the latest created revision is ready and takes the expected share of traffic."""
    predictor = dig(isvc, "status", "components", "predictor") or {}
    created, latest = predictor.get("latestCreatedRevision"), predictor.get("latestReadyRevision")
    if not created or not latest:
        return Verdict(PROGRESSING, "the predictor reports no ready revision yet")
    if created != latest:
        cause = describe(condition(isvc, "PredictorConfigurationReady"))
        return Verdict(PROGRESSING, f"revision {created} is not ready yet (latest ready: {latest}; {cause})")
    targets = [t for t in predictor.get("traffic") or () if isinstance(t, Mapping)]
    on_latest = sum(
        _percent(t) for t in targets if t.get("revisionName") == latest and t.get("latestRevision")
    )
    elsewhere = sum(_percent(t) for t in targets if t.get("revisionName") != latest)
    share = wanted.canary_traffic if wanted.canary_traffic is not None else 100
    if on_latest != share or elsewhere != 100 - share:
        return Verdict(
            PROGRESSING,
            f"traffic: {on_latest}% on the latest revision {latest} and {elsewhere}% elsewhere, "
            f"expected {share}% and {100 - share}%",
        )
    return Verdict(READY, f"revision {latest} takes {share}%")


def judge(isvc: Mapping[str, Any], wanted: Wanted) -> Verdict:
    """Ready when the spec is the rendered one and KServe reports it rolled out; Degraded when KServe
    reports a state that waiting cannot change; Progressing otherwise, with the reason."""
    uri = dig(isvc, "spec", "predictor", "model", "storageUri")
    if uri != wanted.storage_uri:
        return Verdict(PROGRESSING, f"serves {uri}, expected {wanted.storage_uri}")
    canary = dig(isvc, "spec", "predictor", "canaryTrafficPercent")
    if canary != wanted.canary_traffic:
        return Verdict(
            PROGRESSING, f"canaryTrafficPercent is {canary}, expected {wanted.canary_traffic} (models.yaml)"
        )
    said = dig(isvc, "status", "deploymentMode") or dig(isvc, "metadata", "annotations", MODE_ANNOTATION)
    running = LEGACY_MODES.get(str(said), str(said)) if said else None
    if running is not None and running != wanted.mode:
        return Verdict(
            DEGRADED,
            f"KServe runs it in {running} mode but models.yaml asks for {wanted.mode}; KServe refuses to "
            "change the mode of an existing InferenceService: delete it and let Argo CD create it again",
        )
    state = health(isvc)
    if not state.ready:
        return state
    if wanted.mode == KNATIVE:
        rollout = _revisions(isvc, wanted)
        if not rollout.ready:
            return rollout
    split = f" with the canary at {wanted.canary_traffic}%" if wanted.canary_traffic is not None else ""
    return Verdict(READY, f"Ready in {wanted.mode} mode, serving {wanted.storage_uri}{split}")
