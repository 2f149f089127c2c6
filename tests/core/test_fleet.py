"""Fleet state: applying results, change reports, staleness with reasons, history, totals."""

from __future__ import annotations

from decimal import Decimal as D

from pf_tui.api.models import (
    Balance,
    CasinoStats,
    Escrow,
    EscrowStatus,
    PnlHistory,
    PnlPoint,
    Position,
    Positions,
    ReferralStats,
)
from pf_tui.clock import FakeClock
from pf_tui.core.fleet.state import AgentInfo, FleetState
from pf_tui.core.polling.results import (
    BalanceSnapshot,
    DataType,
    EscrowSnapshot,
    PollFailure,
    ReferralSnapshot,
    Snapshot,
)
from pf_tui.core.store.db import Store

INTERVALS = {
    "balance": 10,
    "positions": 5,
    "pnl": 3,
    "casino": 2,
    "referrals": 30,
    "escrows": 5,
    "errors": 5,
}


def _fleet(clock: FakeClock, n: int = 2) -> FleetState:
    agents = [AgentInfo(f"ag_{i}", f"A{i}", initial_balance=D(100)) for i in range(n)]
    return FleetState(agents, intervals=INTERVALS, clock=clock, history_len=4, keep_samples=True)


def _bal(agent: str, amount: str, t: float, changed: bool = True) -> Snapshot:
    return Snapshot(agent, DataType.BALANCE, BalanceSnapshot(Balance(D(amount))), t, 0.01, changed)


def test_apply_reports_changes_and_derives() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    t = clock.now()
    change = fleet.apply(_bal("ag_0", "50.5", t))
    assert change is not None and change.value_changed and change.status_changed
    assert fleet.value("ag_0", "balance") == D("50.5")
    # Same figure again: nothing for the UI to do.
    assert fleet.apply(_bal("ag_0", "50.5", t + 1, changed=False)) is None
    assert fleet.agents["ag_0"].figures[DataType.BALANCE].fetched_at == t + 1
    assert fleet.apply(_bal("ag_unknown", "1", t)) is None


def test_pnl_combines_trading_and_casino_and_drawdown() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    t = clock.now()
    chart = (PnlPoint("d1", D(10), D(10)), PnlPoint("d2", D(-22), D(-12)))
    fleet.apply(Snapshot("ag_0", DataType.PNL, PnlHistory(net_pnl=D(-12), chart=chart), t, 0.0))
    fleet.apply(
        Snapshot("ag_0", DataType.CASINO, CasinoStats(total_bets=5, net_profit=D("2")), t, 0.0)
    )
    assert fleet.value("ag_0", "pnl") == D(-10)
    assert fleet.value("ag_0", "pnl_pct") == D(-10)
    assert fleet.value("ag_0", "max_drawdown_usd") == D(22)
    assert fleet.value("ag_0", "max_drawdown_pct") == D(20)  # 110 -> 88


def test_failure_makes_figure_stale_with_typed_reason_after_three_intervals() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    fleet.apply(_bal("ag_0", "1", clock.now()))
    err = TimeoutError("read timed out")
    change = fleet.apply(PollFailure("ag_0", DataType.BALANCE, err, clock.now(), 1, 10))
    assert change is not None and change.status_changed and not change.value_changed
    # A second failure changes nothing visible.
    again = fleet.apply(PollFailure("ag_0", DataType.BALANCE, err, clock.now(), 2, 20))
    assert again is not None and not again.status_changed
    assert not fleet.staleness("ag_0", DataType.BALANCE).stale  # still within 3 x 10 s
    clock.advance(31)
    s = fleet.staleness("ag_0", DataType.BALANCE)
    assert s.stale and s.error is err and "read timed out" in s.reason
    assert s.age_s == 31
    agent = fleet.agent_staleness("ag_0")
    assert agent.stale and agent.reason.startswith("balance: ")
    # Other figures of other agents are unaffected by it.
    fleet.apply(_bal("ag_1", "2", clock.now()))
    assert not fleet.staleness("ag_1", DataType.BALANCE).stale
    # Recovery clears the error and reports a status change.
    rec = fleet.apply(_bal("ag_0", "1", clock.now(), changed=False))
    assert rec is not None and rec.status_changed
    assert not fleet.staleness("ag_0", DataType.BALANCE).stale
    # Without the poller's call counters the fleet does not make up an error rate of its own.
    assert fleet.error_rate("ag_0") is None


def test_never_fetched_is_stale_and_old_data_says_why() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    assert fleet.staleness("ag_0", DataType.CASINO).reason == "not fetched yet"
    fleet.apply(Snapshot("ag_0", DataType.CASINO, CasinoStats(total_bets=1), clock.now(), 0.0))
    clock.advance(6.5)
    s = fleet.staleness("ag_0", DataType.CASINO)
    assert s.stale and s.reason == "no update for 6.5s"
    fleet.set_intervals({"casino": 10})
    assert not fleet.staleness("ag_0", DataType.CASINO).stale


def test_history_ring_buffer_is_bounded_and_skips_repeats() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    for i, amount in enumerate(["1", "1", "2", "3", "4", "5"]):
        fleet.apply(_bal("ag_0", amount, float(i)))
    ring = fleet.history("ag_0", "balance")
    assert [v for _, v in ring] == [D(2), D(3), D(4), D(5)]
    samples = fleet.drain_samples()
    assert [s.value for s in samples] == [D(1), D(2), D(3), D(4), D(5)]
    assert fleet.drain_samples() == []


def test_a_fleet_nobody_drains_keeps_its_history_but_no_samples() -> None:
    """Only the daemon drains the samples (to store them): any other fleet (the console's)
    keeps its history rings but no list of points, which grew without end."""
    clock = FakeClock()
    agents = [AgentInfo("ag_0", "A0", initial_balance=D(100))]
    fleet = FleetState(agents, intervals=INTERVALS, clock=clock, history_len=4)
    for i, amount in enumerate(["1", "2", "3", "4", "5", "6"]):
        fleet.apply(_bal("ag_0", amount, float(i)))
    assert [v for _, v in fleet.history("ag_0", "balance")] == [D(3), D(4), D(5), D(6)]
    assert fleet.drain_samples() == []


def test_a_fleet_keeps_the_history_of_its_metrics_only() -> None:
    """The console keeps only the histories it reads: the others are neither ringed, nor
    refilled from the store."""
    clock = FakeClock()

    def fleet_of(*metrics: str) -> FleetState:
        agents = [AgentInfo("ag_0", "A0", initial_balance=D(100))]
        fleet = FleetState(agents, intervals=INTERVALS, clock=clock, history_metrics=metrics)
        fleet.apply(_bal("ag_0", "5", 1.0))
        fleet.apply(_bal("ag_0", "6", 2.0))
        return fleet

    assert [v for _, v in fleet_of("balance").history("ag_0", "balance")] == [D(5), D(6)]
    fleet = fleet_of("casino_net")
    assert not fleet.history("ag_0", "balance")
    fleet.load_history({("ag_0", "balance"): [(0.5, D(4))], ("ag_0", "casino_net"): [(0.5, D(1))]})
    assert not fleet.history("ag_0", "balance")
    assert [v for _, v in fleet.history("ag_0", "casino_net")] == [D(1)]


def test_totals() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    t = clock.now()
    fleet.apply(_bal("ag_0", "10.25", t))
    fleet.apply(_bal("ag_1", "4.75", t))
    pos = Positions(
        (
            Position("p1", "BTC", "long", D(100), None, None, D(5)),
            Position("p2", "ETH", "short", D(-40), None, None, D(-1)),
        )
    )
    fleet.apply(Snapshot("ag_1", DataType.POSITIONS, pos, t, 0.0))
    fleet.apply(Snapshot("ag_0", DataType.CASINO, CasinoStats(net_profit=D("-1.5")), t, 0.0))
    esc = (
        Escrow("esc_1", EscrowStatus.FUNDED, D(3), remaining=D("2.5"), creator_id="ag_0"),
        Escrow("esc_2", EscrowStatus.RELEASED, D(9), creator_id="ag_0"),
        Escrow("esc_3", EscrowStatus.FUNDED, D(7), creator_id="ag_other"),
    )
    fleet.apply(Snapshot("ag_0", DataType.ESCROWS, EscrowSnapshot(esc), t, 0.0))
    fleet.apply(
        Snapshot(
            "ag_0",
            DataType.REFERRALS,
            ReferralSnapshot((ReferralStats("casino", 3, D("0.30")),)),
            t,
            0.0,
        )
    )
    tot = fleet.totals()
    assert (tot.agents, tot.balance, tot.pnl, tot.positions) == (2, D(15), D("-1.5"), 2)
    assert tot.exposure == D(140)
    assert tot.escrow_exposure == D("2.5")
    assert tot.stale_agents == 2  # neither has every figure yet
    assert fleet.value("ag_0", "referrals") == D(3)


def test_agents_added_and_removed() -> None:
    clock = FakeClock()
    fleet = _fleet(clock, n=1)
    fleet.add_agent(AgentInfo("ag_new"))
    assert fleet.apply(_bal("ag_new", "1", clock.now())) is not None
    fleet.remove_agent("ag_new")
    assert "ag_new" not in fleet.agents


def test_history_reloads_from_store_after_restart(tmp_path) -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    for i in range(10):
        fleet.apply(_bal("ag_0", str(i), float(i)))
    with Store(tmp_path / "s.db") as store:
        store.put_samples(fleet.drain_samples())
    fresh = _fleet(clock)
    with Store(tmp_path / "s.db") as store:
        fresh.load_history(store.load_recent(fresh.history_len))
    assert list(fresh.history("ag_0", "balance")) == list(fleet.history("ag_0", "balance"))


def test_a_figure_not_polled_yet_is_late_for_the_alert_rules_only_when_its_first_poll_is() -> None:
    """A daemon's first polls are spread over each interval: before this, every agent of a
    daemon just started read "not fetched yet" and every ``data_stale`` went pending. For money
    a figure never fetched stays stale: nothing is acted on before its figures arrive."""
    clock = FakeClock(1000.0)
    fleet = _fleet(clock, n=2)
    assert fleet.agent_staleness("ag_0").stale  # what a money action asks
    assert not fleet.agent_staleness("ag_0", first_poll_grace=True).stale
    fleet.apply(_bal("ag_0", "5", clock.now()))
    clock.advance(6.5)  # the casino's first poll (every 2 s) is now 3 intervals late
    late = fleet.agent_staleness("ag_0", first_poll_grace=True)
    assert late.stale and late.reason == "casino: not fetched yet"
    # A first poll that failed is stale at once, whatever the grace.
    clock2 = FakeClock(1000.0)
    fresh = _fleet(clock2, n=1)
    fresh.apply(PollFailure("ag_0", DataType.POSITIONS, TimeoutError("t"), clock2.now(), 1, 5))
    failing = fresh.agent_staleness("ag_0", first_poll_grace=True)
    assert failing.stale and failing.error is not None and "positions" in failing.reason
    # An agent added later gets its own grace from when it was added.
    clock.advance(100)
    fleet.add_agent(AgentInfo("ag_new", "New"))
    assert not fleet.agent_staleness("ag_new", first_poll_grace=True).stale
