"""The operator's inputs to a money action, checked before anything is read or sent.

:class:`Limits` parses amounts (at most 6 places, positive, within ``[ui] max_action_usd``) and
checks what an action moves against the limit; :func:`count` and :func:`reason` check a counted
release and a dispute's reason. Every refusal is an :class:`ActionValidationError` naming the
field at fault, so a dialog can put the cursor there.
"""

from __future__ import annotations

from decimal import Decimal

from pf_tui.core.money.types import (
    MIN_REASON_CHARS,
    ActionValidationError,
    LimitExceededError,
)
from pf_tui.usd import MoneyError, format_usd, parse_amount_input

MAX_COUNT = 10**9
"""A counted release of more units than this is a typo."""
MIN_BRAKE_REASON_CHARS = 3
"""Engaging or lifting the brake says why, briefly: an emergency must not wait on prose."""


class Limits:
    """``[ui] max_action_usd`` (``None``: no limit), applied to every amount an action moves."""

    def __init__(self, max_action_usd: Decimal | None) -> None:
        self.max_action_usd = max_action_usd

    def parse_amount(self, value: Decimal | str, field: str, *, limited: bool = True) -> Decimal:
        """An operator's amount as a ``Decimal`` (at most 6 dp, > 0, within ``max_action_usd``
        unless ``limited`` is false: a tranche stream's budget never moves in one action)."""
        text = format(value, "f") if isinstance(value, Decimal) else str(value)
        try:
            amount = parse_amount_input(text, field=field)
        except MoneyError as exc:
            raise ActionValidationError(str(exc), field=field) from None
        if not limited:
            return amount
        try:
            return parse_amount_input(text, field=field, limit=self.max_action_usd)
        except MoneyError as exc:
            raise LimitExceededError(str(exc), field=field) from None

    def check(self, amount: Decimal, field: str = "amount") -> None:
        """Refuse an action that would move more than the limit."""
        if self.max_action_usd is not None and amount > self.max_action_usd:
            raise LimitExceededError(
                f"{field}: {format_usd(amount, dp=6)} is over the limit of "
                f"{format_usd(self.max_action_usd)} ([ui] max_action_usd)",
                field=field,
            )


def count(value: int | str | None) -> int:
    """A counted release's number of units (0 when not given)."""
    if value is None or value == "":
        return 0
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_COUNT:
        raise ActionValidationError(
            f"count: {text!r} is not a whole number of units", field="count"
        )
    return int(text)


def reason(text: str, minimum: int = MIN_REASON_CHARS) -> str:
    """A reason on one line, at least ``minimum`` characters (a dispute: one a human can act
    on)."""
    flat = " ".join(text.split())
    if len(flat) < minimum:
        raise ActionValidationError(
            f"reason: say why in at least {minimum} characters (got {len(flat)})",
            field="reason",
        )
    return flat
