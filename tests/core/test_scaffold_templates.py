"""The files `modelops init model` writes, as templates: each becomes valid Python or YAML for any task."""

from __future__ import annotations

import ast

import pytest
import yaml

from modelops.core import scaffold_templates as t
from modelops.core.scaffold import PRESETS, TASKS, alert_files


@pytest.mark.parametrize("task", TASKS)
def test_the_training_script_is_python_that_reads_the_contract_and_logs_one_model(task: str) -> None:
    text = t.TRAINING_SCRIPT.substitute(
        name="fraud", task=task, estimator=PRESETS[task].estimator, score_name=PRESETS[task].score_name
    )
    tree = ast.parse(text)
    assert ast.get_docstring(tree) is not None
    for variable in ("MODELOPS_PARAMS_JSON", "MODELOPS_TRAIN_DATA"):
        assert f'os.environ["{variable}"]' in text
    assert text.count("log_model(") == 1 and 'name="model"' in text
    assert "signature=infer_signature(" in text and "input_example=" in text
    assert f"from sklearn.ensemble import {PRESETS[task].estimator}" in text


@pytest.mark.parametrize("task", TASKS)
def test_the_data_script_is_python_with_a_target_for_its_task(task: str) -> None:
    comment, expression = t.TARGETS[task]
    text = t.DATA_SCRIPT.substitute(
        name="fraud", stage="fraud_data", target_comment=comment, target_expression=expression
    )
    ast.parse(text)
    assert "golden.csv" in text and "train.csv" in text


def test_every_task_has_a_target() -> None:
    assert set(t.TARGETS) == set(TASKS) == set(PRESETS)


def test_the_yaml_templates_parse_with_the_model_named_where_it_belongs() -> None:
    params = yaml.safe_load(t.PARAMS_SECTION.substitute(name="fraud", stage="fraud_data", estimator="X"))
    assert set(params["fraud"]) == {"target", "features", "data", "train"}
    stage = yaml.safe_load(t.DVC_STAGE.substitute(name="fraud", stage="fraud_data"))["fraud_data"]
    assert stage["deps"] == ["training/fraud_data.py"] and stage["params"] == ["fraud.data"]
    rules, tests = alert_files("fraud", 200).values()
    rule = yaml.safe_load(rules)
    assert rule["kind"] == "PrometheusRule" and rule["metadata"]["name"] == "modelops-model-fraud"
    assert yaml.safe_load(tests)["rule_files"] == ["../rules/model-fraud.yaml"]
    # Prometheus' own template braces survive the substitution.
    assert "{{ $labels.model }}" in rules and "$$" not in rules
