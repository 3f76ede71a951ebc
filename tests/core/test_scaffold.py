"""What `modelops init model` plans: pure, from the files' text, refusing what cannot be a Model."""

from __future__ import annotations

import pytest
import yaml

from modelops.core.document import ModelsDocument
from modelops.core.scaffold import EDITED, PRESETS, TASKS, name_problem, plan_init
from modelops.errors import BadInput
from tests.core.template import template_text
from tests.helpers import REPO_ROOT

FILES = {path: (REPO_ROOT / path).read_text("utf-8") for path in EDITED} | {"models.yaml": template_text()}


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Fraud", "not a valid Kubernetes name"),
        ("fraud_detector", "not a valid Kubernetes name"),
        ("fraud.v2", "not a valid Kubernetes name"),
        ("-fraud", "not a valid Kubernetes name"),
        ("fraud-", "not a valid Kubernetes name"),
        ("f" * 64, "not a valid Kubernetes name"),
        ("9lives", "a letter first"),
        ("f" * 43, "2 to 42 characters"),
        ("x", "2 to 42 characters"),
        ("relay", "reserved"),
    ],
)
def test_a_name_that_cannot_name_a_model_is_refused_saying_why(name: str, why: str) -> None:
    assert why in (name_problem(name) or "")
    with pytest.raises(BadInput, match=why):
        plan_init(name, "binary", FILES)


@pytest.mark.parametrize("name", ["fraud", "fraud-detector", "m2", "a" * 42])
def test_kubernetes_names_that_fit_models_yaml_are_accepted(name: str) -> None:
    assert name_problem(name) is None


def test_an_existing_model_is_refused_naming_it() -> None:
    with pytest.raises(BadInput, match=r"models.yaml: model 'churn' exists already \(models.churn\)"):
        plan_init("churn", "binary", FILES)


def test_a_name_another_model_registers_under_is_refused() -> None:
    with pytest.raises(BadInput, match=r"models\.visits.registered_model is 'visits-regressor'"):
        plan_init("visits-regressor", "binary", FILES)


def test_files_of_the_name_already_on_disk_are_refused_naming_the_first() -> None:
    with pytest.raises(BadInput, match=r"training/fraud\.py: exists already"):
        plan_init("fraud", "binary", FILES, existing=frozenset({"training/fraud.py"}))
    with pytest.raises(BadInput, match="data/fraud/: exists already"):
        plan_init("fraud", "binary", FILES, existing=frozenset({"data/fraud/"}))


def test_a_params_section_or_dvc_stage_of_the_name_is_refused() -> None:
    params = FILES["params.yaml"] + "\nfraud:\n  target: y\n"
    with pytest.raises(BadInput, match=r"params\.yaml: a `fraud:` section exists already"):
        plan_init("fraud", "binary", {**FILES, "params.yaml": params})
    dvc = FILES["dvc.yaml"] + "  fraud_data:\n    cmd: echo\n"
    with pytest.raises(BadInput, match=r"dvc\.yaml: stages\.fraud_data exists already"):
        plan_init("fraud", "binary", {**FILES, "dvc.yaml": dvc})


def test_an_unknown_task_is_refused() -> None:
    with pytest.raises(BadInput, match="--task ranking: not a task"):
        plan_init("fraud", "ranking", FILES)


@pytest.mark.parametrize("task", TASKS)
def test_the_entry_is_a_valid_model_of_its_task_and_every_other_line_survives(task: str) -> None:
    plan = plan_init("fraud", task, FILES)
    for path in ("models.yaml", "params.yaml", "dvc.yaml", ".github/CODEOWNERS"):
        new_lines = plan.modified[path].splitlines()
        old_lines = FILES[path].splitlines()
        # Every old line, comments included, is still there and in the same order.
        it = iter(new_lines)
        assert all(line in it for line in old_lines), path
    model = ModelsDocument(plan.modified["models.yaml"]).state().model("fraud")
    assert (model.gate.task, model.gate.primary_metric) == (task, PRESETS[task].metric)
    assert model.train.command == "python training/fraud.py"
    assert set(model.environments) == {"staging", "production"}
    assert all(env.version is None for env in model.environments.values())
    params = yaml.safe_load(plan.modified["params.yaml"])["fraud"]
    assert params["target"] == "label" and params["features"]["categorical"] == ["segment"]
    stage = yaml.safe_load(plan.modified["dvc.yaml"])["stages"]["fraud_data"]
    assert stage["outs"] == ["data/fraud/train.csv", "data/fraud/golden.csv"]
    assert stage["params"] == ["fraud.data"]
    assert (
        "rules/model-fraud.yaml"
        in yaml.safe_load(plan.modified["monitoring/kustomization.yaml"])["resources"]
    )
    assert "/applications/fraud/        @org/fraud-owners" in plan.modified[".github/CODEOWNERS"]
    assert PRESETS[task].estimator in plan.created["training/fraud.py"]
    assert sorted(p for p in plan.created if p.startswith("applications/")) == sorted(
        [
            f"applications/fraud/base/{f}"
            for f in ("inferenceservice.yaml", "kustomization.yaml", "podmonitor.yaml")
        ]
        + [
            f"applications/fraud/overlays/{env}/{f}"
            for env in ("production", "staging")
            for f in ("destination.yaml", "inferenceservice-patch.yaml", "kustomization.yaml")
        ]
    )


def test_a_crlf_models_yaml_keeps_its_line_endings() -> None:
    crlf = {**FILES, "models.yaml": FILES["models.yaml"].replace("\n", "\r\n")}
    text = plan_init("fraud", "binary", crlf).modified["models.yaml"]
    assert text.startswith(crlf["models.yaml"])
    assert "\n" not in text.replace("\r\n", "")


def test_a_models_yaml_the_editor_would_reformat_is_refused_before_any_plan() -> None:
    odd = FILES["models.yaml"].replace("    owners: [alice, bob]", "    owners:   [alice, bob]")
    with pytest.raises(BadInput, match=r"models\.yaml:.*formatting the round-trip editor cannot preserve"):
        plan_init("fraud", "binary", {**FILES, "models.yaml": odd})


def test_a_pipeline_of_environments_is_copied_without_the_other_models_state() -> None:
    doc = FILES["models.yaml"].replace(
        "      production:\n        version: null\n        run_id: null\n        alias: production",
        "      production:\n        version: null\n        run_id: null\n        alias: production\n"
        "        upstream: staging\n        soak: 2h\n        deployment_mode: Standard\n        canary_steps: []",
        1,
    )
    plan = plan_init("fraud", "regression", {**FILES, "models.yaml": doc})
    production = ModelsDocument(plan.modified["models.yaml"]).state().model("fraud").env("production")
    assert (production.upstream, production.soak) == ("staging", "2h")
    assert production.deployment_mode == "Standard" and production.canary_steps == ()
    assert production.history == () or list(production.history) == []
