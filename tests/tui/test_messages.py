"""A newer view replaces an older one still queued, and takes over the agents that changed in
it: the alert log watches changed agents only, and must miss none."""

from __future__ import annotations

from pf_tui.tui.messages import FleetUpdated
from pf_tui.views.model import AgentView, FleetView


def _message(changed: frozenset[str] | None) -> FleetUpdated:
    totals = AgentView(agent_id="*", label="fleet")
    return FleetUpdated(FleetView(at=1.0, agents=(), totals=totals, changed_agents=changed))


def test_the_newer_view_takes_over_the_older_ones_changed_agents() -> None:
    older, newer = _message(frozenset({"ag_1"})), _message(frozenset({"ag_2"}))
    assert older.can_replace(newer)
    assert newer.view.changed_agents == {"ag_1", "ag_2"}


def test_an_older_view_of_everything_makes_the_newer_one_say_everything() -> None:
    older, newer = _message(None), _message(frozenset({"ag_2"}))
    assert older.can_replace(newer)
    assert newer.view.changed_agents is None


def test_an_older_view_with_no_changes_leaves_the_newer_one_as_it_was() -> None:
    newer = _message(frozenset({"ag_2"}))
    view = newer.view
    assert _message(frozenset()).can_replace(newer)
    assert newer.view is view
