"""The Workflow `train.backend: argo` submits, and how its status reads."""

from __future__ import annotations

from modelops.core.training_workflow import (
    PARAMETERS,
    TrainingJob,
    training_workflow,
    workflow_name,
    workflow_status,
)

JOB = TrainingJob(
    model="churn",
    run_id="0123456789abcdef0123456789abcdef",
    tracking_uri="https://mlflow.example.org",
    command="python training/churn.py",
    image="ghcr.io/example-org/churn-train:1",
    train_data="data/churn/train.csv",
    params_json='{"target": "churned"}',
    revision="a" * 40,
)


def test_the_workflow_is_named_after_its_run_and_carries_every_argument_from_the_template():
    workflow = training_workflow(JOB, "modelops-training", "modelops-train", 1.5)
    assert workflow["metadata"]["name"] == "train-churn-0123456789ab"
    assert workflow["metadata"]["namespace"] == "modelops-training"
    assert workflow["metadata"]["labels"]["modelops.io/run-id"] == JOB.run_id
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "modelops-train"}
    assert workflow["spec"]["activeDeadlineSeconds"] == 90
    arguments = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert list(arguments) == list(PARAMETERS)
    assert arguments["run-id"] == JOB.run_id and arguments["command"] == JOB.command


def test_a_long_model_name_still_gives_a_kubernetes_name():
    name = workflow_name("a-" * 40, JOB.run_id)
    assert len(name) <= 63 and name.endswith("-0123456789ab") and "--" not in name


def test_a_workflow_the_controller_has_not_seen_is_pending():
    assert workflow_status({"metadata": {"name": "w"}}).phase == "Pending"
    assert not workflow_status({}).finished


def test_a_failed_workflow_reads_its_message_and_the_failed_steps_exit_code():
    found = {
        "status": {
            "phase": "Failed",
            "message": "child 'w-1' failed\n",
            "nodes": {
                "w": {"phase": "Failed", "type": "DAG"},
                "w-1": {"phase": "Failed", "type": "Pod", "outputs": {"exitCode": "2"}},
                "w-2": {"phase": "Succeeded", "type": "Pod", "outputs": {"exitCode": "0"}},
            },
        }
    }
    status = workflow_status(found)
    assert status.finished and not status.succeeded
    assert status.message == "child 'w-1' failed" and status.failed_exit_code == 2
    assert workflow_status({"status": {"phase": "Succeeded"}}).succeeded
    assert workflow_status({"status": {"phase": "Error"}}).failed_exit_code is None
