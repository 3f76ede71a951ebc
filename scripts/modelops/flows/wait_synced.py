"""`modelops wait-synced`: wait until the cluster serves what git says, for one Model in one Environment.

Done means: the Argo CD Application `<model>-<env>` is Synced at the expected git revision and
Healthy, and the InferenceService, read in the Environment's own destination cluster, is Ready, serves the storageUri rendered from models.yaml and
splits traffic as the canary says (core/readiness.py judges what KServe reports, per deployment mode).
An unpinned Environment is done when its InferenceService is gone. A Degraded Application, or an
InferenceService in a state waiting cannot change, fails at once; anything else is polled until the
timeout. Argo CD before v3.5 leaves the Application's health message empty: the InferenceService's own
condition is reported instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelops.context import Context
from modelops.core import readiness
from modelops.core.document import ModelsDocument
from modelops.core.pipeline import stage
from modelops.core.render import application_name, serving, storage_uri
from modelops.core.state import DEFAULT_CLUSTER

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
    deployment_mode: str = readiness.DEFAULT_MODE
    cluster: str = DEFAULT_CLUSTER  # Argo CD's destination: where the InferenceService runs

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
            storage_uri(doc.storage_uri_prefix(), state.model(model).registered_model, served.version)
            if served
            else None
        ),
        canary_traffic=served.canary_traffic if served else None,
        deployment_mode=environment.deployment_mode,
        cluster=stage(state.model(model), environment).cluster,
    )


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
    health = readiness.dig(app, "status", "health", "status") or "Unknown"
    if health == "Degraded":
        message = readiness.dig(app, "status", "health", "message") or readiness.dig(
            app, "status", "operationState", "message"
        )
        return Observation("degraded", f"{where} is Degraded" + (f": {message}" if message else ""))
    sync = readiness.dig(app, "status", "sync", "status") or "Unknown"
    revision = readiness.dig(app, "status", "sync", "revision")
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
    verdict = readiness.judge(
        isvc, readiness.Wanted(want.storage_uri, want.canary_traffic, want.deployment_mode)
    )
    if verdict.state == readiness.READY:
        return Observation("ok", f"{where} {verdict.reason}")
    state = "degraded" if verdict.state == readiness.DEGRADED else "pending"
    return Observation(state, f"{where} is not ready: {verdict.reason}")


def _isvc(kube: KubeReader, want: Expectation) -> dict[str, Any] | None:
    return kube.get_custom("serving.kserve.io", "v1beta1", want.namespace, "inferenceservices", want.model)


def explain(
    kube: KubeReader, app: dict[str, Any] | None, seen: Observation, want: Expectation
) -> Observation:
    """Argo CD fills the Application's health message only from v3.5: without one, an unhealthy
    Application is explained by the InferenceService's own condition."""
    health = readiness.dig(app, "status", "health") or {}
    if want.storage_uri is None or health.get("status") in (None, "Healthy") or health.get("message"):
        return seen
    said = readiness.reported(_isvc(kube, want)) or "not found"
    return Observation(seen.state, f"{seen.detail}; InferenceService {want.namespace}/{want.model}: {said}")


def observe(
    kube: KubeReader,
    want: Expectation,
    contains: Callable[[str, str], bool] | None = None,
    workload: KubeReader | None = None,
) -> Observation:
    """`kube` holds Argo CD's Applications; `workload` (default: the same) the destination cluster."""
    workload = workload or kube
    app = kube.get_custom("argoproj.io", "v1alpha1", ARGOCD_NAMESPACE, "applications", want.application)
    app_state = check_application(app, want, contains)
    if app_state.state != "ok":
        return explain(workload, app, app_state, want)
    isvc_state = check_inference_service(_isvc(workload, want), want)
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
    workload: KubeReader | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[Observation], None] | None = None,
) -> WaitResult:
    from modelops.adapters import gitread

    want = expectation(ctx, model, env, revision)
    if kube is None or (workload is None and want.cluster != DEFAULT_CLUSTER):
        from modelops.adapters.kube import Kube

        kube = kube or Kube.from_environment(ctx.env)
        if want.cluster != DEFAULT_CLUSTER:
            workload = workload or Kube.for_cluster(want.cluster, ctx.env)
    deadline = time.monotonic() + timeout
    result = WaitResult(ok=False, detail="", expected=want)
    while True:
        seen = observe(kube, want, lambda newer, commit: gitread.contains(ctx.repo, newer, commit), workload)
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
