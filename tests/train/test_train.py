"""modelops train: lineage on run and version, the data profile, the candidate alias, refusing stale data,
and no run left RUNNING when training fails."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from modelops.adapters import dvc_data
from modelops.core import lineage
from tests.train.conftest import World

LINEAGE_KEYS = {
    lineage.GIT_COMMIT,
    lineage.GIT_DIRTY,
    lineage.TRAIN_MD5,
    lineage.GOLDEN_MD5,
    lineage.DVC_REMOTE,
    lineage.DATA_VERSION,
    lineage.PARAMS_HASH,
    lineage.MODELOPS_VERSION,
}


def _runs(world: World) -> list:
    return world.registry().search_runs("churn-classifier")


def test_every_version_and_its_run_carry_the_same_lineage(world: World) -> None:
    registry = world.registry()
    declared = dvc_data.declared_outs(world.repo)
    for trained in (world.good, world.weak):
        info = registry.version("churn-classifier", trained.version)
        assert info is not None and info.run_id == trained.run_id
        run_tags = registry.run_info(trained.run_id).data.tags
        for key in LINEAGE_KEYS:
            assert info.tags[key] == run_tags[key], key
        assert info.tags[lineage.TRAIN_MD5] == declared["data/churn/train.csv"]
        assert info.tags[lineage.GOLDEN_MD5] == declared["data/churn/golden.csv"]
        assert info.tags[lineage.DVC_REMOTE] == str(world.remote)
        assert info.tags[lineage.DATA_VERSION] == dvc_data.data_version(world.repo)
        assert len(info.tags[lineage.GIT_COMMIT]) == 40
    good_tags = registry.version("churn-classifier", world.good.version).tags
    weak_tags = registry.version("churn-classifier", world.weak.version).tags
    assert good_tags[lineage.PARAMS_HASH] != weak_tags[lineage.PARAMS_HASH]


def test_candidate_alias_points_at_the_newest_version(world: World) -> None:
    registry = world.registry()
    assert world.weak.version == world.good.version + 1
    assert registry.get_alias("churn-classifier", "candidate") == registry.latest_version("churn-classifier")


def test_run_records_params_metrics_model_signature_and_data_profile(world: World) -> None:
    registry = world.registry()
    run = registry.run_info(world.good.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["estimator"] == "hist_gradient_boosting"
    assert run.data.params["estimator.max_iter"] == "60"
    metrics = run.data.metrics
    assert 0.7 < metrics["validation_roc_auc"] < 0.95
    # The golden rows never reach training: fit + validation rows are exactly train.csv's rows.
    train_rows = sum(1 for _ in (world.repo / "data/churn/train.csv").open()) - 1
    assert metrics["train_rows"] + metrics["validation_rows"] == train_rows
    assert registry.input_columns("churn-classifier", world.good.version) == [
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "data_usage_gb",
        "contract",
        "plan",
        "region",
        "payment_method",
        "senior",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        local = registry.client.download_artifacts(world.good.run_id, "data_profile.json", tmp)
        profile = json.loads(Path(local).read_text())
    tenure = profile["features"]["tenure_months"]
    assert len(tenure["quantiles"]) == 11 and tenure["quantiles"]["0.0"] == tenure["min"]
    assert tenure["edges"] == sorted(tenure["edges"]) and len(tenure["edges"]) <= 9
    assert profile["features"]["data_usage_gb"]["missing"] > 0
    contract = profile["features"]["contract"]["categories"]
    assert set(contract) == {"month-to-month", "one-year", "two-year"}
    assert abs(sum(contract.values()) - 1.0) < 1e-9


def test_weak_parameters_give_a_worse_model(world: World) -> None:
    assert world.weak.metrics["validation_roc_auc"] < world.good.metrics["validation_roc_auc"] - 0.01


def test_train_refuses_data_not_at_the_declared_md5_and_starts_no_run(world: World) -> None:
    path = world.repo / "data/churn/train.csv"
    original = path.read_bytes()
    runs_before = len(_runs(world))
    versions_before = world.registry().latest_version("churn-classifier")
    path.write_bytes(original + b"c999-0000000,2025-12-01,1,1.0,1.0,0,1.0,one-year,basic,north,card,no,1\n")
    try:
        done = world.cli("train", "--model", "churn")
    finally:
        path.write_bytes(original)
    assert done.returncode == 3, done.stderr
    assert "data/churn/train.csv" in done.stderr and "dvc pull" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(_runs(world)) == runs_before
    assert world.registry().latest_version("churn-classifier") == versions_before


def test_a_failure_mid_run_ends_the_run_as_failed_not_running(world: World) -> None:
    bad = world.workdir / "bad-params.yaml"
    bad.write_text(
        (world.repo / "params.yaml").read_text().replace("max_depth: 4", "max_depth: -3"),
        "utf-8",
    )
    versions_before = world.registry().latest_version("churn-classifier")
    done = world.cli("train", "--model", "churn", "--params", str(bad))
    assert done.returncode == 2, done.stderr
    assert "max_depth" in done.stderr and "Traceback" not in done.stderr
    statuses = [r.info.status for r in _runs(world)]
    assert "RUNNING" not in statuses
    assert "FAILED" in statuses
    assert world.registry().latest_version("churn-classifier") == versions_before


def test_unknown_estimator_is_bad_input(world: World) -> None:
    bad = world.workdir / "bad-estimator.yaml"
    bad.write_text(
        (world.repo / "params.yaml").read_text().replace("hist_gradient_boosting", "random_forest"),
        "utf-8",
    )
    done = world.cli("train", "--model", "churn", "--params", str(bad))
    assert done.returncode == 2
    assert "churn.train.estimator" in done.stderr and "logistic_regression" in done.stderr


def test_data_restored_from_the_dvc_remote_verifies_again(world: World) -> None:
    """The sandbox pushed the data; with the local copy and the cache gone, `dvc pull` brings it back."""
    import shutil

    golden = world.repo / "data/churn/golden.csv"
    declared = dvc_data.declared_outs(world.repo)["data/churn/golden.csv"]
    golden.unlink()
    shutil.rmtree(world.repo / ".dvc" / "cache")
    assert dvc_data.remote_url(world.repo) == str(world.remote)
    dvc_data.pull(world.repo, "data/churn/golden.csv")
    assert dvc_data.verify(world.repo, "data/churn/golden.csv") == declared
