"""`modelops wait-synced`: wait until the cluster serves what git says, for one Model in one Environment.

Done means: the Argo CD Application `<model>-<env>` is Synced at the expected git revision and
Healthy, and the InferenceService is Ready, serves the storageUri rendered from models.yaml and
splits traffic as the canary says. An unpinned Environment is done when its InferenceService is
gone. A Degraded Application fails at once; anything else is polled until the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.core.pipeline import stage
from modelops.core.render import application_name, serving, storage_uri
from modelops.flows.render import storage_uri_prefix

ARGOCD_NAMESPACE = "argocd"


class KubeReader(Protocol):
    def get_custom(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Expectation:
    model: str
    env: str
    application: str
    namespace: str
    revision: str
    storage_uri: str | None  # None: nothing pinned, the InferenceService must not exist
    canary_traffic: int | None

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Observation:
    state: str  # "ok", "pending" or "degraded"
    detail: str


@dataclass
class WaitResult:
    ok: bool
    detail: str
    expected: Expectation
    polls: int = 0
    history: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "polls": self.polls,
            "expected": self.expected.as_dict(),
        }


def expectation(ctx: Context, model: str, env: str, revision: str | None = None) -> Expectation:
    doc = ModelsDocument.load(ctx.models_path)
    state = doc.state()
    environment = state.model(model).env(env)
    served = serving(environment)
    if revision is None:
        from modelops.adapters.gitread import head_commit

        revision = head_commit(ctx.repo)
    return Expectation(
        model=model,
        env=env,
        application=application_name(model, env),
        namespace=stage(state.model(model), environment).namespace,
        revision=revision,
        storage_uri=(
            storage_uri(storage_uri_prefix(doc), state.model(model).registered_model, served.version)
            if served
            else None
        ),
        canary_traffic=served.canary_traffic if served else None,
    )


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _revision_matches(reported: str | None, expected: str) -> bool:
    return bool(reported) and (
        reported == expected or (len(expected) >= 7 and str(reported).startswith(expected))
    )


def check_application(
    app: dict[str, Any] | None, want: Expectation, contains: Callable[[str, str], bool] | None = None
) -> Observation:
    """`contains(reported, expected)`: whether the reported revision's history holds the expected one."""
    where = f"Application {ARGOCD_NAMESPACE}/{want.application}"
    if app is None:
        return Observation("pending", f"{where} not found (is the ApplicationSet applied?)")
    health = _get(app, "status", "health", "status") or "Unknown"
    if health == "Degraded":
        message = _get(app, "status", "health", "message") or _get(app, "status", "operationState", "message")
        return Observation("degraded", f"{where} is Degraded" + (f": {message}" if message else ""))
    sync = _get(app, "status", "sync", "status") or "Unknown"
    revision = _get(app, "status", "sync", "revision")
    if sync != "Synced":
        return Observation("pending", f"{where} is {sync} (revision {revision or 'none'})")
    if not _revision_matches(revision, want.revision) and not (
        revision and contains is not None and contains(str(revision), want.revision)
    ):
        return Observation(
            "pending", f"{where} is synced at {revision or 'no revision'}, expected {want.revision}"
        )
    if health != "Healthy":
        return Observation("pending", f"{where} is {health}")
    return Observation("ok", f"{where} Synced at {want.revision[:12]} and Healthy")


def check_inference_service(isvc: dict[str, Any] | None, want: Expectation) -> Observation:
    where = f"InferenceService {want.namespace}/{want.model}"
    if want.storage_uri is None:
        if isvc is None:
            return Observation("ok", f"{where} absent, as nothing is pinned")
        return Observation("pending", f"{where} still exists although nothing is pinned")
    if isvc is None:
        return Observation("pending", f"{where} not found")
    uri = _get(isvc, "spec", "predictor", "model", "storageUri")
    if uri != want.storage_uri:
        return Observation("pending", f"{where} serves {uri}, expected {want.storage_uri}")
    canary = _get(isvc, "spec", "predictor", "canaryTrafficPercent")
    if canary != want.canary_traffic:
        return Observation(
            "pending",
            f"{where} canaryTrafficPercent is {canary}, expected {want.canary_traffic} (models.yaml)",
        )
    generation = _get(isvc, "metadata", "generation")
    observed = _get(isvc, "status", "observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return Observation("pending", f"{where} generation {generation} not yet observed (at {observed})")
    conditions = _get(isvc, "status", "conditions") or []
    ready = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != "True":
        reason = (ready or {}).get("message") or (ready or {}).get("reason") or "no Ready condition"
        return Observation("pending", f"{where} is not Ready: {reason}")
    traffic = _get(isvc, "status", "components", "predictor", "traffic") or []
    latest = sum(
        int(t.get("percent") or 0) for t in traffic if isinstance(t, dict) and t.get("latestRevision")
    )
    wanted = want.canary_traffic if want.canary_traffic is not None else 100
    if latest != wanted:
        return Observation("pending", f"{where} sends {latest}% to the latest revision, expected {wanted}%")
    split = f" with the canary at {wanted}%" if want.canary_traffic is not None else ""
    return Observation("ok", f"{where} Ready, serving {want.storage_uri}{split}")


def observe(
    kube: KubeReader, want: Expectation, contains: Callable[[str, str], bool] | None = None
) -> Observation:
    app = kube.get_custom("argoproj.io", "v1alpha1", ARGOCD_NAMESPACE, "applications", want.application)
    app_state = check_application(app, want, contains)
    if app_state.state != "ok":
        return app_state
    isvc = kube.get_custom("serving.kserve.io", "v1beta1", want.namespace, "inferenceservices", want.model)
    isvc_state = check_inference_service(isvc, want)
    if isvc_state.state != "ok":
        return isvc_state
    return Observation("ok", f"{app_state.detail}; {isvc_state.detail}")


def wait_synced(
    ctx: Context,
    model: str,
    env: str,
    *,
    timeout: float,
    interval: float = 5.0,
    revision: str | None = None,
    kube: KubeReader | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[Observation], None] | None = None,
) -> WaitResult:
    from modelops.adapters import gitread

    want = expectation(ctx, model, env, revision)
    if kube is None:
        from modelops.adapters.kube import Kube

        kube = Kube.from_environment(ctx.env)
    deadline = time.monotonic() + timeout
    result = WaitResult(ok=False, detail="", expected=want)
    while True:
        seen = observe(kube, want, lambda newer, commit: gitread.contains(ctx.repo, newer, commit))
        result.polls += 1
        result.history.append(seen.detail)
        if on_poll is not None:
            on_poll(seen)
        if seen.state != "pending":
            result.ok = seen.state == "ok"
            result.detail = seen.detail
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            result.detail = f"timed out after {timeout:g}s: {seen.detail}"
            return result
        sleep(min(interval, remaining))
