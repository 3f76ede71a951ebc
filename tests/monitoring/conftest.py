"""Rendered monitoring files, shared by the suites here: rendering once per session keeps them fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT, modelops

MONITORING = REPO_ROOT / "monitoring"


def render(out: Path, *flags: str) -> dict[str, Any]:
    result = modelops("monitoring", "render", "--repo", str(REPO_ROOT), "--out", str(out), "--json", *flags)
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = json.loads(result.stdout)
    return rendered


@pytest.fixture(scope="session")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return render(tmp_path_factory.mktemp("production"), "--profile", "production")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return render(
        tmp_path_factory.mktemp("demo"),
        "--profile",
        "demo",
        "--relay-url",
        "http://127.0.0.1:18080/alerts",
        "--relay-token-file",
        str(tmp_path_factory.mktemp("secrets") / "relay-token"),
    )


def source_rules() -> dict[str, dict[str, Any]]:
    """Every PrometheusRule under monitoring/rules, by file name."""
    return {
        p.name: yaml.safe_load(p.read_text("utf-8")) for p in sorted((MONITORING / "rules").glob("*.yaml"))
    }


def alerts_of(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def source_alerts() -> dict[str, dict[str, Any]]:
    return {
        name: rule
        for doc in source_rules().values()
        for name, rule in alerts_of(doc["spec"]["groups"]).items()
    }
