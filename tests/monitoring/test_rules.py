"""The alert rules: valid PrometheusRules, every alert unit-tested by promtool in both profiles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.core import contract
from modelops.core.alert_rules import histogram_series, referenced_series
from tests.helpers import REPO_ROOT, SHARED, require_binary, run
from tests.monitoring.conftest import MONITORING, alerts_of, source_alerts, source_rules

BURN_IN = "and on (model, env, version)\n  (time() - modelops_version_start_time_seconds) > 300"
CONTRACT_SERIES = {
    contract.REQUESTS_TOTAL,
    *histogram_series(contract.LATENCY_SECONDS),
    *histogram_series(contract.SCORE),
    contract.VERSION_START,
    contract.MODEL_INFO,
    contract.DRIFT_PSI,
    contract.DRIFT_KS,
    contract.DRIFT_DETECTED,
    contract.RELAY_REQUESTS_TOTAL,
    contract.RELAY_DISPATCH_TOTAL,
    contract.RELAY_REFUSED_TOTAL,
    contract.ROLLBACK_FAILED_TOTAL,
}


def recorded_series() -> set[str]:
    return {
        r["record"]
        for doc in source_rules().values()
        for g in doc["spec"]["groups"]
        for r in g["rules"]
        if "record" in r
    }


def test_every_rule_file_is_a_prometheus_rule_that_kube_prometheus_selects() -> None:
    docs = source_rules()
    assert len(docs) >= 4
    for name, doc in docs.items():
        assert doc["apiVersion"] == "monitoring.coreos.com/v1", name
        assert doc["kind"] == "PrometheusRule", name
        assert doc["metadata"]["labels"]["prometheus"] == "k8s", name
        assert doc["metadata"]["labels"]["role"] == "alert-rules", name
        for group in doc["spec"]["groups"]:
            assert group["rules"], f"{name}: group {group['name']} is empty"


def test_the_kustomization_lists_every_rule_file_so_argo_cd_syncs_them() -> None:
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text("utf-8"))
    assert sorted(kustomization["resources"]) == sorted(f"rules/{name}" for name in source_rules())


def test_the_prometheus_rules_validate_against_the_operator_crd(tmp_path: Path) -> None:
    kubectl = require_binary("kubectl")
    built = run([kubectl, "kustomize", str(MONITORING)]).stdout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(built)]
    assert kinds == ["PrometheusRule"] * len(source_rules())
    if SHARED.exists():
        # Only the PrometheusRule CRD: loading every upstream CRD costs seconds.
        crd = "monitoring.coreos.com_prometheusrules.yaml"
        (tmp_path / crd).write_bytes((SHARED / "schemas" / "crds" / crd).read_bytes())
        validator = [str(SHARED / "schemas" / "validate-crds"), "--crds", str(tmp_path), "-"]
        result = run(validator, input=built, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("ok ") == len(source_rules()), result.stdout


def test_the_alerts_the_delivery_loop_relies_on_exist_with_their_actions() -> None:
    actions = {name: rule["labels"]["action"] for name, rule in source_alerts().items()}
    assert actions == {
        "ModelErrorRateHigh": "rollback",
        "ModelLatencyP99High": "rollback",
        "ModelCanaryLooksWorse": "analyze",
        "ModelSLOBurnRateFast": "page",
        "ModelSLOBurnRateSlow": "page",
        "ModelRollbackFailed": "page",
        "ModelRelayDown": "page",
        "ModelRelayRefusingAlerts": "ticket",
        "ModelRollbackDeferred": "page",
        "ModelDriftDetected": "retrain",
        "ModelDriftWatch": "retrain",
        "ModelLatencyOverBudget": "ticket",
    }
    alerts = source_alerts()
    assert alerts["ModelDriftDetected"]["labels"]["severity"] == "major"
    assert alerts["ModelDriftWatch"]["labels"]["severity"] == "minor"


@pytest.mark.parametrize("alert", ["ModelErrorRateHigh", "ModelLatencyP99High"])
def test_rollback_alerts_wait_out_the_burn_in_and_five_minutes(alert: str) -> None:
    rule = source_alerts()[alert]
    assert rule["for"] == "5m"
    assert rule["expr"].rstrip().endswith(BURN_IN)
    assert "[5m]" in rule["expr"]
    assert re.search(r"by \(model, env, version(, le)?\)", rule["expr"]), (
        "alerts must carry model, env and version"
    )


def test_every_alert_explains_itself_and_links_a_runbook_section_that_exists() -> None:
    runbook = (MONITORING / "RUNBOOK.md").read_text("utf-8")
    anchors = {
        re.sub(r"[^a-z0-9]", "", line[3:].lower()) for line in runbook.splitlines() if line.startswith("## ")
    }
    for name, rule in source_alerts().items():
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert (REPO_ROOT / path).is_file(), f"{name}: {path} does not exist"
        assert anchor in anchors, f"{name}: RUNBOOK.md has no section #{anchor}"
        assert rule["labels"]["severity"], name


def test_rules_read_only_contract_series() -> None:
    allowed = CONTRACT_SERIES | recorded_series() | {"up"}
    for name, rule in source_alerts().items():
        unknown = referenced_series(rule["expr"]) - allowed
        assert not unknown, f"{name} reads series outside the metric contract: {unknown}"


def test_the_drift_watch_threshold_is_the_psi_watch_of_every_model() -> None:
    models = yaml.safe_load((REPO_ROOT / "models.yaml").read_text("utf-8"))["models"]
    watch = float(re.search(r">= ([0-9.]+)", source_alerts()["ModelDriftWatch"]["expr"]).group(1))  # type: ignore[union-attr]
    declared = {
        name: m["drift"]["psi_watch"] for name, m in models.items() if "psi_watch" in m.get("drift", {})
    }
    assert declared, "models.yaml declares no drift.psi_watch to compare with"
    assert declared == {name: watch for name in declared}


def thresholds(groups: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Every number an expression compares against, except burn-in ages (those are durations)."""
    found = {}
    for name, rule in alerts_of(groups).items():
        expr = re.sub(r"time\(\) - \w+\) > \d+", "", rule["expr"])
        found[name] = re.findall(r"(?:>=|<=|==|>|<)\s*\(?([0-9.]+)", expr)
    return found


def test_the_demo_profile_keeps_every_threshold(production: dict[str, Any], demo: dict[str, Any]) -> None:
    def load(rendered: dict[str, Any]) -> list[dict[str, Any]]:
        return [g for f in rendered["rules"] for g in yaml.safe_load(Path(f).read_text("utf-8"))["groups"]]

    prod, fast = load(production), load(demo)
    assert thresholds(prod) == thresholds(fast)
    assert any(thresholds(prod).values())
    assert alerts_of(fast)["ModelErrorRateHigh"]["for"] == "10s"
    assert (
        "(time() - modelops_version_start_time_seconds) > 10" in alerts_of(fast)["ModelErrorRateHigh"]["expr"]
    )
    assert demo["evaluation_interval"] == "1s"
    assert demo["shortest_window"] == "10s"


@pytest.mark.parametrize("profile", ["production", "demo"])
def test_promtool_accepts_the_rendered_rule_files(profile: str, request: pytest.FixtureRequest) -> None:
    promtool = require_binary("promtool")
    rendered = request.getfixturevalue(profile)
    result = run([promtool, "check", "rules", *rendered["rules"]], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_promtool_unit_tests() -> None:
    tested = set()
    for path in (MONITORING / "tests").glob("*.yaml"):
        for group in yaml.safe_load(path.read_text("utf-8"))["tests"]:
            for case in group.get("alert_rule_test") or []:
                tested.add((case["alertname"], bool(case["exp_alerts"])))
    for name in source_alerts():
        assert (name, True) in tested, f"no unit test shows {name} firing"
        assert (name, False) in tested, f"no unit test shows {name} staying silent"


@pytest.mark.parametrize("profile", ["production", "demo"])
def test_the_unit_tests_pass_for_the_profile(profile: str, request: pytest.FixtureRequest) -> None:
    promtool = require_binary("promtool")
    rendered = request.getfixturevalue(profile)
    assert len(rendered["tests"]) == len(list((MONITORING / "tests").glob("*.yaml")))
    result = run([promtool, "test", "rules", *rendered["tests"]], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(rendered["tests"])
