"""The fault switch: off by default, configured from the environment or at runtime, validated."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from modelops.errors import BadInput
from modelops.serving.fault import Fault, FaultSwitch, InjectedFault


def test_no_variables_means_no_fault() -> None:
    assert Fault.from_env({}) == Fault(0.0, 0.0)
    assert not Fault.from_env({"MODELOPS_FAULT_ERROR_RATE": "", "MODELOPS_FAULT_LATENCY_MS": ""}).active


def test_the_environment_sets_error_rate_and_latency() -> None:
    fault = Fault.from_env({"MODELOPS_FAULT_ERROR_RATE": "0.5", "MODELOPS_FAULT_LATENCY_MS": "800"})

    assert fault == Fault(error_rate=0.5, latency_ms=800.0)
    assert fault.as_dict() == {"error_rate": 0.5, "latency_ms": 800.0, "version": None, "active": True}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MODELOPS_FAULT_ERROR_RATE": "1.5"}, "MODELOPS_FAULT_ERROR_RATE"),
        ({"MODELOPS_FAULT_ERROR_RATE": "half"}, "MODELOPS_FAULT_ERROR_RATE"),
        ({"MODELOPS_FAULT_LATENCY_MS": "-1"}, "MODELOPS_FAULT_LATENCY_MS"),
        ({"MODELOPS_FAULT_LATENCY_MS": "nan"}, "MODELOPS_FAULT_LATENCY_MS"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(BadInput, match=named):
        Fault.from_env(env)


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(BadInput, match="error_ratio"):
        Fault.parse({"error_ratio": 0.5})


def test_the_error_rate_is_the_share_of_failed_calls() -> None:
    switch = FaultSwitch(Fault(error_rate=0.3), rng=random.Random(7))

    async def outcomes() -> list[bool]:
        failed = []
        for _ in range(2000):
            try:
                await switch.apply("1")
                failed.append(False)
            except InjectedFault:
                failed.append(True)
        return failed

    share = sum(asyncio.run(outcomes())) / 2000
    assert 0.25 < share < 0.35


def test_latency_delays_each_call_and_can_be_turned_off() -> None:
    switch = FaultSwitch(Fault(latency_ms=150))
    started = time.monotonic()
    asyncio.run(switch.apply("1"))
    assert time.monotonic() - started >= 0.15

    switch.set(Fault())
    started = time.monotonic()
    asyncio.run(switch.apply("1"))
    assert time.monotonic() - started < 0.15


def test_a_fault_pinned_to_a_version_spares_the_others() -> None:
    fault = Fault.parse({"error_rate": 1.0, "version": 2})
    switch = FaultSwitch(fault)
    with pytest.raises(InjectedFault):
        asyncio.run(switch.apply("2"))
    asyncio.run(switch.apply("1"))  # the rollback target answers normally
    assert Fault.from_env({"MODELOPS_FAULT_ERROR_RATE": "1", "MODELOPS_FAULT_VERSION": "7"}).version == "7"
    with pytest.raises(BadInput, match="MODELOPS_FAULT_VERSION"):
        Fault.from_env({"MODELOPS_FAULT_VERSION": "latest"})
