"""The fault switch: injected errors and latency, for drills and tests. Off unless someone turns it on.

Set at start with MODELOPS_FAULT_ERROR_RATE (0-1), MODELOPS_FAULT_LATENCY_MS and, to hit one
version only, MODELOPS_FAULT_VERSION; or on a running server through the admin endpoint
(POST /admin/fault {"error_rate": 0.5, "version": "2"}). A fault applies to client predictions only,
never to the warm-up, so a drill cannot stop a version from becoming ready.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from modelops.errors import BadInput

ENV_ERROR_RATE = "MODELOPS_FAULT_ERROR_RATE"
ENV_LATENCY_MS = "MODELOPS_FAULT_LATENCY_MS"
ENV_VERSION = "MODELOPS_FAULT_VERSION"
MAX_LATENCY_MS = 60_000.0


class InjectedFault(Exception):
    """A prediction failed on purpose."""


def _number(value: Any, where: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{where}: {value!r} is not a number") from None
    if math.isnan(number) or not low <= number <= high:
        raise BadInput(f"{where}: {value!r} must be between {low:g} and {high:g}")
    return number


def _version(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    text = str(value)
    if not text.isdigit():
        raise BadInput(f"{where}: {value!r} is not a registry version number")
    return text


@dataclass(frozen=True)
class Fault:
    error_rate: float = 0.0
    latency_ms: float = 0.0
    # Only this version misbehaves (None: whichever serves), so a rollback really cures the fault.
    version: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str = "fault") -> Fault:
        unknown = set(raw) - {"error_rate", "latency_ms", "version"}
        if unknown:
            raise BadInput(
                f"{where}: unknown field {sorted(unknown)[0]!r} (known: error_rate, latency_ms, version)"
            )
        return cls(
            error_rate=_number(raw.get("error_rate", 0.0), f"{where}.error_rate", 0.0, 1.0),
            latency_ms=_number(raw.get("latency_ms", 0.0), f"{where}.latency_ms", 0.0, MAX_LATENCY_MS),
            version=_version(raw.get("version"), f"{where}.version"),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Fault:
        return cls(
            error_rate=_number(env.get(ENV_ERROR_RATE) or 0.0, ENV_ERROR_RATE, 0.0, 1.0),
            latency_ms=_number(env.get(ENV_LATENCY_MS) or 0.0, ENV_LATENCY_MS, 0.0, MAX_LATENCY_MS),
            version=_version(env.get(ENV_VERSION), ENV_VERSION),
        )

    def hits(self, version: str) -> bool:
        return self.active and self.version in (None, version)

    @property
    def active(self) -> bool:
        return self.error_rate > 0 or self.latency_ms > 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "active": self.active}


class FaultSwitch:
    def __init__(self, fault: Fault | None = None, rng: random.Random | None = None) -> None:
        self._fault = fault or Fault()
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    @property
    def fault(self) -> Fault:
        return self._fault

    def set(self, fault: Fault) -> None:
        with self._lock:
            self._fault = fault

    async def apply(self, version: str) -> None:
        """Delay, then maybe fail, as the current fault says for the version answering."""
        fault = self._fault
        if not fault.hits(version):
            return
        if fault.latency_ms > 0:
            await asyncio.sleep(fault.latency_ms / 1000.0)
        if fault.error_rate > 0:
            with self._lock:
                draw = self._rng.random()
            if draw < fault.error_rate:
                raise InjectedFault(f"injected fault (error_rate={fault.error_rate:g})")
