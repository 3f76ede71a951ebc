"""Request bodies to the model's input frame: the accepted shapes and the refused ones."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from modelops.serving.payload import BadPayload, to_frame

TYPES = {"tenure": "long", "charges": "double", "contract": "string"}
ROWS = [
    {"tenure": 3, "charges": 80.5, "contract": "monthly"},
    {"tenure": 60, "charges": 30, "contract": "yearly"},
]
EXPECTED = pd.DataFrame({"tenure": [3, 60], "charges": [80.5, 30.0], "contract": ["monthly", "yearly"]})


@pytest.mark.parametrize(
    "body",
    [
        {"instances": ROWS},
        {"instances": [[3, 80.5, "monthly"], [60, 30, "yearly"]]},
        {"dataframe_records": ROWS},
        {
            "dataframe_split": {
                "columns": ["contract", "tenure", "charges"],
                "data": [["monthly", 3, 80.5], ["yearly", 60, 30]],
            }
        },
        {"instances": [{**r, "unused": 1} for r in ROWS]},
        json.dumps({"instances": ROWS}).encode(),
    ],
    ids=["records", "lists", "dataframe_records", "dataframe_split", "extra-column", "raw-bytes"],
)
def test_accepted_bodies_give_the_signatures_columns_and_types(body: object) -> None:
    frame = to_frame(body, TYPES)

    pd.testing.assert_frame_equal(frame.reset_index(drop=True), EXPECTED, check_dtype=False)
    assert list(frame.columns) == list(TYPES)
    assert str(frame["tenure"].dtype) == "int64"
    assert str(frame["charges"].dtype) == "float64"


def test_a_missing_integer_value_becomes_nan_not_an_error() -> None:
    frame = to_frame({"instances": [{**ROWS[0], "tenure": None}]}, TYPES)

    assert frame["tenure"].isna().all()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [{"tenure": 3, "charges": 1.0}]}, "missing column.*contract"),
        ({"instances": [{**ROWS[0], "charges": "lots"}]}, "charges.*numeric"),
        ({"instances": [[1, 2]]}, "need 3 values"),
        ({"instances": []}, "non-empty"),
        ({"rows": ROWS}, 'expected "instances"'),
        (b"not json", "not JSON"),
        ({"instances": [ROWS[0], [1, 2, 3]]}, "not a mix"),
    ],
)
def test_bodies_that_cannot_be_rows_are_refused_with_the_reason(body: object, message: str) -> None:
    with pytest.raises(BadPayload, match=message):
        to_frame(body, TYPES)
