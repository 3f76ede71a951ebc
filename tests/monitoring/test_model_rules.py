"""Each model's own alert rules: what only it knows (its latency budget), beside the shared rules."""

from __future__ import annotations

import yaml

from modelops.core.scaffold import alert_files
from tests.helpers import REPO_ROOT
from tests.monitoring.conftest import MONITORING, alerts_of


def models() -> dict[str, dict]:
    loaded: dict[str, dict] = yaml.safe_load((REPO_ROOT / "models.yaml").read_text("utf-8"))["models"]
    return loaded


def test_every_model_has_its_rule_file_at_its_own_latency_budget() -> None:
    for name, model in models().items():
        path = MONITORING / "rules" / f"model-{name}.yaml"
        assert path.is_file(), (
            f"{name}: no monitoring/rules/model-{name}.yaml (modelops init model writes it)"
        )
        rule = alerts_of(yaml.safe_load(path.read_text("utf-8"))["spec"]["groups"])["ModelLatencyOverBudget"]
        budget_seconds = model["gate"]["latency_budget_ms"] / 1000
        assert f'{{model="{name}"}}' in rule["expr"], f"{name}'s rule must select only {name}"
        assert rule["expr"].split(") >")[1].split()[0] == f"{budget_seconds:g}"
        assert (MONITORING / "tests" / f"model-{name}.test.yaml").is_file()


def test_the_rules_in_the_repository_are_what_init_writes_for_each_model() -> None:
    # churn's and visits' files came from the same template; a hand edit would drift from new models'.
    for name, model in models().items():
        for relative, text in alert_files(name, model["gate"]["latency_budget_ms"]).items():
            on_disk = (REPO_ROOT / relative).read_text("utf-8")
            # Only the header line says who wrote the file.
            assert on_disk.split("\n", 2)[2] == text.split("\n", 2)[2], relative
