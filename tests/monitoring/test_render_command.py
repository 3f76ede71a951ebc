"""`modelops monitoring render` as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.helpers import REPO_ROOT, modelops
from tests.monitoring.conftest import MONITORING


def repo_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(MONITORING, repo / "monitoring")
    shutil.copy(REPO_ROOT / "models.yaml", repo / "models.yaml")
    return repo


def test_json_lists_every_file_written(production: dict[str, Any]) -> None:
    out = Path(production["out"])
    written = sorted(str(p) for p in out.rglob("*") if p.is_file())
    assert sorted(production["files"]) == written
    assert {Path(f).name for f in production["rules"]} == {
        p.name for p in (MONITORING / "rules").glob("*.yaml")
    }
    assert production["alertmanager"] == str(out / "alertmanager.yml")
    assert production["factor"] == 1


def test_rendered_rule_files_hold_the_groups_of_each_prometheus_rule(tmp_path: Path) -> None:
    result = modelops(
        "monitoring", "render", "--profile", "production", "--out", str(tmp_path), cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'rules' / 'model-rollback.yaml'}" in result.stdout
    text = (tmp_path / "rules" / "model-rollback.yaml").read_text("utf-8")
    assert text.startswith("# Rendered from monitoring/rules/model-rollback.yaml")
    assert "\ngroups:\n" in text and "apiVersion" not in text


def test_a_broken_rule_file_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    repo = repo_copy(tmp_path)
    (repo / "monitoring" / "rules" / "zz-broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    out = tmp_path / "out"
    result = modelops("monitoring", "render", "--repo", str(repo), "--profile", "demo", "--out", str(out))
    assert result.returncode == 2
    assert "zz-broken.yaml" in result.stderr and "PrometheusRule" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() or not any(out.rglob("*"))


def test_a_malformed_duration_is_named(tmp_path: Path) -> None:
    repo = repo_copy(tmp_path)
    rules = repo / "monitoring" / "rules" / "model-drift.yaml"
    rules.write_text(rules.read_text("utf-8").replace("for: 1m", "for: 1 minute", 1))
    result = modelops(
        "monitoring", "render", "--repo", str(repo), "--profile", "demo", "--out", str(tmp_path / "o")
    )
    assert result.returncode == 2
    assert "'1 minute'" in result.stderr


def test_the_production_profile_refuses_a_factor(tmp_path: Path) -> None:
    result = modelops(
        "monitoring",
        "render",
        "--profile",
        "production",
        "--factor",
        "10",
        "--out",
        str(tmp_path),
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert "--factor" in result.stderr
    assert not any(tmp_path.iterdir())


def test_a_repository_without_rules_is_refused(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "models.yaml", tmp_path / "models.yaml")
    result = modelops(
        "monitoring", "render", "--repo", str(tmp_path), "--profile", "demo", "--out", str(tmp_path / "o")
    )
    assert result.returncode == 2
    assert "monitoring/rules" in result.stderr


def test_a_custom_factor_scales_by_that_factor(tmp_path: Path) -> None:
    result = modelops(
        "monitoring",
        "render",
        "--profile",
        "demo",
        "--factor",
        "10",
        "--out",
        str(tmp_path),
        "--json",
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert (rendered["factor"], rendered["evaluation_interval"], rendered["shortest_window"]) == (
        10,
        "3s",
        "30s",
    )
