"""applications/training: the WorkflowTemplate `train.backend: argo` submits to, and the Workflow
modelops creates from it, validate against the upstream Argo Workflows CRDs (../shared/schemas, when
present); the core kinds against the Kubernetes OpenAPI schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from modelops.core.training_workflow import PARAMETERS, training_workflow
from tests.core.test_training_workflow import JOB
from tests.helpers import REPO_ROOT, SHARED
from tests.manifests.test_manifests_valid import KUBERNETES_VERSION, kustomize

TRAINING = REPO_ROOT / "applications" / "training"
ARGO_CRDS = ("argoproj.io_workflows.yaml", "argoproj.io_workflowtemplates.yaml")


def argo_crd_verdicts(docs: list[dict[str, Any]], tmp_path: Path) -> tuple[list[str], str]:
    """validate-crds over the two Argo Workflows CRDs only (each is megabytes of schema): one verdict
    per document, and the tool's report."""
    crds = tmp_path / "crds"
    crds.mkdir()
    for name in ARGO_CRDS:
        shutil.copy(SHARED / "schemas" / "crds" / name, crds / name)
    done = subprocess.run(
        [sys.executable, str(SHARED / "schemas" / "validate-crds"), "--crds", str(crds), "-"],
        input=yaml.safe_dump_all(docs),
        capture_output=True,
        text=True,
    )
    verdicts = [
        line.split()[0] for line in done.stdout.splitlines() if line.split()[:1] in (["ok"], ["FAIL"])
    ]
    assert len(verdicts) == len(docs), done.stdout + done.stderr
    assert (done.returncode == 0) == ("FAIL" not in verdicts), done.stdout + done.stderr
    return [f"{v} {d['kind']}" for v, d in zip(verdicts, docs, strict=True)], done.stdout


@pytest.fixture(scope="module")
def built() -> list[dict[str, Any]]:
    return kustomize(TRAINING)


def template_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == "WorkflowTemplate"]
    return found


def test_the_template_declares_exactly_the_arguments_modelops_passes(built):
    template = template_of(built)
    declared = [p["name"] for p in template["spec"]["arguments"]["parameters"]]
    assert declared == list(PARAMETERS)
    submitted = training_workflow(JOB, "modelops-training", "modelops-train", 90)
    passed = [p["name"] for p in submitted["spec"]["arguments"]["parameters"]]
    assert passed == declared
    assert submitted["spec"]["workflowTemplateRef"] == {"name": template["metadata"]["name"]}
    assert submitted["spec"]["activeDeadlineSeconds"] == 5400


def test_its_dag_trains_then_evaluates_in_the_image_it_is_given(built):
    spec = template_of(built)["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = templates[spec["entrypoint"]]["dag"]["tasks"]
    assert [(t["name"], t.get("depends")) for t in tasks] == [("train", None), ("evaluate", "train")]
    train = templates["train"]["container"]
    assert train["image"] == "{{workflow.parameters.image}}"
    env = {e["name"]: e["value"] for e in train["env"]}
    assert env["MLFLOW_RUN_ID"] == "{{workflow.parameters.run-id}}"
    assert {"MLFLOW_TRACKING_URI", "MODELOPS_MODEL", "MODELOPS_TRAIN_DATA", "MODELOPS_PARAMS_JSON"} <= set(
        env
    )
    assert spec["serviceAccountName"] in {
        d["metadata"]["name"] for d in built if d["kind"] == "ServiceAccount"
    }


def test_everything_lands_in_the_training_namespace_and_core_kinds_validate_strictly(built):
    assert {d["metadata"]["namespace"] for d in built} == {"modelops-training"}
    core = [d for d in built if d["kind"] != "WorkflowTemplate"]
    assert {d["kind"] for d in core} == {"ServiceAccount", "Role", "RoleBinding"}
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_submitter_role_allows_what_modelops_train_calls(built):
    (role,) = [
        d for d in built if d["kind"] == "Role" and d["metadata"]["name"] == "modelops-train-submitter"
    ]
    rules = {(r["apiGroups"][0], res): set(r["verbs"]) for r in role["rules"] for res in r["resources"]}
    assert rules == {
        ("argoproj.io", "workflows"): {"create", "get", "delete"},
        ("", "pods"): {"list"},
        ("", "pods/log"): {"get"},
    }


@pytest.mark.skipif(
    not (SHARED / "schemas" / "validate-crds").is_file(),
    reason="the Argo Workflows CRDs are in ../shared/schemas",
)
def test_the_template_and_the_submitted_workflow_validate_against_the_argo_crds(built, tmp_path):
    submitted = training_workflow(JOB, "modelops-training", "modelops-train", 90)
    # The schema is strict enough to notice a misspelt field.
    broken = yaml.safe_load(yaml.safe_dump(submitted))
    broken["spec"]["workflowTemplateRefs"] = broken["spec"].pop("workflowTemplateRef")
    verdicts, report = argo_crd_verdicts([template_of(built), submitted, broken], tmp_path)
    assert verdicts == ["ok WorkflowTemplate", "ok Workflow", "FAIL Workflow"], report
    assert "workflowTemplateRefs" in report
