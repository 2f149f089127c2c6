"""The Fleet tab's shared cells: rows with the same status share one cell (an outage makes
thousands of agents ``stale: casino: no update for 6.1s`` at once), and sharing changes nothing
that is shown: the text, its style, untrusted error text as visible escapes."""

from __future__ import annotations

from typing import cast

from pf_tui.tui.dialogs.money.flow import MoneyFlow
from pf_tui.tui.format import Tones
from pf_tui.tui.tabs.fleet import FleetTab
from pf_tui.views.model import AgentView


def _agent(n: int, **kw: object) -> AgentView:
    return AgentView(agent_id=f"ag_{n}", label=f"agent-{n}", updated_at=1.0, **kw)  # type: ignore[arg-type]


def test_agents_with_the_same_status_share_one_cell_and_others_get_their_own() -> None:
    tab = FleetTab(cast("MoneyFlow", None))
    reason = "casino: no update for 6.1s"
    one = tab.status_cell(_agent(1, stale=True, stale_reason=reason))
    two = tab.status_cell(_agent(2, stale=True, stale_reason=reason))
    assert one is two
    assert one.plain == f"stale: {reason}"
    assert one.style == Tones.plain().warn

    later = tab.status_cell(_agent(1, stale=True, stale_reason="casino: no update for 7.1s"))
    assert later is not one and later.plain.endswith("7.1s")
    fresh = tab.status_cell(_agent(3, stale_reason=reason))  # not stale: its reason is not shown
    assert fresh.plain == "ok" and fresh.style == Tones.plain().good
    failing = tab.status_cell(_agent(4, stale=True, stale_reason=reason, last_error="HTTP 500"))
    assert failing.plain == f"error: {reason}" and failing.style == Tones.plain().bad


def test_a_shared_status_cell_shows_untrusted_error_text_as_escapes() -> None:
    tab = FleetTab(cast("MoneyFlow", None))
    reason = "casino: HTTP 500: \x1b[2J[bold]owned[/] \u202e"
    cell = tab.status_cell(_agent(1, stale=True, stale_reason=reason, last_error="x"))
    assert cell.plain == "error: casino: HTTP 500: \\x1b[2J[bold]owned[/] \\u202e"
    assert tab.status_cell(_agent(2, stale=True, stale_reason=reason, last_error="y")) is cell
