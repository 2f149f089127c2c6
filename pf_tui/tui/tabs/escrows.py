"""Escrows tab: every escrow a fleet agent is party to (whoever created it) and pf-tui's live
streams, with their merged state and what each timeout will do; ``F`` switches to the escrows
finished in the last 24 hours, with their outcome.

It owns the money keys that act on an escrow (open, release, pause, close, dispute, complete,
adopt) and the faucet: each hands the row under the cursor to the app's
:class:`~pf_tui.tui.dialogs.money.flow.MoneyFlow`, which acts as the row offers
(:attr:`EscrowView.offers`) or says in one line why it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType

from pf_tui.core.alerts.rules import DEFAULT_TIMEOUT_LEAD_S
from pf_tui.core.money.escrows import TimeoutMove
from pf_tui.tui import format as fmt
from pf_tui.tui.dialogs.money.flow import MoneyFlow
from pf_tui.tui.keymap import ESCROW_BINDINGS, FAUCET_BINDING, FINISHED_BINDING, effective_keys
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.columns import Column, Cut
from pf_tui.tui.widgets.keyed_table import Row
from pf_tui.tui.widgets.sparkline import progress_bar
from pf_tui.usd import format_usd, format_usd6
from pf_tui.views import times
from pf_tui.views.model import EscrowView, RowState

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


COUNTDOWN_S = DEFAULT_TIMEOUT_LEAD_S
"""A timeout this close (or any timeout of a paused stream) shows what it moves and a countdown,
from when the ``stream_timeout`` alert would warn by default."""


def countdown(seconds: float) -> str:
    """``29:12``, ``3:10:05``, ``2d4h``: time left, to the second under a day."""
    whole = max(0, int(seconds))
    if whole >= 86400:
        days, hours = divmod(whole // 3600, 24)
        return f"{days}d{hours}h" if hours else f"{days}d"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def timeout_text(escrow: EscrowView, now: float) -> str:
    """What the timeout will do and when, under the header "At timeout": ``refunds you 14:00``
    / ``pays payee Mar 03 14:00``. A paused stream's row, or one whose timeout is within
    :data:`COUNTDOWN_S`, says what moves (what the receiver nets, in cents) and counts down:
    ``pays payee $4.90 in 29:12`` (the server does this on its own: pausing only stops pf-tui
    releasing). Short enough that another day's date and time fit 120 columns."""
    outcome = escrow.timeout
    if outcome is not None and outcome.move is TimeoutMove.FROZEN:
        return "frozen"
    if escrow.next_at is None:
        return "-"
    if escrow.timeout_pays_payee:
        verb = "pays payee"
    else:
        verb = "refunds you" if escrow.agent_id == escrow.creator_id else "refunds creator"
    if outcome is not None and outcome.moves_money and outcome.at is not None:
        left = outcome.at - now
        if outcome.paused or left <= COUNTDOWN_S:
            when = "now" if left <= 0 else f"in {countdown(left)}"
            return f"{verb} {format_usd(outcome.net)} {when}"
    return f"{verb} {times.clock_time(escrow.next_at, now)}"


def outcome_text(escrow: EscrowView, now: float) -> str:
    """A finished row's outcome and when, under the header "Outcome": ``paid payee 14:02``,
    ``timeout refunded creator 14:02``, ``closed, $3.00 back 14:02``, ``frozen $2.00 14:02``."""
    when = times.clock_time(escrow.finished_at, now)
    timeout = "timeout " if "by its timeout" in escrow.outcome else ""
    state = RowState(escrow.state)
    unpaid = escrow.amount - (escrow.released or 0)
    if state is RowState.RELEASED:
        return f"{timeout}paid payee {when}"
    if state is RowState.REFUNDED:
        return f"timeout refunded creator {when}"
    if state is RowState.CLOSED:
        return f"closed, {format_usd6(unpaid)} back {when}"
    return f"frozen {format_usd6(unpaid)} {when}"


ACTIVE_NOUN = "active escrows"
FINISHED_NOUN = "finished escrows"


class EscrowsTab(TableTab):
    """Active escrows and live streams, or (``F``) those finished in the last 24 hours; memos
    and payees are untrusted text."""

    COLUMNS = COLUMNS
    SORT = "timeout"
    NOUN = ACTIVE_NOUN
    BINDINGS: ClassVar[list[BindingType]] = [*ESCROW_BINDINGS, FAUCET_BINDING, FINISHED_BINDING]

    def __init__(self, money_flow: MoneyFlow, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.money_flow = money_flow
        self.finished = False
        """Showing the finished escrows (``F``) instead of the active ones."""
        self._cache: dict[str, tuple[EscrowView, str, Row]] = {}
        """Per shown row: the escrow it was built from, its timeout text, the row."""

    def rows(self, frame: Frame) -> Mapping[str, Row]:
        """One row per escrow, rebuilt when it changed (or its timeout text did: a countdown
        moves each second)."""
        out: dict[str, Row] = {}
        cache: dict[str, tuple[EscrowView, str, Row]] = {}
        escrows = frame.view.finished_escrows if self.finished else frame.view.escrows
        describe = outcome_text if self.finished else timeout_text
        for escrow in escrows:
            if frame.selected is not None and escrow.agent_id != frame.selected:
                continue
            timeout = describe(escrow, frame.now)
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
        if escrow.remaining is not None and escrow.amount > 0 and not escrow.finished:
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
        state = escrow.state
        state_style = (
            tones.bad
            if state == RowState.DISPUTED.value
            else tones.warn
            if state in _WARN_STATES
            else ""
        )
        moves = escrow.timeout is not None and escrow.timeout.moves_money
        timeout_style = tones.warn if moves and (not escrow.timeout_pays_payee) else ""
        if moves and escrow.timeout is not None and escrow.timeout.paused:
            timeout_style = tones.warn
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
            escrow.finished_at if escrow.finished else escrow.next_at,
            escrow.dialect,
        )
        search = " ".join(
            (
                escrow.agent_label,
                escrow.agent_id,
                escrow.payee,
                escrow.memo,
                escrow.state,
                escrow.dialect,
                escrow.outcome,
            )
        ).lower()
        return Row(cells, sort, search)

    # ---- active or finished ----------------------------------------------------------------

    def title_text(self, frame: Frame) -> Text:
        """``3 active escrows | F: finished (2 in 24 h)`` or ``2 finished escrows in the last
        24 h | F: active``."""
        text = super().title_text(frame)
        key = self._finished_key()
        if self.finished:
            text.append(f" in the last 24 h | {key}: active")
        else:
            done = sum(
                1
                for e in frame.view.finished_escrows
                if frame.selected is None or e.agent_id == frame.selected
            )
            text.append(f" | {key}: finished ({done} in 24 h)")
        return text

    def _finished_key(self) -> str:
        return effective_keys(FINISHED_BINDING, self.money_flow.app.keymap_overrides).split(",")[0]

    def action_toggle_finished(self) -> None:
        """Switch between the active escrows and those finished in the last 24 hours."""
        self.finished = not self.finished
        self.NOUN = FINISHED_NOUN if self.finished else ACTIVE_NOUN
        self.table.relabel({"timeout": "Outcome" if self.finished else "At timeout"})
        self._cache = {}
        if self._frame is not None:
            self.show(self._frame)
        self.app.refresh_bindings()

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

    def action_money_adopt(self) -> None:
        """Track the row's escrow (an agent's own) as a pf-tui stream."""
        self.money_flow.adopt(self.cursor_escrow())

    def action_money_faucet(self) -> None:
        """Claim the faucet for the row's agent."""
        self.money_flow.faucet(self._cursor_agent())


_WARN_STATES = frozenset(
    s.value for s in (RowState.PAUSED, RowState.UNKNOWN, RowState.CLOSING, RowState.COMPLETED)
)
"""States that hold money in a way the operator should look at: amber."""
