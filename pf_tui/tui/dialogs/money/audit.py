"""The audit view (a screen on ``A``) and the one-line money status above the status bar.

The audit view lists every journaled request, newest first: time, operator (``$USER``, and the
SSH client when remote), kind, amount, idempotency key, result and the server's reference. It is
read-only: the journal is append-only and nothing here writes to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from pf_tui.tui.format import Tones
from pf_tui.tui.sanitize import safe
from pf_tui.tui.widgets.columns import Column, Cut
from pf_tui.tui.widgets.keyed_table import KeyedTable, Row
from pf_tui.usd import format_usd6
from pf_tui.views import times
from pf_tui.views.money_desk import AuditRow

COLUMNS = (
    Column("time", "Time (UTC)"),
    Column("operator", "Operator", priority=3, cut=Cut.END, min_width=6),
    Column("kind", "Kind"),
    Column("agent", "Agent", priority=1, cut=Cut.MIDDLE, min_width=12),
    Column("amount", "Amount", numeric=True),
    Column("key", "Key", priority=2, cut=Cut.MIDDLE, min_width=12),
    Column("result", "Result"),
    Column("ref", "Server ref", priority=2, cut=Cut.MIDDLE, min_width=10),
)
"""When, what, how much and how it ended never go; ids (agent, idempotency key, server
reference) lose their middle, never silently their end. The highlighted row's whole key and
error are on the line below the table."""
SHORT_KIND = {
    "open_stream": "open",
    "release_partial": "release",
    "close_stream": "close",
    "dispute_escrow": "dispute",
    "mark_complete": "complete",
    "claim_faucet": "faucet",
}


def result_text(row: AuditRow, tones: Tones) -> Text:
    """The request's state, coloured: done good, failed bad, anything unsettled a warning."""
    style = {"done": tones.good, "failed": tones.bad, "skipped": tones.muted}.get(
        row.state, tones.warn
    )
    return Text(row.state, style=style, end="")


class AuditScreen(ModalScreen[None]):
    """Every journaled money request; escape, q or A closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,A", "close_audit", "Close", id="audit.close", tooltip="Close the audit view"
        ),
    ]

    def __init__(self, rows: Sequence[AuditRow], tones: Tones) -> None:
        super().__init__()
        self.rows = list(rows)
        self.tones = tones

    def compose(self) -> ComposeResult:
        """A titled box around the table and the selected row's detail."""
        with Vertical(id="audit-box") as box:
            box.border_title = f"Audit: {len(self.rows)} journaled requests (read-only)"
            box.border_subtitle = "esc to close"
            yield KeyedTable(COLUMNS, sort_column="time", reverse=True, id="audit-table")
            yield Static("", id="audit-detail", classes="hint")

    def on_mount(self) -> None:
        """Fill the table once: the journal does not change while the view is open."""
        table = self.query_one(KeyedTable)
        count = len(self.rows)
        table.apply({row.key: self._row(row, count - index) for index, row in enumerate(self.rows)})
        if not self.rows:
            self.query_one("#audit-detail", Static).update(
                Text("No money action has been journaled yet.")
            )
        table.focus()

    def _row(self, row: AuditRow, order: int) -> Row:
        """One journaled request; ``order`` keeps the journal's newest-first order in a sort by
        time (requests of one action share their second)."""
        kind = (
            f"{SHORT_KIND.get(row.intent_kind, row.intent_kind)}/{row.op}"
            if row.intent_kind
            else row.op
        )
        amount = format_usd6(row.amount) if row.amount is not None else "-"
        cells = (
            Text(times.short_stamp(row.at), end=""),
            safe(row.operator or "-"),
            safe(kind),
            safe(row.agent_id),
            Text(amount, justify="right", end=""),
            safe(row.key),
            result_text(row, self.tones),
            safe(row.server_ref or "-"),
        )
        sort = (
            order,
            row.operator,
            kind,
            row.agent_id,
            row.amount,
            row.key,
            row.state,
            row.server_ref,
        )
        search = f"{row.operator} {kind} {row.agent_id} {row.key} {row.state}".lower()
        return Row(cells, sort, search)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The whole key and any error of the highlighted request."""
        key = event.row_key.value
        for row in self.rows:
            if row.key == key:
                detail = Text(f"{times.date(row.at)}  key ", end="")
                detail.append_text(safe(row.key))
                detail.append("  operator ")
                detail.append_text(safe(row.operator or "-"))
                if row.error:
                    detail.append("   error: ")
                    detail.append_text(safe(row.error, limit=200))
                self.query_one("#audit-detail", Static).update(detail)
                return

    def action_close_audit(self) -> None:
        """Close the view."""
        self.dismiss(None)


class MoneyStatus(Static):
    """One line shown only while a money action is in flight or its outcome is unknown."""

    _shown: tuple[object, ...] | None = None

    def show(self, running: str, unknown: int, last_unknown: str, tones: Tones) -> None:
        """Redraw (hidden when there is nothing to say); nothing when nothing changed (this
        runs after every poll tick, and each redraw of a shown line costs a screen layout)."""
        key = (running, unknown, last_unknown, tones)
        if key == self._shown:
            return
        self._shown = key
        line = Text(end="", no_wrap=True, overflow="ellipsis")
        if running:
            line.append("sending: ", style=tones.muted)
            line.append_text(safe(running))
            line.append("  ")
        if unknown:
            line.append(f"{unknown} money action(s) unknown", style=tones.warn)
            if last_unknown:
                line.append(" (")
                line.append_text(safe(last_unknown))
                line.append(")")
            line.append(": reconciled on the next poll; A shows the audit", style=tones.muted)
        self.display = bool(running or unknown)
        self.update(line, layout=False)  # one line, always: its size never changes
