"""Alerts tab: the alert log, newest first, filterable; acknowledge and silence keys."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.binding import Binding

from pf_tui.tui import format as fmt
from pf_tui.tui.alert_log import AlertEntry
from pf_tui.tui.sanitize import safe
from pf_tui.tui.views.frame import Frame
from pf_tui.tui.views.table_view import TableView
from pf_tui.tui.widgets.keyed_table import Column, Row

COLUMNS = (
    Column("time", "Time"),
    Column("severity", "Severity"),
    Column("agent", "Agent", width=22),
    Column("rule", "Rule"),
    Column("value", "Value", width=50),
    Column("state", "State"),
    Column("duration", "For", numeric=True),
)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class AlertsView(TableView):
    """The log of staleness and API-error events (and, later, rule alerts)."""

    COLUMNS = COLUMNS
    SORT = "time"
    REVERSE = True
    NOUN = "alerts"
    BINDINGS = [
        Binding("a", "acknowledge", "Ack", id="alerts.ack", tooltip="Acknowledge the alert under the cursor"),
        Binding("m", "silence", "Silence 1h", id="alerts.silence", tooltip="Silence this agent and rule for an hour"),
    ]

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
        state = entry.state + (" (ack)" if entry.acknowledged else "")
        state_style = tones.bad if entry.state == "firing" and not entry.acknowledged else tones.muted
        duration = entry.duration(frame.now)
        cells = (
            Text(fmt.clock_time(entry.started_at, frame.now), end=""),
            Text(entry.severity, style=sev_style, end=""),
            safe(entry.agent_label),
            Text(entry.rule, end=""),
            safe(entry.value, limit=300),
            Text(state, style=state_style, end=""),
            Text(_duration(duration), justify="right", end=""),
        )
        sort = (entry.started_at, entry.severity, entry.agent_label.lower(), entry.rule, entry.value,
                state, duration)
        search = f"{entry.agent_label} {entry.agent_id} {entry.rule} {entry.severity} {entry.state} {entry.value}".lower()
        return Row(cells, sort, search)

    def action_acknowledge(self) -> None:
        """Acknowledge the alert under the cursor."""
        self.app.run_action("acknowledge_alert")

    def action_silence(self) -> None:
        """Silence the (agent, rule) of the alert under the cursor."""
        self.app.run_action("silence_alert")
