"""Promotion steps: canary first in production, and what an evaluation licenses."""

from __future__ import annotations

import pytest

from modelops.core.promotion import check_evaluation, plan_promotion
from modelops.errors import Denied
from tests.core.histories import churn


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
