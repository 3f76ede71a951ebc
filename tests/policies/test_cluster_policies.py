"""The in-cluster guardrails (policies/cluster) evaluated with CEL before they reach a cluster: every
rendered InferenceService passes, and each crafted bad manifest fails for the right rule."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.context import Context
from modelops.core.render import storage_uri
from modelops.flows.render import render
from tests.helpers import REPO_ROOT, require_binary
from tests.manifests.fixtures import PREFIX, make_repo, two_models
from tests.policies.cel import compile_expression, evaluate, failing_rules, matches_resource, unguarded_has

CLUSTER = REPO_ROOT / "policies" / "cluster"
ISVC_POLICY = "modelops-inferenceservice-guardrails"
RUNTIME_POLICY = "modelops-servingruntime-guardrails"
DIGEST = "@sha256:" + "a" * 64


def load_policies() -> dict[str, dict[str, Any]]:
    docs = [d for f in sorted(CLUSTER.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}


POLICIES = load_policies()


def kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = require_binary("kubectl")
    out = subprocess.run([kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def rendered_services(tmp_path_factory) -> list[dict[str, Any]]:
    repo = make_repo(tmp_path_factory.mktemp("repo"), two_models())
    render(Context(repo=repo))
    services = []
    for overlay in sorted((repo / "applications").glob("*/overlays/*")):
        services += [d for d in kustomize(overlay) if d["kind"] == "InferenceService"]
    return services


@pytest.fixture
def good(rendered_services) -> dict[str, Any]:
    return copy.deepcopy(
        next(s for s in rendered_services if "canaryTrafficPercent" not in s["spec"]["predictor"])
    )


def test_every_expression_compiles_and_guards_each_has():
    assert set(POLICIES) == {ISVC_POLICY, RUNTIME_POLICY}
    for policy in POLICIES.values():
        for validation in policy["spec"]["validations"]:
            compile_expression(validation["expression"])
            assert unguarded_has(validation["expression"]) == [], validation["message"]
            assert validation["message"].split(":")[0] in {
                "pinned-version",
                "resource-limits",
                "pinned-image",
                "canary-limit",
                "canary-mode",
                "no-spec-canary",
            }


def test_the_has_guard_check_finds_an_unguarded_path():
    assert unguarded_has("has(object.spec) && has(object.spec.predictor.model)") == [
        "object.spec.predictor.model"
    ]
    assert (
        unguarded_has("has(object.spec) && has(object.spec.predictor) && has(object.spec.predictor.model)")
        == []
    )


def test_the_policies_match_the_kinds_they_guard(good):
    assert matches_resource(POLICIES[ISVC_POLICY], good)
    assert not matches_resource(POLICIES[RUNTIME_POLICY], good)
    runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime"}
    assert matches_resource(POLICIES[RUNTIME_POLICY], runtime)


def test_every_rendered_inference_service_passes(rendered_services):
    assert len(rendered_services) == 3
    for service in rendered_services:
        verdicts = evaluate(POLICIES[ISVC_POLICY], service)
        assert [v for v in verdicts if not v.passed] == [], service["metadata"]


def test_the_policy_prefix_accepts_the_repositorys_registry(good):
    repo_prefix = yaml.safe_load((REPO_ROOT / "models.yaml").read_text())["registry"]["storage_uri_prefix"]
    assert repo_prefix == PREFIX
    good["spec"]["predictor"]["model"]["storageUri"] = storage_uri(repo_prefix, "churn-classifier", 12)
    assert failing_rules(POLICIES[ISVC_POLICY], good) == []


@pytest.mark.parametrize(
    "uri",
    [
        f"{PREFIX}/churn-classifier/production",  # an alias
        f"{PREFIX}/churn-classifier/latest",
        f"{PREFIX}/churn-classifier/0",
        f"{PREFIX}/churn-classifier/3/extra",
        "models:/churn-classifier@production",
        "models:/churn-classifier/3",
        "s3://someone-else/mlflow/models/churn-classifier/3",
        f"{PREFIX}/3",
        f"x{PREFIX}/churn-classifier/3",
    ],
)
def test_a_storage_uri_that_is_not_a_pinned_registry_version_is_denied(good, uri):
    good["spec"]["predictor"]["model"]["storageUri"] = uri
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ["pinned-version"]


def test_a_missing_storage_uri_is_denied(good):
    del good["spec"]["predictor"]["model"]["storageUri"]
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ["pinned-version"]


@pytest.mark.parametrize(
    "resources",
    [
        {},
        {"requests": {"cpu": "1", "memory": "1Gi"}},
        {"limits": {"cpu": "1"}},
        {"limits": {"memory": "1Gi"}},
    ],
)
def test_missing_limits_are_denied(good, resources):
    good["spec"]["predictor"]["model"]["resources"] = resources
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ["resource-limits"]


def test_a_sidecar_container_without_limits_is_denied(good):
    good["spec"]["predictor"]["containers"] = [{"name": "sidecar", "image": "busybox:1.36"}]
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ["resource-limits"]
    good["spec"]["predictor"]["containers"][0]["resources"] = {"limits": {"cpu": "100m", "memory": "64Mi"}}
    assert failing_rules(POLICIES[ISVC_POLICY], good) == []


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("ghcr.io/example-org/modelops-serving:latest", False),
        ("ghcr.io/example-org/modelops-serving", False),
        ("registry.local:5000/modelops-serving", False),
        ("ghcr.io/example-org/modelops-serving:1.4.2", True),
        ("registry.local:5000/modelops-serving:1.4.2", True),
        (f"ghcr.io/example-org/modelops-serving{DIGEST}", True),
    ],
)
def test_predictor_images_need_a_tag_other_than_latest_or_a_digest(good, image, allowed):
    good["spec"]["predictor"]["model"]["image"] = image
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ([] if allowed else ["pinned-image"])
    del good["spec"]["predictor"]["model"]["image"]
    limits = {"limits": {"cpu": "100m", "memory": "64Mi"}}
    good["spec"]["predictor"]["containers"] = [{"name": "c", "image": image, "resources": limits}]
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ([] if allowed else ["pinned-image"])


@pytest.mark.parametrize(("traffic", "allowed"), [(1, True), (50, True), (51, False), (100, False)])
def test_a_canary_may_take_at_most_half_the_traffic(good, traffic, allowed):
    good["spec"]["predictor"]["canaryTrafficPercent"] = traffic
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ([] if allowed else ["canary-limit"])


@pytest.mark.parametrize(
    ("mode", "allowed"), [("Knative", True), ("Standard", False), ("RawDeployment", False)]
)
def test_a_canary_needs_the_deployment_mode_that_splits_traffic(good, mode, allowed):
    good["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = mode
    assert failing_rules(POLICIES[ISVC_POLICY], good) == []
    good["spec"]["predictor"]["canaryTrafficPercent"] = 10
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ([] if allowed else ["canary-mode"])


def test_kserves_standard_mode_canaries_are_denied_as_their_predictors_escape_the_rules(good):
    predictor = {"name": "v9", "model": {"modelFormat": {"name": "mlflow"}, "storageUri": "s3://elsewhere/x"}}
    good["spec"]["canary"] = [{"predictor": predictor, "trafficPercent": 90}]
    assert failing_rules(POLICIES[ISVC_POLICY], good) == ["no-spec-canary"]
    good["spec"]["canary"] = []
    assert failing_rules(POLICIES[ISVC_POLICY], good) == []


def test_each_bad_field_fails_its_own_rule_together(good):
    model = good["spec"]["predictor"]["model"]
    model["storageUri"] = f"{PREFIX}/churn-classifier/latest"
    model["resources"] = {}
    model["image"] = "x:latest"
    good["spec"]["predictor"]["canaryTrafficPercent"] = 90
    assert failing_rules(POLICIES[ISVC_POLICY], good) == [
        "pinned-version",
        "resource-limits",
        "pinned-image",
        "canary-limit",
    ]


def serving_runtime(*images: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": "modelops-sklearn"},
        "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]},
    }


def test_serving_runtime_images_must_be_pinned():
    policy = POLICIES[RUNTIME_POLICY]
    assert failing_rules(policy, serving_runtime(f"ghcr.io/x/serve{DIGEST}", "ghcr.io/x/agent:0.3")) == []
    assert failing_rules(policy, serving_runtime("ghcr.io/x/serve:latest")) == ["pinned-image"]
    assert failing_rules(policy, serving_runtime("ghcr.io/x/serve:1.0", "ghcr.io/x/agent")) == [
        "pinned-image"
    ]


def test_the_projects_serving_runtime_passes():
    runtime_dir = REPO_ROOT / "applications" / "runtime"
    runtimes = [d for d in kustomize(runtime_dir) if d["kind"] in ("ServingRuntime", "ClusterServingRuntime")]
    assert runtimes
    for runtime in runtimes:
        assert failing_rules(POLICIES[RUNTIME_POLICY], runtime) == [], runtime["metadata"]["name"]
