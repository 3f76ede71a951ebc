"""`modelops labels`: a batch of delayed labels becomes the labelled-outcomes counter the canary
analysis reads, in a Pushgateway Prometheus scrapes (with `honor_labels: true`).

Each (model, environment) is one Pushgateway group holding running totals per version and outcome:
the batch is added to what the group holds and the group is replaced. Prometheus reads a counter's
growth, so a series it never saw at zero would lose its first batch; a series new to the group is
first published at zero and the totals follow once Prometheus had time to scrape it.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.context import Context
from modelops.core.contract import LABELLED_TOTAL
from modelops.core.document import ModelsDocument
from modelops.core.labels import Counts, added, count_outcomes
from modelops.errors import BadInput

JOB = "modelops-labels"
HELP = "Predictions whose delayed label is known, by outcome"


@dataclass
class LabelsResult:
    model: str
    env: str
    batch: dict[str, dict[str, int]]
    totals: dict[str, dict[str, float]]
    new_series: int
    pushed: bool
    waited_s: float = 0.0
    pushgateway: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def summary(self) -> str:
        parts = [
            f"v{v}: +{c.get('correct', 0)} correct, +{c.get('wrong', 0)} wrong"
            for v, c in sorted(self.batch.items())
        ]
        verb = "recorded" if self.pushed else "would record (dry run)"
        return f"{self.model}/{self.env}: {verb} " + "; ".join(parts)


def _read_batch(path: Path) -> Counts:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            return count_outcomes(reader.fieldnames, reader, str(path))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"{path}: not a UTF-8 CSV file ({exc})") from None


def _nested(values: dict[tuple[int, str], float] | Counts) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (version, outcome), value in sorted(values.items()):
        out.setdefault(str(version), {})[outcome] = value
    return out


def record_labels(
    ctx: Context,
    model: str,
    env: str,
    path: Path,
    *,
    pushgateway_url: str | None,
    scrape_interval_s: float = 30.0,
    dry_run: bool = False,
) -> LabelsResult:
    from modelops.adapters import pushgateway

    ModelsDocument.load(ctx.models_path).state().model(model).env(env)  # unknown names are exit 2
    batch = _read_batch(path)
    url = pushgateway_url or ctx.env.get("MODELOPS_PUSHGATEWAY_URL", "")
    if not url:
        raise BadInput("no Pushgateway: pass --pushgateway URL or set MODELOPS_PUSHGATEWAY_URL")
    auth = ctx.env.get("MODELOPS_PUSHGATEWAY_AUTH", "")
    grouping = {"model": model, "env": env}
    held = pushgateway.read_group(url, JOB, grouping, LABELLED_TOTAL, auth=auth)
    totals: dict[tuple[int, str], float] = {}
    for labels, value in held:
        if labels.get("version", "").isdigit() and labels.get("outcome"):
            totals[(int(labels["version"]), labels["outcome"])] = value
    after = added(totals, batch)
    new = [key for key in after if key not in totals]
    result = LabelsResult(model, env, _nested(batch), _nested(after), len(new), pushed=False, pushgateway=url)
    if dry_run:
        return result

    def samples(values: dict[tuple[int, str], float]) -> list[tuple[dict[str, str], float]]:
        return [({"version": str(v), "outcome": o}, n) for (v, o), n in sorted(values.items())]

    if new:
        pushgateway.put_group(
            url,
            JOB,
            grouping,
            LABELLED_TOTAL,
            samples({**totals, **{k: 0.0 for k in new}}),
            help_text=HELP,
            auth=auth,
        )
        # Two scrape intervals: at least one scrape of the zeros lands whatever the phase.
        result.waited_s = 2 * scrape_interval_s
        time.sleep(result.waited_s)
    pushgateway.put_group(url, JOB, grouping, LABELLED_TOTAL, samples(after), help_text=HELP, auth=auth)
    result.pushed = True
    return result
