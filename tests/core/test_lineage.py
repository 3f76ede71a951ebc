"""Lineage and evaluation tags: what a Version carries in the registry."""

from __future__ import annotations

from modelops.core.lineage import Lineage, eval_tags, params_hash


def test_the_params_hash_ignores_key_order_and_sees_every_value() -> None:
    assert params_hash({"a": 1, "b": [2, 3]}) == params_hash({"b": [2, 3], "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})
    assert len(params_hash({})) == 12


def test_unknown_lineage_is_said_not_left_out() -> None:
    tags = Lineage("churn", None, None, "t" * 32, "g" * 32, None, "d1", "h", "0.1.0").tags()
    assert (tags["git_commit"], tags["git_dirty"], tags["data.dvc_remote"]) == ("unknown", "unknown", "none")


def test_evaluation_tags_name_the_environment_champion_and_verdict() -> None:
    tags = eval_tags(
        passed=True, env="production", metric="roc_auc", value=0.81234567, golden_md5="g",
        evaluated_at="2026-01-01T00:00:00Z", champion_version=None,
    )  # fmt: skip
    assert (tags["eval.passed"], tags["eval.env"], tags["eval.roc_auc"], tags["eval.champion_version"]) == (
        "true",
        "production",
        "0.812346",
        "none",
    )
