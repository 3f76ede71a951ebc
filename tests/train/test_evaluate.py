"""modelops evaluate: a better candidate passes, a worse one is blocked, the golden set fails closed,
and the evidence lands in --out, on the candidate's run and in the version's tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelops.adapters.evidence import render_markdown
from tests.train.conftest import World

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def better(world: World) -> tuple[object, Path]:
    """The good version judged against staging, where the weak version is the champion (CLI, --json)."""
    out = world.workdir / "evidence-better"
    done = world.cli(
        "evaluate", "--model", "churn", "--candidate", str(world.good.version), "--env", "staging",
        "--out", str(out), "--json",
    )  # fmt: skip
    return done, out


@pytest.fixture(scope="module")
def worse(world: World) -> tuple[object, Path]:
    """The weak version judged against production, where the good version is the champion."""
    out = world.workdir / "evidence-worse"
    done = world.cli(
        "evaluate", "--model", "churn", "--candidate", str(world.weak.version), "--out", str(out), "--json"
    )
    return done, out


def _checks(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_a_better_candidate_passes_with_exit_0(better, world: World) -> None:
    done, _ = better
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True
    assert report["champion_version"] == world.weak.version
    assert report["candidate_version"] == world.good.version
    primary = _checks(report)["roc_auc.delta_ci_low"]
    assert primary["passed"] and primary["value"] > primary["threshold"]
    assert report["bootstrap"]["ci_low"] <= report["bootstrap"]["delta"] <= report["bootstrap"]["ci_high"]
    assert {"name", "value", "threshold", "passed"} <= set(report["checks"][0])
    kinds = {c["kind"] for c in report["checks"]}
    assert kinds == {"primary", "floor", "slice", "calibration", "latency", "fairness"}


def test_a_worse_candidate_is_blocked_with_exit_1(worse, world: World) -> None:
    done, _ = worse
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is False
    assert report["champion_version"] == world.good.version
    primary = _checks(report)["roc_auc.delta_ci_low"]
    assert not primary["passed"] and primary["value"] < primary["threshold"]
    assert report["bootstrap"]["ci_high"] < 0
    assert any("CI of challenger − champion" in reason for reason in report["failed"])
    # The plain rule agrees here; it is reported, never enforced.
    assert report["plain_rule"]["passed"] is False


def test_without_a_champion_only_absolute_checks_apply(world: World) -> None:
    report = world.no_champion_report.as_dict()
    assert report["champion_version"] is None
    assert {c["kind"] for c in report["checks"]} == {"floor", "latency", "fairness"}
    assert report["bootstrap"] is None
    assert report["passed"] is True
    assert any("no champion" in note for note in report["notes"])


def test_evidence_files_plots_and_markdown_rerendered_from_json(better) -> None:
    _, out = better
    report = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    assert markdown == render_markdown(report) + "\n"
    for png in ("roc.png", "calibration.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    assert "| roc_auc |" in markdown and "### Slices" in markdown and "### Lineage" in markdown
    assert report["golden"]["md5"] in markdown
    assert report["lineage"]["candidate"]["git_commit"] in markdown
    assert "plain rule" in markdown
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_evidence_is_logged_on_the_candidates_run_and_tagged_on_the_version(
    better, worse, world: World
) -> None:
    registry = world.registry()
    artifacts = {a.path for a in registry.client.list_artifacts(world.good.run_id, "evaluation/staging")}
    assert {
        "evaluation/staging/report.md",
        "evaluation/staging/report.json",
        "evaluation/staging/roc.png",
        "evaluation/staging/calibration.png",
    } <= artifacts
    good_tags = registry.version("churn-classifier", world.good.version).tags
    assert good_tags["eval.passed"] == "true"
    assert good_tags["eval.env"] == "staging"
    assert good_tags["eval.champion_version"] == str(world.weak.version)
    assert float(good_tags["eval.roc_auc"]) > 0.7
    assert good_tags["eval.golden_md5"] == json.loads(better[0].stdout)["golden"]["md5"]
    assert good_tags["eval.evaluated_at"].endswith("Z")
    weak_tags = registry.version("churn-classifier", world.weak.version).tags
    assert weak_tags["eval.passed"] == "false"


def test_a_tampered_golden_set_fails_closed(world: World) -> None:
    golden = world.repo / "data/churn/golden.csv"
    original = golden.read_bytes()
    # Flip one label: same size, same columns, different md5.
    lines = original.decode().splitlines(keepends=True)
    lines[1] = lines[1][:-2] + ("0\n" if lines[1].endswith("1\n") else "1\n")
    golden.write_text("".join(lines))
    try:
        done = world.cli("evaluate", "--model", "churn", "--candidate", str(world.good.version), "--json")
    finally:
        golden.write_bytes(original)
    assert done.returncode == 3, done.stderr
    assert "data/churn/golden.csv" in done.stderr and "md5" in done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_a_missing_golden_set_fails_closed(world: World) -> None:
    golden = world.repo / "data/churn/golden.csv"
    original = golden.read_bytes()
    golden.unlink()
    try:
        done = world.cli("evaluate", "--model", "churn", "--candidate", str(world.good.version))
    finally:
        golden.write_bytes(original)
    assert done.returncode == 3
    assert "missing" in done.stderr and "dvc pull" in done.stderr


def test_an_unknown_candidate_version_is_bad_input(world: World) -> None:
    done = world.cli("evaluate", "--model", "churn", "--candidate", "999")
    assert done.returncode == 2
    assert "999" in done.stderr and "Traceback" not in done.stderr
