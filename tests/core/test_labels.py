"""A batch of delayed labels is counted per version and outcome, or refused whole."""

from __future__ import annotations

import pytest

from modelops.core.labels import added, count_outcomes
from modelops.errors import BadInput


def test_a_batch_is_counted_per_version_and_outcome():
    rows = [
        {"version": "3", "outcome": "wrong"},
        {"version": "3", "outcome": "correct"},
        {"version": "2", "outcome": "correct"},
    ]
    assert count_outcomes(["version", "outcome"], rows, "b.csv") == {
        (3, "wrong"): 1,
        (3, "correct"): 1,
        (2, "correct"): 1,
    }


def test_totals_grow_by_the_batch_and_every_version_keeps_both_outcomes():
    totals = {(2, "correct"): 10.0, (2, "wrong"): 1.0}
    assert added(totals, {(2, "wrong"): 2, (3, "correct"): 5}) == {
        (2, "correct"): 10.0,
        (2, "wrong"): 3.0,
        (3, "correct"): 5.0,
        (3, "wrong"): 0.0,
    }


def test_the_first_bad_row_refuses_the_batch_naming_its_line():
    rows = [{"version": "3", "outcome": "correct"}, {"version": "٣", "outcome": "correct"}]
    with pytest.raises(BadInput, match=r"^b.csv:3: version: '٣' is not a registry version"):
        count_outcomes(["version", "outcome"], rows, "b.csv")
