"""The serving runtime's packaging: the ServingRuntime manifest and the container image recipe."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.serving.__main__ import build_parser
from tests.helpers import REPO_ROOT, SHARED, require_binary, run

RUNTIME_DIR = REPO_ROOT / "applications" / "runtime"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
CPU = re.compile(r"^(\d+)(m?)$")
MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _cpu(value: str) -> float:
    number, milli = CPU.fullmatch(str(value)).groups()  # type: ignore[union-attr]
    return int(number) / (1000 if milli else 1)


def _memory(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", value).groups()  # type: ignore[union-attr]
    return int(number) * MEMORY_UNITS[unit]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = require_binary("kubectl")
    out = run([kubectl, "kustomize", str(RUNTIME_DIR)]).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def runtime(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [d for d in rendered if d["kind"] == "ServingRuntime"]
    return found


@pytest.fixture(scope="module")
def container(runtime: dict[str, Any]) -> dict[str, Any]:
    (found,) = runtime["spec"]["containers"]
    return found


def test_the_runtime_renders_and_matches_the_kserve_crd(rendered: list[dict[str, Any]]) -> None:
    assert [(d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in rendered] == [
        ("serving.kserve.io/v1alpha1", "ServingRuntime", "modelops-sklearn")
    ]
    if SHARED.exists():
        manifest = run([require_binary("kubectl"), "kustomize", str(RUNTIME_DIR)]).stdout
        result = subprocess.run(
            [str(SHARED / "schemas" / "validate-crds"), "-"], input=manifest, text=True, capture_output=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 valid" in result.stdout


def test_the_runtime_serves_mlflow_models_over_v1_and_v2(runtime: dict[str, Any]) -> None:
    formats = {f["name"]: f for f in runtime["spec"]["supportedModelFormats"]}
    assert formats["mlflow"]["autoSelect"] is True
    assert set(runtime["spec"]["protocolVersions"]) == {"v1", "v2"}


def test_every_inference_service_on_this_runtime_asks_for_a_format_it_supports(
    runtime: dict[str, Any],
) -> None:
    supported = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    services = list(REPO_ROOT.glob("applications/*/base/inferenceservice.yaml"))
    for path in services:
        doc = yaml.safe_load(path.read_text())
        model = doc["spec"]["predictor"]["model"]
        if model.get("runtime") == runtime["metadata"]["name"]:
            assert model["modelFormat"]["name"] in supported, path


def test_the_image_is_pinned_by_digest(container: dict[str, Any]) -> None:
    assert DIGEST.search(container["image"]), container["image"]
    assert ":latest" not in container["image"]


def test_the_container_args_are_ones_the_entry_point_understands(container: dict[str, Any]) -> None:
    args, unknown = build_parser().parse_known_args(
        [a.replace("{{.Name}}", "churn") for a in container["args"]]
    )
    assert unknown == []
    assert args.model_dir == "/mnt/models"
    assert args.model_name == "churn"
    assert [p["containerPort"] for p in container["ports"]] == [args.http_port]


def test_ready_means_the_model_answers_ready_in_both_deployment_modes(container: dict[str, Any]) -> None:
    """The path the server answers 503 on until the warm-up passed (test_serve_local), on its port:
    KServe's Standard mode has no queue-proxy, so without it a started container would count as Ready."""
    probe = container["readinessProbe"]["httpGet"]
    args = build_parser().parse_known_args([a.replace("{{.Name}}", "churn") for a in container["args"]])[0]
    assert probe["path"].replace("{{.Name}}", "churn") == f"/v1/models/{args.model_name}"
    assert probe["port"] == args.http_port == container["ports"][0]["containerPort"]


def test_metrics_are_announced_on_the_serving_port(
    runtime: dict[str, Any], container: dict[str, Any]
) -> None:
    annotations = runtime["spec"]["annotations"]
    port = str(container["ports"][0]["containerPort"])
    assert annotations["prometheus.kserve.io/port"] == port
    assert annotations["prometheus.kserve.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == port


def test_requests_and_limits_are_set_and_consistent(container: dict[str, Any]) -> None:
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert _cpu(requests["cpu"]) <= _cpu(limits["cpu"])
    assert _memory(requests["memory"]) <= _memory(limits["memory"])


def test_the_container_runs_unprivileged_with_a_writable_tmp_only(
    runtime: dict[str, Any], container: dict[str, Any]
) -> None:
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] > 0
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in runtime["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HOME"] == "/tmp"


# -- the image recipe --------------------------------------------------------------------------


def _instructions(path: Path) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return _instructions(REPO_ROOT / "Dockerfile")


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    return instructions[starts[-1] :]


def test_every_base_image_is_pinned_by_digest(dockerfile: list[tuple[str, str]]) -> None:
    bases = [arg.split()[0] for op, arg in dockerfile if op == "FROM"]
    assert bases
    for base in bases:
        assert base.startswith("python:3.11-slim@"), base
        assert DIGEST.search(base), base
    assert not any("latest" in arg for op, arg in dockerfile if op == "FROM")


def test_the_image_runs_as_the_non_root_user_the_runtime_expects(
    dockerfile: list[tuple[str, str]], container: dict[str, Any]
) -> None:
    users = [arg for op, arg in _final_stage(dockerfile) if op == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert int(uid) == container["securityContext"]["runAsUser"]


def test_the_entry_point_is_the_serving_module_on_the_runtime_port(
    dockerfile: list[tuple[str, str]], container: dict[str, Any]
) -> None:
    final = _final_stage(dockerfile)
    (entrypoint,) = [yaml.safe_load(arg) for op, arg in final if op == "ENTRYPOINT"]
    assert entrypoint == ["python", "-m", "modelops.serving"]
    assert [arg for op, arg in final if op == "EXPOSE"] == [str(container["ports"][0]["containerPort"])]


def test_dependencies_install_at_their_locked_versions(dockerfile: list[tuple[str, str]]) -> None:
    installs = [shlex.split(arg) for op, arg in dockerfile if op == "RUN" and "pip install" in arg]
    assert any("--constraint" in cmd and "requirements.lock" in cmd for cmd in installs), installs


def test_the_build_context_holds_what_the_image_copies_and_nothing_else() -> None:
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "**", "start from nothing and allow what the image needs"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        src.rstrip("/")
        for op, arg in _instructions(REPO_ROOT / "Dockerfile")
        if op == "COPY" and not arg.startswith("--from")
        for src in arg.split()[:-1]
    }
    assert copied <= allowed, copied - allowed
    assert not any(p in allowed for p in (".git", ".venv", "tests", "data", ".modelops"))
