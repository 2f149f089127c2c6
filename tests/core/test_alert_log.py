"""The console's own alert log: events open and resolve from each tick's view, the log stays
bounded, and the firing count follows every change.

At 5,000 agents one tick can open hundreds of events (a service outage makes every agent
stale), so the log trims once a tick, not once an event, and the Alerts tab's count is
recounted only after a change: both must still say exactly what the entries say.
"""

from __future__ import annotations

from pf_tui.views.alert_log import MAX_ENTRIES, AlertLog
from pf_tui.views.model import AgentView, FleetView


def _view(at: float, stale: set[str], agents: int) -> FleetView:
    rows = tuple(
        AgentView(
            agent_id=f"ag_{i:04d}",
            label=f"A{i}",
            stale=f"ag_{i:04d}" in stale,
            stale_reason="casino: no update for 7s" if f"ag_{i:04d}" in stale else "",
        )
        for i in range(agents)
    )
    return FleetView(at=at, agents=rows, totals=AgentView(agent_id="*", label="fleet"))


def _firing(log: AlertLog) -> int:
    return sum(1 for e in log.entries if e.state == "firing" and not e.acknowledged)


def test_an_outage_tick_opens_every_event_and_the_log_keeps_the_newest_resolved() -> None:
    log = AlertLog()
    n = MAX_ENTRIES + 500
    everyone = {f"ag_{i:04d}" for i in range(n)}
    log.observe(_view(1.0, everyone, n))
    # Every event of the outage is open: none is dropped to keep the log short.
    assert log.firing_count() == n == _firing(log)
    log.observe(_view(2.0, set(), n))  # the service is back: everything resolves...
    assert log.firing_count() == 0 == _firing(log)
    # ...and at the tick's end the oldest resolved events go.
    assert len(log.entries) == MAX_ENTRIES
    assert min(e.agent_id for e in log.entries) == f"ag_{n - MAX_ENTRIES:04d}"
    version = log.version
    log.observe(_view(3.0, {"ag_0000"}, n))  # ag_0000 again: a new event, one more old one goes
    assert log.version > version
    assert len(log.entries) == MAX_ENTRIES
    (firing,) = [e for e in log.entries if e.state == "firing"]
    assert firing.agent_id == "ag_0000" and firing.started_at == 3.0
    resolved = [e.agent_id for e in log.entries if e.state == "resolved"]
    assert min(resolved) == f"ag_{n - MAX_ENTRIES + 1:04d}"
    assert log.firing_count() == 1 == _firing(log)


def test_the_firing_count_follows_acknowledge_and_resolve() -> None:
    log = AlertLog()
    log.observe(_view(1.0, {"ag_0000", "ag_0001"}, 3))
    assert log.firing_count() == 2
    first = next(e for e in log.entries if e.agent_id == "ag_0000")
    assert log.acknowledge(first.key)
    assert log.firing_count() == 1 == _firing(log)
    log.observe(_view(2.0, {"ag_0000"}, 3))  # ag_0001 recovers
    assert log.firing_count() == 0 == _firing(log)
    log.observe(_view(3.0, {"ag_0000", "ag_0002"}, 3))
    assert log.firing_count() == 1 == _firing(log)


def test_the_changed_agents_are_found_by_the_feeds_index_in_fleet_order() -> None:
    """At 5,000 agents the log looks only at a tick's changed agents, through the feed's index
    of places (not a walk of the fleet); with the index or without, the same events open, in
    the fleet's order."""
    base = _view(1.0, {"ag_0003", "ag_0001", "ag_0004"}, 5)
    changed = frozenset({"ag_0004", "ag_0001", "ag_0003"})
    index = {a.agent_id: i for i, a in enumerate(base.agents)}
    with_index = FleetView(
        at=1.0, agents=base.agents, totals=base.totals, changed_agents=changed, index=index
    )
    without = FleetView(at=1.0, agents=base.agents, totals=base.totals, changed_agents=changed)
    assert [a.agent_id for a in with_index.changed_views() or ()] == [
        "ag_0001",
        "ag_0003",
        "ag_0004",
    ]
    assert with_index.changed_views() == without.changed_views()
    stale_index = {**index, "ag_0009": 9}  # from another fleet: not trusted, looked through
    other = FleetView(
        at=1.0, agents=base.agents, totals=base.totals, changed_agents=changed, index=stale_index
    )
    assert other.changed_views() == without.changed_views()
    logs = [AlertLog(), AlertLog()]
    logs[0].observe(with_index)
    logs[1].observe(without)
    assert [(e.key, e.agent_id) for e in logs[0].entries] == [
        (e.key, e.agent_id) for e in logs[1].entries
    ]
    assert sorted(e.agent_id for e in logs[0].entries) == ["ag_0001", "ag_0003", "ag_0004"]
