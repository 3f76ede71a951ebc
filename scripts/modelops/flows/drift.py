"""`modelops drift`: compare a window of live inputs with the training reference and report.

The current window is a table (CSV/Parquet with the model's feature columns, optionally `prediction`)
or the serving runtime's summaries (a JSON snapshot, or Prometheus text with the modelops_feature_*
series). The reference is the DVC-tracked training table, narrowed to the current window's month when
the model's `seasonal_reference` is `same_month`. Statistics and verdicts live in core/drift.py; this
flow reads, prepares, records the window in the retrain ledger and writes the report files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelops.adapters.ledger import Ledger
from modelops.adapters.tables import read_table
from modelops.context import Context
from modelops.core import contract
from modelops.core.drift import (
    DEFAULT_BINS,
    MIN_SEASONAL_ROWS,
    CategoricalCounts,
    Current,
    DriftReport,
    FeatureComparison,
    NumericHistogram,
    NumericReference,
    NumericSample,
    assess,
    choose_reference,
    compare_categorical,
    compare_numeric,
    parse_snapshot,
    require_window_rows,
)
from modelops.core.params import FeatureSpec, load_features
from modelops.core.retrain_policy import WindowObservation, sustained_severity
from modelops.core.state import DriftSettings
from modelops.errors import BadInput
from modelops.files import write_bytes_atomically

if TYPE_CHECKING:
    import pandas as pd

PREDICTION = "prediction"
# Scores a frame holding (at least) the model's input columns: the positive-class probability per row.
Scorer = Callable[["pd.DataFrame"], Any]
WORKERS = max(1, min(2, os.cpu_count() or 1))


@dataclass
class DriftRun:
    report: DriftReport
    sustained: str | None
    reference_file: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def detected(self) -> bool:
        """What model_drift_detected exports: major drift sustained over the model's windows."""
        return self.sustained == "major"

    def as_dict(self) -> dict[str, Any]:
        data = self.report.as_dict()
        data["sustained"] = {
            "severity": self.sustained,
            "windows": self.report.settings.sustained_windows,
            "drift_detected": self.detected,
        }
        data["reference_file"] = str(self.reference_file) if self.reference_file else None
        data["files"] = {k: str(v) for k, v in self.files.items()}
        return data


# -- inputs -------------------------------------------------------------------------------------------


def read_summaries(path: Path) -> tuple[dict[str, Current], int | None]:
    """The serving runtime's summaries: a JSON snapshot or Prometheus text exposition."""
    if not path.is_file():
        raise BadInput(f"{path}: file not found")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: unreadable ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadInput(f"{path}: not valid JSON ({exc})") from None
        return parse_snapshot(data, str(path))
    return parse_prometheus(text, str(path))


def _serving_version(samples: Sequence[Any]) -> str | None:
    """The version this scrape's server serves now: its info series, else the latest to start."""
    info: list[str | None] = [
        x.labels.get("version") for x in samples if x.name == contract.MODEL_INFO and x.value == 1
    ]
    if len(set(info)) == 1:
        return info[0]
    started = [(x.value, x.labels.get("version")) for x in samples if x.name == contract.VERSION_START]
    return max(started)[1] if started else None


def parse_prometheus(text: str, source: str) -> tuple[dict[str, Current], int | None]:
    """modelops_feature_value histograms, modelops_feature_category_total and _missing_total counters."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[str, dict[float, float]] = {}
    categories: dict[str, dict[str, float]] = {}
    missing: dict[str, float] = {}
    try:
        samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
        serving = _serving_version(samples)
        for sample in samples:
            feature = sample.labels.get("feature")
            if feature is None:
                continue
            # After a hot swap one scrape holds every version's series, binned differently: read the one
            # that serves now.
            if serving is not None and sample.labels.get("version", serving) != serving:
                continue
            if sample.name == f"{contract.FEATURE_VALUE}_bucket":
                le = float(sample.labels["le"])
                per = buckets.setdefault(feature, {})
                per[le] = per.get(le, 0.0) + sample.value
            elif sample.name == contract.FEATURE_CATEGORY_TOTAL:
                per_cat = categories.setdefault(feature, {})
                cat = sample.labels.get("category", "")
                per_cat[cat] = per_cat.get(cat, 0.0) + sample.value
            elif sample.name == contract.FEATURE_MISSING_TOTAL:
                missing[feature] = missing.get(feature, 0.0) + sample.value
    except (ValueError, KeyError) as exc:
        raise BadInput(f"{source}: not valid Prometheus text ({exc})") from None
    if not buckets and not categories:
        raise BadInput(f"{source}: no {contract.FEATURE_VALUE} or {contract.FEATURE_CATEGORY_TOTAL} series")
    out: dict[str, Current] = {}
    for feature, cumulative in buckets.items():
        les = sorted(cumulative)
        counts_cum = np.array([cumulative[le] for le in les])
        if les[-1] != float("inf"):
            raise BadInput(f'{source}: {contract.FEATURE_VALUE} for {feature!r} has no le="+Inf" bucket')
        counts = np.diff(np.concatenate([[0.0], counts_cum]))
        out[feature] = NumericHistogram(np.array(les[:-1]), counts, int(missing.get(feature, 0)))
    for feature, cats in categories.items():
        out[feature] = CategoricalCounts(cats, int(missing.get(feature, 0)))
    return out, None


def _months(df: pd.DataFrame, column: str | None) -> np.ndarray[Any, Any] | None:
    import pandas as pd

    if column is None or column not in df.columns:
        return None
    parsed = pd.to_datetime(df[column], errors="coerce", format="ISO8601")
    months: np.ndarray[Any, Any] = parsed.dt.month.dropna().astype(np.int64).to_numpy()
    return months


def _categorical(series: pd.Series) -> CategoricalCounts:
    present = series.dropna().astype(str)
    counts = {str(k): float(v) for k, v in present.value_counts().items()}
    return CategoricalCounts(counts, int(series.size - present.size))


def _numeric_values(series: pd.Series) -> np.ndarray[Any, Any]:
    import pandas as pd

    values: np.ndarray[Any, Any] = pd.to_numeric(series, errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return values


# -- the comparison -------------------------------------------------------------------------------


def analyse(
    reference: pd.DataFrame,
    current: pd.DataFrame | Mapping[str, Current],
    spec: FeatureSpec,
    settings: DriftSettings,
    *,
    model: str,
    env: str = "production",
    scorer: Scorer | None = None,
    previous_psi: Mapping[str, float] | None = None,
    bins: int = DEFAULT_BINS,
    min_seasonal_rows: int = MIN_SEASONAL_ROWS,
    current_name: str = "current",
) -> DriftReport:
    """Compare `current` (a table or runtime summaries) with `reference` under the model's bands."""
    import pandas as pd

    notes: list[str] = []
    is_table = isinstance(current, pd.DataFrame)
    cur_months = _months(current, spec.timestamp) if isinstance(current, pd.DataFrame) else None
    choice = choose_reference(
        _months(reference, spec.timestamp) if cur_months is not None else None,
        cur_months,
        settings.seasonal_reference,
        min_seasonal_rows,
    )
    if choice.rows is not None:
        valid_ts = (
            pd.to_datetime(reference[spec.timestamp], errors="coerce", format="ISO8601").notna().to_numpy()
        )
        mask = np.zeros(len(reference), dtype=bool)
        mask[np.flatnonzero(valid_ts)[choice.rows]] = True
        ref = reference.loc[mask]
    else:
        ref = reference
    if not is_table and settings.seasonal_reference == "same_month":
        notes.append("runtime summaries carry no timestamps: compared with the whole reference")

    summaries: Mapping[str, Current] = {} if isinstance(current, pd.DataFrame) else current
    for name in spec.all:
        if not is_table and name not in summaries:
            raise BadInput(f"{current_name}: no summary for feature {name!r}")

    def numeric(name: str) -> FeatureComparison:
        reference_values = NumericReference.from_values(_numeric_values(ref[name]), bins)
        if isinstance(current, pd.DataFrame):
            return compare_numeric(name, reference_values, NumericSample.of(_numeric_values(current[name])))
        got = summaries[name]
        if not isinstance(got, NumericSample | NumericHistogram):
            raise BadInput(f"{current_name}: feature {name!r} is numeric but its summary has categories")
        return compare_numeric(name, reference_values, got)

    def categorical(name: str) -> FeatureComparison:
        reference_counts = _categorical(ref[name])
        if isinstance(current, pd.DataFrame):
            return compare_categorical(name, reference_counts, _categorical(current[name]))
        got = summaries[name]
        if not isinstance(got, CategoricalCounts):
            raise BadInput(f"{current_name}: feature {name!r} is categorical but its summary has bins")
        return compare_categorical(name, reference_counts, got)

    with ThreadPoolExecutor(WORKERS) as pool:
        numeric_results = list(pool.map(numeric, spec.numeric))
    comparisons = [*numeric_results, *(categorical(n) for n in spec.categorical)]

    prediction = _prediction(ref, current, spec, scorer, bins, notes, current_name)
    return assess(
        model,
        env,
        choice.description,
        comparisons,
        settings,
        prediction=prediction,
        previous_psi=previous_psi,
        notes=notes,
    )


def _prediction(
    ref: pd.DataFrame,
    current: pd.DataFrame | Mapping[str, Current],
    spec: FeatureSpec,
    scorer: Scorer | None,
    bins: int,
    notes: list[str],
    current_name: str,
) -> FeatureComparison | None:
    """The prediction-score distribution: the window's `prediction` column, or the champion's scores."""
    import pandas as pd

    cur: NumericSample | NumericHistogram | None = None
    if isinstance(current, pd.DataFrame):
        if PREDICTION in current.columns:
            cur = NumericSample.of(_numeric_values(current[PREDICTION]))
        elif scorer is not None:
            cur = NumericSample.of(np.asarray(scorer(current), dtype=np.float64))
    else:
        got = current.get(PREDICTION)
        if isinstance(got, NumericHistogram):
            cur = got
    if cur is None:
        return None
    if PREDICTION in ref.columns:
        ref_scores = _numeric_values(ref[PREDICTION])
    elif scorer is not None:
        ref_scores = np.asarray(scorer(ref), dtype=np.float64)
    else:
        notes.append(
            f"{current_name} has predictions but no champion scored the reference: prediction not compared"
        )
        return None
    return compare_numeric(PREDICTION, NumericReference.from_values(ref_scores, bins), cur, kind="prediction")


def champion_scorer(ctx: Context, model: str, env: str) -> Scorer | None:
    """Scores with the version pinned in `env` (None when nothing is pinned)."""
    from modelops.core.document import ModelsDocument

    spec = ModelsDocument.load(ctx.models_path).state().model(model)
    version = spec.env(env).version
    if version is None:
        return None
    from modelops.adapters.registry import Registry

    registry = Registry.for_context(ctx)
    loaded = registry.load_sklearn(spec.registered_model, int(version))
    inputs = registry.input_columns(spec.registered_model, int(version))

    def score(frame: pd.DataFrame) -> Any:
        missing = [c for c in inputs if c not in frame.columns]
        if missing:
            raise BadInput(f"v{version} of {model} needs column {missing[0]!r}, which the drift data lacks")
        return loaded.predict_proba(frame[inputs] if inputs else frame)[:, 1]

    return score


# -- the use case ---------------------------------------------------------------------------------


def run_drift(
    ctx: Context,
    *,
    model: str,
    current: Path,
    env: str = "production",
    reference: Path | None = None,
    out_dir: Path | None = None,
    scorer: Scorer | None = None,
    record: bool = True,
    now: datetime | None = None,
) -> DriftRun:
    from modelops.core.document import ModelsDocument

    spec_model = ModelsDocument.load(ctx.models_path).state().model(model)
    spec_model.env(env)
    settings = spec_model.drift
    spec = load_features(ctx.repo / "params.yaml", model)
    ref_path = reference or ctx.repo / "data" / model / "train.csv"
    if not ref_path.is_file():
        raise BadInput(f"{ref_path}: reference not found (run `dvc pull`, or pass --reference FILE)")
    optional = [c for c in (spec.timestamp, PREDICTION) if c]
    ref_df = read_table(ref_path, spec, optional=optional)
    current_data: pd.DataFrame | Mapping[str, Current]
    if current.suffix.lower() in (".json", ".prom", ".txt"):
        current_data, rows = read_summaries(current)
    else:
        current_data = read_table(current, spec, optional=optional)
        rows = len(current_data)
    if rows is not None:
        require_window_rows(rows, str(current))
    ledger = Ledger.for_context(ctx)
    report = analyse(
        ref_df,
        current_data,
        spec,
        settings,
        model=model,
        env=env,
        scorer=scorer,
        previous_psi=ledger.last_psi(model, env),
        current_name=str(current),
    )
    at = now or datetime.now(UTC)
    window = WindowObservation(
        at, report.drifted_features, report.prediction_drifted, bool(report.pipeline_signals)
    )
    earlier = (
        ledger.observations(model, env, limit=settings.sustained_windows - 1)
        if settings.sustained_windows > 1
        else []
    )
    sustained = sustained_severity([*earlier, window], settings)
    if record:
        ledger.record_observation(
            model=model,
            env=env,
            at=at,
            drift=report.drift,
            drifted_features=report.drifted_features,
            prediction_drift=report.prediction_drifted,
            pipeline_suspect=bool(report.pipeline_signals),
            psi=report.psi_by_feature(),
            reference=f"{ref_path}: {report.reference}",
        )
    result = DriftRun(report, sustained, ref_path)
    if out_dir is not None:
        result.files = write_outputs(result, out_dir)
    if record:
        from modelops.adapters.notify import Notifier

        verdict = "drift" if report.drift else "no drift"
        drifted = ", ".join(report.drifted_features) or "none"
        Notifier(ctx).notify(
            "drift.verdict", f"{model} {env}: {verdict} (drifted features: {drifted})", model=model, env=env
        )
    return result


# -- outputs ------------------------------------------------------------------------------------------


def write_outputs(result: DriftRun, out_dir: Path) -> dict[str, Path]:
    """report.json, report.md, drift.png and metrics.prom, each written whole or not at all."""
    files = {
        "json": out_dir / "report.json",
        "markdown": out_dir / "report.md",
        "plot": out_dir / "drift.png",
        "metrics": out_dir / "metrics.prom",
    }
    # Render everything first, so a failure leaves no partial set behind.
    payload = result.as_dict()
    payload["files"] = {k: str(v) for k, v in files.items()}
    rendered = {
        "json": json.dumps(payload, indent=2, default=str).encode(),
        "markdown": render_markdown(result).encode(),
        "plot": render_plot(result.report),
        "metrics": render_metrics(result).encode(),
    }
    for key, path in files.items():
        write_bytes_atomically(path, rendered[key])
    return files


def render_metrics(result: DriftRun) -> str:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    report = result.report
    registry = CollectorRegistry()
    labels = ["model", "env", "feature"]
    psi_gauge = Gauge(
        contract.DRIFT_PSI,
        "Population stability index of a feature against its reference",
        labels,
        registry=registry,
    )
    ks_gauge = Gauge(
        contract.DRIFT_KS,
        "Kolmogorov-Smirnov D of a numeric feature against its reference",
        labels,
        registry=registry,
    )
    detected = Gauge(
        contract.DRIFT_DETECTED,
        "1 when major drift has lasted the model's sustained_windows",
        ["model", "env"],
        registry=registry,
    )
    for f in report.all_results:
        psi_gauge.labels(report.model, report.env, f.feature).set(f.comparison.psi)
        if f.comparison.ks_d is not None:
            ks_gauge.labels(report.model, report.env, f.feature).set(f.comparison.ks_d)
    detected.labels(report.model, report.env).set(1 if result.detected else 0)
    return generate_latest(registry).decode()


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.2e}"
    return f"{value:.{digits}f}"


def render_markdown(result: DriftRun) -> str:
    report = result.report
    verdict = "**drift**" if report.drift else "no drift"
    lines = [
        f"# Drift report: {report.model} ({report.env})",
        "",
        f"- Verdict: {verdict}" + (f" (severity {report.severity})" if report.severity else ""),
        f"- Reference: {report.reference}",
        f"- Sustained over {report.settings.sustained_windows} windows: {result.sustained or 'no'}"
        f" (model_drift_detected = {1 if result.detected else 0})",
        f"- Rule: drift when the Benjamini–Hochberg adjusted p < {report.alpha} and the effect is beyond its "
        f"band (PSI > {report.settings.psi_drift} or KS D > {report.ks_min_effect}); watch from PSI "
        f"{report.settings.psi_watch}.",
        "",
        "| feature | kind | test | statistic | p | p adj. (BH) | KS D | PSI | status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in report.all_results:
        c = f.comparison
        name = (
            f"{c.feature} ★"
            if f.top and c.kind != "prediction" and report.settings.top_features
            else c.feature
        )
        lines.append(
            f"| {name} | {c.kind} | {c.test} | {_fmt(c.statistic)} | {_fmt(c.pvalue)} | {_fmt(f.p_adjusted)} "
            f"| {_fmt(c.ks_d)} | {_fmt(c.psi)} | {f.status} |"
        )
    if report.settings.top_features:
        lines += ["", "★ top feature (drift there is major)."]
    signals = report.pipeline_signals
    lines += ["", "## Pipeline checks", ""]
    if signals:
        lines += [
            "These look like a broken pipeline rather than a changed world; they never count as drift.",
            "",
        ]
        lines += [f"- `{s.feature}`: {s.kind}: {s.detail}" for s in signals]
    else:
        lines.append("No sudden PSI jump, null-rate jump, constant feature or flood of unseen categories.")
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def render_plot(report: DriftReport) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report.all_results
    cols = 4 if len(results) > 4 else max(len(results), 1)
    rows = max(1, -(-len(results) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(results) :]:
        ax.axis("off")
    for ax, f in zip(axes.flat, results, strict=False):
        c = f.comparison
        x = np.arange(len(c.bins))
        ax.bar(x - 0.2, c.reference_share, width=0.4, label="reference", color="#8da0cb")
        ax.bar(x + 0.2, c.current_share, width=0.4, label="current", color="#fc8d62")
        ax.set_title(
            f"{c.feature}: PSI {c.psi:.3f} ({f.status})",
            fontsize=9,
            color="#b2182b" if f.drifted else "black",
        )
        ax.set_xticks(x)
        ax.set_xticklabels(c.bins, rotation=60, ha="right", fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
    if results:
        axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{report.model} ({report.env}) vs {report.reference}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
