"""The Grafana dashboard: valid JSON whose every query reads the metric contract."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from modelops.core import contract
from modelops.core.alert_rules import referenced_series
from tests.monitoring.conftest import MONITORING
from tests.monitoring.test_rules import CONTRACT_SERIES, recorded_series

DASHBOARD = MONITORING / "dashboards" / "model-delivery.json"


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text("utf-8"))
    return loaded


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target, annotation and template variable."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for annotation in board["annotations"]["list"]:
        if "expr" in annotation:
            yield f"annotation {annotation['name']!r}", annotation["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["query"]["query"])
            assert match, f"variable {variable['name']}: expected label_values(series, label)"
            yield f"variable {variable['name']!r}", match.group(1)


def test_every_query_reads_only_contract_series_and_recorded_rules() -> None:
    allowed = CONTRACT_SERIES | recorded_series() | {"ALERTS"}
    found = list(queries(dashboard()))
    assert len(found) > 10
    for where, expr in found:
        read = referenced_series(expr)
        assert read, f"{where}: reads no series"
        assert not read - allowed, f"{where} reads series outside the metric contract: {read - allowed}"


def test_it_shows_traffic_errors_latency_scores_and_drift() -> None:
    read = set().union(*(referenced_series(expr) for _, expr in queries(dashboard())))
    assert {
        contract.REQUESTS_TOTAL,
        f"{contract.LATENCY_SECONDS}_bucket",
        f"{contract.SCORE}_bucket",
        contract.DRIFT_PSI,
        contract.DRIFT_KS,
        contract.DRIFT_DETECTED,
    } <= read
    exprs = " ".join(expr for _, expr in queries(dashboard()))
    assert "histogram_quantile(0.5," in exprs
    assert "histogram_quantile(0.99," in exprs


def test_it_is_templated_by_model_and_environment() -> None:
    board = dashboard()
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "model", "env"]
    for where, expr in queries(board):
        if where.startswith("panel"):
            assert 'model="$model"' in expr and 'env="$env"' in expr, where


def test_version_starts_and_rollbacks_are_annotated() -> None:
    annotations = {a["name"]: a for a in dashboard()["annotations"]["list"]}
    assert contract.VERSION_START in annotations["Version starts"]["expr"]
    assert 'action="rollback"' in annotations["Rollbacks triggered"]["expr"]
    assert contract.ROLLBACK_FAILED_TOTAL in annotations["Rollback failures"]["expr"]


def test_panels_do_not_overlap_and_have_unique_ids() -> None:
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        mine = {(pos["x"] + dx, pos["y"] + dy) for dx in range(pos["w"]) for dy in range(pos["h"])}
        assert not mine & cells, f"panel {panel['title']!r} overlaps another"
        assert pos["x"] + pos["w"] <= 24
        cells |= mine
