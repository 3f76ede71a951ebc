"""Evidence of an evaluation: report.json (the record), report.md (for humans and the promotion PR) and
ROC / calibration plots, champion vs challenger.

`render_markdown(report_dict)` needs nothing but report.json's content, so a promotion PR can re-render
the text from the logged evidence. Every file is written to a temporary name and renamed into place:
an interrupted evaluation never leaves a half-written report behind.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
ROC_PNG = "roc.png"
CALIBRATION_PNG = "calibration.png"


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null (JSON has no NaN), tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return clean(value.item())
    return value


def _num(value: Any, digits: int = 4, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return str(value)


def _link(url: str | None, text: str) -> str:
    if not url:
        return text
    if url.startswith(("http://", "https://")):
        return f"[{text}]({url})"
    return f"{text} (`{url}`)"  # a file-backed registry: the URL is a how-to-open hint


def _verdict(passed: Any) -> str:
    return "pass" if passed else "**FAIL**"


def render_markdown(report: dict[str, Any]) -> str:
    metric = report.get("primary_metric", "roc_auc")
    name = report.get("registered_model", report.get("model"))
    candidate, champion = report.get("candidate_version"), report.get("champion_version")
    env = report.get("env")
    verdict = "PASSED" if report.get("passed") else "BLOCKED"
    against = (
        f"{env} champion v{champion}" if champion is not None else f"no {env} champion (absolute checks only)"
    )
    golden = report.get("golden") or {}
    lines = [
        f"## Evaluation of {name} v{candidate} against {against}: {verdict}",
        "",
        f"Golden set `{golden.get('path')}`: {golden.get('rows')} rows, {golden.get('positives')} positives, "
        f"md5 `{golden.get('md5')}`. Evaluated {report.get('evaluated_at')} by modelops "
        f"{report.get('modelops_version')}.",
        "",
    ]
    failed = report.get("failed") or []
    if failed:
        lines += ["Blocked because:", *[f"- {reason}" for reason in failed], ""]

    metrics = report.get("metrics") or {}
    chall = metrics.get("challenger") or {}
    champ = metrics.get("champion") or {}
    boot = report.get("bootstrap")
    gate_cfg = report.get("gate") or {}
    lines += [f"### Primary metric: {metric}", ""]
    lines += [
        "| | champion | challenger | delta (challenger − champion) | 95 % CI of delta | margin |",
        "|---|---|---|---|---|---|",
    ]
    if boot:
        ci = f"[{_num(boot.get('ci_low'), signed=True)}, {_num(boot.get('ci_high'), signed=True)}]"
        lines.append(
            f"| {metric} | {_num(champ.get(metric))} (v{champion}) | {_num(chall.get(metric))} (v{candidate}) | "
            f"{_num(boot.get('delta'), signed=True)} | {ci} | {_num(gate_cfg.get('margin'), signed=True)} |"
        )
    else:
        ci_pair = chall.get(f"{metric}_ci") or [None, None]
        lines.append(
            f"| {metric} | — | {_num(chall.get(metric))} (v{candidate}; CI [{_num(ci_pair[0])}, {_num(ci_pair[1])}]) "
            f"| — | — | — |"
        )
    lines.append(
        f"| ECE | {_num(champ.get('ece'))} | {_num(chall.get('ece'))} | "
        f"{_num((chall.get('ece') - champ['ece']) if champ.get('ece') is not None and chall.get('ece') is not None else None, signed=True)} | | |"
    )
    lines.append("")
    if boot:
        lines.append(
            f"Paired percentile bootstrap: {boot.get('samples')} resamples, seed {boot.get('seed')}; the gate "
            f"promotes only when the CI's lower bound exceeds the margin."
        )
    plain = report.get("plain_rule") or {}
    if plain.get("passed") is not None:
        said = "promoted" if plain["passed"] else "blocked"
        lines.append(
            f"For comparison, the plain rule `{plain.get('rule')}` would have {said} this candidate."
        )
    lines.append("")

    # The curves early: a report cut to fit a PR body keeps them.
    lines += render_charts(report)
    lines += ["### Checks", "", "| check | value | threshold | result | detail |", "|---|---|---|---|---|"]
    for check in report.get("checks") or []:
        lines.append(
            f"| {check['name']} | {_num(check.get('value'))} | {_num(check.get('threshold'))} | "
            f"{_verdict(check.get('passed'))} | {check.get('detail', '')} |"
        )
    lines.append("")

    slices = report.get("slices") or []
    if slices:
        lines += [
            "### Slices",
            "",
            f"Judged when a slice has ≥ {gate_cfg.get('min_slice_rows')} golden rows and both classes; "
            f"challenger must be ≥ champion − {gate_cfg.get('slice_margin')}.",
            "",
            "| slice | rows | positives | champion | challenger | delta | judged |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in slices:
            delta = (
                s["challenger"] - s["champion"]
                if s.get("champion") is not None and s.get("challenger") is not None
                else None
            )
            lines.append(
                f"| {s['column']}={s['value']} | {s['rows']} | {s['positives']} | {_num(s.get('champion'))} | "
                f"{_num(s.get('challenger'))} | {_num(delta, signed=True)} | {'yes' if s.get('evaluable') else 'no'} |"
            )
        lines.append("")

    fairness = (report.get("fairness") or {}).get("challenger")
    if fairness:
        champion_f = (report.get("fairness") or {}).get("champion") or {}
        lines += [
            f"### Fairness by {fairness['column']}",
            "",
            f"Judged: min/max of the per-group ROC AUC. Selection rate and true positive rate at threshold "
            f"{fairness.get('threshold')} are shown for context (base rates differ between groups).",
            "",
            "| group | champion AUC | challenger AUC | challenger selection rate | challenger TPR |",
            "|---|---|---|---|---|",
        ]
        for group, rate in (fairness.get("rates") or {}).items():
            lines.append(
                f"| {group} | {_num((champion_f.get('rates') or {}).get(group))} | {_num(rate)} | "
                f"{_num((fairness.get('selection_rates') or {}).get(group))} | "
                f"{_num((fairness.get('true_positive_rates') or {}).get(group))} |"
            )
        lines += [
            "",
            f"AUC ratio min/max: challenger {_num(fairness.get('ratio'))}, champion {_num(champion_f.get('ratio'))}.",
            "",
        ]

    lineage = report.get("lineage") or {}
    cand_l, champ_l = lineage.get("candidate") or {}, lineage.get("champion") or {}
    lines += ["### Lineage", "", "| | challenger | champion |", "|---|---|---|"]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("version", lambda d: _link(d.get("version_url"), f"v{d['version']}") if d.get("version") else "—"),
        ("MLflow run", lambda d: _link(d.get("run_url"), f"`{d['run_id']}`") if d.get("run_id") else "—"),
        ("git commit", lambda d: f"`{d['git_commit']}`" if d.get("git_commit") else "—"),
        ("git dirty", lambda d: str(d.get("git_dirty") or "—")),
        ("train data md5", lambda d: f"`{d['train_md5']}`" if d.get("train_md5") else "—"),
        ("data version", lambda d: str(d.get("data_version") or "—")),
        ("params hash", lambda d: str(d.get("params_hash") or "—")),
    ]
    for label, fmt in rows:
        lines.append(f"| {label} | {fmt(cand_l)} | {fmt(champ_l) if champ_l else '—'} |")
    lines += ["", f"Golden set md5: `{golden.get('md5')}`.", ""]

    notes = report.get("notes") or []
    if notes:
        lines += ["### Notes", "", *[f"- {n}" for n in notes], ""]
    plots = report.get("plots") or []
    if plots:
        lines += ["Plots: " + ", ".join(f"`{p}`" for p in plots), ""]
    return "\n".join(lines)


# The charts GitHub renders in a PR body: Mermaid xychart-beta, a few points per line, so that the
# evidence is seen on the PR page itself and the body stays far below GitHub's 65,536 characters.
ROC_GRID = [round(i / 20, 2) for i in range(21)]
CALIBRATION_BINS = 10


def curves(y: Any, series: list[tuple[str, Any]]) -> dict[str, Any]:
    """ROC (true positive rate on a fixed false-positive grid) and calibration (observed rate per
    probability bin, the bins every series fills) of each (label, scores), for the charts."""
    import numpy as np

    from modelops.core.gate import roc_points

    labels = np.asarray(y, dtype=np.float64)
    roc = {}
    which_by_label = {}
    for label, scores in series:
        fpr, tpr = roc_points(y, scores)
        # Several thresholds can share one FPR: the curve's upper envelope at each grid point.
        roc[label] = [round(float(np.max(tpr[fpr <= x + 1e-12])), 4) for x in ROC_GRID]
        p = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
        which_by_label[label] = np.minimum((p * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    filled = [b for b in range(CALIBRATION_BINS) if all(np.any(w == b) for w in which_by_label.values())]
    calibration = {
        label: [round(float(labels[which == b].mean()), 4) for b in filled]
        for label, which in which_by_label.items()
    }
    return {
        "roc": {"fpr": ROC_GRID, "tpr": roc},
        "calibration": {
            "bins": [f"{b / CALIBRATION_BINS:.1f}-{(b + 1) / CALIBRATION_BINS:.1f}" for b in filled],
            "ideal": [round((b + 0.5) / CALIBRATION_BINS, 2) for b in filled],
            "observed": calibration,
        },
    }


def _xychart(title: str, x_label: str, x: list[Any], y_label: str, lines: list[list[float]]) -> list[str]:
    categories = ", ".join(f'"{v}"' if isinstance(v, str) else f"{v:g}" for v in x)
    out = ["```mermaid", "xychart-beta", f'    title "{title}"', f'    x-axis "{x_label}" [{categories}]']
    out.append(f'    y-axis "{y_label}" 0 --> 1')
    out += [f"    line [{', '.join(f'{v:g}' for v in line)}]" for line in lines]
    return [*out, "```"]


def render_charts(report: dict[str, Any]) -> list[str]:
    """Markdown lines: the ROC and calibration charts as Mermaid, which GitHub renders in place."""
    data = report.get("curves") or {}
    roc, calibration = data.get("roc") or {}, data.get("calibration") or {}
    if not roc.get("tpr"):
        return []
    names = list(roc["tpr"])
    lines = ["### Curves", ""]
    lines += _xychart(
        "ROC on the golden set",
        "false positive rate",
        roc["fpr"],
        "true positive rate",
        [roc["fpr"], *roc["tpr"].values()],
    )
    lines += ["", f"Line 1 is chance; then {_shift(names)}.", ""]
    if calibration.get("bins"):
        lines += _xychart(
            "Calibration (observed positive rate per bin)",
            "predicted probability",
            calibration["bins"],
            "observed positive rate",
            [calibration["ideal"], *calibration["observed"].values()],
        )
        lines += ["", f"Line 1 is perfect calibration; then {_shift(names)}.", ""]
    return lines


def _shift(names: list[str]) -> str:
    return ", ".join(f"line {i + 2} {name}" for i, name in enumerate(names))


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plots(out_dir: Path, report: dict[str, Any], y: Any, champion: Any, challenger: Any) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from modelops.core.gate import calibration_curve, roc_points

    candidate, champ_v = report.get("candidate_version"), report.get("champion_version")
    series = [(f"challenger v{candidate}", challenger, "tab:blue")]
    if champion is not None:
        series.insert(0, (f"champion v{champ_v}", champion, "tab:gray"))

    def save(fig: Any, name: str) -> None:
        _atomic_write(out_dir / name, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for label, scores, color in series:
        fpr, tpr = roc_points(y, scores)
        from modelops.core.gate import roc_auc

        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc(y, scores):.4f})", color=color)
    ax.plot([0, 1], [0, 1], linestyle=":", color="black", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC on the golden set")
    ax.legend(loc="lower right")
    save(fig, ROC_PNG)

    fig, ax = plt.subplots(figsize=(5, 5))
    for label, scores, color in series:
        predicted, observed, _ = calibration_curve(y, scores)
        ax.plot(predicted, observed, marker="o", label=label, color=color)
    ax.plot([0, 1], [0, 1], linestyle=":", color="black", linewidth=0.8)
    ax.set(
        xlabel="mean predicted probability", ylabel="observed positive rate", title="Calibration (10 bins)"
    )
    ax.legend(loc="upper left")
    save(fig, CALIBRATION_PNG)
    return [ROC_PNG, CALIBRATION_PNG]


def write_evidence(report: dict[str, Any], out_dir: Path, *, y: Any, champion: Any, challenger: Any) -> None:
    """Write plots, report.json and report.md into out_dir (report dict gains `plots`, is cleaned in place)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # ROC and calibration curves read P(positive): only a binary task has them.
    binary = report.get("task", "binary") == "binary"
    report["plots"] = _plots(out_dir, report, y, champion, challenger) if binary else []
    series = [(f"challenger v{report.get('candidate_version')}", challenger)]
    if champion is not None:
        series.insert(0, (f"champion v{report.get('champion_version')}", champion))
    report["curves"] = curves(y, series) if binary else {}
    cleaned = clean(report)
    report.clear()
    report.update(cleaned)
    _atomic_write(
        out_dir / REPORT_JSON,
        lambda p: p.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", "utf-8"),
    )
    _atomic_write(out_dir / REPORT_MD, lambda p: p.write_text(render_markdown(report) + "\n", "utf-8"))
