"""Small churn-like frames for the drift tests: a seasonal pattern by month, and knobs to shift one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from tests.helpers import REPO_ROOT

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "data_usage_gb"]
CATEGORICAL = ["contract", "plan", "region", "payment_method", "senior"]


def churn_frame(
    rows_per_month: int,
    months: list[int] | range = range(1, 13),
    *,
    seed: int,
    year: int = 2024,
    charges_shift: float = 0.0,
    seasonal: bool = True,
) -> pd.DataFrame:
    """Rows for each month; data usage and support calls peak in December when `seasonal`."""
    rng = np.random.default_rng(seed)
    parts = []
    for month in months:
        n = rows_per_month
        # Holiday season: far more streaming and support traffic in December, least in June.
        season = np.cos(2 * np.pi * (month - 12) / 12) if seasonal else 0.0
        tenure = rng.integers(0, 73, n)
        charges = np.clip(rng.normal(65 + charges_shift, 18, n), 15, None).round(2)
        days = rng.integers(1, 29, n)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{seed}-{month}-{i}" for i in range(n)],
                    "timestamp": [f"{year}-{month:02d}-{d:02d}" for d in days],
                    "tenure_months": tenure,
                    "monthly_charges": charges,
                    "total_charges": (charges * np.maximum(tenure, 1) * rng.uniform(0.9, 1.1, n)).round(2),
                    "support_calls": rng.poisson(1.5 + 1.2 * max(season, 0.0), n),
                    "data_usage_gb": np.clip(rng.normal(12 + 6 * season, 3, n), 0, None).round(2),
                    "contract": rng.choice(
                        ["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.2]
                    ),
                    "plan": rng.choice(["basic", "standard", "premium"], n, p=[0.45, 0.35, 0.2]),
                    "region": rng.choice(["north", "south", "east", "west"], n),
                    "payment_method": rng.choice(["card", "bank-transfer", "electronic-check"], n),
                    "senior": rng.choice(["no", "yes"], n, p=[0.8, 0.2]),
                    "churned": rng.integers(0, 2, n),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def make_repo(
    tmp_path: Path, reference: pd.DataFrame, *, drift_overrides: dict[str, str] | None = None
) -> Path:
    """A repository holding the real models.yaml and params.yaml and a generated training table."""
    repo = tmp_path / "repo"
    (repo / "data" / "churn").mkdir(parents=True)
    models = (REPO_ROOT / "models.yaml").read_text("utf-8")
    for key, value in (drift_overrides or {}).items():
        lines = models.splitlines()
        lines = [f"      {key}: {value}" if line.strip().startswith(f"{key}:") else line for line in lines]
        models = "\n".join(lines) + "\n"
    (repo / "models.yaml").write_text(models, "utf-8")
    shutil.copy(REPO_ROOT / "params.yaml", repo / "params.yaml")
    reference.to_csv(repo / "data" / "churn" / "train.csv", index=False)
    return repo
