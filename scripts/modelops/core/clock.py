"""Timestamps as models.yaml records them: UTC, seconds, a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
