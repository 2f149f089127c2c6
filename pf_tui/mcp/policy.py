"""Who may move money through MCP, and how much: ``[mcp]`` applied to one previewed action.

Writes are off unless ``[mcp] write_agents`` names the agent acting; then one call may move at
most ``max_call_usd`` and all MCP calls together at most ``max_hour_usd`` in any 60 minutes. The
hour is counted from the money journal (rows whose operator is an MCP client's, ``mcp:<name>``),
so a restarted server, or a second one on the same store, sees what was already spent; the count
and the journaling of the new intent share one ``BEGIN IMMEDIATE`` transaction, so two servers
cannot both spend the hour's last dollar (:meth:`pf_tui.mcp.tools.McpTools.hour_guard`). These
come on top of the money core's own refusals (read-only, ``[ui] max_action_usd``, the brake, one
action at a time), which every caller meets.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal, InvalidOperation

from pf_tui.config import McpConfig
from pf_tui.text import one_line
from pf_tui.usd import format_usd6

OPERATOR_PREFIX = "mcp:"
"""The journal's operator of every MCP call: ``mcp:`` and the client's name."""
HOUR_S = 3600.0
UNNAMED_CLIENT = "unnamed-client"
"""The operator's name when the client sent no client info."""


class McpRefusal(Exception):
    """A write refused by ``[mcp]`` before anything was previewed or sent."""


def operator_for(client_name: str | None) -> str:
    """The journal's operator for an MCP client: ``mcp:<name>``, the name made one safe line."""
    name = one_line((client_name or "").strip(), limit=64) or UNNAMED_CLIENT
    return OPERATOR_PREFIX + name


def moved_since(conn: sqlite3.Connection, since: float) -> Decimal:
    """Money the journal's MCP requests moved since ``since``: every request an MCP client
    journaled (sent, settled or unknown) but those the server refused or that were skipped."""
    found = conn.execute(
        "SELECT amount FROM actions WHERE operator LIKE ? AND created_at >= ?"
        " AND amount IS NOT NULL AND state NOT IN ('failed', 'skipped')",
        (OPERATOR_PREFIX + "%", since),
    ).fetchall()
    total = Decimal(0)
    for (amount,) in found:
        try:
            total += Decimal(str(amount))
        except InvalidOperation:
            continue  # the journal writes str(Decimal); anything else was not written by pf-tui
    return total


class WritePolicy:
    """``[mcp]``'s rules for the write tools (no I/O but the journal read it is handed)."""

    def __init__(self, config: McpConfig) -> None:
        self.config = config

    @property
    def enabled(self) -> bool:
        """Whether any agent may be acted for at all."""
        return bool(self.config.write_agents)

    def allows(self, agent_id: str) -> bool:
        """Whether write tools may act for ``agent_id``."""
        return agent_id in self.config.write_agents

    def check_agent(self, agent_id: str) -> None:
        """Refuse unless ``[mcp] write_agents`` names ``agent_id``."""
        if not self.enabled:
            raise McpRefusal(
                "refused: writes are off for MCP clients ([mcp] write_agents is empty); "
                "nothing was sent"
            )
        if not self.allows(agent_id):
            raise McpRefusal(
                f"refused: agent {one_line(agent_id, limit=64)} is not in [mcp] write_agents; "
                "nothing was sent"
            )

    def check_amount(self, amount: Decimal, used_hour: Decimal) -> None:
        """Refuse ``amount`` over the per-call limit, or over what is left of the hour's."""
        limit = self.config.max_call_usd
        if amount > limit:
            raise McpRefusal(
                f"refused: {format_usd6(amount)} is over [mcp] max_call_usd "
                f"({format_usd6(limit)}); nothing was sent"
            )
        hourly = self.config.max_hour_usd
        if amount > 0 and used_hour + amount > hourly:
            raise McpRefusal(
                f"refused: {format_usd6(amount)} would take MCP calls in the last 60 "
                f"minutes to {format_usd6(used_hour + amount)}, over [mcp] max_hour_usd "
                f"({format_usd6(hourly)}; {format_usd6(used_hour)} used); nothing was sent"
            )
