"""Where Enter on an Alerts-tab row goes, and which action it puts one key away. No Textual here.

An alert about a stream or an escrow (its ``stream`` / ``escrow`` labels) goes to that row of the
Escrows tab; any other alert about an agent goes to the agent, drilled into, on the Fleet tab. On
an escrow row the suggested actions are the ones the row offers: close (what a spend-rate or a
paused-stream-timeout alert asks for: a live pf-tui stream, or an agent's streaming escrow), then
dispute an escrow that still holds money. They stay behind the usual preview and typed
confirmation; the dispute's reason is filled in from the alert, editable.
"""

from __future__ import annotations

from dataclasses import dataclass

from pf_tui.views.alert_log import AlertEntry
from pf_tui.views.model import EscrowAction, EscrowView, FleetView

FINAL_STREAM_STATES = frozenset({"closed", "disputed"})


@dataclass(frozen=True, slots=True)
class Jump:
    """Where to go for one alert, and what to offer there."""

    tab: str
    """``escrows`` or ``fleet``."""
    key: str
    """The row's key on that tab (``<agent>/<escrow or stream>``, or the agent id)."""
    agent_id: str
    escrow: EscrowView | None = None
    """The escrow or stream row (``None``: the agent's row)."""
    actions: tuple[EscrowAction, ...] = ()
    """The suggested money actions, first the one the alert asks for."""
    reason: str = ""
    """A dispute's reason, pre-filled (the operator may edit it)."""

    @property
    def about(self) -> str:
        """``stream st_1``, ``escrow esc_2`` or the agent id: what the jump landed on."""
        return self.agent_id if self.escrow is None else row_about(self.escrow)


def row_about(row: EscrowView) -> str:
    """``stream st_1`` for a live pf-tui stream, else ``escrow esc_2``."""
    if row.stream_id and row.stream_state not in FINAL_STREAM_STATES:
        return f"stream {row.stream_id}"
    return f"escrow {row.escrow_id}"


def jump_for(entry: AlertEntry, view: FleetView) -> Jump | str:
    """The jump for ``entry``, or why there is nowhere to go."""
    if entry.stream_id or entry.escrow_id:
        row = _row(entry, view)
        if row is not None:
            reason = f"alert {entry.rule} on {row_about(row)}"
            return Jump("escrows", row.key, row.agent_id, row, suggested(row), reason)
    agent = entry.agent_id
    if agent.startswith("service:"):
        return f"{entry.rule} is about the {agent.removeprefix('service:')} service, not an agent"
    if not agent or view.agent(agent) is None:
        return f"{entry.rule} is about the whole fleet, not one agent"
    return Jump("fleet", agent, agent)


def suggested(row: EscrowView) -> tuple[EscrowAction, ...]:
    """What the money keys can do to ``row`` about an alert, as the row offers it (whoever
    created the escrow): close it (a live pf-tui stream, or an agent's streaming escrow as its
    creator), then dispute it while it holds money. None on a finished row."""
    if row.finished:
        return ()
    offered = {offer.action for offer in row.offers}
    return tuple(a for a in (EscrowAction.CLOSE, EscrowAction.DISPUTE) if a in offered)


def _row(entry: AlertEntry, view: FleetView) -> EscrowView | None:
    """The active row of the alert's stream, else of its escrow (the agent's first)."""
    rows = view.escrows
    if entry.stream_id:
        for row in rows:
            if row.stream_id == entry.stream_id:
                return row
    if entry.escrow_id:
        matches = [row for row in rows if row.escrow_id == entry.escrow_id]
        for row in matches:
            if row.agent_id == entry.agent_id:
                return row
        if matches:
            return matches[0]
    return None
