"""Rollback targets: the rules both the PR text and the rollback use."""

from __future__ import annotations

import pytest

from modelops.core.document import ModelsDocument
from modelops.core.rollback import plan_rollback
from modelops.errors import BadInput, Denied
from tests.core.histories import AT, churn
from tests.core.template import template_text


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


def test_a_drill_rolls_back_without_quarantining():
    doc = ModelsDocument(template_text())
    doc.promote("churn", "staging", 1, at=AT, by="t", reason="r")
    doc.promote("churn", "staging", 2, at=AT, by="t", reason="r")
    plan = doc.rollback("churn", "staging", at=AT, by="drill", reason="drill: monthly", quarantine=False)
    assert plan is not None and (plan.from_version, plan.to_version) == (2, 1)
    staging = ModelsDocument(doc.dump()).state().model("churn").env("staging")
    assert (staging.version, staging.quarantined) == (1, ())
