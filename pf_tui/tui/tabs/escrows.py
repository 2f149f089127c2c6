"""Escrows tab: active escrows and streams of all agents, with what each timeout will do.

It owns the money keys that act on an escrow (open, release, pause, close, dispute, complete)
and the faucet: each hands the escrow under the cursor to the app's
:class:`~pf_tui.tui.dialogs.money.flow.MoneyFlow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType

from pf_tui.tui import format as fmt
from pf_tui.tui.dialogs.money.flow import MoneyFlow
from pf_tui.tui.keymap import ESCROW_BINDINGS, FAUCET_BINDING
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.columns import Column, Cut
from pf_tui.tui.widgets.keyed_table import Row
from pf_tui.tui.widgets.sparkline import progress_bar
from pf_tui.views import times
from pf_tui.views.model import EscrowView

COLUMNS = (
    Column("agent", "Agent", cut=Cut.MIDDLE, min_width=16),
    Column("payee", "Payee", priority=1, cut=Cut.MIDDLE, min_width=16),
    Column("memo", "Memo", priority=3, cut=Cut.END, min_width=12),
    Column("rate", "Rate", priority=3),
    Column("budget", "Budget", numeric=True, priority=3),
    Column("released", "Paid", numeric=True, priority=3),
    Column("remaining", "Remaining", priority=2),
    Column("state", "State"),
    Column("timeout", "At timeout"),
    Column("dialect", "Dialect", priority=4),
)
"""What the money will do (state, at timeout) and whose it is never go; names lose their middle,
so a payee id reads ``ag_aa19…0c9e``."""
BAR = 4


def timeout_text(escrow: EscrowView, now: float) -> str:
    """What the timeout will do and when, under the header "At timeout": ``refunds you 14:00`` /
    ``pays payee Mar 03 14:00``. Short enough that another day's date and time fit 120 columns
    (production timeouts are a day or more away, so the date is the usual case)."""
    when = times.clock_time(escrow.next_at, now)
    if escrow.next_at is None:
        return "-"
    if escrow.timeout_pays_payee:
        return f"pays payee {when}"
    return f"refunds you {when}"


class EscrowsTab(TableTab):
    """Active (non-terminal) escrows; memos and payees are untrusted text."""

    COLUMNS = COLUMNS
    SORT = "timeout"
    NOUN = "active escrows"
    BINDINGS: ClassVar[list[BindingType]] = [*ESCROW_BINDINGS, FAUCET_BINDING]

    def __init__(self, money_flow: MoneyFlow, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.money_flow = money_flow
        self._cache: dict[str, tuple[EscrowView, str, Row]] = {}
        """Per shown row: the escrow it was built from, its timeout text, the row."""

    def rows(self, frame: Frame) -> Mapping[str, Row]:
        """One row per escrow, rebuilt when it changed (or the day of its timeout display did)."""
        out: dict[str, Row] = {}
        cache: dict[str, tuple[EscrowView, str, Row]] = {}
        for escrow in frame.view.escrows:
            if frame.selected is not None and escrow.agent_id != frame.selected:
                continue
            timeout = timeout_text(escrow, frame.now)
            hit = self._cache.get(escrow.key)
            if hit is not None and hit[0] == escrow and hit[1] == timeout:
                row = hit[2]
            else:
                row = self._build(escrow, timeout, frame)
            cache[escrow.key] = (escrow, timeout, row)
            out[escrow.key] = row
        self._cache = cache
        return out

    @staticmethod
    def _build(escrow: EscrowView, timeout: str, frame: Frame) -> Row:
        tones = frame.tones
        remaining = Text(end="")
        remaining.append_text(fmt.usd(escrow.remaining, tones))
        if escrow.remaining is not None and escrow.amount > 0:
            remaining.append(" ")
            remaining.append_text(
                progress_bar(
                    escrow.remaining,
                    escrow.amount,
                    BAR,
                    ascii_only=frame.ascii_only,
                    style=tones.accent,
                )
            )
        state_style = tones.bad if escrow.state == "disputed" else ""
        timeout_style = tones.warn if not escrow.timeout_pays_payee else ""
        cells = (
            safe(escrow.agent_label),
            safe(escrow.payee),
            safe(escrow.memo, limit=80),
            safe(escrow.rate or "-"),
            fmt.right(fmt.usd(escrow.amount, tones)),
            fmt.right(fmt.usd(escrow.released, tones)),
            remaining,
            safe(escrow.state, style=state_style),
            Text(timeout, style=timeout_style, end=""),
            Text(escrow.dialect, end=""),
        )
        sort = (
            escrow.agent_label.lower(),
            escrow.payee,
            escrow.memo.lower(),
            escrow.rate,
            escrow.amount,
            escrow.released,
            escrow.remaining,
            escrow.state,
            escrow.next_at,
            escrow.dialect,
        )
        search = " ".join(
            (escrow.agent_label, escrow.agent_id, escrow.payee, escrow.memo, escrow.state)
        ).lower()
        return Row(cells, sort, search)

    # ---- the money keys --------------------------------------------------------------------

    def cursor_escrow(self) -> EscrowView | None:
        """The escrow of the row under the cursor, as last drawn."""
        key = self.table.cursor_key
        hit = self._cache.get(key) if key is not None else None
        return hit[0] if hit is not None else None

    def _cursor_agent(self) -> str | None:
        escrow = self.cursor_escrow()
        return escrow.agent_id if escrow is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Money keys only while this tab is on screen and not read-only; off while stale."""
        if action.startswith("money_"):
            return self.money_flow.key_state("escrows", self._cursor_agent())
        return True

    def action_money_open(self) -> None:
        """Open a stream from the row's agent (or the one drilled into)."""
        self.money_flow.open_stream(self._cursor_agent())

    def action_money_release(self) -> None:
        """Pay what the row's stream owes."""
        self.money_flow.release(self.cursor_escrow())

    def action_money_pause(self) -> None:
        """Pause or resume the row's stream."""
        self.money_flow.pause(self.cursor_escrow())

    def action_money_close(self) -> None:
        """Close the row's stream."""
        self.money_flow.close(self.cursor_escrow())

    def action_money_dispute(self) -> None:
        """Dispute the row's escrow."""
        self.money_flow.dispute(self.cursor_escrow())

    def action_money_complete(self) -> None:
        """As its payee, mark the row's escrow complete."""
        self.money_flow.complete(self.cursor_escrow())

    def action_money_faucet(self) -> None:
        """Claim the faucet for the row's agent."""
        self.money_flow.faucet(self._cursor_agent())
