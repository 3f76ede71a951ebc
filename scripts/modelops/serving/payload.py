"""Request bodies to the model's input frame, and scores back to responses.

Accepted bodies:
- v1: {"instances": [{col: value, ...}, ...]} or {"instances": [[v1, v2, ...], ...]} (columns in the
  signature's order); MLflow's {"dataframe_split": {"columns": [...], "data": [[...]]}} and
  {"dataframe_records": [{...}]}; {"inputs": ...} is read like "instances".
- v2 (Open Inference Protocol): one input tensor per column, named after the column.
Columns the model does not take are ignored; a missing column is the client's error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

INTEGER_TYPES = frozenset({"long", "integer"})
FLOAT_TYPES = frozenset({"double", "float"})


class BadPayload(ValueError):
    """The request body cannot be read as rows of the model's inputs."""


def _records(body: Mapping[str, Any], columns: Sequence[str]) -> pd.DataFrame:
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if not isinstance(split, Mapping) or not isinstance(split.get("data"), list):
            raise BadPayload('"dataframe_split" needs {"columns": [...], "data": [[...], ...]}')
        return pd.DataFrame(split["data"], columns=split.get("columns") or list(columns))
    key = next((k for k in ("instances", "dataframe_records", "inputs") if k in body), None)
    if key is None:
        raise BadPayload('expected "instances", "dataframe_split" or "dataframe_records" in the body')
    rows = body[key]
    if not isinstance(rows, list) or not rows:
        raise BadPayload(f'"{key}" must be a non-empty list of rows')
    if all(isinstance(r, Mapping) for r in rows):
        return pd.DataFrame.from_records(rows)
    if all(isinstance(r, list) for r in rows):
        if any(len(r) != len(columns) for r in rows):
            raise BadPayload(
                f'rows in "{key}" given as lists need {len(columns)} values: {", ".join(columns)}'
            )
        return pd.DataFrame(rows, columns=list(columns))
    raise BadPayload(f'"{key}" must hold rows as objects ({{column: value}}) or as lists, not a mix')


def _coerce(frame: pd.DataFrame, types: Mapping[str, str]) -> pd.DataFrame:
    out = {}
    for name, type_name in types.items():
        column = frame[name]
        if type_name in FLOAT_TYPES or type_name in INTEGER_TYPES:
            try:
                numeric = pd.to_numeric(column, errors="raise")
            except (ValueError, TypeError):
                raise BadPayload(f"column {name!r} must be numeric ({type_name})") from None
            if type_name in INTEGER_TYPES and not numeric.isna().any() and bool((numeric % 1 == 0).all()):
                numeric = numeric.astype("int64")
            else:
                numeric = numeric.astype("float64")
            out[name] = numeric
        elif type_name == "boolean":
            out[name] = column
        else:
            out[name] = column.where(column.isna(), column.astype(str)).astype(object)
    return pd.DataFrame(out, index=frame.index)


def to_frame(body: Any, types: Mapping[str, str]) -> pd.DataFrame:
    """The model's input frame (signature column order and types) from a v1 dict or a v2 request."""
    columns = list(types)
    if isinstance(body, bytes | str):
        # KServe hands over the raw body when the client did not say application/json.
        try:
            body = json.loads(body)
        except ValueError:
            raise BadPayload("the body is not JSON") from None
    if isinstance(body, Mapping):
        frame = _records(body, columns)
    elif hasattr(body, "inputs") and hasattr(body, "as_dataframe"):
        try:
            frame = body.as_dataframe()
        except ValueError as exc:
            raise BadPayload(f"v2 inputs must be one 1-d tensor per column of equal length ({exc})") from None
    else:
        raise BadPayload("expected a JSON object body")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadPayload(f"missing column(s) {', '.join(missing)}; the model takes: {', '.join(columns)}")
    if frame.empty:
        raise BadPayload("no rows to score")
    return _coerce(frame[columns], types)
