"""The forms that act on an escrow the agents created themselves, as its row offers.

- :class:`EscrowReleaseDialog`: release part of a streaming escrow, or all it holds (the amount
  is prefilled with everything it holds; empty also means all of it). A classic escrow is only
  ever released whole, so its release goes straight to the confirmation with no form.
- :class:`AdoptDialog`: track the escrow as a pf-tui stream paying a rate per unit (nothing is
  sent; the stream's release, pause and close act on it from then on).

Both build their intent through the row (:meth:`MoneyDesk.intent_for`), so it carries the
version of the row the operator saw and is refused as stale if the escrow changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from pf_tui.core.money.types import ActionValidationError, Intent, StreamUnit
from pf_tui.tui.dialogs.money.base import GuardedInput
from pf_tui.tui.dialogs.money.form import MoneyForm, MoneySelect, Previewer
from pf_tui.tui.dialogs.money.open import UNITS
from pf_tui.tui.sanitize import safe
from pf_tui.usd import fee_of, format_usd, format_usd6, to_wire
from pf_tui.views.model import EscrowAction, EscrowView

RowIntent = Callable[..., Intent]
"""The money desk's ``intent_for`` bound to one row: ``(action, **fields) -> Intent``."""


def about_escrow(row: EscrowView) -> Text:
    """``Escrow esc_... (streaming) from A to B`` and its memo, all untrusted, as text."""
    about = Text("Escrow ", end="")
    about.append_text(safe(row.escrow_id or "-"))
    about.append(f" ({row.dialect}) from ")
    about.append_text(safe(row.creator or row.agent_label, limit=40))
    about.append(" to ")
    about.append_text(safe(row.payee, limit=40))
    about.append("\nMemo: ")
    about.append_text(safe(row.memo, limit=120))
    return about


def held_of(row: EscrowView) -> Decimal:
    """What the row's escrow holds now (its stake when read, else the row's remaining)."""
    if row.stake is not None:
        return row.stake.remaining
    return row.remaining or Decimal(0)


class _RowForm(MoneyForm):
    """A form about one escrow row: the row as drawn, and the row's intent (its version kept)."""

    def __init__(
        self,
        previewer: Previewer,
        *,
        row: EscrowView,
        intent: RowIntent,
        opening_keys: Iterable[str] = (),
    ) -> None:
        super().__init__(previewer, opening_keys=opening_keys)
        self.escrow = row
        self.intent = intent


class EscrowReleaseDialog(_RowForm):
    """``ModalScreen[ActionPreview | None]``: release part or all of a streaming escrow."""

    TITLE = "Release from an escrow"

    def fields(self) -> ComposeResult:
        """What is released from, the amount (prefilled with all it holds) and a hint."""
        held = held_of(self.escrow)
        yield Static(about_escrow(self.escrow), classes="money-about")
        yield self.row("Amount $", GuardedInput(to_wire(held), id="money-amount"))
        hint = (
            f"holds {format_usd6(held)}: all of it nets the payee "
            f"{format_usd6(held - fee_of(held))}; a smaller amount leaves the rest in escrow"
        )
        yield Static(Text(hint), classes="hint")

    def on_mount(self) -> None:
        """Start in the amount."""
        self.query_one("#money-amount", GuardedInput).focus()

    def build_intent(self) -> Intent:
        """All it holds (or an empty amount): a release in full; less: a partial release."""
        amount = self.value("money-amount")
        held = held_of(self.escrow)
        if not amount or (amount == to_wire(held)):
            return self.intent(EscrowAction.RELEASE)
        return self.intent(EscrowAction.RELEASE_PART, amount=amount)


class AdoptDialog(_RowForm):
    """``ModalScreen[ActionPreview | None]``: track an agent's escrow as a pf-tui stream."""

    TITLE = "Adopt an escrow as a stream"

    def fields(self) -> ComposeResult:
        """The escrow adopted, the rate and the unit."""
        held = held_of(self.escrow)
        yield Static(about_escrow(self.escrow), classes="money-about")
        yield Static(
            Text(
                f"pf-tui tracks what is owed at this rate from now, out of the "
                f"{format_usd(held)} it holds; nothing is sent"
            ),
            classes="hint",
        )
        yield self.row(
            "Rate $", GuardedInput(placeholder="e.g. 0.01 (dollars per unit)", id="money-rate")
        )
        yield self.row(
            "Unit",
            MoneySelect(
                [(label, unit) for label, unit in UNITS],
                value=StreamUnit.CALL,
                allow_blank=False,
                id="money-unit",
            ),
        )

    def on_mount(self) -> None:
        """Start in the rate."""
        self.query_one("#money-rate", GuardedInput).focus()

    def build_intent(self) -> Intent:
        """:class:`AdoptEscrow` with the row's version."""
        rate = self.value("money-rate")
        if not rate:
            raise ActionValidationError(
                "rate: type the price per unit in dollars, e.g. 0.01", field="rate"
            )
        unit = self.selected("money-unit")
        return self.intent(
            EscrowAction.ADOPT,
            rate=rate,
            unit=unit if isinstance(unit, StreamUnit) else StreamUnit.CALL,
        )
