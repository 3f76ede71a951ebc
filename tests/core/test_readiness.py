"""Readiness of an InferenceService, from what KServe reports: conditions, model status, and in Knative
mode the predictor's revisions and traffic targets; never the generation counters."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from modelops.core.readiness import (
    DEGRADED,
    KNATIVE,
    PROGRESSING,
    READY,
    STANDARD,
    Wanted,
    deployment_mode,
    health,
    judge,
    reported,
)
from tests.core.inference_services import (
    LATEST,
    PREVIOUS,
    argo_cd_health,
    inference_service,
    upstream,
    with_spec,
)
from tests.helpers import SHARED

URI = "s3://modelops-artifacts/mlflow/models/churn-classifier/5"
# Argo CD's Suspended (a stopped InferenceService) serves nothing and stays so until someone acts.
ARGO_CD = {"Healthy": READY, "Progressing": PROGRESSING, "Degraded": DEGRADED, "Suspended": DEGRADED}


@pytest.mark.parametrize("name", sorted(argo_cd_health()))
def test_the_health_of_argo_cds_own_fixtures_is_the_one_argo_cd_gives(name):
    assert health(upstream(name)).state == ARGO_CD[argo_cd_health()[name]["status"]]


def test_every_argo_cd_fixture_is_judged():
    assert len(argo_cd_health()) == 11 and {h["status"] for h in argo_cd_health().values()} == set(ARGO_CD)


def test_what_is_wrong_is_named_from_the_inference_services_own_conditions():
    failed = health(upstream("degraded.yaml")).reason
    assert failed.startswith("model BlockedByFailedLoad: Ready False: Predictor ingress not created")
    waiting = reported(upstream("progressing.yaml"))
    assert waiting == (
        'Ready Unknown: RevisionMissing: Configuration "hello-world-predictor-default" is waiting for a '
        "Revision to become ready."
    )
    assert reported(upstream("stopped.yaml")) == "stopped (the serving.kserve.io/stop annotation is set)"
    assert reported(upstream("healthy.yaml")) == "Ready" and reported(None) is None


def test_a_failed_load_names_kserves_failure_info():
    isvc = inference_service(URI, ready="False")
    isvc["status"]["modelStatus"] = {
        "transitionStatus": "BlockedByFailedLoad",
        "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "no MLmodel in /mnt/models"},
    }
    assert judge(isvc, Wanted(URI)) == health(isvc)
    assert health(isvc).reason == "model BlockedByFailedLoad: ModelLoadFailed: no MLmodel in /mnt/models"
    assert health(isvc).state == DEGRADED


def test_generation_counters_decide_nothing():
    """observedGeneration is the Knative Service's: far ahead of or behind the InferenceService's own."""
    ahead = inference_service(URI, generation=2, observed=9)
    behind = inference_service(URI, generation=9, observed=2)
    assert judge(ahead, Wanted(URI)).state == judge(behind, Wanted(URI)).state == READY
    rolling = inference_service(URI, created="churn-predictor-00003", generation=3, observed=3)
    verdict = judge(rolling, Wanted(URI))
    assert verdict.state == PROGRESSING
    assert verdict.reason.startswith(
        f"revision churn-predictor-00003 is not ready yet (latest ready: {LATEST}"
    )


def test_knative_ready_needs_the_latest_created_revision_ready_and_its_share_of_traffic():
    assert judge(inference_service(URI, 10), Wanted(URI, 10)).reason == (
        f"Ready in Knative mode, serving {URI} with the canary at 10%"
    )
    none_yet = inference_service(URI, latest=None)
    assert judge(none_yet, Wanted(URI)).reason == "the predictor reports no ready revision yet"
    # The spec asks for a 10 % canary; KServe still routes everything to the latest revision.
    all_on_latest = inference_service(
        URI, 10, traffic=[{"revisionName": LATEST, "latestRevision": True, "percent": 100}]
    )
    assert judge(all_on_latest, Wanted(URI, 10)).reason == (
        f"traffic: 100% on the latest revision {LATEST} and 0% elsewhere, expected 10% and 90%"
    )
    # Only the canary's share is routed: the pinned revision does not take the rest yet.
    half_routed = inference_service(
        URI, 10, traffic=[{"revisionName": LATEST, "latestRevision": True, "percent": 10}]
    )
    assert judge(half_routed, Wanted(URI, 10)).state == PROGRESSING
    # Promotion: canaryTrafficPercent is gone from the spec, the old split is still in place.
    promoting = inference_service(URI, 10)
    del promoting["spec"]["predictor"]["canaryTrafficPercent"]
    assert judge(promoting, Wanted(URI)).state == PROGRESSING
    # A share routed by tag to another revision is not the latest revision's.
    tagged = inference_service(
        URI, traffic=[{"revisionName": PREVIOUS, "latestRevision": True, "percent": 100}]
    )
    assert judge(tagged, Wanted(URI)).state == PROGRESSING


def test_standard_mode_reports_no_traffic_and_is_ready_on_its_conditions():
    raw = with_spec(upstream("healthy_raw.yaml"), URI)
    assert judge(raw, Wanted(URI, mode=STANDARD)).reason == f"Ready in Standard mode, serving {URI}"
    assert judge(inference_service(URI, mode=STANDARD), Wanted(URI, mode=STANDARD)).state == READY
    # The same status read as Knative lacks the revisions Knative mode always reports.
    knative = with_spec(upstream("healthy.yaml"), URI)
    assert judge(knative, Wanted(URI, mode=KNATIVE)).state == PROGRESSING
    not_yet = inference_service(URI, mode=STANDARD, ready="Unknown", reason="ReplicaSetUpdated")
    assert judge(not_yet, Wanted(URI, mode=STANDARD)).reason == "Ready Unknown: ReplicaSetUpdated"


def test_a_mode_kserve_will_not_change_fails_and_says_what_to_do():
    running = inference_service(URI)
    verdict = judge(running, Wanted(URI, mode=STANDARD))
    assert verdict.state == DEGRADED
    assert verdict.reason.startswith("KServe runs it in Knative mode but models.yaml asks for Standard")
    assert "delete it" in verdict.reason
    # KServe's deprecated names are the same modes.
    legacy = inference_service(URI, mode=STANDARD)
    legacy["status"]["deploymentMode"] = "RawDeployment"
    assert judge(legacy, Wanted(URI, mode=STANDARD)).state == READY


def test_the_spec_must_be_the_rendered_one_before_the_status_counts():
    assert judge(inference_service(URI.replace("/5", "/4")), Wanted(URI)).reason == (
        f"serves {URI.replace('/5', '/4')}, expected {URI}"
    )
    assert judge(inference_service(URI, 20), Wanted(URI, 10)).reason == (
        "canaryTrafficPercent is 20, expected 10 (models.yaml)"
    )
    stopped = with_spec(upstream("stopped.yaml"), URI)
    assert judge(stopped, Wanted(URI, mode=STANDARD)).state == DEGRADED


def test_deployment_modes_take_kserves_current_and_deprecated_names():
    assert [deployment_mode(m) for m in ("Knative", "Serverless", "Standard", "RawDeployment")] == [
        KNATIVE,
        KNATIVE,
        STANDARD,
        STANDARD,
    ]
    with pytest.raises(ValueError, match="'ModelMesh'"):
        deployment_mode("ModelMesh")


def strict(schema: Any) -> Any:
    """The CRD's schema with unknown fields refused (the API server would prune them silently)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    found = {k: strict(v) for k, v in schema.items()}
    if "properties" in found and "additionalProperties" not in found:
        found["additionalProperties"] = bool(found.get("x-kubernetes-preserve-unknown-fields"))
    return found


CRD = SHARED / "schemas" / "crds" / "serving.kserve.io_inferenceservices.yaml"


@pytest.mark.skipif(not CRD.is_file(), reason="KServe's InferenceService CRD is in ../shared/schemas")
def test_the_statuses_the_double_serves_are_ones_kserves_crd_allows():
    from jsonschema import Draft7Validator

    crd = yaml.load(CRD.read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    validator = Draft7Validator(strict(served["schema"]["openAPIV3Schema"]["properties"]["status"]))
    statuses = [
        inference_service(URI, 10)["status"],
        inference_service(URI, mode=STANDARD, ready="False", reason="MinimumReplicasUnavailable")["status"],
        inference_service(URI, created="churn-predictor-00003", latest=None)["status"],
        *(upstream(name)["status"] for name in argo_cd_health()),
    ]
    problems = [f"{e.json_path}: {e.message}" for status in statuses for e in validator.iter_errors(status)]
    assert problems == []
    misspelt = inference_service(URI)["status"]
    misspelt["components"]["predictor"]["latestReadyRevisions"] = LATEST
    assert not validator.is_valid(misspelt)
