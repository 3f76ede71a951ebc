"""Freeze windows: recurring (cron + duration, in a time zone) and one-off; a bad window names its field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelops.core.freeze import Cron, freeze_status, parse_windows
from modelops.errors import BadInput

WINDOWS = parse_windows(
    [
        # Friday 18:00 Berlin time for the weekend.
        {"name": "weekend", "cron": "0 18 * * fri", "duration": "62h", "timezone": "Europe/Berlin"},
        {
            "name": "year-end",
            "start": "2026-12-22",
            "end": "2026-12-23",
            "timezone": "UTC",
            "reason": "holidays",
        },
    ]
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_recurring_window_is_active_from_its_local_start_for_its_duration() -> None:
    # 2026-12-04 is a Friday; Berlin is UTC+1 in winter, so the window opens at 17:00 UTC.
    assert freeze_status(WINDOWS, at("2026-12-04T16:59:00")).active is None
    opened = freeze_status(WINDOWS, at("2026-12-04T17:00:00")).active
    assert opened is not None and opened[0].name == "weekend"
    assert opened[2] == at("2026-12-07T07:00:00")  # Monday 08:00 Berlin
    assert freeze_status(WINDOWS, at("2026-12-07T06:59:00")).active is not None
    assert freeze_status(WINDOWS, at("2026-12-07T07:00:00")).active is None


def test_summer_time_moves_the_utc_start() -> None:
    status = freeze_status(WINDOWS[:1], at("2026-07-03T16:30:00"))  # a Friday, Berlin UTC+2
    assert status.active is not None and status.active[1] == at("2026-07-03T16:00:00")


def test_one_off_dates_cover_whole_days_and_the_next_window_is_the_nearest() -> None:
    status = freeze_status(WINDOWS, at("2026-12-23T23:00:00"))
    assert status.active is not None and status.active[0].name == "year-end"
    assert status.active[2] == at("2026-12-24T00:00:00")
    monday = freeze_status(WINDOWS, at("2026-12-21T12:00:00"))
    assert monday.active is None
    assert monday.as_dict()["next"] == {
        "name": "year-end",
        "start": "2026-12-22T00:00:00Z",
        "end": "2026-12-24T00:00:00Z",
        "reason": "holidays",
    }
    assert freeze_status(WINDOWS, at("2026-12-24T00:00:00")).next[0].name == "weekend"  # type: ignore[index]


def test_cron_fields_follow_cron8() -> None:
    cron = Cron.parse("*/15 9-17 1,15 * mon")
    assert cron.minutes == frozenset({0, 15, 30, 45}) and cron.hours == frozenset(range(9, 18))
    # Day of month and day of week both restricted: either matches.
    assert cron.day_matches(datetime(2026, 12, 1).date())  # the 1st, a Tuesday
    assert cron.day_matches(datetime(2026, 12, 7).date())  # a Monday
    assert not cron.day_matches(datetime(2026, 12, 8).date())
    assert Cron.parse("0 0 * * 7").weekdays == frozenset({0})  # 7 is Sunday too


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            {"name": "w", "cron": "0 25 * * *", "duration": "1h"},
            "freeze_windows[w].cron: hour 25 is outside 0-23",
        ),
        (
            {"name": "w", "cron": "0 18 * *", "duration": "1h"},
            "freeze_windows[w].cron: '0 18 * *' needs five fields",
        ),
        (
            {"name": "w", "cron": "0 18 * * fri"},
            "freeze_windows[w].duration: a recurring window needs a duration",
        ),
        (
            {"name": "w", "cron": "0 18 * * fri", "duration": "soon"},
            "freeze_windows[w].duration: 'soon' is not",
        ),
        (
            {"name": "w", "cron": "0 0 * * *", "duration": "1h", "timezone": "Mars/Base"},
            "freeze_windows[w].timezone",
        ),
        (
            {"name": "w", "start": "2026-12-24", "end": "2026-12-01"},
            "freeze_windows[w].end: must be after start",
        ),
        (
            {"name": "w", "start": "Christmas", "end": "2026-12-26"},
            "freeze_windows[w].start: 'Christmas' is not a date",
        ),
        ({"cron": "0 0 * * *", "duration": "1h"}, "freeze_windows[0].name: every window needs a name"),
    ],
)
def test_a_bad_window_names_its_field(window: dict[str, str], expected: str) -> None:
    with pytest.raises(BadInput, match=expected.replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        parse_windows([window])
