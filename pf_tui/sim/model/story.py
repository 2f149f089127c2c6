"""The demo's story: scripted incidents, so a newcomer sees alerts fire and resolve in a minute.

A healthy simulated fleet shows nothing worth an operator's attention, so the demo fleet replays
a short script every :data:`CYCLE_S` simulated seconds, counted from the simulator's start:

==========  ===================================================================================
phase (s)   what happens
==========  ===================================================================================
12 - 40     a casino outage: every request under ``/casino/api/v1/`` answers 503 (one fault rule,
            listed by ``GET /_sim/faults`` like any other)
55 - 80     a casino grinder moves all but $40 of its casino balance to its trading account
            (the balance slides under the ``low_balance`` threshold) and then moves it back
==========  ===================================================================================

The outage comes first, short enough that the alerts it raises resolve inside the demo's first
minute. The cash-out waits until a reader has the casino's figures again (its retries back off
at most 10 s in the demo) and every figure of an agent has come in once (the slowest, referrals,
is first polled up to 30 s in): a threshold rule reads nothing until then.

Everything is a function of simulated time, so it is deterministic under the seed and follows
``/_sim/clock``; it moves only while the fleet has motion. Money only moves between an agent's
own accounts, so the conservation total never changes. ``POST /_sim/config {"story": false}``
(or ``pf-tui sim --no-story``) ends an incident in progress and stops the script.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING

from pf_tui.sim.model.faults import FaultRule
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.accounts import Agent
    from pf_tui.sim.model.state import Simulator

CYCLE_S = 240
"""The script repeats every four simulated minutes."""
OUTAGE = (12, 40)
"""Seconds into each cycle when the casino outage starts and ends."""
OUTAGE_RULE: dict[str, JSON] = {
    "route": "/casino/api/v1/*",
    "kind": "error",
    "status": 503,
    "rate": 1,
    "when": "before",
    "body": '{"error":"service_unavailable","message":"demo story: casino outage"}',
}
"""The fault rule the outage adds (a whole-service 503, as a real outage looks to a client)."""
CASH_OUT = (55, 80)
"""Seconds into each cycle when the grinder cashes out of the casino and when it tops back up."""
LOW_BALANCE = Decimal(40)
"""What the grinder leaves in the casino: under the default ``low_balance`` threshold ($50) and
its clear point ($55)."""


class Story:
    """The scripted incidents of one simulator run (see the module docstring)."""

    def __init__(self, sim: Simulator, start: float, *, enabled: bool = True) -> None:
        self.sim = sim
        self.start = math.floor(start)
        self.enabled = enabled
        self._outage: FaultRule | None = None
        self._grinder: Agent | None = None
        self._moved = Decimal(0)

    def phase(self, at: float) -> int:
        """Whole seconds into the current cycle at simulated time ``at``."""
        return int(math.floor(at) - self.start) % CYCLE_S

    def step(self, at: float) -> None:
        """Called once per simulated second by the fleet: start and end incidents on time.

        Starts are edge-triggered (an operator who clears the faults ends the outage for this
        cycle); ends are level-triggered, so an incident never outlives its window even when
        the simulator skipped ahead after a stall.
        """
        if not self.enabled:
            return
        phase = self.phase(at)
        in_outage = OUTAGE[0] <= phase < OUTAGE[1]
        if phase == OUTAGE[0] and self._outage is None:
            self._outage = self.sim.faults.add(OUTAGE_RULE)[0]
        elif not in_outage:
            self._end_outage()
        if phase == CASH_OUT[0] and self._grinder is None:
            self._cash_out(at)
        elif not CASH_OUT[0] <= phase < CASH_OUT[1]:
            self._top_up(at)

    def stop(self, at: float) -> None:
        """End whatever is in progress and stop the script."""
        self._end_outage()
        self._top_up(at)
        self.enabled = False

    def wire(self, at: float) -> dict[str, JSON]:
        """What ``GET /_sim/story`` shows: the schedule, where the cycle is, what is on."""
        return {
            "enabled": self.enabled,
            "cycle_s": CYCLE_S,
            "phase_s": self.phase(at),
            "casino_outage": {"from_s": OUTAGE[0], "to_s": OUTAGE[1], "active": bool(self._outage)},
            "grinder_cash_out": {
                "from_s": CASH_OUT[0],
                "to_s": CASH_OUT[1],
                "agent_id": self._grinder.agent_id if self._grinder else None,
                "moved_usd": str(self._moved),
            },
        }

    # ---- the incidents -------------------------------------------------------------------------

    def _end_outage(self) -> None:
        rule = self._outage
        if rule is None:
            return
        self._outage = None
        rules = self.sim.faults.rules
        if any(r is rule for r in rules):
            rules[:] = [r for r in rules if r is not rule]

    def _cash_out(self, at: float) -> None:
        grinder = next((a for a in self.sim.fleet.members if a.strategy == "casino-grinder"), None)
        if grinder is None or grinder.casino <= LOW_BALANCE:
            return
        moved = grinder.casino - LOW_BALANCE
        self.sim.accounts.post(
            grinder, -moved, "withdrawal", at, reason="moved to trading account", service="casino"
        )
        grinder.trading += moved
        self._grinder, self._moved = grinder, moved

    def _top_up(self, at: float) -> None:
        grinder = self._grinder
        if grinder is None:
            return
        back = min(self._moved, grinder.trading - grinder.margin_locked())
        if back > 0:
            grinder.trading -= back
            self.sim.accounts.post(
                grinder, back, "deposit", at, reason="moved from trading account", service="casino"
            )
        self._grinder, self._moved = None, Decimal(0)
