"""Freeze windows: spans of time in which promotions are denied (rollbacks and drills never are).

A window recurs (a five-field cron expression for its start, a duration, a time zone) or happens once
(`start` and `end`, dates or date-times in the window's time zone). The cron matcher is small and
standard: numbers, `*`, lists, ranges, steps and three-letter month and day names; day of month and
day of week are OR-ed when both are restricted, as in cron(8).

Argo CD sync windows are not used for this on purpose: a deny window blocks every sync of the
application, so it would also hold back the sync of a rollback commit during an incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from modelops.core.alert_rules import parse_duration
from modelops.errors import BadInput

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (name, low, high, names)
_FIELDS: tuple[tuple[str, int, int, Mapping[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
# How far ahead `next_window` looks for a recurring start.
HORIZON_DAYS = 400


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        parts = str(text).split()
        if len(parts) != 5:
            raise ValueError(f"{text!r} needs five fields (minute hour day-of-month month day-of-week)")
        sets = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*", parts[4] == "*")

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return in_week
        if self.any_weekday:
            return in_month
        return in_month or in_week

    def starts_on(self, day: date) -> list[tuple[int, int]]:
        """(hour, minute) of every start on a matching day, in order."""
        if not self.day_matches(day):
            return []
        return [(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]


def _field(text: str, name: str, low: int, high: int, names: Mapping[str, int]) -> frozenset[int]:
    def number(token: str) -> int:
        token = token.lower()
        if token in names:
            return names[token]
        if not token.isdigit():
            raise ValueError(f"{name} {token!r} is not a number")
        value = int(token)
        if not low <= value <= high:
            raise ValueError(f"{name} {value} is outside {low}-{high}")
        return value

    values: set[int] = set()
    for item in text.split(","):
        spec, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name} step {step_text!r} must be a positive number")
            step = int(step_text)
        if spec == "*":
            first, last = low, high
        elif "-" in spec:
            a, _, b = spec.partition("-")
            first, last = number(a), number(b)
            if first > last:
                raise ValueError(f"{name} range {spec!r} runs backwards")
        else:
            first = number(spec)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class FreezeWindow:
    name: str
    timezone: str
    cron: Cron | None = None
    cron_text: str | None = None
    duration_seconds: int = 0
    start: datetime | None = None  # one-off windows, aware
    end: datetime | None = None
    reason: str = ""
    # The Environments it freezes; None: the protected ones (so a staging drill is never frozen).
    environments: tuple[str, ...] | None = None

    def covers(self, env: str, protected: Sequence[str]) -> bool:
        return env in (self.environments if self.environments is not None else protected)

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def occurrences_around(
        self, at: datetime, days_back: int, days_ahead: int
    ) -> list[tuple[datetime, datetime]]:
        """(start, end) pairs, aware in UTC, whose start falls in the given span of local days."""
        if self.cron is None:
            assert self.start is not None and self.end is not None
            return [(self.start.astimezone(UTC), self.end.astimezone(UTC))]
        zone = self._zone()
        local_day = at.astimezone(zone).date()
        found = []
        for offset in range(-days_back, days_ahead + 1):
            day = local_day + timedelta(days=offset)
            for hour, minute in self.cron.starts_on(day):
                begin = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
                found.append((begin, begin + timedelta(seconds=self.duration_seconds)))
        return found

    def active(self, at: datetime) -> tuple[datetime, datetime] | None:
        back = self.duration_seconds // 86400 + 1
        for begin, end in self.occurrences_around(at, back, 0):
            if begin <= at < end:
                return begin, end
        return None

    def next_start(self, at: datetime) -> tuple[datetime, datetime] | None:
        if self.cron is None:
            return self.occurrences_around(at, 0, 0)[0] if self.start and self.start > at else None
        # Day by day, so a yearly window still costs only HORIZON_DAYS small steps.
        for offset in range(HORIZON_DAYS):
            day_at = at + timedelta(days=offset)
            for begin, end in self.occurrences_around(day_at, 0, 0):
                if begin > at:
                    return begin, end
        return None

    def describe(self) -> str:
        if self.cron_text is not None:
            return f"{self.name} (cron {self.cron_text!r} for {self.duration_seconds // 60} min, {self.timezone})"
        return f"{self.name} ({self.start} to {self.end})"


@dataclass(frozen=True)
class FreezeStatus:
    active: tuple[FreezeWindow, datetime, datetime] | None
    next: tuple[FreezeWindow, datetime, datetime] | None

    def as_dict(self) -> dict[str, Any]:
        def one(item: tuple[FreezeWindow, datetime, datetime] | None) -> dict[str, str] | None:
            if item is None:
                return None
            window, begin, end = item
            return {"name": window.name, "start": _stamp(begin), "end": _stamp(end), "reason": window.reason}

        return {"active": one(self.active), "next": one(self.next)}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def frozen_for(
    windows: Sequence[FreezeWindow], env: str, protected: Sequence[str], at: datetime
) -> tuple[FreezeWindow, datetime, datetime] | None:
    """The active window that freezes promotions into `env`, if any."""
    return freeze_status([w for w in windows if w.covers(env, protected)], at).active


def freeze_status(windows: Sequence[FreezeWindow], at: datetime) -> FreezeStatus:
    active = None
    upcoming = None
    for window in windows:
        span = window.active(at)
        if span is not None and (active is None or span[1] > active[2]):
            active = (window, *span)
        nxt = window.next_start(at)
        if nxt is not None and (upcoming is None or nxt[0] < upcoming[1]):
            upcoming = (window, *nxt)
    return FreezeStatus(active, upcoming)


def _moment(value: Any, zone: ZoneInfo, where: str, end_of_day: bool = False) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day) + (
            timedelta(days=1) if end_of_day else timedelta()
        )
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                moment = datetime(day.year, day.month, day.day) + (
                    timedelta(days=1) if end_of_day else timedelta()
                )
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(f"{where}: {value!r} is not a date (YYYY-MM-DD) or date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse_windows(raw: Any, source: str = "policies/promotion.yaml") -> tuple[FreezeWindow, ...]:
    """`freeze_windows` as the policy declares them; every problem names the window and field."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadInput(f"{source}: freeze_windows: expected a list of windows")
    windows: list[FreezeWindow] = []
    names: set[str] = set()
    for n, item in enumerate(raw):
        where = f"{source}: freeze_windows[{n}]"
        if not isinstance(item, dict):
            raise BadInput(f"{where}: expected a mapping with name and cron+duration or start+end")
        known = {"name", "cron", "duration", "timezone", "start", "end", "reason", "environments"}
        unknown = sorted(set(item) - known)
        if unknown:
            raise BadInput(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        name = str(item.get("name") or "").strip()
        if not name:
            raise BadInput(f"{where}.name: every window needs a name (denials quote it)")
        if name in names:
            raise BadInput(f"{where}.name: {name!r} is used twice")
        names.add(name)
        where = f"{source}: freeze_windows[{name}]"
        tz_name = str(item.get("timezone", "UTC"))
        try:
            zone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput(f"{where}.timezone: unknown time zone {tz_name!r}") from None
        reason = str(item.get("reason", ""))
        envs = item.get("environments")
        if envs is not None and (not isinstance(envs, list) or not all(isinstance(e, str) for e in envs)):
            raise BadInput(f"{where}.environments: expected a list of environment names")
        environments = tuple(envs) if envs is not None else None
        if "cron" in item:
            if "start" in item or "end" in item:
                raise BadInput(f"{where}: a window is either cron+duration or start+end, not both")
            try:
                cron = Cron.parse(str(item["cron"]))
            except ValueError as exc:
                raise BadInput(f"{where}.cron: {exc}") from None
            if "duration" not in item:
                raise BadInput(f"{where}.duration: a recurring window needs a duration such as 2h or 3d")
            try:
                seconds = parse_duration(str(item["duration"])) // 1000
            except BadInput:
                raise BadInput(
                    f"{where}.duration: {item['duration']!r} is not a duration such as 2h or 3d"
                ) from None
            if seconds <= 0:
                raise BadInput(f"{where}.duration: must be longer than zero")
            windows.append(
                FreezeWindow(
                    name, tz_name, cron, str(item["cron"]), seconds, reason=reason, environments=environments
                )
            )
        elif "start" in item and "end" in item:
            begin = _moment(item["start"], zone, f"{where}.start")
            end = _moment(item["end"], zone, f"{where}.end", end_of_day=True)
            if end <= begin:
                raise BadInput(f"{where}.end: must be after start")
            windows.append(
                FreezeWindow(name, tz_name, start=begin, end=end, reason=reason, environments=environments)
            )
        else:
            raise BadInput(f"{where}: needs cron and duration (recurring) or start and end (one-off)")
    return tuple(windows)
