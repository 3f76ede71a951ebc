"""The metric table: which metrics each task has and which way each is better. It imports no numpy, so
that validating models.yaml, as every rollback does, runs on the lean rollback install
(tests/workflow_runs/test_on_a_runner.py checks what the rollback path imports)."""

from __future__ import annotations

import math

import pytest

from modelops.core import metric_catalog
from modelops.core.metric_catalog import metric


def test_directions_make_the_gain_positive_when_the_challenger_is_better() -> None:
    assert metric("regression", "rmse").gain(champion=2.0, challenger=1.5) == 0.5
    assert metric("regression", "r2").gain(champion=0.5, challenger=0.7) == pytest.approx(0.2)
    assert metric("binary", "log_loss").gain(champion=0.4, challenger=0.5) == pytest.approx(-0.1)
    # the floor is the worst acceptable value: a maximum for an error
    assert metric("regression", "rmse").acceptable(1.9, floor=2.0)
    assert not metric("regression", "rmse").acceptable(2.1, floor=2.0)
    assert metric("binary", "roc_auc").acceptable(0.71, floor=0.7)
    assert not metric("binary", "roc_auc").acceptable(math.nan, floor=0.7)


def test_a_pairing_the_gate_cannot_judge_is_named() -> None:
    assert metric_catalog.pairing_problem("binary", "r2") == (
        "'r2' is not a binary metric (binary: roc_auc, average_precision, log_loss, brier, accuracy, f1)"
    )
    assert metric_catalog.pairing_problem("regression", "rmse") is None
    assert "unknown task 'ranking'" in (metric_catalog.pairing_problem("ranking", "rmse") or "")
