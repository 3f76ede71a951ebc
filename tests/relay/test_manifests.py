"""applications/relay: what Kubernetes and the rest of the repository expect of the relay's manifests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT, SHARED, VENV_BIN, require_binary, run

RELAY_DIR = REPO_ROOT / "applications" / "relay"
ALERTMANAGER = REPO_ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kubectl = require_binary("kubectl")
    out = tmp_path_factory.mktemp("relay") / "relay.yaml"
    out.write_text(run([kubectl, "kustomize", str(RELAY_DIR)]).stdout)
    return out


@pytest.fixture(scope="module")
def docs(rendered: Path) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all(rendered.read_text()) if d}


def relay_container(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    [container] = [
        c for c in docs["Deployment"]["spec"]["template"]["spec"]["containers"] if c["name"] == "relay"
    ]
    return container


def test_the_core_kinds_pass_strict_kubernetes_schema_validation(rendered: Path) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "kubernetes-validate"), "--strict", "--no-warn", str(rendered)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for kind in ("deployment", "service", "persistentvolumeclaim", "networkpolicy", "serviceaccount"):
        assert f"passed for resource {kind}/" in result.stdout + result.stderr


def test_the_service_monitor_passes_the_prometheus_operator_crd(rendered: Path, docs) -> None:  # type: ignore[no-untyped-def]
    monitor = docs["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert [e["path"] for e in monitor["spec"]["endpoints"]] == ["/metrics"]
    if SHARED.exists():
        result = run([str(SHARED / "schemas" / "validate-crds"), str(rendered)], check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok" in result.stdout and "ServiceMonitor/modelops-relay" in result.stdout


def test_everything_lives_in_namespace_modelops_as_alertmanager_expects(docs) -> None:  # type: ignore[no-untyped-def]
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"modelops"}
    url = yaml.safe_load(ALERTMANAGER.read_text())["receivers"][0]["webhook_configs"][0]["url"]
    service = docs["Service"]
    [port] = service["spec"]["ports"]
    assert url == f"http://{service['metadata']['name']}.modelops.svc:{port['port']}/alerts"


def test_the_service_and_monitor_reach_the_relay_port_by_name(docs) -> None:  # type: ignore[no-untyped-def]
    container = relay_container(docs)
    pod_labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    service = docs["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in named_ports
    monitor = docs["ServiceMonitor"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    args = container["args"]
    assert args[0] == "relay"
    assert int(args[args.index("--port") + 1]) == named_ports["http"]


def test_the_pod_runs_as_non_root_with_a_read_only_root_and_no_capabilities(docs) -> None:  # type: ignore[no-untyped-def]
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert "memory" in container["resources"]["limits"]


def test_images_are_pinned_by_digest(docs) -> None:  # type: ignore[no-untyped-def]
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    for container in pod["containers"] + pod.get("initContainers", []):
        assert re.search(r"@sha256:[0-9a-f]{64}$", container["image"]), container["image"]


def test_credentials_come_from_the_secret_never_from_git(docs) -> None:  # type: ignore[no-untyped-def]
    env = {e["name"]: e for e in relay_container(docs)["env"]}
    for name in ("MODELOPS_RELAY_TOKEN", "MODELOPS_APP_CLIENT_ID"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "modelops-relay"
        assert "value" not in env[name]
    assert env["MODELOPS_RELAY_HMAC_SECRET"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "Secret" not in docs


def test_the_relay_mints_its_github_tokens_from_the_apps_key_no_long_lived_token(docs) -> None:  # type: ignore[no-untyped-def]
    container = relay_container(docs)
    env = {e["name"]: e for e in container["env"]}
    assert "GITHUB_TOKEN" not in env, "an installation token expires in an hour: the relay mints its own"
    key_file = env["MODELOPS_APP_PRIVATE_KEY_FILE"]["value"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in docs["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    [(name, mount)] = [(n, m) for n, m in mounts.items() if key_file.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    secret = volumes[name]["secret"]
    assert secret["secretName"] == "modelops-relay"
    assert [i["path"] for i in secret["items"]] == [key_file.rsplit("/", 1)[1]]


def test_readiness_and_liveness_use_healthz(docs) -> None:  # type: ignore[no-untyped-def]
    container = relay_container(docs)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
        assert container[probe]["httpGet"]["port"] == "http"


def test_one_pod_owns_the_incident_log_on_a_persistent_volume(docs) -> None:  # type: ignore[no-untyped-def]
    deployment = docs["Deployment"]["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"]["type"] == "Recreate"
    args = relay_container(docs)["args"]
    state_dir = args[args.index("--state") + 1]
    mounts = {m["mountPath"]: m["name"] for m in relay_container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["template"]["spec"]["volumes"]}
    claim = volumes[mounts[state_dir]]["persistentVolumeClaim"]["claimName"]
    assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
    # Room for a rollback in progress to finish after SIGTERM.
    assert deployment["template"]["spec"]["terminationGracePeriodSeconds"] >= 60


def test_the_network_policy_admits_the_monitoring_namespace_on_the_relay_port(docs) -> None:  # type: ignore[no-untyped-def]
    policy = docs["NetworkPolicy"]["spec"]
    assert (
        policy["podSelector"]["matchLabels"].items()
        <= docs["Deployment"]["spec"]["selector"]["matchLabels"].items()
    )
    [rule] = policy["ingress"]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert rule["ports"][0]["port"] == "http"
