"""Delayed labels: how many of a Version's predictions turned out correct or wrong, once known.

A fork's label job joins the truth to what was served (the version from each response's
`X-Model-Version`) and hands modelops one row per prediction: `version` and `outcome`. The canary
analysis compares the share of wrong ones, canary against stable, from the counter these totals feed
(`contract.LABELLED_TOTAL`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from modelops.core.version import parse_version
from modelops.errors import BadInput

OUTCOMES = ("correct", "wrong")
REQUIRED_COLUMNS = ("version", "outcome")

# (version, outcome) -> how many
Counts = dict[tuple[int, str], int]


def count_outcomes(
    header: Iterable[str] | None, rows: Iterable[Mapping[str, str | None]], source: str
) -> Counts:
    """Count a batch, refusing it whole at the first bad row (nothing is published from a bad file)."""
    columns = list(header or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise BadInput(f"{source}: missing column {', '.join(missing)} (needs {', '.join(REQUIRED_COLUMNS)})")
    counts: Counts = {}
    for line, row in enumerate(rows, start=2):
        raw_version, outcome = (row.get("version") or "").strip(), (row.get("outcome") or "").strip()
        try:
            version = parse_version(raw_version)
        except ValueError as exc:
            raise BadInput(f"{source}:{line}: version: {exc}") from None
        if outcome not in OUTCOMES:
            raise BadInput(f"{source}:{line}: outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
        counts[(version, outcome)] = counts.get((version, outcome), 0) + 1
    if not counts:
        raise BadInput(f"{source}: no rows; nothing to record")
    return counts


def added(totals: Mapping[tuple[int, str], float], batch: Counts) -> dict[tuple[int, str], float]:
    """The running totals after a batch; every version keeps both outcomes, so a share can be read."""
    out = dict(totals)
    for version in {v for v, _ in batch}:
        for outcome in OUTCOMES:
            out[(version, outcome)] = out.get((version, outcome), 0.0) + batch.get((version, outcome), 0)
    return out
