"""`train.backend: argo`: the command runs as an Argo Workflow from the WorkflowTemplate in
applications/training, submitted through the Kubernetes API and followed with its logs; modelops then
reads the MLflow run back and registers as for a local run. Against the Kubernetes API double, with
an actor playing Argo's controller that really runs the template's steps against a real MLflow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.cli import main
from modelops.core import lineage
from tests.helpers import REPO_ROOT, SHARED
from tests.train.argo_cluster import ArgoCluster

TRAINER = Path(__file__).with_name("contract_trainer.py")
NAMESPACE = "modelops-training"
TEMPLATE = REPO_ROOT / "applications" / "training" / "workflowtemplate.yaml"
REGISTERED = "churn-classifier"
CHURN_TRAIN = "    train:\n      # The training code is the user's: a plain script that logs one MLflow model named `model`.\n      command: python training/churn.py\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def train_section(mode: str, timeout_minutes: float = 2) -> str:
    """churn trains on Argo; `mode` is contract_trainer.py's, or arguments for python itself."""
    command = f"{sys.executable} {mode}" if mode.startswith("-c ") else f"{sys.executable} {TRAINER} {mode}"
    return (
        "    train:\n"
        f"      command: {command}\n"
        "      backend: argo\n"
        "      argo:\n"
        f"        namespace: {NAMESPACE}\n"
        "        template: modelops-train\n"
        "        image: ghcr.io/example-org/churn-train:{revision}\n"
        f"        timeout_minutes: {timeout_minutes}\n"
    )


@dataclass
class ArgoWorld:
    repo: Path
    cluster: ArgoCluster
    tracking_uri: str
    kubeconfig: Path

    def registry(self) -> Any:
        from modelops.adapters.registry import Registry

        return Registry(self.tracking_uri, None, create=True)

    @contextmanager
    def training(self, mode: str, timeout_minutes: float = 2) -> Iterator[None]:
        path = self.repo / "models.yaml"
        original = path.read_text("utf-8")
        path.write_text(
            original.replace(train_section("pyfunc"), train_section(mode, timeout_minutes)), "utf-8"
        )
        try:
            yield
        finally:
            path.write_text(original, "utf-8")
            self.cluster.behaviour = "run"


@pytest.fixture(scope="module")
def argo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArgoWorld]:
    """A small repository training churn on Argo, a SQLite MLflow, and a cluster with the template."""
    from modelops.adapters.dvc_data import md5_of
    from modelops.sandbox.datagen import write_dataset

    root = tmp_path_factory.mktemp("argo")
    repo = root / "repo"
    repo.mkdir()
    for name in ("params.yaml", ".gitignore"):
        shutil.copy(REPO_ROOT / name, repo / name)
    models = (REPO_ROOT / "models.yaml").read_text("utf-8")
    assert CHURN_TRAIN in models
    (repo / "models.yaml").write_text(models.replace(CHURN_TRAIN, train_section("pyfunc")), "utf-8")
    data = write_dataset(repo / "data" / "churn", {"data": {"rows": 400, "seed": 3, "months": 2}})
    outs = [{"path": f"data/churn/{p.name}", "hash": "md5", "md5": md5_of(p)} for p in data.values()]
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"generate": {"outs": outs}}}))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "churn on Argo")
    cluster = ArgoCluster(repo)
    cluster.install(yaml.safe_load(TEMPLATE.read_text("utf-8")), NAMESPACE)
    try:
        yield ArgoWorld(
            repo=repo,
            cluster=cluster,
            tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
            kubeconfig=cluster.kubeconfig(root / "kubeconfig"),
        )
    finally:
        cluster.close()


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def last(self) -> str:
        return self.err.strip().splitlines()[-1]


@pytest.fixture
def train(argo: ArgoWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`modelops train --model churn` in this process (the kubernetes client is slow to import)."""

    def run(*args: str) -> Outcome:
        monkeypatch.setenv("KUBECONFIG", str(argo.kubeconfig))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", argo.tracking_uri)
        monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
        capsys.readouterr()
        code = main(["train", "--model", "churn", "--repo", str(argo.repo), "--interval", "0.5", *args])
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return run


@pytest.fixture(scope="module")
def trained(argo: ArgoWorld) -> dict[str, Any]:
    """The first Workflow of the module, which succeeds: what it submitted and what modelops said."""
    box: dict[str, Any] = {}
    return box


def new_run(world: ArgoWorld, before: set[str]) -> Any:
    (run,) = [r for r in world.registry().search_runs(REGISTERED) if r.info.run_id not in before]
    return run


def run_ids(world: ArgoWorld) -> set[str]:
    return {r.info.run_id for r in world.registry().search_runs(REGISTERED)}


def test_the_workflow_trains_in_modelops_run_and_modelops_registers_the_candidate(argo, train, trained):
    done = train("--json")
    assert done.code == 0, done.err
    out = json.loads(done.out)
    (submitted,) = argo.cluster.created
    name = submitted["metadata"]["name"]
    assert out["backend"] == "argo" and out["workflow"] == f"{NAMESPACE}/{name}"
    arguments = {p["name"]: p["value"] for p in submitted["spec"]["arguments"]["parameters"]}
    head = git(argo.repo, "rev-parse", "HEAD")
    assert arguments["run-id"] == out["run_id"] and arguments["revision"] == head
    assert arguments["image"] == f"ghcr.io/example-org/churn-train:{head}"
    assert arguments["tracking-uri"] == argo.tracking_uri
    # The step ran inside modelops' run, from the Workflow's arguments as the template maps them.
    run = argo.registry().run_info(out["run_id"])
    assert run.data.params["seen.run_is_modelops"] == "True"
    assert run.data.params["seen.target"] == "churned"
    # Registered exactly as a local run is: lineage, the signature's columns, the candidate alias.
    registry = argo.registry()
    info = registry.version(REGISTERED, out["version"])
    assert info.run_id == out["run_id"]
    assert info.tags[lineage.GIT_COMMIT] == head
    assert info.tags[lineage.TRAIN_COMMAND] == f"{sys.executable} {TRAINER} pyfunc"
    assert registry.get_alias(REGISTERED, "candidate") == out["version"]
    assert registry.input_columns(REGISTERED, out["version"]) == [
        "tenure_months",
        "monthly_charges",
        "contract",
    ]
    assert run.info.status == "FINISHED"
    # Followed through its phases, each step's log streamed once, prefixed with its step.
    phases = [line.rsplit(": ", 1)[-1] for line in done.err.splitlines() if "… Argo Workflow" in line]
    assert phases == ["Pending", "Running", "Succeeded"], done.err
    assert done.err.count("  | train: user code: run ") == 1
    (evaluated,) = [line for line in done.err.splitlines() if line.startswith("  | evaluate: ")]
    assert "logged its model" in evaluated
    assert argo.cluster.verbs().count("POST") == 1 and "DELETE" not in argo.cluster.verbs()
    trained.update(submitted=submitted, final=argo.cluster.workflows[(NAMESPACE, name)])


@pytest.mark.parametrize(
    ("status", "code", "refused"), [(1, 3, "Failed"), (2, 2, "refused its input (exit 2)")]
)
def test_a_failing_command_fails_the_workflow_and_registers_nothing(argo, train, status, code, refused):
    registry = argo.registry()
    before, candidate, runs = (
        registry.latest_version(REGISTERED),
        registry.get_alias(REGISTERED, "candidate"),
        run_ids(argo),
    )
    with argo.training(f"""-c "print('loading the data'); raise SystemExit({status})\""""):
        done = train()
    assert done.code == code, done.err
    assert f"{refused} in Argo Workflow modelops-training/train-churn-" in done.last
    assert done.last.endswith(
        f"with exit {status}: loading the data" if status == 1 else ": loading the data"
    )
    assert "models.churn.train.command" in done.last and "Traceback" not in done.err
    assert registry.latest_version(REGISTERED) == before
    assert registry.get_alias(REGISTERED, "candidate") == candidate
    assert new_run(argo, runs).info.status == "FAILED"


def test_the_templates_evaluate_step_fails_a_run_that_logged_no_model(argo, train):
    """The in-cluster check, run as the template says, on a run whose command logged nothing."""
    with argo.training("""-c "print('trained, forgot to log')\""""):
        done = train()
    assert done.code == 3, done.err
    assert "  | evaluate: run " in done.err and "logged no model; log exactly one, named 'model'" in done.last
    assert "Failed in Argo Workflow" in done.last


def test_a_workflow_that_outlives_its_timeout_is_deleted_and_nothing_is_registered(argo, train):
    registry = argo.registry()
    before, runs = registry.latest_version(REGISTERED), run_ids(argo)
    argo.cluster.behaviour = "hang"
    with argo.training("pyfunc", timeout_minutes=0.03):
        done = train()
    assert done.code == 3, done.err
    assert done.last.startswith("modelops: error: Argo Workflow modelops-training/train-churn-")
    assert "did not finish within 0.03 min" in done.last and "deleted it, nothing registered" in done.last
    assert "models.churn.train.argo.timeout_minutes" in done.last
    assert "  | train: epoch 1 of 100" in done.err  # its log streamed while it ran
    name = argo.cluster.created[-1]["metadata"]["name"]
    assert argo.cluster.verbs()[-1] == "DELETE" and (NAMESPACE, name) not in argo.cluster.workflows
    assert registry.latest_version(REGISTERED) == before
    assert new_run(argo, runs).info.status == "FAILED"


def test_a_workflow_deleted_mid_run_is_exit_3_in_one_line(argo, train):
    runs = run_ids(argo)
    argo.cluster.behaviour = "vanish"
    with argo.training("pyfunc"):
        done = train()
    assert done.code == 3, done.err
    assert "was deleted while Running; nothing registered" in done.last
    assert len([line for line in done.err.splitlines() if "deleted while" in line]) == 1
    assert new_run(argo, runs).info.status == "FAILED"


def test_a_template_missing_from_the_cluster_errors_the_workflow(argo, train):
    template = argo.cluster.templates.pop((NAMESPACE, "modelops-train"))
    try:
        done = train()
    finally:
        argo.cluster.templates[(NAMESPACE, "modelops-train")] = template
    assert done.code == 3
    assert (
        "Error in Argo Workflow" in done.last
        and 'workflowtemplates.argoproj.io "modelops-train" not found' in done.last
    )


def test_the_api_refuses_a_second_workflow_of_the_same_name_and_forgets_a_deleted_one(argo, monkeypatch):
    from modelops.adapters.kube import Kube
    from modelops.errors import ExternalError

    kube = Kube.from_environment({"KUBECONFIG": str(argo.kubeconfig)})
    argo.cluster.behaviour = "hang"
    try:
        body = json.loads(json.dumps(argo.cluster.created[0]))
        body["metadata"]["name"] = "train-churn-clash"
        created = kube.create_custom("argoproj.io", "v1alpha1", "workflows", body)
        assert created["metadata"]["uid"]
        with pytest.raises(
            ExternalError, match=r'409 Conflict: workflows.argoproj.io "train-churn-clash" already exists'
        ):
            kube.create_custom("argoproj.io", "v1alpha1", "workflows", body)
        assert kube.delete_custom("argoproj.io", "v1alpha1", NAMESPACE, "workflows", "train-churn-clash")
        assert kube.get_custom("argoproj.io", "v1alpha1", NAMESPACE, "workflows", "train-churn-clash") is None
        assert not kube.delete_custom("argoproj.io", "v1alpha1", NAMESPACE, "workflows", "train-churn-clash")
        elsewhere = json.loads(json.dumps(body))
        elsewhere["metadata"]["namespace"] = "nowhere"
        with pytest.raises(
            ExternalError, match=r"is the argoproj.io CRD installed and the namespace nowhere there"
        ):
            kube.create_custom("argoproj.io", "v1alpha1", "workflows", elsewhere)
    finally:
        argo.cluster.behaviour = "run"


@pytest.mark.skipif(
    not (SHARED / "schemas" / "validate-crds").is_file(),
    reason="the Argo Workflows CRD is in ../shared/schemas",
)
def test_what_was_submitted_and_what_the_double_answered_validate_against_the_argo_crd(
    argo, trained, tmp_path
):
    from tests.manifests.test_training_template import argo_crd_verdicts

    docs = [*argo.cluster.created, trained["final"]]
    verdicts, report = argo_crd_verdicts(docs, tmp_path)
    assert set(verdicts) == {"ok Workflow"}, report
    assert trained["final"]["status"]["phase"] == "Succeeded"
