"""Tasks and metrics: every metric equals its scikit-learn counterpart, points the right way, and its
paired interval behaves like the gate's (no MLflow, no files)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from modelops.core import gate, metrics
from modelops.core.metrics import METRICS, metric


def _binary(n: int, seed: int, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    shared = rng.normal(size=n)
    logit = lambda d: d * y - 0.8 + 0.9 * shared + 0.45 * rng.normal(size=n)  # noqa: E731
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    return y, sigmoid(logit(1.5)), sigmoid(logit(1.5 + shift))


def _multiclass(n: int, seed: int, k: int = 4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    logits = rng.normal(size=(n, k)) + 1.6 * (y[:, None] == np.arange(k))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p


def _regression(n: int, seed: int, extra_noise: float = 0.0):
    rng = np.random.default_rng(seed)
    y = rng.normal(3.0, 2.0, size=n)
    shared = rng.normal(size=n)
    a = y + 0.8 * shared + 0.3 * rng.normal(size=n)
    b = y + 0.8 * shared + math.sqrt(0.09 + extra_noise) * rng.normal(size=n)
    return y, a, b


SKLEARN = {
    ("binary", "roc_auc"): skm.roc_auc_score,
    ("binary", "average_precision"): skm.average_precision_score,
    ("binary", "log_loss"): lambda y, p: skm.log_loss(y, p, labels=[0, 1]),
    ("binary", "brier"): skm.brier_score_loss,
    ("binary", "accuracy"): lambda y, p: skm.accuracy_score(y, p >= 0.5),
    ("binary", "f1"): lambda y, p: skm.f1_score(y, p >= 0.5),
    ("multiclass", "roc_auc_ovr"): lambda y, p: skm.roc_auc_score(y, p, multi_class="ovr", average="macro"),
    ("multiclass", "accuracy"): lambda y, p: skm.accuracy_score(y, p.argmax(axis=1)),
    ("multiclass", "f1_macro"): lambda y, p: skm.f1_score(
        y, p.argmax(axis=1), average="macro", labels=range(p.shape[1])
    ),
    ("multiclass", "log_loss"): lambda y, p: skm.log_loss(y, p, labels=range(p.shape[1])),
    ("regression", "rmse"): lambda y, p: math.sqrt(skm.mean_squared_error(y, p)),
    ("regression", "mae"): skm.mean_absolute_error,
    ("regression", "r2"): skm.r2_score,
}


def _data(task: str):
    if task == "binary":
        y, p, _ = _binary(3000, 1)
        return y, np.round(p, 2)  # ties
    if task == "multiclass":
        return _multiclass(3000, 2)
    y, p, _ = _regression(3000, 3)
    return y, p


def test_the_registry_covers_exactly_the_promised_metrics() -> None:
    assert {t: sorted(m) for t, m in METRICS.items()} == {
        "binary": sorted(["roc_auc", "average_precision", "log_loss", "brier", "accuracy", "f1"]),
        "multiclass": sorted(["roc_auc_ovr", "accuracy", "f1_macro", "log_loss"]),
        "regression": sorted(["rmse", "mae", "r2"]),
    }
    assert set(SKLEARN) == {(t, n) for t, per in METRICS.items() for n in per}


@pytest.mark.parametrize(("task", "name"), sorted(SKLEARN))
def test_every_metric_equals_sklearn(task: str, name: str) -> None:
    y, p = _data(task)
    assert metrics.score(metric(task, name), y, p) == pytest.approx(SKLEARN[task, name](y, p), rel=1e-12)


@pytest.mark.parametrize(("task", "name"), sorted(SKLEARN))
def test_poisson_resamples_equal_sklearn_with_sample_weights(task: str, name: str) -> None:
    """A resample is a weighting of the rows; each resample's value is the weighted metric."""
    y, p = _data(task)
    y, p = y[:300], p[:300]
    m = metric(task, name)
    values = metrics.bootstrap_values(m, y, [p], samples=3, seed=5)[0]
    weights = np.concatenate(list(metrics._poisson_counts(len(y), 3, 5)))
    for b in range(3):
        rows = np.repeat(np.arange(len(y)), weights[b])
        assert values[b] == pytest.approx(SKLEARN[task, name](y[rows], p[rows]), rel=1e-9)


def test_a_worse_regressor_is_caught_and_an_equal_one_is_not() -> None:
    rmse = metric("regression", "rmse")
    y, a, b = _regression(4000, 7, extra_noise=0.3)
    worse = metrics.paired_interval(rmse, y, a, b, samples=400, seed=1)
    assert worse.delta < 0 and worse.ci_high < 0  # clearly worse: the whole CI of the gain is negative
    y, a, b = _regression(4000, 8)
    equal = metrics.paired_interval(rmse, y, a, b, samples=400, seed=1)
    assert equal.ci_low < 0 < equal.ci_high


def test_paired_resampling_is_narrower_than_unpaired() -> None:
    rmse = metric("regression", "rmse")
    y, a, b = _regression(3000, 9)
    paired = metrics.paired_interval(rmse, y, a, b, samples=300, seed=2)
    single_a = metrics.single_interval(rmse, y, a, samples=300, seed=2)
    # Unpaired, the gain's CI would be about √2 × one model's; the shared error cancels when paired.
    assert paired.ci_high - paired.ci_low < 0.75 * (single_a[1] - single_a[0])


def test_streamed_units_give_the_same_interval_as_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above STREAM_UNITS rows are summed into random units: the CI must not move beyond noise."""
    rmse = metric("regression", "rmse")
    y, a, b = _regression(20_000, 10, extra_noise=0.02)
    by_rows = metrics.paired_interval(rmse, y, a, b, samples=1000, seed=3)
    monkeypatch.setattr(metrics, "STREAM_UNITS", 2000)
    monkeypatch.setattr(metrics, "STREAM_CHUNK", 3000)
    by_units = metrics.paired_interval(rmse, y, a, b, samples=1000, seed=3)
    width = by_rows.ci_high - by_rows.ci_low
    assert by_units.delta == pytest.approx(by_rows.delta, rel=1e-12)
    assert abs(by_units.ci_low - by_rows.ci_low) < 0.15 * width
    assert abs(by_units.ci_high - by_rows.ci_high) < 0.15 * width


def test_bootstrap_is_reproducible_from_its_seed() -> None:
    f1 = metric("binary", "f1")
    y, a, b = _binary(2000, 4)
    first = metrics.paired_interval(f1, y, a, b, samples=200, seed=9)
    assert first == metrics.paired_interval(f1, y, a, b, samples=200, seed=9)
    assert first != metrics.paired_interval(f1, y, a, b, samples=200, seed=10)


def test_midranks_equal_scipys() -> None:
    from scipy.stats import rankdata

    x = np.round(np.random.default_rng(0).normal(size=5000), 1)
    assert np.array_equal(metrics._midranks(x), rankdata(x))


def test_delong_auc_is_the_exact_auc_and_its_variance_matches_the_bootstrap() -> None:
    y, a, b = _binary(4000, 11, shift=-0.1)
    a, b = np.round(a, 3), np.round(b, 3)
    result = metrics.delong(y, [a, b])
    assert result.aucs[0] == pytest.approx(skm.roc_auc_score(y, a), abs=1e-12)
    assert result.aucs[1] == pytest.approx(skm.roc_auc_score(y, b), abs=1e-12)
    delong = metrics.delong_interval(y, a, b)
    boot = gate.paired_bootstrap(y, a, b, samples=2000, seed=1)
    assert delong.delta == pytest.approx(boot.delta, abs=1e-12)
    # DeLong's variance is the bootstrap's asymptotically: the CI widths agree within 10 %.
    assert (delong.ci_high - delong.ci_low) == pytest.approx(boot.ci_high - boot.ci_low, rel=0.1)


def test_delong_without_both_classes_is_undefined() -> None:
    result = metrics.delong_interval(np.zeros(10), np.arange(10.0), np.arange(10.0))
    assert math.isnan(result.ci_low)


def test_fairness_ratio_reads_best_over_worst_error_for_regression() -> None:
    y = np.array([0.0, 0.0, 1.0, 1.0])
    p = np.array([0.5, -0.5, 1.25, 0.75])  # group a errors 0.5, group b errors 0.25
    ratio, per_group = metrics.group_ratio("regression", y, p, ["a", "a", "b", "b"])
    assert per_group == {"a": 0.5, "b": 0.25}
    assert ratio == 0.5


def test_top_label_calibration_error_of_a_calibrated_model_is_small() -> None:
    rng = np.random.default_rng(12)
    n, k = 20_000, 3
    logits = rng.normal(size=(n, k)) * 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in p])
    overconfident = p**3 / (p**3).sum(axis=1, keepdims=True)
    assert metrics.top_label_calibration_error(y, p) < 0.02
    assert metrics.top_label_calibration_error(y, overconfident) > 0.05


class _Predicts:
    """A model that only has `predict` (as a pyfunc model is), returning what it was given."""

    def __init__(self, out: object) -> None:
        self.out = out

    def predict(self, frame: object) -> object:
        return self.out


def test_a_model_that_only_predicts_is_read_as_its_task_says() -> None:
    import pandas as pd

    two_columns = np.array([[0.8, 0.2], [0.3, 0.7]])
    named = pd.DataFrame({"c": [0.1, 0.6], "a": [0.7, 0.3], "b": [0.2, 0.1]})

    assert metrics.model_outputs(_Predicts(two_columns), None, "binary").tolist() == [0.2, 0.7]
    assert metrics.model_outputs(_Predicts(np.array([2.5, 4.0])), None, "regression").tolist() == [2.5, 4.0]
    assert metrics.model_outputs(_Predicts(named), None, "multiclass", ["a", "b", "c"]).tolist() == [
        [0.7, 0.2, 0.1],
        [0.3, 0.1, 0.6],
    ]
    labels = metrics.model_outputs(_Predicts(np.array(["b", "z"])), None, "multiclass", ["a", "b"])
    assert labels.tolist() == [[0.0, 1.0], [0.0, 0.0]]


def test_the_served_score_is_the_top_class_probability_for_multiclass_and_the_output_otherwise() -> None:
    _, p = _multiclass(50, seed=3)

    np.testing.assert_array_equal(metrics.served_scores("multiclass", p), p.max(axis=1))
    np.testing.assert_array_equal(metrics.served_scores("regression", p[:, 0]), p[:, 0])


def test_outputs_that_do_not_mean_what_the_task_says_are_named_in_one_line() -> None:
    proba = np.array([[0.2, 0.8], [0.6, 0.4]])

    assert metrics.outputs_problem("multiclass", proba, 2) is None
    assert "2 probability columns for 3 classes" in str(
        metrics.outputs_problem("multiclass", proba, 2, "abc")
    )
    assert "a binary model returns one value per row" in str(metrics.outputs_problem("binary", proba, 2))
    assert "must output P(positive) in [0, 1]" in str(
        metrics.outputs_problem("binary", np.array([0.5, 3.0]), 2)
    )
    assert metrics.outputs_problem("regression", np.array([0.5, 3.0]), 2) is None
    assert metrics.outputs_problem("regression", np.array([np.nan, 3.0]), 2) == "non-finite outputs"
