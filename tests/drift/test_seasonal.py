"""Seasonal references: December traffic is compared with December, not with the whole year."""

from __future__ import annotations

from modelops.core.params import FeatureSpec
from modelops.core.state import DriftSettings
from modelops.flows.drift import analyse

from .data import CATEGORICAL, NUMERIC, churn_frame

SPEC = FeatureSpec(tuple(NUMERIC), tuple(CATEGORICAL), "timestamp")
TOP = ("tenure_months", "monthly_charges", "support_calls", "data_usage_gb", "contract")
REFERENCE = churn_frame(500, seed=1)
DECEMBER = churn_frame(1500, [12], seed=2, year=2025)


def _settings(seasonal: str) -> DriftSettings:
    return DriftSettings(seasonal_reference=seasonal, top_features=TOP)


def test_december_against_the_december_reference_is_not_drift() -> None:
    report = analyse(REFERENCE, DECEMBER, SPEC, _settings("same_month"), model="churn")
    assert report.reference.startswith("December rows of the reference (500 rows")
    assert not report.drift, report.as_dict()["features"]


def test_december_against_the_whole_year_is_drift() -> None:
    report = analyse(REFERENCE, DECEMBER, SPEC, _settings("none"), model="churn")
    assert report.reference.startswith("whole reference")
    assert "data_usage_gb" in report.drifted_features
    assert report.severity == "major"


def test_december_against_june_is_drift() -> None:
    june_only = churn_frame(500, [6], seed=3)
    report = analyse(june_only, DECEMBER, SPEC, _settings("same_month"), model="churn")
    # No December rows in this reference: the fallback is reported, and the season shows as drift.
    assert report.reference.startswith("whole reference (December has 0 reference rows")
    assert {"data_usage_gb", "support_calls"} <= set(report.drifted_features)


def test_a_month_with_too_few_reference_rows_falls_back_to_the_whole_reference() -> None:
    report = analyse(REFERENCE, DECEMBER, SPEC, _settings("same_month"), model="churn", min_seasonal_rows=501)
    assert report.reference == "whole reference (December has 500 reference rows, fewer than 501)"


def test_a_true_shift_in_december_is_drift_even_against_the_december_reference() -> None:
    shifted = churn_frame(1500, [12], seed=4, year=2025, charges_shift=15.0)
    report = analyse(REFERENCE, shifted, SPEC, _settings("same_month"), model="churn")
    assert report.reference.startswith("December rows")
    assert report.drifted_features == ("monthly_charges", "total_charges")
