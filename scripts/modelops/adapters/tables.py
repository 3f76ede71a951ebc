"""Reading a model's tables (train set, golden set, a drift window) with one column-typing rule.

Numeric features become float64, an empty cell missing (NaN); a cell that is not a number is refused,
naming its line and value, rather than read as missing. Categorical features are text, whatever they
look like ("01" stays "01"), with None where missing, which is what the training pipeline saw and what
serving receives as JSON. A CSV cut mid-row or with ragged rows is refused, naming the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from modelops.core.params import FeatureSpec
from modelops.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(
    path: Path,
    spec: FeatureSpec,
    *,
    required: Sequence[str] = (),
    optional: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A CSV or Parquet file's rows, its feature columns typed by the module's rule.

    Every feature and every `required` column must be there (one BadInput line naming the first
    missing one). `optional` limits what is read to those columns and the features; None reads every
    column (evaluation needs slice and sensitive columns too).
    """
    import pandas as pd

    wanted = [*spec.all, *(c for c in required if c not in spec.all)]
    if not path.is_file():
        raise BadInput(f"{path}: file not found")
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            import pyarrow.parquet as pq

            available = list(pq.read_schema(path).names)
        else:
            available = list(pd.read_csv(path, nrows=0).columns)
        _require(path, wanted, available)
        if not parquet:
            _require_whole_rows(path, len(available))
        columns = None if optional is None else [c for c in (*wanted, *optional) if c in available]
        if parquet:
            frame = pd.read_parquet(path, columns=columns)
        else:
            text = {c: "string" for c in spec.categorical}
            frame = pd.read_csv(path, usecols=columns, dtype=text, low_memory=False)
    except BadInput:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: unreadable as {'Parquet' if parquet else 'CSV'} ({exc})") from None
    except Exception as exc:  # pyarrow/pandas parser errors have many types
        raise BadInput(
            f"{path}: unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if frame.empty:
        raise BadInput(f"{path}: no rows")
    for column in spec.numeric:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column][numbers.isna() & frame[column].notna()]
        if not bad.empty:
            # Name the value, instead of a column that later looks empty.
            row = int(bad.index[0]) + 2  # 1-based, after the header line
            raise BadInput(f"{path}:{row}: column {column!r} is numeric, but holds {bad.iloc[0]!r}")
        frame[column] = numbers.astype("float64")
    for column in spec.categorical:
        text_column = frame[column].astype("string")
        frame[column] = text_column.astype("object").where(text_column.notna(), None)
    return frame


def _require_whole_rows(path: Path, fields: int) -> None:
    """Every row has the header's number of fields: a file cut mid-row or with ragged rows is refused
    (pandas would fill the gaps with missing values and the statistics would quietly change)."""
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if number > 1 and row and len(row) != fields:
                raise BadInput(
                    f"{path}:{number}: {len(row)} fields where the header has {fields} "
                    "(a row cut short, or ragged rows)"
                )


def _require(path: Path, wanted: Sequence[str], available: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise BadInput(
            f"{path}: missing column {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
