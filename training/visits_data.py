"""Prepare the doctor-visits data: the RAND Health Insurance Experiment, as bundled with statsmodels.

`statsmodels.datasets.randhie` ships inside the installed package (20,190 person-years), so this stage
reads a file on disk and downloads nothing. It adds a readable `health` column (the self-rated health
dummies folded into one category), shuffles the rows with a fixed seed and freezes `golden_fraction`
of them into the golden set, which never reaches training. Deterministic: the same params and
statsmodels give byte-identical CSVs, so DVC's md5s reproduce on any machine.

    python training/visits_data.py [--out data/visits] [--params params.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

TARGET = "mdvis"
NUMERIC = ["lncoins", "lpi", "fmde", "physlm", "disea"]
CATEGORICAL = ["idp", "health"]


def load() -> "pd.DataFrame":  # noqa: F821
    import pandas as pd
    from statsmodels.datasets import randhie

    raw = randhie.load_pandas().data
    health = np.select(
        [raw["hlthp"] == 1, raw["hlthf"] == 1, raw["hlthg"] == 1], ["poor", "fair", "good"], "excellent"
    )
    frame = raw[[TARGET, *NUMERIC]].astype("float64").copy()
    frame["idp"] = np.where(raw["idp"] == 1, "yes", "no")
    frame["health"] = health
    return pd.DataFrame(frame[[*NUMERIC, *CATEGORICAL, TARGET]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/visits")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    settings = yaml.safe_load(Path(args.params).read_text("utf-8"))["visits"]["data"]
    frame = load()
    order = np.random.default_rng(int(settings["seed"])).permutation(len(frame))
    golden_rows = int(round(float(settings["golden_fraction"]) * len(frame)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame.iloc[np.sort(order[:golden_rows])].to_csv(out / "golden.csv", index=False, float_format="%.6g")
    frame.iloc[np.sort(order[golden_rows:])].to_csv(out / "train.csv", index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
