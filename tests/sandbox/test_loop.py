"""The sandbox's canary split: the share KServe's canaryTrafficPercent would send, on random rows."""

from __future__ import annotations

from modelops.sandbox.loop import Split

STABLE, CANARY = "http://stable", "http://canary"


def test_a_ten_percent_split_sends_about_a_tenth_to_the_canary_and_clearing_sends_none() -> None:
    split = Split(seed=1)
    assert split.pick(STABLE) == STABLE  # no canary declared
    split.set(CANARY + "/", 10)
    picks = [split.pick(STABLE) for _ in range(4000)]
    share = picks.count(CANARY) / len(picks)
    assert 0.085 <= share <= 0.115  # ±5 binomial standard deviations
    split.clear()
    assert {split.pick(STABLE) for _ in range(200)} == {STABLE}


def test_the_canary_sees_every_part_of_a_repeating_sample_not_every_tenth_row() -> None:
    split = Split(seed=2)
    split.set(CANARY, 10)
    rows = 200  # the demo's traffic cycles through 200 golden rows
    seen = {i % rows for i in range(4000) if split.pick(STABLE) == CANARY}
    assert len(seen) > rows * 0.8
