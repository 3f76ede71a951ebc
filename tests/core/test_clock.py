"""Timestamps as models.yaml records them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from modelops.core.clock import utc_stamp


def test_a_stamp_is_utc_to_the_second_with_a_trailing_z() -> None:
    paris = timezone(timedelta(hours=1))
    assert utc_stamp(datetime(2026, 1, 2, 3, 4, 5, 999_000, tzinfo=paris)) == "2026-01-02T02:04:05Z"
