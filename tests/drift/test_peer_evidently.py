"""A peer check: Evidently 0.7 reaches the same verdicts and KS p-values on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.core.params import FeatureSpec
from modelops.core.state import DriftSettings
from modelops.flows.drift import analyse


def evidently_pvalues(reference: pd.DataFrame, current: pd.DataFrame, spec: FeatureSpec) -> dict[str, float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=list(spec.numeric), categorical_columns=list(spec.categorical)
    )
    report = Report([DataDriftPreset(num_method="ks", cat_method="chisquare", threshold=0.01)])
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    return {
        m["config"]["column"]: float(m["value"])
        for m in snapshot.dict()["metrics"]
        if m["config"].get("type") == "evidently:metric_v2:ValueDrift"
    }


def test_same_verdicts_and_ks_pvalues_as_evidently() -> None:
    rng = np.random.default_rng(21)
    n_ref, n_cur = 6000, 2500
    reference = pd.DataFrame(
        {
            "stable": rng.normal(0, 1, n_ref),
            "shifted": rng.normal(0, 1, n_ref),
            "counts": rng.poisson(2.0, n_ref).astype(float),  # heavy ties
            "plan": rng.choice(["basic", "standard", "premium"], n_ref, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(["north", "south"], n_ref),
        }
    )
    current = pd.DataFrame(
        {
            "stable": rng.normal(0, 1, n_cur),
            "shifted": rng.normal(0.7, 1, n_cur),
            "counts": rng.poisson(3.2, n_cur).astype(float),
            "plan": rng.choice(["basic", "standard", "premium"], n_cur, p=[0.2, 0.3, 0.5]),
            "region": rng.choice(["north", "south"], n_cur),
        }
    )
    spec = FeatureSpec(("stable", "shifted", "counts"), ("plan", "region"))
    ours = analyse(
        reference, current, spec, DriftSettings(alpha=0.01, seasonal_reference="none"), model="peer"
    )
    theirs = evidently_pvalues(reference, current, spec)

    by_name = {f.feature: f for f in ours.features}
    for name in spec.numeric:
        assert by_name[name].comparison.pvalue == pytest.approx(theirs[name], abs=1e-9), name
    verdicts = {name: f.drifted for name, f in by_name.items()}
    assert verdicts == {name: p < 0.01 for name, p in theirs.items()}
    assert verdicts == {"stable": False, "shifted": True, "counts": True, "plan": True, "region": False}
