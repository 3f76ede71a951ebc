"""The data set is DVC-tracked and reproducible: a fresh clone's `dvc repro` gives the committed md5s."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import yaml

from modelops.sandbox.datagen import CATEGORICAL, NUMERIC, TARGET, TIMESTAMP
from tests.helpers import REPO_ROOT, require_binary, run


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_dvc_repro_on_a_fresh_clone_with_an_empty_cache_reproduces_the_committed_md5s(tmp_path):
    require_binary("git")
    clone = tmp_path / "clone"
    # A clone of the committed tree: no data files, no DVC cache.
    run(["git", "clone", "-q", "--no-local", str(REPO_ROOT), str(clone)])
    assert not (clone / "data/churn/train.csv").exists() and not (clone / ".dvc/cache").exists()
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    run([sys.executable, "-m", "dvc", "repro", "--quiet"], cwd=clone, env=env)
    lock = yaml.safe_load((clone / "dvc.lock").read_text("utf-8"))
    outs = {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage["outs"]}
    assert set(outs) == {
        "data/churn/train.csv",
        "data/churn/golden.csv",
        "data/visits/train.csv",
        "data/visits/golden.csv",
    }
    for path, md5 in outs.items():
        assert _md5(clone / path) == md5, path
    # Reproducing changed nothing git tracks: dvc.lock already held these md5s.
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=clone).stdout == ""
    shutil.rmtree(clone)


def test_the_data_is_not_in_git():
    tracked = run(["git", "ls-files", "data"], cwd=REPO_ROOT).stdout.split()
    assert tracked == ["data/churn/.gitignore", "data/visits/.gitignore"]


def test_the_golden_set_is_frozen_apart_from_training_and_large_enough(tmp_path):
    from modelops.sandbox.datagen import write_dataset

    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text("utf-8"))
    paths = write_dataset(tmp_path, params)
    train, golden = pd.read_csv(paths["train"]), pd.read_csv(paths["golden"])
    assert len(golden) >= 2000
    assert set(train["customer_id"]).isdisjoint(golden["customer_id"])
    assert set(NUMERIC + CATEGORICAL + [TARGET, TIMESTAMP]) <= set(train.columns)
    # A seasonal pattern drift detection must not mistake for drift: December costs more.
    month = train[TIMESTAMP].str[5:7]
    assert (
        train.loc[month == "12", "monthly_charges"].mean()
        > 1.08 * train.loc[month == "06", "monthly_charges"].mean()
    )


def test_the_visits_data_is_read_from_the_installed_statsmodels_with_no_network(tmp_path, monkeypatch):
    """The second model's real data ships inside an installed package: preparing it opens no socket."""
    import runpy
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the visits data stage tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, "argv", ["visits_data.py", "--out", str(tmp_path)])
    runpy.run_path(str(REPO_ROOT / "training/visits_data.py"), run_name="__main__")
    lock = yaml.safe_load((REPO_ROOT / "dvc.lock").read_text("utf-8"))
    for out in lock["stages"]["visits_data"]["outs"]:
        assert _md5(tmp_path / Path(out["path"]).name) == out["md5"], out["path"]
    golden = pd.read_csv(tmp_path / "golden.csv")
    train = pd.read_csv(tmp_path / "train.csv")
    assert len(golden) >= 4000 and len(golden) + len(train) == 20190  # RAND HIE person-years
    assert set(golden["health"]) == {"excellent", "good", "fair", "poor"}
