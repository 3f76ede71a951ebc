"""Rollback targets and promotion steps: the rules both the PR text and the rollback use."""

from __future__ import annotations

import pytest

from modelops.core.document import ModelsDocument
from modelops.core.promotion import check_evaluation, plan_promotion
from modelops.core.rollback import plan_rollback
from modelops.errors import BadInput, Denied
from tests.helpers import REPO_ROOT

AT = "2026-11-21T10:00:00Z"


def churn(edits=()):
    doc = ModelsDocument((REPO_ROOT / "models.yaml").read_text("utf-8"))
    for kind, env, version in edits:
        if kind == "promote":
            doc.promote("churn", env, version, at=AT, by="t", reason="r")
        elif kind == "canary":
            doc.start_canary("churn", env, version, 10, at=AT, by="t", reason="r")
        elif kind == "rollback":
            doc.rollback("churn", env, at=AT, by="t", reason="r")
    return ModelsDocument(doc.dump()).state().model("churn")


def test_rollback_goes_to_previous_and_remembers_what_served_before_it():
    model = churn([("promote", "production", 1), ("promote", "production", 2), ("promote", "production", 3)])
    plan = plan_rollback(model.env("production"))
    assert (plan.from_version, plan.to_version, plan.new_previous) == (3, 2, 1)


def test_rollback_without_a_previous_version_is_refused():
    with pytest.raises(Denied, match="no previous version"):
        plan_rollback(churn([("promote", "production", 1)]).env("production"))


def test_rollback_to_a_quarantined_previous_is_refused():
    model = churn(
        [
            ("promote", "production", 1),
            ("promote", "production", 2),
            ("rollback", "production", 0),
            ("promote", "production", 3),
        ]
    )
    env = model.env("production")
    assert env.previous == 1 and 2 in env.quarantined
    model = churn(
        [
            ("promote", "production", 1),
            ("promote", "production", 2),
            ("promote", "production", 3),
            ("rollback", "production", 0),
        ]
    )
    env = model.env("production")
    assert (env.version, env.previous) == (2, 1)


def test_naming_a_version_that_is_not_serving_is_bad_input():
    model = churn([("promote", "production", 1), ("promote", "production", 2)])
    with pytest.raises(BadInput, match="v7 is not serving"):
        plan_rollback(model.env("production"), 7)


def test_production_promotion_starts_with_the_models_canary_step_then_goes_to_100():
    model = churn([("promote", "production", 1)])
    first = plan_promotion(model, model.env("production"), 2, None, None)
    assert (first.traffic, first.fallback, first.branch) == (10, 1, "promote/churn/production/v2")
    assert first.title == "promote churn v2 → production at 10% canary (from v1)"
    model = churn([("promote", "production", 1), ("canary", "production", 2)])
    second = plan_promotion(model, model.env("production"), 2, None, None)
    assert (second.traffic, second.fallback) == (100, 1)
    assert second.title == "promote churn v2 → production (from v1)"


def test_a_first_version_goes_straight_to_100_and_has_no_rollback_target():
    model = churn()
    plan = plan_promotion(model, model.env("production"), 1, None, None)
    assert (plan.traffic, plan.fallback) == (100, None)


def test_quarantined_versions_need_a_human_override():
    model = churn([("promote", "production", 1), ("promote", "production", 2), ("rollback", "production", 0)])
    with pytest.raises(Denied, match="quarantined"):
        plan_promotion(model, model.env("staging"), 2, None, None)
    plan = plan_promotion(model, model.env("staging"), 2, None, "retrained data fixed upstream")
    assert "override" in plan.labels


def test_an_evaluation_licenses_a_promotion_only_against_the_current_champion():
    model = churn([("promote", "production", 4)])
    plan = plan_promotion(model, model.env("production"), 5, 100, None)
    assert check_evaluation({"eval.passed": "true", "eval.champion_version": "4"}, plan) is None
    assert "evaluated against champion v3" in check_evaluation(
        {"eval.passed": "true", "eval.champion_version": "3"}, plan
    )
    assert "failed its evaluation" in check_evaluation({"eval.passed": "false"}, plan)
    assert "has not been evaluated" in check_evaluation({}, plan)


def test_a_drill_rolls_back_without_quarantining():
    doc = ModelsDocument((REPO_ROOT / "models.yaml").read_text("utf-8"))
    doc.promote("churn", "staging", 1, at=AT, by="t", reason="r")
    doc.promote("churn", "staging", 2, at=AT, by="t", reason="r")
    assert doc.rollback("churn", "staging", at=AT, by="drill", reason="drill: monthly", quarantine=False) == (
        2,
        1,
    )
    staging = ModelsDocument(doc.dump()).state().model("churn").env("staging")
    assert (staging.version, staging.quarantined) == (1, ())
