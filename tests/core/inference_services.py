"""InferenceServices as KServe reports them: for the readiness judgement's tests and the Kubernetes double.

Knative mode follows kserve's `ComponentStatusSpec` (pkg/apis/serving/v1beta1/inference_service_status.go):
the predictor's `latestCreatedRevision`, `latestReadyRevision` and Knative `traffic` targets, and
`observedGeneration` copied from the Knative Service. Standard mode reports neither revisions nor
traffic. Argo CD's own fixtures (kserve/, see its README) carry conditions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "kserve"
PREVIOUS = "churn-predictor-00001"
LATEST = "churn-predictor-00002"


def upstream(name: str) -> dict[str, Any]:
    """One of Argo CD's InferenceService fixtures, by file name."""
    found: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text("utf-8"))
    return found


def argo_cd_health() -> dict[str, dict[str, str]]:
    """File name → the health Argo CD's health check gives it (status and message), from health_test.yaml."""
    tests = yaml.safe_load((FIXTURES / "health_test.yaml").read_text("utf-8"))["tests"]
    return {Path(t["inputPath"]).name: t["healthStatus"] for t in tests}


def inference_service(
    uri: str,
    canary: int | None = None,
    *,
    mode: str = "Knative",
    ready: str = "True",
    reason: str | None = None,
    message: str | None = None,
    created: str = LATEST,
    latest: str | None = LATEST,
    traffic: list[dict[str, Any]] | None = None,
    generation: int = 2,
    observed: int = 7,
    name: str = "churn",
) -> dict[str, Any]:
    """An InferenceService whose spec serves `uri` and whose status says what KServe would report.

    `observed` differs from `generation` on purpose: KServe copies it from the Knative Service or the
    Deployment, so the two counters are unrelated."""
    predictor: dict[str, Any] = {"model": {"storageUri": uri}}
    if canary is not None:
        predictor["canaryTrafficPercent"] = canary
    ready_condition = {"type": "Ready", "status": ready}
    ready_condition.update({k: v for k, v in (("reason", reason), ("message", message)) if v})
    conditions = [
        {"type": "IngressReady", "status": "True"},
        {**ready_condition, "type": "PredictorReady"},
        ready_condition,
    ]
    component: dict[str, Any] = {}
    if name != "churn":
        created, latest = created.replace("churn", name), latest and latest.replace("churn", name)
    previous = PREVIOUS.replace("churn", name)
    if mode == "Knative":
        conditions.insert(1, {"type": "PredictorConfigurationReady", "status": ready})
        component = {"latestCreatedRevision": created}
        if latest:
            component["latestReadyRevision"] = latest
        if traffic is None and latest:
            traffic = [
                {"revisionName": latest, "latestRevision": True, "percent": canary or 100, "tag": "latest"}
            ]
            if canary:
                traffic.append(
                    {
                        "revisionName": previous,
                        "latestRevision": False,
                        "percent": 100 - canary,
                        "tag": "prev",
                    }
                )
        component["traffic"] = traffic or []
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "generation": generation,
            "annotations": {"serving.kserve.io/deploymentMode": mode},
        },
        "spec": {"predictor": predictor},
        "status": {
            "observedGeneration": observed,
            "deploymentMode": mode,
            "conditions": conditions,
            "components": {"predictor": component},
            "modelStatus": {"transitionStatus": "UpToDate" if ready == "True" else "InProgress"},
        },
    }


def with_spec(upstream_isvc: dict[str, Any], uri: str) -> dict[str, Any]:
    """An upstream fixture (its `spec: {}`) given the predictor spec the judgement compares."""
    return {**upstream_isvc, "spec": {"predictor": {"model": {"storageUri": uri}}}}
