"""The seeded fleet is the same whatever the time of day the simulator starts: tests that check
a seeded figure (the demo stream's $10 budget, a balance) must not pass at 14:00 and fail at 16:00.

Broken looks like: a draw whose range depends on the start time (``randint(0, seconds_so_far)``
draws a varying number of bits), shifting every figure seeded after it. It did: the first stream
was $100 from 16:00 to 19:00 UTC and $10 at 15:00.
"""

from __future__ import annotations

import calendar

import pytest

from pf_tui.sim.model.state import Simulator

DAY = calendar.timegm((2026, 12, 3, 0, 0, 0))


def seeded(start: float) -> tuple[object, ...]:
    sim = Simulator(seed=7, agents=8, motion=False, start_time=start)
    members = tuple((a.label, a.casino, a.trading, len(a.trades)) for a in sim.fleet.members)
    escrows = tuple((e.amount, e.held, e.dialect) for e in sim.escrows.escrows.values())
    return members, escrows


@pytest.mark.parametrize("seconds", [7, 3 * 3600 + 1, 15 * 3600 + 59, 16 * 3600 + 300, 86399])
def test_the_seeded_fleet_does_not_depend_on_the_start_time_of_day(seconds: int) -> None:
    assert seeded(DAY + seconds) == seeded(DAY + 12 * 3600)
