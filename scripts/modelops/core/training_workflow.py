"""`train.backend: argo`: the Workflow `modelops train` submits, and what its status says.

Pure: the adapter sends the manifest and returns the objects the API server answered with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GROUP = "argoproj.io"
VERSION = "v1alpha1"
PLURAL = "workflows"
MANAGED_BY = "modelops"
MODEL_LABEL = "modelops.io/model"
RUN_LABEL = "modelops.io/run-id"
# Argo labels every pod of a Workflow with the Workflow's name; its main container is `main`.
WORKFLOW_POD_LABEL = "workflows.argoproj.io/workflow"
NODE_NAME_ANNOTATION = "workflows.argoproj.io/node-name"
MAIN_CONTAINER = "main"
# The arguments the WorkflowTemplate in applications/training declares (a test holds them equal).
PARAMETERS = ("model", "run-id", "tracking-uri", "command", "image", "train-data", "params-json", "revision")
FINISHED = ("Succeeded", "Failed", "Error")
NAME_LIMIT = 63


@dataclass(frozen=True)
class TrainingJob:
    """What one Workflow trains: the model, in the run modelops started, with the contract's inputs."""

    model: str
    run_id: str
    tracking_uri: str
    command: str
    image: str
    train_data: str
    params_json: str
    revision: str


def workflow_name(model: str, run_id: str) -> str:
    """One name per run: a second submission of the same run is refused by the API server (409)."""
    suffix = f"-{run_id[:12]}"
    return f"train-{model}"[: NAME_LIMIT - len(suffix)].rstrip("-.") + suffix


def training_workflow(
    job: TrainingJob, namespace: str, template: str, timeout_minutes: float
) -> dict[str, Any]:
    values = {
        "model": job.model,
        "run-id": job.run_id,
        "tracking-uri": job.tracking_uri,
        "command": job.command,
        "image": job.image,
        "train-data": job.train_data,
        "params-json": job.params_json,
        "revision": job.revision,
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Workflow",
        "metadata": {
            "name": workflow_name(job.model, job.run_id),
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGED_BY,
                MODEL_LABEL: job.model,
                RUN_LABEL: job.run_id,
            },
        },
        "spec": {
            "workflowTemplateRef": {"name": template},
            # The cluster stops the Workflow by itself even when the runner following it is gone.
            "activeDeadlineSeconds": max(1, math.ceil(timeout_minutes * 60)),
            "arguments": {"parameters": [{"name": n, "value": values[n]} for n in PARAMETERS]},
        },
    }


@dataclass(frozen=True)
class WorkflowStatus:
    phase: str
    message: str
    failed_exit_code: int | None = None

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded"


def workflow_status(found: Mapping[str, Any]) -> WorkflowStatus:
    """The phase (Pending until the controller has seen it), its message, and the exit code of a
    failed step when Argo recorded one."""
    status = found.get("status") or {}
    exit_code = None
    for node in (status.get("nodes") or {}).values():
        code = str(((node or {}).get("outputs") or {}).get("exitCode", ""))
        if node.get("phase") in ("Failed", "Error") and code.lstrip("-").isdigit() and int(code) != 0:
            exit_code = int(code)
    return WorkflowStatus(
        phase=str(status.get("phase") or "Pending"),
        message=" ".join(str(status.get("message") or "").split()),
        failed_exit_code=exit_code,
    )
