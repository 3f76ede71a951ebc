"""`modelops validate` and `status`: bad input is exit 2 with one line naming it, and nothing changes."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.helpers import REPO_ROOT, modelops

GOOD = (REPO_ROOT / "models.yaml").read_text("utf-8")
COMMAND = "      command: python training/churn.py"
IMAGE = "ghcr.io/example-org/churn-train:1"
ARGO = f"{{namespace: modelops-training, template: modelops-train, image: {IMAGE}, timeout_minutes: 90}}"


def test_the_repository_models_yaml_is_valid():
    result = modelops("validate", "--json", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("    owners: [alice, bob]", "    owners: [alice, bob]\n    colour: blue"), "unknown key: 'colour'"),
        (("        replicas: 2", "        replicas: two"), "models.churn.environments.production.replicas"),
        (
            ("      production:\n        version: null", "      production:\n        version: -3"),
            "models.churn.environments.production.version: -3",
        ),
        (
            ("      production:\n        version: null", "      production:\n        version: latest"),
            "'latest'",
        ),
        # JSON Schema counts 2.0 as an integer; a rollback would then write .../1.0 into the storage URI.
        (
            ("      production:\n        version: null", "      production:\n        version: 2.0"),
            "models.churn.environments.production.version: 2.0 is not of type 'integer'",
        ),
        (
            ("      production:\n        version: null", "      production:\n        version: 0x2"),
            "models.churn.environments.production.version: 2 is written in hexadecimal",
        ),
        (
            (
                "        replicas: 2\n        canary: null",
                "        replicas: 2\n        canary: {version: 5, traffic: 1_0}",
            ),
            "canary.traffic: 10 is written with leading zeros or underscores",
        ),
        (
            (
                "      production:\n        version: null\n        run_id: null\n        alias: production\n        previous: null",
                "      production:\n        version: 4\n        run_id: null\n        alias: production\n        previous: 4",
            ),
            "previous must differ from version (4)",
        ),
        (
            (
                "        replicas: 2\n        canary: null",
                "        replicas: 2\n        canary: {version: 5, traffic: 100}",
            ),
            "canary.traffic",
        ),
        (
            ("      primary_metric: roc_auc", "      primary_metric: r2"),
            "models.churn.gate.primary_metric: 'r2' is not a binary metric",
        ),
        (
            ("      task: binary", "      task: regression"),
            "models.churn.gate.primary_metric: 'roc_auc' is not a regression metric",
        ),
        (("      task: binary", "      task: ranking"), "models.churn.gate.task: 'ranking'"),
        (
            (
                "      task: binary\n      primary_metric: roc_auc",
                "      task: regression\n      primary_metric: rmse",
            ),
            None,
        ),
        (
            ("      production:\n        version: null", "      production:\n        version: 3"),
            None,
        ),
        ((COMMAND, f"{COMMAND}\n      backend: kubeflow"), "models.churn.train.backend: 'kubeflow'"),
        (
            (COMMAND, f"{COMMAND}\n      backend: argo"),
            "models.churn.train.argo.namespace: required when train.backend is argo",
        ),
        (
            (COMMAND, f"{COMMAND}\n      backend: argo\n      argo: {{namespace: training, image: {IMAGE}}}"),
            "models.churn.train.argo.template: required when train.backend is argo",
        ),
        (
            (COMMAND, f"{COMMAND}\n      argo: {{namespace: Training_NS}}"),
            "models.churn.train.argo.namespace: 'Training_NS' does not match",
        ),
        ((COMMAND, f"{COMMAND}\n      backend: argo\n      argo: {ARGO}"), None),
    ],
)
def test_a_bad_models_yaml_exits_2_with_one_line_naming_it_and_changes_nothing(tmp_path, edit, expected):
    old, new = edit
    assert old in GOOD
    path = tmp_path / "models.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = modelops("validate", str(path))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    if expected is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2
    first = result.stderr.strip().splitlines()[0]
    assert expected in first and str(path) in first
    assert "Traceback" not in result.stderr


def test_a_quarantined_version_may_not_be_pinned(tmp_path):
    path = tmp_path / "models.yaml"
    text = GOOD.replace(
        "        version: null\n        run_id: null\n        alias: production",
        "        version: 3\n        run_id: null\n        alias: production",
    ).replace(
        "        replicas: 2\n        canary: null\n        quarantined: []",
        "        replicas: 2\n        canary: null\n        quarantined: [3]",
    )
    path.write_text(text, encoding="utf-8")
    result = modelops("validate", str(path))
    assert result.returncode == 2
    assert "version 3 is quarantined" in result.stderr


def test_every_model_needs_staging_and_production(tmp_path):
    start = GOOD.index("      production:")
    end = GOOD.index("        history: []", start) + len("        history: []\n")
    path = tmp_path / "models.yaml"
    path.write_text(GOOD[:start] + GOOD[end:], encoding="utf-8")
    result = modelops("validate", str(path))
    assert result.returncode == 2
    assert "missing environment 'production'" in result.stderr


def test_invalid_yaml_is_bad_input_not_a_traceback(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("models: [unclosed\n", encoding="utf-8")
    result = modelops("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not valid YAML" in result.stderr


def test_status_json_has_the_documented_shape():
    result = modelops("status", "--json", "--offline", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)["models"]["churn"]["environments"]["production"]
    assert set(env) >= {"version", "previous", "canary", "quarantined"}
    assert env["canary"] is None or set(env["canary"]) == {"version", "traffic"}


def test_every_command_has_help():
    from modelops.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert command.format_help().strip(), name
        assert command.description or command.format_help(), name


def test_unknown_flags_are_bad_input():
    result = modelops("validate", "--no-such-flag", cwd=REPO_ROOT)
    assert result.returncode == 2


def test_the_schema_offers_exactly_what_the_gate_judges():
    from modelops.core import metrics
    from modelops.core.document import schema

    gate = schema()["$defs"]["gate"]["properties"]
    assert gate["task"]["enum"] == list(metrics.TASKS)
    assert gate["primary_metric"]["enum"] == metrics.all_metric_names()


def test_a_pin_quarantined_in_another_environment_is_exit_2_naming_it(tmp_path):
    path = tmp_path / "models.yaml"
    text = GOOD.replace(
        "        version: null\n        run_id: null\n        alias: production",
        "        version: 3\n        run_id: null\n        alias: production",
    ).replace("        quarantined: []", "        quarantined: [3]", 1)  # staging comes first
    path.write_text(text, encoding="utf-8")
    result = modelops("validate", str(path))
    assert result.returncode == 2, result.stderr
    assert "production.version: version 3 is quarantined in another environment" in result.stderr


def test_a_production_rollback_leaves_staging_valid_with_a_warning_naming_the_next_step(tmp_path):
    """Staging pinned v3 before production rolled it back: every later pull request must still pass."""
    from modelops.core.document import ModelsDocument

    doc = ModelsDocument(GOOD)
    for env in ("staging", "production"):
        doc.promote("churn", env, 2, at="2026-01-01T00:00:00Z", by="ci", reason="r")
        doc.promote("churn", env, 3, at="2026-01-01T00:00:00Z", by="ci", reason="r")
    doc.rollback(
        "churn", "production", at="2026-01-02T00:00:00Z", by="relay", reason="incident", bad_version=3
    )
    path = tmp_path / "models.yaml"
    path.write_text(doc.dump(), encoding="utf-8")

    result = modelops("validate", str(path))
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"warning: {path}:") and "staging.version: version 3 still serves here" in line
    as_json = json.loads(modelops("validate", "--json", str(path)).stdout)
    assert as_json["valid"] is True
    assert [w["path"] for w in as_json["warnings"]] == ["models.churn.environments.staging.version"]
