"""The view side of a tick, with no screen, no network and no simulator: how long
``FleetFeed.build`` takes to turn a tick's results into the next ``FleetView``.

    .venv/bin/python benchmarks/feed_build.py [--agents 5000] [--changed 50,300,1000] [--ticks 100]

A synthetic fleet (every figure of every agent filled: balance, two positions, a 30-day P&L
chart, casino stats, referrals) is built once; each tick then gives ``--changed`` agents new
casino stats, moves the clock one second, and times ``build``. The TUI runs this in its engine
worker on the same thread that draws the screen, so its CPU is taken from the frame budget
(33 ms) before any cell is drawn. Deterministic and quiet: run it on the same machine before and
after a change to the feed (``benchmarks/tui_frames.py`` measures the whole tick, but how many
agents change a tick depends on how fast the simulator answers).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pf_tui.api.models import (  # noqa: E402
    Balance,
    CasinoStats,
    PnlHistory,
    PnlPoint,
    Position,
    Positions,
    ReferralStats,
)
from pf_tui.clock import FakeClock  # noqa: E402
from pf_tui.core.fleet.state import AgentInfo, FleetState  # noqa: E402
from pf_tui.core.polling.results import (  # noqa: E402
    BalanceSnapshot,
    DataType,
    EscrowSnapshot,
    ReferralSnapshot,
    Snapshot,
)
from pf_tui.views.feed import FleetFeed  # noqa: E402

INTERVALS = {"balance": 10, "positions": 5, "pnl": 3, "casino": 2, "referrals": 30, "escrows": 5}
BUDGET_MS = 33.0


def _fleet(agents: int, clock: FakeClock) -> FleetState:
    fleet = FleetState(
        [
            AgentInfo(f"ag_{i:012x}", f"agent-{i}", initial_balance=Decimal(100))
            for i in range(agents)
        ],
        intervals=INTERVALS,
        clock=clock,
    )
    t = clock.now()
    chart = tuple(
        PnlPoint(f"2026-11-{d:02d}", Decimal(d) / 10, Decimal(d * (d + 1)) / 20)
        for d in range(1, 31)
    )
    for i, agent_id in enumerate(fleet.agents):
        values: dict[DataType, object] = {
            DataType.BALANCE: BalanceSnapshot(Balance(Decimal(100 + i % 50))),
            DataType.POSITIONS: Positions(
                tuple(
                    Position(
                        f"pos_{i}_{k}",
                        "BTC-USD",
                        "long",
                        Decimal(50),
                        Decimal(60000),
                        Decimal(60100 + k),
                        Decimal("0.8"),
                    )
                    for k in range(2)
                )
            ),
            DataType.PNL: PnlHistory(net_pnl=chart[-1].cumulative_pnl, chart=chart),
            DataType.CASINO: CasinoStats(total_bets=100 + i, net_profit=Decimal(i % 7)),
            DataType.REFERRALS: ReferralSnapshot((ReferralStats("casino", i % 5, Decimal(1)),)),
            DataType.ESCROWS: EscrowSnapshot(()),
        }
        for kind, value in values.items():
            fleet.apply(Snapshot(agent_id, kind, value, t, 0.01))  # type: ignore[arg-type]
    return fleet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--changed", default="50,300,1000")
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument(
        "--charts",
        action="store_true",
        help="the changed agents' P&L charts move too (today's P&L), as in a trading fleet",
    )
    args = parser.parse_args()
    print(
        f"# feed_build: {args.agents} agents, {args.ticks} ticks per size"
        + (", the changed agents' P&L charts moving" if args.charts else "")
    )
    for changed in (int(c) for c in args.changed.split(",")):
        clock = FakeClock()
        fleet = _fleet(args.agents, clock)
        feed = FleetFeed(fleet)
        feed.build(clock.now())
        # As the TUI's GC pacer does (pf_tui/tui/gc_pacer.py): the long-lived fleet is frozen and
        # the young generations are collected between frames, so no full pass of 5,000 agents'
        # objects lands inside a build.
        gc.collect()
        gc.freeze()
        ids = list(fleet.agents)
        periods = [(DataType(name), int(every)) for name, every in INTERVALS.items()]
        times = []
        for tick in range(args.ticks):
            clock.advance(1.0)
            now = clock.now()
            start = (tick * changed) % len(ids)
            batch = [ids[(start + k) % len(ids)] for k in range(changed)]
            results = [
                Snapshot(
                    a,
                    DataType.CASINO,
                    CasinoStats(total_bets=tick, net_profit=Decimal(tick)),
                    now,
                    0.01,
                )
                for a in batch
            ]
            if args.charts:
                for a in batch:
                    pnl = fleet.agents[a].figures[DataType.PNL].value
                    assert isinstance(pnl, PnlHistory)  # the run filled every agent's P&L
                    chart = pnl.chart
                    today = PnlPoint(chart[-1].date, Decimal(tick), Decimal(tick) / 4)
                    moved = PnlHistory(net_pnl=today.cumulative_pnl, chart=(*chart[:-1], today))
                    results.append(Snapshot(a, DataType.PNL, moved, now, 0.01))
            # The poller's other replies this second, each figure at its interval (phases spread
            # over the fleet): unchanged, as most are.
            for i, a in enumerate(ids):
                figures = fleet.agents[a].figures
                for kind, every in periods:
                    if (tick + i) % every == 0:
                        value = figures[kind].value
                        results.append(Snapshot(a, kind, value, now, 0.01, False))  # type: ignore[arg-type]
            changed_ids = fleet.apply_many(results)
            started = time.thread_time()
            feed.build(now, changed_ids)
            times.append((time.thread_time() - started) * 1000)
            gc.collect(1)
        gc.unfreeze()
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"{changed:>5} changed a tick: build p50 {p50:6.1f} ms  p99 {p99:6.1f} ms CPU"
            f"  ({p50 / BUDGET_MS:.0%} of a {BUDGET_MS:.0f} ms frame at the median)"
        )


if __name__ == "__main__":
    main()
