"""The prediction-score distribution is checked beside the inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelops.core.params import FeatureSpec
from modelops.core.state import DriftSettings
from modelops.flows.drift import analyse

from .data import CATEGORICAL, NUMERIC, churn_frame

SPEC = FeatureSpec(tuple(NUMERIC), tuple(CATEGORICAL), "timestamp")
SETTINGS = DriftSettings(top_features=("contract",))
REFERENCE = churn_frame(300, seed=1)


def champion(frame: pd.DataFrame) -> np.ndarray:
    """A stand-in for the pinned version: churn risk grows with support calls."""
    return 1 / (1 + np.exp(-(frame["support_calls"].to_numpy(float) - 2.0)))


def test_a_window_with_predictions_is_compared_with_the_champions_scores_on_the_reference() -> None:
    current = churn_frame(600, [12], seed=41, year=2025)
    current["prediction"] = champion(current)
    report = analyse(REFERENCE, current, SPEC, SETTINGS, model="churn", scorer=champion)
    assert report.prediction is not None and report.prediction.comparison.kind == "prediction"
    assert not report.prediction_drifted and not report.drift


def test_scores_that_moved_are_prediction_drift_and_major() -> None:
    current = churn_frame(600, [12], seed=42, year=2025)
    current["prediction"] = np.clip(champion(current) + 0.25, 0, 1)  # e.g. a broken calibration
    report = analyse(REFERENCE, current, SPEC, SETTINGS, model="churn", scorer=champion)
    assert report.prediction_drifted
    assert report.drifted_features == ()  # the inputs did not move
    assert report.severity == "major"


def test_without_a_prediction_column_the_champion_scores_both_sides() -> None:
    shifted = churn_frame(600, [12], seed=43, year=2025)
    shifted["support_calls"] = shifted["support_calls"] + 3
    report = analyse(REFERENCE, shifted, SPEC, SETTINGS, model="churn", scorer=champion)
    assert report.prediction is not None and report.prediction_drifted


def test_predictions_without_a_champion_are_noted_not_compared() -> None:
    current = churn_frame(200, [12], seed=44, year=2025)
    current["prediction"] = 0.5
    report = analyse(REFERENCE, current, SPEC, SETTINGS, model="churn")
    assert report.prediction is None
    assert any("no champion scored the reference" in note for note in report.notes)
