"""Which models a change trains: code, params or data of that model, and nothing for a docs change."""

from __future__ import annotations

import copy

import pytest

from modelops.core.train_matrix import Snapshot, command_paths, models_to_train, workflow_matrix

PARAMS = {
    "data": {"seed": 7, "rows": 30000},
    "churn": {"target": "churned", "train": {"max_iter": 200}},
    "visits": {"target": "mdvis", "data": {"seed": 11}, "train": {"max_iter": 150}},
}
STAGES = {
    "generate": {
        "cmd": "modelops data generate --out data/churn",
        "deps": ["scripts/modelops/sandbox/datagen.py"],
        "params": ["data"],
        "outs": ["data/churn/train.csv", "data/churn/golden.csv"],
    },
    "visits_data": {
        "cmd": "python training/visits_data.py --out data/visits",
        "deps": ["training/visits_data.py"],
        "params": ["visits.data"],
        "outs": ["data/visits/train.csv", {"data/visits/golden.csv": {"cache": True}}],
    },
}
LOCK = {"generate": {"outs": [{"path": "data/churn/train.csv", "md5": "a"}]}, "visits_data": {"outs": []}}
BASE = Snapshot(
    commands={"churn": "python training/churn.py", "visits": "python training/visits.py"},
    params=PARAMS,
    stages=STAGES,
    lock=LOCK,
)


def head(**changes: object) -> Snapshot:
    fields = {
        "commands": dict(BASE.commands),
        "params": copy.deepcopy(PARAMS),
        "stages": copy.deepcopy(STAGES),
        "lock": copy.deepcopy(LOCK),
    }
    fields.update(changes)  # type: ignore[arg-type]
    return Snapshot(**fields)  # type: ignore[arg-type]


def trained(base: Snapshot | None, after: Snapshot, changed: list[str]) -> list[str]:
    return [m.model for m in models_to_train(base, after, changed)]


def test_a_docs_only_change_trains_nothing() -> None:
    assert trained(BASE, head(), ["README.md", "docs/github.md", "scripts/modelops/flows/board.py"]) == []
    assert workflow_matrix([]) == {"include": []}


def test_a_change_to_a_model_s_training_script_trains_that_model() -> None:
    [churn] = models_to_train(BASE, head(), ["training/churn.py"])
    assert churn.model == "churn"
    assert churn.reasons == ("training code training/churn.py changed",)


def test_a_change_touching_two_models_trains_both_in_models_yaml_order() -> None:
    assert trained(BASE, head(), ["training/visits.py", "training/churn.py"]) == ["churn", "visits"]
    assert workflow_matrix(models_to_train(BASE, head(), ["training/visits.py", "training/churn.py"])) == {
        "include": [{"model": "churn"}, {"model": "visits"}]
    }


def test_a_model_s_params_section_trains_it_and_not_the_other() -> None:
    params = copy.deepcopy(PARAMS)
    params["visits"]["train"]["max_iter"] = 300
    assert trained(BASE, head(params=params), ["params.yaml"]) == ["visits"]


def test_params_a_data_stage_reads_train_the_model_the_stage_feeds() -> None:
    params = copy.deepcopy(PARAMS)
    params["data"]["rows"] = 5000  # churn's data stage reads `data`, not `churn`
    [churn] = models_to_train(BASE, head(params=params), ["params.yaml"])
    assert churn.reasons == ("params.yaml: data changed (read by stage generate)",)


def test_new_data_in_dvc_lock_trains_the_model_that_learns_from_it() -> None:
    lock = copy.deepcopy(LOCK)
    lock["generate"]["outs"][0]["md5"] = "b"
    [churn] = models_to_train(BASE, head(lock=lock), ["dvc.lock"])
    assert churn.reasons == ("dvc.lock: stage generate changed",)


def test_a_file_a_data_stage_depends_on_trains_its_model() -> None:
    assert trained(BASE, head(), ["scripts/modelops/sandbox/datagen.py"]) == ["churn"]
    assert trained(BASE, head(), ["training/visits_data.py"]) == ["visits"]


def test_a_changed_stage_definition_trains_its_model() -> None:
    stages = copy.deepcopy(STAGES)
    stages["visits_data"]["cmd"] += " --rows 100"
    assert trained(BASE, head(stages=stages), ["dvc.yaml"]) == ["visits"]


def test_a_new_model_trains_and_a_removed_one_does_not() -> None:
    commands = {"visits": "python training/visits.py", "fraud": "python training/fraud.py"}
    assert trained(BASE, head(commands=commands), ["models.yaml"]) == ["fraud"]


def test_a_changed_command_trains_even_when_no_file_changed() -> None:
    commands = {**BASE.commands, "churn": "python training/churn.py --fast"}
    assert trained(BASE, head(commands=commands), ["models.yaml"]) == ["churn"]


def test_a_table_tracked_by_a_dvc_file_trains_its_model() -> None:
    assert trained(BASE, head(), ["data/visits/train.csv.dvc"]) == ["visits"]


def test_without_a_base_every_model_trains() -> None:
    assert trained(None, head(), []) == ["churn", "visits"]


@pytest.mark.parametrize(
    ("command", "paths"),
    [
        ("python training/churn.py", ["training/churn.py"]),
        ("python ./training/churn.py --fast", ["training/churn.py"]),
        ("python -m training.fraud", ["training/fraud.py", "training/fraud"]),
        ("bash scripts/train.sh", ["scripts/train.sh"]),
        ("", []),
        ("python 'unclosed", []),
    ],
)
def test_the_paths_a_command_names(command: str, paths: list[str]) -> None:
    assert command_paths(command) == paths


def test_a_module_s_package_directory_counts_as_its_code() -> None:
    commands = {**BASE.commands, "churn": "python -m training.churn_pkg"}
    base = Snapshot(commands=commands, params=PARAMS, stages=STAGES, lock=LOCK)
    assert trained(base, head(commands=commands), ["training/churn_pkg/features.py"]) == ["churn"]
