"""The second model: a regression on real data (RAND HIE, bundled with statsmodels), trained by its own
script and gated by RMSE, whose direction is lower-is-better."""

from __future__ import annotations

import json

import pytest

from tests.train.conftest import World

WEAK = """\
visits:
  target: mdvis
  features:
    numeric: [lncoins, lpi, fmde, physlm, disea]
    categorical: [idp, health]
  train:
    learning_rate: 0.05
    max_iter: 3
    max_depth: 2
    random_state: 5
"""


def _pin_visits(world: World, version: int) -> None:
    from modelops.core.document import ModelsDocument

    path = world.repo / "models.yaml"
    doc = ModelsDocument.load(path)
    doc.promote("visits", "production", version, at="2026-01-01T00:00:00Z", by="test", reason="test pin")
    path.write_text(doc.dump(), "utf-8")


@pytest.fixture(scope="module")
def visits(world: World) -> dict:
    good = world.cli("train", "--model", "visits", "--json")
    assert good.returncode == 0, good.stderr
    weak_params = world.workdir / "visits-weak.yaml"
    weak_params.write_text(WEAK, "utf-8")
    weak = world.cli("train", "--model", "visits", "--params", str(weak_params), "--json")
    assert weak.returncode == 0, weak.stderr
    return {"good": json.loads(good.stdout), "weak": json.loads(weak.stdout)}


def test_its_own_script_logs_regression_metrics_and_registers_a_candidate(world: World, visits: dict) -> None:
    good = visits["good"]
    assert good["registered_model"] == "visits-regressor"
    assert good["lineage"]["train.command"] == "python training/visits.py"
    assert 3.0 < good["metrics"]["validation_rmse"] < 5.0
    assert world.registry().get_alias("visits-regressor", "candidate") == visits["weak"]["version"]


def test_without_a_champion_the_rmse_floor_is_a_ceiling(world: World, visits: dict) -> None:
    done = world.cli("evaluate", "--model", "visits", "--candidate", str(visits["good"]["version"]), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["task"] == "regression" and report["direction"] == "lower"
    floor = next(c for c in report["checks"] if c["name"] == "rmse.floor")
    assert floor["threshold"] == 4.0 and floor["value"] < 4.0 and floor["passed"]
    assert not any(c["kind"] == "calibration" for c in report["checks"])


def test_a_worse_regressor_is_blocked_against_the_champion(world: World, visits: dict) -> None:
    _pin_visits(world, visits["good"]["version"])
    done = world.cli("evaluate", "--model", "visits", "--candidate", str(visits["weak"]["version"]), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    boot = report["bootstrap"]
    # the gain is champion − challenger RMSE: negative for a worse challenger
    assert boot["delta"] == pytest.approx(boot["champion"] - boot["challenger"])
    assert boot["ci_high"] < 0
    primary = next(c for c in report["checks"] if c["kind"] == "primary")
    assert not primary["passed"]
    slices = {f"{s['column']}={s['value']}" for s in report["slices"] if s["evaluable"]}
    assert {"health=excellent", "health=good", "idp=yes", "idp=no"} <= slices


def test_a_regression_model_under_a_classification_gate_is_bad_input(world: World, visits: dict) -> None:
    path = world.repo / "models.yaml"
    original = path.read_text("utf-8")
    path.write_text(
        original.replace(
            "      task: regression\n      primary_metric: rmse",
            "      task: binary\n      primary_metric: roc_auc",
        ),
        "utf-8",
    )
    try:
        done = world.cli("evaluate", "--model", "visits", "--candidate", str(visits["good"]["version"]))
    finally:
        path.write_text(original, "utf-8")
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "must output P(positive) in [0, 1]" in last and "gate.task" in last
