"""Request bodies to the model's input frame, and scores back to responses.

Accepted bodies:
- v1: {"instances": [{col: value, ...}, ...]} or {"instances": [[v1, v2, ...], ...]} (columns in the
  signature's order); MLflow's {"dataframe_split": {"columns": [...], "data": [[...]]}} and
  {"dataframe_records": [{...}]}; {"inputs": ...} is read like "instances".
- v2 (Open Inference Protocol): one input tensor per column, named after the column.
Columns the model does not take are ignored; a missing column is the client's error.

Responses, by the model's task (the shape binary always had is kept):
- binary: v1 {"predictions": [P(positive), ...]}; v2 one FP64 output "predictions", shape [n];
- regression: the same, with the predicted values;
- multiclass: v1 {"predictions": [[P(class) per class], ...], "classes": [...], "labels": [...]},
  the probabilities in `classes` order and the most probable class per row; v2 the FP64
  "predictions" of shape [n, K] (row-major), a BYTES output "labels" of shape [n] and a BYTES output
  "classes" of shape [K], the column order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

INTEGER_TYPES = frozenset({"long", "integer"})
FLOAT_TYPES = frozenset({"double", "float"})


class BadPayload(ValueError):
    """The request body cannot be read as rows of the model's inputs."""


Columns = dict[str, list[Any]]


def _from_rows(rows: list[Any], columns: Sequence[str], key: str) -> Columns:
    if all(isinstance(r, Mapping) for r in rows):
        present = {c for r in rows for c in r}
        return {c: [r.get(c) for r in rows] for c in present}
    if all(isinstance(r, list) for r in rows):
        if any(len(r) != len(columns) for r in rows):
            raise BadPayload(
                f'rows in "{key}" given as lists need {len(columns)} values: {", ".join(columns)}'
            )
        return {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    raise BadPayload(f'"{key}" must hold rows as objects ({{column: value}}) or as lists, not a mix')


def _records(body: Mapping[str, Any], columns: Sequence[str]) -> Columns:
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if not isinstance(split, Mapping) or not isinstance(split.get("data"), list) or not split["data"]:
            raise BadPayload('"dataframe_split" needs {"columns": [...], "data": [[...], ...]}')
        return _from_rows(split["data"], split.get("columns") or list(columns), "dataframe_split.data")
    key = next((k for k in ("instances", "dataframe_records", "inputs") if k in body), None)
    if key is None:
        raise BadPayload('expected "instances", "dataframe_split" or "dataframe_records" in the body')
    rows = body[key]
    if not isinstance(rows, list) or not rows:
        raise BadPayload(f'"{key}" must be a non-empty list of rows')
    return _from_rows(rows, columns, key)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _coerce(columns: Columns, types: Mapping[str, str]) -> pd.DataFrame:
    # Plain lists to typed arrays: far cheaper per request than building a frame and converting it.
    out: dict[str, Any] = {}
    for name, type_name in types.items():
        values = columns[name]
        if type_name in FLOAT_TYPES or type_name in INTEGER_TYPES:
            if any(isinstance(v, bool | str | bytes) for v in values):
                raise BadPayload(f"column {name!r} must be numeric ({type_name})")
            try:
                numeric = np.array(values, dtype=float)
            except (ValueError, TypeError):
                raise BadPayload(f"column {name!r} must be numeric ({type_name})") from None
            if numeric.ndim != 1:
                raise BadPayload(f"column {name!r} must hold one number per row")
            if type_name in INTEGER_TYPES and np.isfinite(numeric).all() and bool((numeric % 1 == 0).all()):
                out[name] = numeric.astype("int64")
            else:
                out[name] = numeric
        elif type_name == "boolean":
            out[name] = np.array(values, dtype=object)
        else:
            out[name] = np.array([None if _is_missing(v) else str(v) for v in values], dtype=object)
    return pd.DataFrame(out)


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
        given = _records(body, columns)
    elif hasattr(body, "inputs") and hasattr(body, "as_dataframe"):
        try:
            given = body.as_dataframe().to_dict(orient="list")
        except ValueError as exc:
            raise BadPayload(f"v2 inputs must be one 1-d tensor per column of equal length ({exc})") from None
    else:
        raise BadPayload("expected a JSON object body")
    missing = [c for c in columns if c not in given]
    if missing:
        raise BadPayload(f"missing column(s) {', '.join(missing)}; the model takes: {', '.join(columns)}")
    if not given[columns[0]]:
        raise BadPayload("no rows to score")
    return _coerce(given, types)


def _labels(outputs: np.ndarray, classes: Sequence[str] | None) -> list[str]:
    top = outputs.argmax(axis=1)
    names = list(classes) if classes is not None else [str(k) for k in range(outputs.shape[1])]
    return [names[k] for k in top.tolist()]


def v1_response(task: str, outputs: np.ndarray, classes: Sequence[str] | None) -> dict[str, Any]:
    """The v1 response body for a task's outputs (see the module docstring)."""
    if task != "multiclass":
        return {"predictions": outputs.tolist()}
    names = list(classes) if classes is not None else [str(k) for k in range(outputs.shape[1])]
    return {"predictions": outputs.tolist(), "classes": names, "labels": _labels(outputs, classes)}


def v2_outputs(task: str, outputs: np.ndarray, classes: Sequence[str] | None) -> list[dict[str, Any]]:
    """The v2 output tensors (name, shape, datatype, data, parameters) for a task's outputs."""
    if task != "multiclass":
        return [
            {"name": "predictions", "shape": [len(outputs)], "datatype": "FP64", "data": outputs.tolist()}
        ]
    names = list(classes) if classes is not None else [str(k) for k in range(outputs.shape[1])]
    return [
        {
            "name": "predictions",
            "shape": list(outputs.shape),
            "datatype": "FP64",
            "data": outputs.reshape(-1).tolist(),
        },
        {"name": "labels", "shape": [len(outputs)], "datatype": "BYTES", "data": _labels(outputs, classes)},
        # A tensor, not a joined-string parameter: a class name may hold any character, commas too.
        {"name": "classes", "shape": [len(names)], "datatype": "BYTES", "data": names},
    ]
