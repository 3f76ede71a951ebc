"""`modelops drift` and `modelops retrain` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.core.drift import NumericReference
from tests.helpers import modelops, require_binary, run

from .data import CATEGORICAL, NUMERIC, churn_frame, make_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("drift-cli"), churn_frame(300, seed=1))


def _window(repo: Path, name: str, **kw: object) -> Path:
    path = repo / name
    churn_frame(600, [12], seed=31, year=2025, **kw).to_csv(path, index=False)  # type: ignore[arg-type]
    return path


def _snapshot(frame: pd.DataFrame, reference: pd.DataFrame) -> dict[str, object]:
    """What the serving runtime exports: counts per reference quantile bin, category counts."""
    features: dict[str, object] = {}
    for name in NUMERIC:
        edges = NumericReference.from_values(reference[name].to_numpy(float)).edges
        bins = np.searchsorted(edges, frame[name].to_numpy(float), side="left")
        features[name] = {
            "edges": edges.tolist(),
            "counts": np.bincount(bins, minlength=edges.size + 1).tolist(),
        }
    for name in CATEGORICAL:
        features[name] = {"categories": {str(k): int(v) for k, v in frame[name].value_counts().items()}}
    return {"model": "churn", "env": "production", "n": len(frame), "features": features}


def test_a_stable_window_exits_0_and_writes_the_report_files(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = modelops("drift", "--model", "churn", "--current", str(_window(repo, "ok.csv")), "--out", str(out),
                    "--json", "--repo", str(repo))  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["drift"] is False
    assert data["reference"].startswith("December rows of the reference")
    assert {f["feature"] for f in data["features"]} == set(NUMERIC + CATEGORICAL)
    assert all({"p_value", "p_adjusted", "psi", "status"} <= f.keys() for f in data["features"])
    assert sorted(p.name for p in out.iterdir()) == ["drift.png", "metrics.prom", "report.json", "report.md"]
    assert (out / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "report.json").read_text())["drift"] is False
    assert "no drift" in (out / "report.md").read_text()
    metrics = (out / "metrics.prom").read_text()
    assert 'model_feature_drift_psi{env="production",feature="contract",model="churn"}' in metrics
    assert 'model_feature_drift_ks{env="production",feature="tenure_months",model="churn"}' in metrics
    assert 'model_drift_detected{env="production",model="churn"} 0.0' in metrics
    promtool = require_binary("promtool")
    checked = run([promtool, "check", "metrics"], check=False, input=metrics)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_shifted_window_exits_1_and_names_the_drifted_features(repo: Path) -> None:
    shifted = _window(repo, "shifted.csv", charges_shift=9.0)
    done = modelops("drift", "--model", "churn", "--current", str(shifted), "--json", "--no-record",
                    "--repo", str(repo))  # fmt: skip
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["drift"] is True and "monthly_charges" in data["drifted_features"]
    assert data["severity"] == "major"


def test_a_sudden_jump_after_a_stable_window_is_a_pipeline_problem_not_drift(tmp_path: Path) -> None:
    fresh = make_repo(tmp_path, churn_frame(300, seed=1))
    common = ["--model", "churn", "--json", "--repo", str(fresh)]
    first = modelops("drift", "--current", str(_window(fresh, "ok.csv")), *common)
    assert first.returncode == 0, first.stderr
    # Charges jump by more than a standard deviation from one window to the next: a unit bug, say.
    jumped = modelops("drift", "--current", str(_window(fresh, "jump.csv", charges_shift=30.0)), *common)
    assert jumped.returncode == 1, jumped.stderr
    data = json.loads(jumped.stdout)
    assert {"feature": "monthly_charges", "kind": "psi_jump"}.items() <= data["pipeline_issues"][0].items()
    assert "monthly_charges" not in data["drifted_features"]


def test_a_missing_column_is_one_line_naming_the_file_and_the_column(repo: Path, tmp_path: Path) -> None:
    broken = repo / "broken.csv"
    churn_frame(50, [12], seed=5).drop(columns=["support_calls"]).to_csv(broken, index=False)
    out = tmp_path / "never"
    done = modelops(
        "drift", "--model", "churn", "--current", str(broken), "--out", str(out), "--repo", str(repo)
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert str(broken) in done.stderr and "'support_calls'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_an_unreadable_file_is_bad_input(repo: Path) -> None:
    garbage = repo / "garbage.parquet"
    garbage.write_bytes(b"\x00\x01 not parquet")
    done = modelops("drift", "--model", "churn", "--current", str(garbage), "--repo", str(repo))
    assert done.returncode == 2 and str(garbage) in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("rows", [1, 99])
def test_a_window_too_small_to_be_a_distribution_is_refused_not_judged(repo: Path, rows: int) -> None:
    """A one-row window's PSI is past any band: refused with exit 2, naming the file and the count."""
    window = repo / f"tiny-{rows}.csv"
    churn_frame(rows, [12], seed=31, year=2025).to_csv(window, index=False)
    done = modelops("drift", "--model", "churn", "--current", str(window), "--repo", str(repo))
    assert done.returncode == 2, done.stdout + done.stderr
    noun = "row" if rows == 1 else "rows"
    assert done.stderr.strip().splitlines() == [
        f"modelops: error: {window}: the window has {rows} {noun}; drift needs at least 100 "
        "(ten a PSI bin): wait for more traffic or widen the window"
    ]
    assert done.stdout == ""


def test_runtime_summaries_that_count_too_few_rows_are_refused_too(repo: Path) -> None:
    reference = pd.read_csv(repo / "data" / "churn" / "train.csv")
    snapshot = _snapshot(churn_frame(40, [12], seed=32, year=2025), reference)
    path = repo / "quiet.json"
    path.write_text(json.dumps(snapshot))
    done = modelops("drift", "--model", "churn", "--current", str(path), "--no-record", "--repo", str(repo))
    assert done.returncode == 2 and "the window has 40 rows" in done.stderr, done.stdout + done.stderr


def test_runtime_summaries_as_json_and_prometheus_text(repo: Path) -> None:
    reference = pd.read_csv(repo / "data" / "churn" / "train.csv")
    ok = churn_frame(600, [12], seed=32, year=2025)
    shifted = churn_frame(600, [12], seed=33, year=2025, charges_shift=9.0)
    # The whole reference: summaries carry no timestamps, so compare December with a December reference.
    december = reference[reference["timestamp"].str[5:7] == "12"]
    december.to_csv(repo / "december.csv", index=False)
    stable_json = repo / "stable.json"
    stable_json.write_text(json.dumps(_snapshot(ok, reference)))
    shifted_prom = repo / "shifted.prom"
    snap = _snapshot(shifted, reference)
    lines = []
    for name, entry in snap["features"].items():  # type: ignore[union-attr]
        if "edges" in entry:
            cumulative = np.cumsum(entry["counts"])
            for le, count in zip([*entry["edges"], "+Inf"], cumulative, strict=True):
                lines.append(f'modelops_feature_value_bucket{{feature="{name}",le="{le}"}} {count}')
        else:
            for cat, count in entry["categories"].items():
                lines.append(f'modelops_feature_category_total{{feature="{name}",category="{cat}"}} {count}')
    shifted_prom.write_text(
        "# TYPE modelops_feature_value histogram\n"
        + "\n".join(line for line in lines if "_bucket" in line)
        + "\n"
        "# TYPE modelops_feature_category_total counter\n"
        + "\n".join(line for line in lines if "_total" in line)
        + "\n"
    )
    common = [
        "--model",
        "churn",
        "--reference",
        str(repo / "december.csv"),
        "--json",
        "--no-record",
        "--repo",
        str(repo),
    ]
    stable = modelops("drift", "--current", str(stable_json), *common)
    assert stable.returncode == 0, stable.stdout + stable.stderr
    assert {f["test"] for f in json.loads(stable.stdout)["features"]} == {"chi2_binned", "chi2"}
    moved = modelops("drift", "--current", str(shifted_prom), *common)
    assert moved.returncode == 1, moved.stdout + moved.stderr
    assert "monthly_charges" in json.loads(moved.stdout)["drifted_features"]


def test_retrain_command_debounces_before_running_anything(repo: Path) -> None:
    minor = modelops("retrain", "--model", "churn", "--trigger", "drift", "--severity", "minor", "--json",
                     "--repo", str(repo))  # fmt: skip
    assert minor.returncode == 0, minor.stderr
    assert json.loads(minor.stdout)["decision"]["action"] == "defer"
    assert '"event": "retrain_decision"' in minor.stderr
    unsustained = modelops("retrain", "--model", "churn", "--trigger", "drift", "--json", "--repo", str(repo))
    decision = json.loads(unsustained.stdout)["decision"]
    assert (
        unsustained.returncode == 0 and decision["action"] == "skip" and "not sustained" in decision["reason"]
    )


def test_a_scrape_after_a_hot_swap_is_read_for_the_version_that_serves_now() -> None:
    from modelops.flows.drift import parse_prometheus

    # v1's series stay after the swap, binned at other edges; summing them would break the histogram.
    text = """# TYPE modelops_model_info gauge
modelops_model_info{model="churn",env="production",version="2",run_id="r2"} 1
# TYPE modelops_feature_value histogram
modelops_feature_value_bucket{model="churn",env="production",version="1",feature="x",le="5.0"} 40
modelops_feature_value_bucket{model="churn",env="production",version="1",feature="x",le="+Inf"} 90
modelops_feature_value_bucket{model="churn",env="production",version="2",feature="x",le="1.0"} 3
modelops_feature_value_bucket{model="churn",env="production",version="2",feature="x",le="2.0"} 10
modelops_feature_value_bucket{model="churn",env="production",version="2",feature="x",le="+Inf"} 12
"""
    current, _ = parse_prometheus(text, "scrape.prom")
    histogram = current["x"]
    assert histogram.edges.tolist() == [1.0, 2.0]  # type: ignore[union-attr]
    assert histogram.counts.tolist() == [3.0, 7.0, 2.0]  # type: ignore[union-attr]


def _read(path: Path) -> pd.DataFrame:
    from modelops.adapters.tables import read_table
    from modelops.core.params import FeatureSpec

    return read_table(path, FeatureSpec(numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL)))


def test_a_numeric_column_of_strings_names_the_value_not_an_empty_column(tmp_path: Path) -> None:
    from modelops.errors import BadInput

    frame = churn_frame(50, [12], seed=5)
    frame[NUMERIC[0]] = frame[NUMERIC[0]].astype(str)
    frame.loc[7, NUMERIC[0]] = "twelve"
    path = tmp_path / "strings.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        BadInput, match=rf"strings.csv:9: column '{NUMERIC[0]}' is numeric, but holds 'twelve'"
    ):
        _read(path)


@pytest.mark.parametrize("damage", ["cut mid-row", "ragged"])
def test_a_csv_cut_mid_row_or_with_ragged_rows_is_refused_naming_the_line(
    tmp_path: Path, damage: str
) -> None:
    from modelops.errors import BadInput

    path = tmp_path / "damaged.csv"
    churn_frame(50, [12], seed=5).to_csv(path, index=False)
    lines = path.read_text("utf-8").splitlines()
    if damage == "cut mid-row":
        text = "\n".join(lines)[: -len(lines[-1]) // 2]
        where = len(lines)
    else:
        lines[10] = lines[10].rsplit(",", 1)[0]
        text, where = "\n".join(lines) + "\n", 11
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput, match=rf"damaged.csv:{where}: .* fields where the header has"):
        _read(path)
