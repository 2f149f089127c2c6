"""Alerts tab: the alert log, newest first, filterable; acknowledge, silence, and Enter to go to
what an alert is about (the app's ``open_alert``: the escrow or stream row, else the agent).

It shows the TUI's own staleness/API-error events and the daemon's rule alerts from the shared
store side by side, and on its title line whether the daemon is alive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from pf_tui.tui.format import Tones
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.columns import Column, Cut
from pf_tui.tui.widgets.keyed_table import KeyedTable, Row
from pf_tui.views import times
from pf_tui.views.alert_log import AlertEntry, AlertLog
from pf_tui.views.daemon_alerts import DaemonStatus

COLUMNS = (
    Column("time", "Time"),
    Column("severity", "Severity", priority=2),
    Column("agent", "Agent", priority=1, cut=Cut.MIDDLE, min_width=12),
    Column("rule", "Rule", cut=Cut.END, min_width=10),
    Column("value", "Value", priority=1, cut=Cut.END, min_width=10),
    Column("state", "State"),
    Column("duration", "For", numeric=True, priority=3),
)
"""When, which rule and whether it is still firing never go; the value (often an error body)
takes whatever width is left, cut with a visible mark."""


class AlertsTab(TableTab):
    """The log of staleness and API-error events (and, later, rule alerts)."""

    COLUMNS = COLUMNS
    SORT = "time"
    REVERSE = True
    NOUN = "alerts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a",
            "acknowledge",
            "Ack",
            id="alerts.ack",
            tooltip="Acknowledge the alert under the cursor",
        ),
        Binding(
            "m",
            "silence",
            "Silence 1h",
            id="alerts.silence",
            tooltip="Silence this agent and rule for an hour",
        ),
        Binding(
            "enter",
            "open",
            "Go to",
            id="alerts.open",
            tooltip="Go to the agent, escrow or stream of this alert",
        ),
    ]

    def show(self, frame: Frame) -> None:
        """Feed this tick's rows; a cursor on the newest row stays on the newest row.

        The table keeps the cursor on its row by key, and Textual scrolls the cursor into view:
        at 80x24, alerts that arrived above a cursor left on the newest row scrolled out of
        sight. Unless the operator moved the cursor off the top (newest first, the default
        sort), it follows the newest row, so new alerts stay on screen.
        """
        table = self.table
        follow = table.cursor_row <= 0 and table.sort_column == self.SORT and table.reverse
        super().show(frame)
        if follow and table.row_count and table.cursor_row != 0:
            table.move_cursor(row=0, animate=False)

    def rows(self, frame: Frame) -> Mapping[str, Row]:
        """Every entry (of the selected agent, when drilled in)."""
        out: dict[str, Row] = {}
        for entry in frame.alerts.entries:
            if frame.selected is not None and entry.agent_id != frame.selected:
                continue
            out[entry.key] = self._build(entry, frame)
        return out

    @staticmethod
    def _build(entry: AlertEntry, frame: Frame) -> Row:
        tones = frame.tones
        sev_style = {"critical": tones.bad, "warning": tones.warn}.get(entry.severity, tones.muted)
        muted = entry.silenced_until is not None and entry.silenced_until > frame.now
        state = entry.state + (" (muted)" if muted else " (ack)" if entry.acknowledged else "")
        state_style = (
            tones.bad if entry.state == "firing" and not entry.acknowledged else tones.muted
        )
        duration = entry.duration(frame.now)
        cells = (
            Text(times.clock_time(entry.started_at, frame.now), end=""),
            Text(entry.severity, style=sev_style, end=""),
            safe(entry.agent_label),
            Text(entry.rule, end=""),
            safe(entry.value, limit=300),
            Text(state, style=state_style, end=""),
            Text(times.duration(duration), justify="right", end=""),
        )
        sort = (
            entry.started_at,
            entry.severity,
            entry.agent_label.lower(),
            entry.rule,
            entry.value,
            state,
            duration,
        )
        search = (
            f"{entry.agent_label} {entry.agent_id} {entry.rule} {entry.severity} {entry.state}"
            f" {entry.value} {entry.source}"
        ).lower()
        return Row(cells, sort, search)

    def title_text(self, frame: Frame) -> Text:
        """``3 alerts (filter: x)  agent: X  |  daemon: alive (pid 12, 3s ago)``, then the dead
        letters by receiver and reason when there are any."""
        text = super().title_text(frame)
        text.append("  |  ")
        text.append_text(daemon_text(frame.alerts, frame.now, frame.tones))
        dead = dead_letter_text(frame.alerts, frame.tones)
        if dead.plain:
            text.append("  |  ")
            text.append_text(dead)
        return text

    async def action_acknowledge(self) -> None:
        """Acknowledge the alert under the cursor."""
        await self.app.run_action("acknowledge_alert")

    async def action_open(self) -> None:
        """Go to what the alert under the cursor is about."""
        await self.app.run_action("open_alert")

    async def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        """Enter (or a click) on a row goes to what it is about."""
        event.stop()
        await self.app.run_action("open_alert")

    async def action_silence(self) -> None:
        """Silence the (agent, rule) of the alert under the cursor."""
        await self.app.run_action("silence_alert")


def dead_letter_text(alerts: AlertLog, tones: Tones) -> Text:
    """``dead letters: telegram http_400 x3, webhook http_404 x1`` in the bad tone; empty when none.

    A dead letter is an alert a receiver refused for good: the operator was *not* paged for it,
    which is worth a line on the tab that lists the alerts.
    """
    if not alerts.dead_letters:
        return Text("", end="")
    parts = [f"{receiver} {reason} x{count}" for receiver, reason, count in alerts.dead_letters]
    return Text("dead letters: " + ", ".join(parts), style=tones.bad, end="")


def daemon_text(alerts: AlertLog, now: float, tones: Tones) -> Text:
    """``daemon: alive (pid N, 12s ago)`` in the good tone, stale or absent in a warning one."""
    if not alerts.daemon_known:
        return Text("daemon: ...", style=tones.muted, end="")
    if not alerts.store_reachable:
        return Text("daemon: store unreadable", style=tones.bad, end="")
    status = DaemonStatus(alerts.heartbeat, now)
    style = {"alive": tones.good, "stale": tones.bad}.get(status.state, tones.warn)
    return Text(status.text(), style=style, end="")
