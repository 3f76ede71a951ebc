"""The workflows and the code agree on environment variables.

Every variable a workflow sets is read by someone: the step's own script, the modelops code, or a tool
that documents reading it. Every variable the modelops code reads is set by a workflow, provided by
GitHub on every runner, or documented for whoever sets it (docs/, README). A name that differs by a
prefix (PUSHGATEWAY_URL vs MODELOPS_PUSHGATEWAY_URL) fails both ways.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO_ROOT
from tests.workflows.workflow_files import action_paths, load, workflow_paths

CODE = REPO_ROOT / "scripts" / "modelops"
# Code that never runs on a runner: the model server and the relay run in the cluster (their variables
# are set by their manifests), the sandbox and the local serving demo on a laptop.
NOT_IN_ACTIONS = ("serving/", "relay/", "sandbox/", "flows/serve.py", "sandbox/demo.py", "sandbox/world.py")
DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^[A-Z]{2,}$")

# Read by a tool the step runs, not by modelops or the script: the tool's documented variables.
READ_BY_TOOLS = {
    "GIT_AUTHOR_NAME": "git",
    "GIT_AUTHOR_EMAIL": "git",
    "GIT_COMMITTER_NAME": "git",
    "GIT_COMMITTER_EMAIL": "git",
    "MLFLOW_TRACKING_TOKEN": "the MLflow client (bearer token)",
    "GH_TOKEN": "the gh CLI",
}
# Read by the code, set by the platform the code runs on.
SET_BY_PLATFORMS = {
    "KUBECONFIG": "the Kubernetes clients' standard kubeconfig path",
    "KUBERNETES_SERVICE_HOST": "set by Kubernetes inside a pod",
}
# Set by GitHub on every runner (docs.github.com: "Default environment variables"), or by the OS.
PROVIDED = {"CI", "PATH", "USER", "HOME"}
PROVIDED_PREFIXES = ("GITHUB_", "RUNNER_")


def _is_env_access(node: ast.AST) -> ast.expr | None:
    """The key of `<...env...>.get(KEY)` / `<...env...>[KEY]`, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        target, key = node.func.value, node.args[0] if node.args else None
    elif isinstance(node, ast.Subscript):
        target, key = node.value, node.slice
    else:
        return None
    if key is None or "env" not in ast.unparse(target).lower():
        return None
    return key


def code_reads() -> dict[str, str]:
    """Variable name -> the file that reads it, from the modelops package's source."""
    found: dict[str, str] = {}
    for path in sorted(CODE.rglob("*.py")):
        if str(path.relative_to(CODE)).startswith(NOT_IN_ACTIONS):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            key = _is_env_access(node)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                name = key.value
            elif isinstance(key, ast.Name) and key.id in constants:
                name = constants[key.id]
            else:
                continue
            if ENV_NAME.match(name):
                found.setdefault(name, str(path.relative_to(REPO_ROOT)))
    return found


def _scripts(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "run" and isinstance(value, str):
                yield value
            else:
                yield from _scripts(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _scripts(item)


def _env_blocks(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, env mapping, the scope it applies to) for the workflow, each job and each step."""
    if doc.get("env"):
        yield "env", doc["env"], doc
    for job_id, job in (doc.get("jobs") or {}).items():
        if job.get("env"):
            yield f"jobs.{job_id}.env", job["env"], job
        for i, step in enumerate(job.get("steps") or []):
            if step.get("env"):
                yield f"jobs.{job_id}.steps[{i}].env", step["env"], step
    for i, step in enumerate((doc.get("runs") or {}).get("steps") or []):
        if step.get("env"):
            yield f"runs.steps[{i}].env", step["env"], step


def workflow_sets() -> list[tuple[str, str, str]]:
    """(where, name, the scripts in its scope) for every variable a workflow or composite action sets."""
    rows = []
    for path in [*workflow_paths(), *action_paths()]:
        doc = load(path)
        for where, env, scope in _env_blocks(doc):
            scripts = "\n".join(_scripts(scope))
            for name in env:
                rows.append((f"{path.relative_to(REPO_ROOT)}:{where}.{name}", str(name), scripts))
    return rows


def _documented(name: str) -> bool:
    return any(re.search(rf"\b{name}\b", path.read_text("utf-8")) for path in DOCS)


READS = code_reads()
SETS = workflow_sets()
SET_NAMES = {name for _, name, _ in SETS}


def test_the_code_reads_are_found() -> None:
    # The scan itself: names read directly, and names read through a module constant.
    assert {
        "MLFLOW_TRACKING_URI",
        "GITHUB_TOKEN",
        "MODELOPS_PUSHGATEWAY_URL",
        "MODELOPS_APP_CLIENT_ID",
    } <= set(READS)


@pytest.mark.parametrize(("where", "name", "scripts"), SETS, ids=[row[0] for row in SETS])
def test_every_variable_a_workflow_sets_is_read(where: str, name: str, scripts: str) -> None:
    in_script = re.search(rf"\$\{{?{name}\b", scripts) is not None
    assert in_script or name in READS or name in READ_BY_TOOLS, (
        f"{where}: nothing reads {name} (not the step's script, not scripts/modelops, not a known tool)"
    )


@pytest.mark.parametrize("name", sorted(READS), ids=sorted(READS))
def test_every_variable_the_code_reads_is_set_provided_or_documented(name: str) -> None:
    provided = name in PROVIDED or name.startswith(PROVIDED_PREFIXES) or name in SET_BY_PLATFORMS
    assert provided or name in SET_NAMES or _documented(name), (
        f"{READS[name]} reads {name}: no workflow sets it and neither docs/ nor the README say who does"
    )


def test_a_renamed_variable_fails_both_ways(tmp_path: Path) -> None:
    # The check that would have caught rollback.yml's PUSHGATEWAY_URL: a set name nothing reads.
    name = "PUSHGATEWAY_URL"
    assert name not in READS and name not in READ_BY_TOOLS
    assert re.search(rf"\$\{{?{name}\b", "modelops notify rollback-failed --model m") is None
