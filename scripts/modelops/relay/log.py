"""Structured logs: one JSON object per line on stderr (ts, level, event, then the event's fields)."""

from __future__ import annotations

import io
import json
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLog:
    def __init__(self, stream: IO[str] | None = None) -> None:
        # Bound now: `structure_stderr` later replaces sys.stderr with a writer that logs through here.
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()

    def write_record(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str, separators=(",", ":"))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        self.write_record(
            {
                "ts": _now(),
                "level": level,
                "event": event,
                **{k: v for k, v in fields.items() if v is not None},
            }
        )


class _StructuredLines(io.TextIOBase):
    """A text stream that turns each line written to it into a log record."""

    def __init__(self, log: JsonLog) -> None:
        self._log = log
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._emit(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            line, self._pending = self._pending, ""
        if line.strip():
            self._emit(line)

    def _emit(self, line: str) -> None:
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):  # already structured (the flows' own JSON lines): keep its fields
            self._log.write_record({"ts": _now(), "level": "info", **parsed})
        else:
            self._log("output", message=line)


def structure_stderr(log: JsonLog) -> None:
    """Make everything the flows print on stderr while the relay runs a JSON line too."""
    sys.stderr = _StructuredLines(log)
