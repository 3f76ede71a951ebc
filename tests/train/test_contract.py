"""The training contract: modelops runs the user's command inside its run, accepts exactly one model
named `model` with a signature and an input example, in any flavour, and registers nothing otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelops.core import lineage
from tests.train.conftest import World

TRAINER = Path(__file__).with_name("contract_trainer.py")
CHURN_COMMAND = "command: python training/churn.py"


@contextmanager
def command(world: World, line: str) -> Iterator[None]:
    """models.yaml names another training command for the duration."""
    path = world.repo / "models.yaml"
    original = path.read_text("utf-8")
    assert CHURN_COMMAND in original
    path.write_text(original.replace(CHURN_COMMAND, f"command: {line}"), "utf-8")
    try:
        yield
    finally:
        path.write_text(original, "utf-8")


def _trainer(mode: str) -> str:
    return f"{sys.executable} {TRAINER} {mode}"


def test_any_flavour_is_registered_with_lineage_and_the_users_output_streams(world: World) -> None:
    registry = world.registry()
    with command(world, _trainer("pyfunc")):
        done = world.cli("train", "--model", "churn", "--json")
    assert done.returncode == 0, done.stderr
    assert "user code: run " in done.stderr  # the command's output reached ours
    import json

    out = json.loads(done.stdout)
    run = registry.run_info(out["run_id"])
    assert run.info.status == "FINISHED"
    # the command ran inside modelops' run, saw its params section and the registry
    assert run.data.params["seen.run_is_modelops"] == "True"
    assert run.data.params["seen.target"] == "churned"
    assert run.data.params["seen.tracking_uri"] == world.tracking_uri
    info = registry.version("churn-classifier", out["version"])
    assert info.run_id == out["run_id"]
    assert info.tags[lineage.TRAIN_COMMAND] == _trainer("pyfunc")
    assert len(info.tags[lineage.GIT_COMMIT]) == 40
    assert registry.get_alias("churn-classifier", "candidate") == out["version"]
    assert registry.input_columns("churn-classifier", out["version"]) == [
        "tenure_months",
        "monthly_charges",
        "contract",
    ]


@pytest.mark.parametrize(
    ("mode", "code", "message"),
    [
        ("none", 2, "logged no MLflow model; log exactly one, named 'model'"),
        ("two", 2, "logged 2 models ('model', 'other')"),
        ("nosig", 2, "has no signature"),
        ("crash", 3, "failed with exit 1: RuntimeError: the user's code broke"),
    ],
)
def test_a_command_that_breaks_the_contract_registers_nothing_and_fails_its_run(
    world: World, mode: str, code: int, message: str
) -> None:
    registry = world.registry()
    before = registry.latest_version("churn-classifier")
    candidate = registry.get_alias("churn-classifier", "candidate")
    runs = {r.info.run_id for r in registry.search_runs("churn-classifier")}
    with command(world, _trainer(mode)):
        done = world.cli("train", "--model", "churn")
    assert done.returncode == code, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert message in last and "models.churn.train.command" in last
    assert "Traceback" not in last
    assert registry.latest_version("churn-classifier") == before
    assert registry.get_alias("churn-classifier", "candidate") == candidate
    (new_run,) = [r for r in registry.search_runs("churn-classifier") if r.info.run_id not in runs]
    assert new_run.info.status == "FAILED"


def test_a_model_without_a_training_command_is_bad_input(world: World) -> None:
    runs = len(world.registry().search_runs("churn-classifier"))
    with command(world, "x\n      backend: local"):
        path = world.repo / "models.yaml"
        path.write_text(path.read_text("utf-8").replace("      command: x\n", ""), "utf-8")
        done = world.cli("train", "--model", "churn")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "models.churn.train.command: name the model's training command, e.g. python training/churn.py"
        )
    )
    assert len(world.registry().search_runs("churn-classifier")) == runs
