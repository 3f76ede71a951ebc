"""report.md is rendered from report.json alone (the promotion PR re-renders it), JSON never holds NaN."""

from __future__ import annotations

import json
import math

import numpy as np

from modelops.adapters.evidence import clean, render_markdown, write_evidence


def _report(champion: int | None) -> dict:
    boot = (
        None
        if champion is None
        else {"champion": 0.78, "challenger": 0.79, "delta": 0.01, "ci_low": 0.004, "ci_high": 0.016,
              "confidence": 0.95, "samples": 2000, "seed": 1, "degenerate_resamples": 0}
    )  # fmt: skip
    return {
        "model": "churn",
        "registered_model": "churn-classifier",
        "env": "production",
        "candidate_version": 7,
        "champion_version": champion,
        "passed": champion is not None,
        "primary_metric": "roc_auc",
        "metrics": {
            "challenger": {"roc_auc": 0.79, "roc_auc_ci": [0.77, 0.81], "ece": 0.012},
            "champion": None if champion is None else {"roc_auc": 0.78, "ece": 0.015},
        },
        "bootstrap": boot,
        "plain_rule": {
            "rule": "roc_auc challenger − champion > 0.005",
            "passed": None if champion is None else True,
        },
        "gate": {"margin": -0.02, "min_slice_rows": 100, "slice_margin": 0.03},
        "checks": [
            {
                "name": "roc_auc.floor",
                "kind": "floor",
                "value": 0.79,
                "threshold": 0.7,
                "passed": True,
                "detail": "",
            },
            {
                "name": "latency.p99_ms",
                "kind": "latency",
                "value": None,
                "threshold": 200.0,
                "passed": False,
                "detail": "missing metric: latency.p99_ms could not be computed",
            },
        ],
        "failed": [] if champion is not None else ["missing metric: latency.p99_ms could not be computed"],
        "notes": [],
        "slices": [
            {
                "column": "plan",
                "value": "basic",
                "rows": 900,
                "positives": 300,
                "champion": 0.77,
                "challenger": 0.78,
                "evaluable": True,
            },
        ],
        "fairness": {"challenger": None, "champion": None},
        "golden": {"path": "data/churn/golden.csv", "md5": "c2af" * 8, "rows": 6031, "positives": 1865},
        "lineage": {
            "candidate": {
                "version": 7,
                "run_id": "abc",
                "run_url": "http://mlflow:5000/#/experiments/1/runs/abc",
                "version_url": "http://mlflow:5000/#/models/churn-classifier/versions/7",
                "git_commit": "f" * 40,
            },
            "champion": None if champion is None else {"version": champion, "git_commit": "e" * 40},
        },
        "evaluated_at": "2026-01-01T00:00:00Z",
        "modelops_version": "0.1.0",
    }


def test_markdown_with_a_champion_shows_delta_ci_margin_and_lineage_links() -> None:
    md = render_markdown(_report(champion=5))
    assert md.startswith("## Evaluation of churn-classifier v7 against production champion v5: PASSED")
    assert "| roc_auc | 0.7800 (v5) | 0.7900 (v7) | +0.0100 | [+0.0040, +0.0160] | -0.0200 |" in md
    assert "[v7](http://mlflow:5000/#/models/churn-classifier/versions/7)" in md
    assert "`" + "f" * 40 + "`" in md and "`" + "e" * 40 + "`" in md
    assert "c2af" * 8 in md
    assert "would have promoted" in md
    assert "| plan=basic | 900 | 300 | 0.7700 | 0.7800 | +0.0100 | yes |" in md


def test_markdown_without_a_champion_says_so_and_lists_why_it_is_blocked() -> None:
    md = render_markdown(_report(champion=None))
    assert "against no production champion (absolute checks only): BLOCKED" in md
    assert "- missing metric: latency.p99_ms could not be computed" in md
    assert "| latency.p99_ms | — | 200.0000 | **FAIL** |" in md
    assert "would have" not in md


def test_clean_turns_nan_and_numpy_scalars_into_json() -> None:
    cleaned = clean({"a": float("nan"), "b": [np.float64(1.5), math.inf], "c": (np.int64(2),)})
    assert cleaned == {"a": None, "b": [1.5, None], "c": [2]}
    json.dumps(cleaned, allow_nan=False)


def test_write_evidence_writes_json_markdown_and_plots(tmp_path) -> None:
    report = _report(champion=5)
    report["metrics"]["challenger"]["ece"] = float("nan")
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(int)
    write_evidence(report, tmp_path, y=y, champion=rng.random(500), challenger=rng.random(500) + 0.2 * y)
    loaded = json.loads((tmp_path / "report.json").read_text())
    assert loaded["metrics"]["challenger"]["ece"] is None
    assert loaded["plots"] == ["roc.png", "calibration.png"]
    assert (tmp_path / "report.md").read_text() == render_markdown(loaded) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "calibration.png",
        "report.json",
        "report.md",
        "roc.png",
    ]
