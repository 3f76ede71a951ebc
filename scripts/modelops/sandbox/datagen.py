"""A seeded generator of a realistic customer-churn table.

Two years of monthly snapshots with numeric and categorical features, a timestamp and a seasonal
pattern (December brings higher charges and data use, January more churn), so seasonal drift can be
told apart from real drift. The same seed always gives the same bytes, which is what lets `dvc repro`
on a fresh clone reproduce the committed md5s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "data_usage_gb"]
CATEGORICAL = ["contract", "plan", "region", "payment_method", "senior"]
TARGET = "churned"
TIMESTAMP = "timestamp"

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west"]
PAYMENTS = ["card", "bank-transfer", "electronic-check", "mailed-check"]


@dataclass(frozen=True)
class Shift:
    """A deliberate change of the population, for drift demos and tests."""

    charges_factor: float = 1.0
    support_calls_extra: float = 0.0
    month_to_month_boost: float = 0.0


def generate(rows: int, seed: int, months: list[str], shift: Shift | None = None) -> Any:
    """A frame of `rows` customers spread over `months` (YYYY-MM strings)."""
    import numpy as np
    import pandas as pd

    shift = shift or Shift()
    rng = np.random.default_rng(seed)
    month_idx = rng.integers(0, len(months), size=rows)
    month_of_year = np.array([int(m[5:7]) for m in months])[month_idx]
    day = rng.integers(1, 29, size=rows)
    timestamp = [f"{months[i]}-{d:02d}" for i, d in zip(month_idx, day, strict=True)]
    december = (month_of_year == 12).astype(float)
    january = (month_of_year == 1).astype(float)
    summer = np.isin(month_of_year, [6, 7, 8]).astype(float)

    contract_p = np.array([0.55 + shift.month_to_month_boost, 0.25, 0.20 - shift.month_to_month_boost])
    contract = rng.choice(CONTRACTS, size=rows, p=contract_p / contract_p.sum())
    plan = rng.choice(PLANS, size=rows, p=[0.45, 0.35, 0.20])
    region = rng.choice(REGIONS, size=rows, p=[0.3, 0.25, 0.25, 0.2])
    payment = rng.choice(PAYMENTS, size=rows, p=[0.35, 0.25, 0.25, 0.15])
    senior = rng.choice(["no", "yes"], size=rows, p=[0.8, 0.2])

    tenure = np.clip(rng.gamma(2.0, 14.0, size=rows), 0, 72).round(0)
    tenure += np.where(contract == "two-year", 12, 0)
    plan_base = np.select([plan == "basic", plan == "standard"], [35.0, 60.0], 90.0)
    monthly = plan_base * (1 + 0.12 * december) * shift.charges_factor + rng.normal(0, 6, rows)
    monthly = np.clip(monthly, 10, None).round(2)
    total = (monthly * np.maximum(tenure, 1) * rng.uniform(0.9, 1.05, rows)).round(2)
    support = rng.poisson(1.2 + 0.8 * (plan == "basic") + 0.6 * january + shift.support_calls_extra)
    usage = np.clip(rng.lognormal(2.5 + 0.35 * december - 0.1 * summer, 0.5, rows), 0, None).round(2)

    logit = (
        -1.6
        + 1.5 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        - 0.035 * tenure
        + 0.018 * (monthly - 60)
        + 0.35 * support
        + 0.5 * (payment == "electronic-check")
        + 0.25 * (senior == "yes")
        + 0.4 * january
        - 0.15 * (region == "west")
        + 0.3 * np.sin(usage / 8.0)
    )
    churned = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)

    # Real data is dirty: a few missing values the pipeline must impute.
    usage = np.where(rng.uniform(size=rows) < 0.01, np.nan, usage)

    frame = pd.DataFrame(
        {
            "customer_id": [f"c{seed % 1000:03d}-{i:07d}" for i in range(rows)],
            TIMESTAMP: timestamp,
            "tenure_months": tenure.astype(int),
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support.astype(int),
            "data_usage_gb": usage,
            "contract": contract,
            "plan": plan,
            "region": region,
            "payment_method": payment,
            "senior": senior,
            TARGET: churned,
        }
    )
    return frame.sort_values([TIMESTAMP, "customer_id"], kind="mergesort").reset_index(drop=True)


def months_between(start: str, count: int) -> list[str]:
    year, month = int(start[:4]), int(start[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def _is_golden(customer_id: str, fraction: float) -> bool:
    # A hash, not the RNG: a row's membership never changes when the table grows.
    digest = hashlib.sha256(customer_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def write_dataset(out_dir: Path, params: dict[str, Any]) -> dict[str, Path]:
    """Write train.csv and golden.csv under out_dir; the golden rows never reach training."""
    data = params.get("data", {})
    frame = generate(
        rows=int(data.get("rows", 30000)),
        seed=int(data.get("seed", 7)),
        months=months_between(str(data.get("start_month", "2024-01")), int(data.get("months", 24))),
    )
    golden_mask = frame["customer_id"].map(lambda c: _is_golden(c, float(data.get("golden_fraction", 0.2))))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"train": out_dir / "train.csv", "golden": out_dir / "golden.csv"}
    for name, part in (("train", frame[~golden_mask]), ("golden", frame[golden_mask])):
        tmp = paths[name].with_suffix(".csv.tmp")
        part.to_csv(tmp, index=False, float_format="%.4f", lineterminator="\n")
        tmp.replace(paths[name])
    return paths


def write_window(path: Path, month: str, rows: int, seed: int, shift: Shift | None = None) -> Path:
    """One month of live traffic (features only, no label), optionally shifted."""
    frame = generate(rows=rows, seed=seed, months=[month], shift=shift).drop(columns=[TARGET])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_csv(tmp, index=False, float_format="%.4f", lineterminator="\n")
    tmp.replace(path)
    return path
