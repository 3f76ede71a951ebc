"""What Argo CD syncs builds with kustomize and validates strictly: core kinds against the Kubernetes
OpenAPI schemas (kubernetes-validate), custom resources against the upstream CRDs (../shared/schemas,
when present), and everything against the project's own structural rules."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.core.render import RUNTIME_NAME, application_name, namespace_for
from modelops.flows.render import render
from tests.helpers import REPO_ROOT, SHARED, require_binary
from tests.manifests.fixtures import PREFIX, make_repo, two_models

KUBERNETES_VERSION = "1.32"
ARGOCD = REPO_ROOT / "applications" / "argocd"
CLUSTER_POLICIES = REPO_ROOT / "policies" / "cluster"


def kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = require_binary("kubectl")
    out = subprocess.run([kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


CRD_FILES = (
    "serving.kserve.io_inferenceservices.yaml",
    "monitoring.coreos.com_podmonitors.yaml",
    "argoproj.io_applications.yaml",
    "argoproj.io_applicationsets.yaml",
    "argoproj.io_appprojects.yaml",
)


def validate_crds(docs: list[dict[str, Any]], crds: Path) -> list[str]:
    """Run ../shared/schemas/validate-crds once; one verdict (ok, FAIL, skipped) per document, in order."""
    result = subprocess.run(
        [sys.executable, str(SHARED / "schemas" / "validate-crds"), "--crds", str(crds), "-"],
        input=yaml.safe_dump_all(docs),
        capture_output=True,
        text=True,
    )
    verdicts = [
        line.split()[0]
        for line in result.stdout.splitlines()
        if line.split()[:1] in (["ok"], ["FAIL"], ["skipped"])
    ]
    assert len(verdicts) == len(docs), result.stdout + result.stderr
    assert (result.returncode == 0) == ("FAIL" not in verdicts)
    return verdicts


def validate_core_strictly(docs: list[dict[str, Any]]) -> list[str]:
    """Strictly validate the documents of core kinds; return the kinds that have no core schema."""
    custom = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            custom.append(doc["kind"])
    return custom


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every overlay of the two-model fixture and of the repository itself, built by kustomize."""
    repo = make_repo(tmp_path_factory.mktemp("repo"), two_models())
    render(Context(repo=repo))
    overlays = {
        (tag, f"{overlay.parts[-3]}/{overlay.name}"): overlay
        for root, tag in ((repo, "fixture"), (REPO_ROOT, "repo"))
        for overlay in sorted((root / "applications").glob("*/overlays/*"))
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(overlays, pool.map(kustomize, overlays.values()), strict=True))


@pytest.fixture(scope="module")
def standard(tmp_path_factory) -> list[dict[str, Any]]:
    """churn's production overlay with KServe in Standard mode (the fixture's others are Knative)."""
    models = two_models()
    models["churn"]["environments"]["production"].update(deployment_mode="Standard", canary_steps=[])
    repo = make_repo(tmp_path_factory.mktemp("standard"), models)
    render(Context(repo=repo))
    return kustomize(repo / "applications" / "churn" / "overlays" / "production")


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_every_overlay_builds_and_holds_a_pod_monitor(rendered):
    assert ("fixture", "churn/staging") in rendered and ("repo", "churn/production") in rendered
    for key, docs in rendered.items():
        assert len(by_kind(docs, "PodMonitor")) == 1, key
        assert {d["kind"] for d in docs} <= {"InferenceService", "PodMonitor"}, key


def test_pinned_overlays_serve_an_immutable_registry_version(rendered):
    pinned = {
        "churn/staging": "churn-classifier/5",
        "churn/production": "churn-classifier/3",
        "fraud/staging": "fraud-detector/7",
    }
    for name, tail in pinned.items():
        (isvc,) = by_kind(rendered[("fixture", name)], "InferenceService")
        uri = isvc["spec"]["predictor"]["model"]["storageUri"]
        assert uri == f"{PREFIX}/{tail}"
    for key, docs in rendered.items():
        for isvc in by_kind(docs, "InferenceService"):
            uri = isvc["spec"]["predictor"]["model"]["storageUri"]
            assert re.fullmatch(re.escape(PREFIX) + r"/[A-Za-z0-9._-]+/[1-9][0-9]*", uri), key
            assert not re.search(
                r"latest|candidate|champion|production|staging|@", uri.removeprefix(PREFIX)
            ), key


def pinned_in_repo() -> set[str]:
    """model/env of every pin in the repository's own models.yaml: pr.yml runs these tests on a fork's
    PRs, whose models.yaml pins what the fork has promoted."""
    state = ModelsDocument.load(REPO_ROOT / "models.yaml").state()
    return {
        f"{model.name}/{env.name}"
        for model in state.models.values()
        for env in model.environments.values()
        if env.version is not None
    }


def test_unpinned_overlays_serve_nothing(rendered):
    assert by_kind(rendered[("fixture", "fraud/production")], "InferenceService") == []
    pinned = pinned_in_repo()
    for (tag, name), docs in rendered.items():
        if tag == "repo" and name not in pinned:
            assert by_kind(docs, "InferenceService") == [], name


def test_inference_services_use_the_runtime_limits_labels_and_their_namespace(rendered):
    seen = 0
    for (_, name), docs in rendered.items():
        model, env = name.split("/")
        for doc in docs:
            assert doc["metadata"]["namespace"] == namespace_for(env), name
            assert doc["metadata"]["labels"]["modelops.io/model"] == model, name
        for isvc in by_kind(docs, "InferenceService"):
            seen += 1
            assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
            assert isvc["metadata"]["name"] == model
            spec = isvc["spec"]["predictor"]["model"]
            assert spec["runtime"] == RUNTIME_NAME and spec["modelFormat"] == {"name": "mlflow"}
            assert {"cpu", "memory"} <= set(spec["resources"]["limits"]), name
            assert {"cpu", "memory"} <= set(spec["resources"]["requests"]), name
            labels = isvc["metadata"]["labels"]
            assert labels["modelops.io/env"] == env
            assert labels["modelops.io/version"] == spec["storageUri"].rsplit("/", 1)[1]
            canary = isvc["spec"]["predictor"].get("canaryTrafficPercent")
            assert canary is None or 0 < canary <= 50
    assert seen == 3 + len(pinned_in_repo())  # the fixture pins three


NATIVE_THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def test_the_runtime_s_native_thread_pools_fit_its_cpu_limit():
    """Sized to the node's cores instead, OpenMP made single-row predictions up to 10x slower under load."""
    runtime = yaml.safe_load((REPO_ROOT / "applications/runtime/servingruntime.yaml").read_text("utf-8"))
    for container in runtime["spec"]["containers"]:
        limit = str(container["resources"]["limits"]["cpu"])
        cores = max(1, int(limit[:-1]) // 1000 if limit.endswith("m") else int(float(limit)))
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        for pool in NATIVE_THREAD_POOLS:
            assert pool in env and 1 <= int(env[pool]) <= cores, (container["name"], pool, env.get(pool))


def test_pod_monitors_scrape_the_predictor_metrics_port(rendered):
    for (_, name), docs in rendered.items():
        (monitor,) = by_kind(docs, "PodMonitor")
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert (
            monitor["spec"]["selector"]["matchLabels"]["serving.kserve.io/inferenceservice"]
            == name.split("/")[0]
        )
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert (endpoint["portNumber"], endpoint["path"]) == (8080, "/metrics")


@pytest.fixture(scope="module")
def argocd() -> list[dict[str, Any]]:
    return kustomize(ARGOCD)


def misspelt(rendered) -> dict[str, Any]:
    (isvc,) = by_kind(rendered[("fixture", "churn/production")], "InferenceService")
    bad = yaml.safe_load(yaml.safe_dump(isvc))
    bad["spec"]["predictor"]["model"]["storageURI"] = bad["spec"]["predictor"]["model"].pop("storageUri")
    return bad


@pytest.fixture(scope="module")
def crd_verdicts(rendered, argocd, standard, tmp_path_factory) -> dict[str, list[str]]:
    """validate-crds verdicts for the overlays, the Argo CD bootstrap and one misspelt manifest (one run:
    loading the CRDs is the slow part)."""
    if not SHARED.exists():
        return {}
    crds = tmp_path_factory.mktemp("crds")
    for name in CRD_FILES:
        (crds / name).symlink_to(SHARED / "schemas" / "crds" / name)
    overlays = [d for built in rendered.values() for d in built]
    verdicts = validate_crds([*overlays, *argocd, *standard, misspelt(rendered)], crds)
    return {
        "overlays": verdicts[: len(overlays)],
        "argocd": verdicts[len(overlays) : len(overlays) + len(argocd)],
        "standard": verdicts[len(overlays) + len(argocd) : -1],
        "misspelt": verdicts[-1:],
    }


def test_custom_resources_validate_strictly_against_the_upstream_crds(rendered, crd_verdicts):
    docs = [d for built in rendered.values() for d in built]
    assert set(validate_core_strictly(docs)) == {"InferenceService", "PodMonitor"}
    if SHARED.exists():
        assert crd_verdicts["overlays"] == ["ok"] * len(docs)


def test_both_kserve_deployment_modes_validate_against_the_upstream_crd(rendered, standard, crd_verdicts):
    mode = "serving.kserve.io/deploymentMode"
    (knative,) = by_kind(rendered[("fixture", "churn/staging")], "InferenceService")
    (raw,) = by_kind(standard, "InferenceService")
    assert (knative["metadata"]["annotations"][mode], raw["metadata"]["annotations"][mode]) == (
        "Knative",
        "Standard",
    )
    assert "canaryTrafficPercent" in knative["spec"]["predictor"]
    assert "canaryTrafficPercent" not in raw["spec"]["predictor"]
    if SHARED.exists():
        assert crd_verdicts["standard"] == ["ok"] * len(standard)


def test_validate_crds_rejects_a_misspelt_field(rendered, crd_verdicts):
    """The CRD check is strict: an unknown field fails, so a typo in the template cannot pass silently."""
    assert "storageUri" not in misspelt(rendered)["spec"]["predictor"]["model"]
    if SHARED.exists():
        assert crd_verdicts["misspelt"] == ["FAIL"]


def test_argocd_bootstrap_builds_and_validates(argocd, crd_verdicts):
    kinds = sorted(d["kind"] for d in argocd)
    assert kinds == [
        "AppProject",
        "AppProject",
        "Application",
        "ApplicationSet",
        "ApplicationSet",
        "ApplicationSet",
    ]
    assert all(d["metadata"]["namespace"] == "argocd" for d in argocd)
    assert set(validate_core_strictly(argocd)) == {"AppProject", "Application", "ApplicationSet"}
    if SHARED.exists():
        assert crd_verdicts["argocd"] == ["ok"] * len(argocd)


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def go_template(template: str, params: dict[str, str]) -> str:
    """Evaluate the `{{ .key }}` expressions of the ApplicationSet template with one file's parameters."""
    return re.sub(r"\{\{ \.([\w.]+) \}\}", lambda m: params[m.group(1)], template)


def test_the_application_set_generates_one_application_per_rendered_overlay(argocd, rendered, tmp_path):
    appset = named(argocd, "ApplicationSet", "modelops-models")
    (generator,) = appset["spec"]["generators"]
    (files,) = [f["path"] for f in generator["git"]["files"]]
    template = appset["spec"]["template"]
    # A pipeline with a remote cluster: its Application goes there, under its own namespace.
    models = two_models()
    models["churn"]["environments"]["production"]["upstream"] = "staging"
    models["churn"]["environments"]["production"]["destination"] = {
        "cluster": "https://eu.k8s.example",
        "namespace": "models-production",
    }
    repo = make_repo(tmp_path / "remote", models)
    render(Context(repo=repo))
    seen = {}
    for found in sorted(repo.glob("applications/*/overlays/*/destination.yaml")):
        relative = found.relative_to(repo).as_posix()
        assert fnmatch.fnmatch(relative, files)
        params = {**yaml.safe_load(found.read_text("utf-8")), "path.path": str(Path(relative).parent)}
        name = go_template(template["metadata"]["name"], params)
        seen[name] = (
            go_template(template["spec"]["destination"]["server"], params),
            go_template(template["spec"]["destination"]["namespace"], params),
            go_template(template["spec"]["source"]["path"], params),
        )
    assert set(seen) == {
        application_name(m, e) for m in ("churn", "fraud") for e in ("staging", "production")
    }
    assert seen["churn-production"] == (
        "https://eu.k8s.example",
        "models-production",
        "applications/churn/overlays/production",
    )
    assert seen["churn-staging"] == (
        "https://kubernetes.default.svc",
        namespace_for("staging"),
        "applications/churn/overlays/staging",
    )
    # Only models render destination files: the runtime and the relay have none.
    assert not list(REPO_ROOT.glob("applications/runtime/**/destination.yaml"))
    assert not list(REPO_ROOT.glob("applications/relay/**/destination.yaml"))


def test_generated_applications_self_heal_prune_retry_and_notify(argocd):
    template = named(argocd, "ApplicationSet", "modelops-models")["spec"]["template"]
    policy = template["spec"]["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert policy["retry"]["limit"] >= 1 and policy["retry"]["backoff"]["factor"] > 1
    annotations = template["metadata"]["annotations"]
    for trigger in ("on-sync-succeeded", "on-sync-failed"):
        assert any(a.startswith(f"notifications.argoproj.io/subscribe.{trigger}.") for a in annotations), (
            trigger
        )
    assert template["spec"]["project"] == "modelops-models"


def test_projects_fence_sources_namespaces_and_kinds(argocd, rendered):
    project = named(argocd, "AppProject", "modelops-models")["spec"]
    namespaces = {d["namespace"] for d in project["destinations"]}
    for _, name in rendered:
        assert namespace_for(name.split("/")[1]) in namespaces, name
    allowed_kinds = {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]}
    for docs in rendered.values():
        for doc in docs:
            assert (doc["apiVersion"].split("/")[0], doc["kind"]) in allowed_kinds
    waves = {
        d["metadata"]["name"]: int(d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for d in argocd
    }
    assert waves["modelops-models"] > waves["modelops-runtime"] > min(waves.values())
    for doc in argocd:
        spec = doc["spec"].get("template", {}).get("spec") or doc["spec"]
        if "source" in spec:
            project_spec = named(argocd, "AppProject", spec["project"])["spec"]
            assert spec["source"]["repoURL"] in project_spec["sourceRepos"]


def test_cluster_guardrails_build_and_validate_strictly_as_core_kinds():
    docs = kustomize(CLUSTER_POLICIES)
    assert (
        sorted(d["kind"] for d in docs)
        == ["ValidatingAdmissionPolicy"] * 2 + ["ValidatingAdmissionPolicyBinding"] * 2
    )
    assert validate_core_strictly(docs) == []
    policies = {d["metadata"]["name"] for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}
    assert {d["spec"]["policyName"] for d in docs if d["kind"].endswith("Binding")} == policies


def test_the_guardrails_bind_to_every_namespace_an_overlay_targets(rendered):
    docs = kustomize(CLUSTER_POLICIES)
    binding = named(docs, "ValidatingAdmissionPolicyBinding", "modelops-inferenceservice-guardrails")
    (selector,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert (selector["key"], selector["operator"]) == ("kubernetes.io/metadata.name", "In")
    for _, name in rendered:
        assert namespace_for(name.split("/")[1]) in selector["values"], name


def test_kubernetes_validate_is_strict_about_unknown_fields():
    docs = kustomize(CLUSTER_POLICIES)
    bad = yaml.safe_load(yaml.safe_dump(docs[0]))
    bad["spec"]["failurePolicyy"] = "Fail"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
