"""The error rate counts what an operator would call failing: per service, over a recent window.

During a 100% casino outage the Fleet tab showed ``Err % 0.5%`` and the rule never fired: the
rate was the share of *all* calls (trading reads kept succeeding, and the backed-off casino made
few calls). Now each service is rated on its own over the last five minutes and the agent's
figure is its worst service; the Fleet tab, ``/metrics`` and the rule read that one figure.
"""

from __future__ import annotations

from decimal import Decimal

from pf_tui.clock import FakeClock
from pf_tui.core.alerts.engine import AlertEngine
from pf_tui.core.alerts.facts import FactsSource
from pf_tui.core.alerts.rules import default_rule_specs
from pf_tui.core.fleet.state import AgentInfo, FleetState
from pf_tui.core.polling.callstats import WINDOW_S, CallStats

AGENT = "ag_000000000001"
CASINO = "casino GET /stats/me"
TRADING = "trading GET /trade/positions"


def outage(clock: FakeClock, stats: CallStats, seconds: int) -> None:
    """Trading answers every second; the casino fails, backing off 2, 4, 8 ... 120 s."""
    next_casino, backoff = 0.0, 2.0
    for _ in range(seconds):
        stats.record(AGENT, TRADING, 0.01, True)
        stats.record(AGENT, "trading GET /trade/pnl-history", 0.01, True)
        if clock.monotonic() >= next_casino:
            stats.record(AGENT, CASINO, 0.01, False)
            next_casino = clock.monotonic() + backoff
            backoff = min(120.0, backoff * 2)
        clock.advance(1)


def test_a_full_casino_outage_is_100_percent_and_fires_the_rule() -> None:
    """Broken: the share of all calls read about 0.5% and the error_rate rule never fired."""
    clock = FakeClock()
    stats = CallStats(clock)
    outage(clock, stats, 900)  # 15 minutes: the casino is polled every 120 s by now
    rate = stats.error_rate(AGENT)
    assert (rate.service, rate.pct) == ("casino", 100.0)
    # The share of all calls, the old figure, is tiny: that is what hid the outage.
    summary = stats.agent(AGENT)
    assert summary.errors / summary.requests < 0.02

    fleet = FleetState([AgentInfo(AGENT, "alpha")], clock=clock, calls=stats)
    assert fleet.error_rate(AGENT) == 1.0  # the Fleet tab's Err % column
    facts = FactsSource(fleet, stats)
    agent_facts = facts.agent(AGENT, clock.now())
    assert agent_facts.metrics["error_rate_pct"] == Decimal(100)
    assert facts.fleet_facts([agent_facts]).metrics["error_rate_pct"] == Decimal(100)
    rules = [r for r in default_rule_specs() if r.name in ("error_rate", "fleet_error_rate")]
    engine = AlertEngine(rules)
    fired = engine.evaluate(
        [agent_facts], facts.fleet_facts([agent_facts]), clock.now(), assume_for=True
    )
    assert sorted(e.rule for e in fired) == ["error_rate", "fleet_error_rate"]


def test_a_backed_off_service_stays_failing_and_recovery_clears_it() -> None:
    """Broken: a source backed off for longer than the window would have no calls, and read as
    no error at all while it was still down."""
    clock = FakeClock()
    stats = CallStats(clock)
    stats.record(AGENT, CASINO, 0.01, False)
    clock.advance(WINDOW_S * 2)  # backed off, nothing called since
    assert stats.error_rate(AGENT).pct == 100.0
    stats.record(AGENT, CASINO, 0.01, False)  # tried again, still down
    clock.advance(60)
    stats.record(AGENT, CASINO, 0.01, True)  # it answers again
    assert stats.error_rate(AGENT).pct == 50.0  # one of the two calls in the window failed
    clock.advance(WINDOW_S)
    assert stats.error_rate(AGENT).pct == 0.0  # the failure left the window; the success counts


def test_the_fleet_rate_is_per_service_across_agents() -> None:
    clock = FakeClock()
    stats = CallStats(clock)
    for n in range(10):
        agent = f"ag_{n:012d}"
        for _ in range(5):
            stats.record(agent, TRADING, 0.01, True)
        stats.record(agent, CASINO, 0.01, n < 3)  # seven of ten agents' casino calls fail
    fleet = stats.fleet_error_rate()
    assert fleet.service == "casino" and fleet.rate == 0.7


def test_a_shorter_window_forgets_an_outage_sooner() -> None:
    """``[polling] error_window`` (the demo's one minute): failures leave the rate once they are
    older than the window, so the rule can resolve a minute after an outage, not five."""
    clock = FakeClock()
    short, default = CallStats(clock, window_s=60), CallStats(clock)
    for stats in (short, default):
        stats.record(AGENT, CASINO, 0.01, False)
    clock.advance(1)
    for _ in range(70):  # a call a second after the failure, all fine
        for stats in (short, default):
            stats.record(AGENT, CASINO, 0.01, True)
        clock.advance(1)
    assert short.error_rate(AGENT).rate == 0.0
    assert default.error_rate(AGENT).rate == 1 / 71
