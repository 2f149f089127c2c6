"""Money and time helpers for the simulator: rounding, wire forms, ISO times, input parsing."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from pf_tui.sim.model.errors import ApiError
from pf_tui.usd import CENT, JSON, MICRO, MoneyError, parse_money, to_wire

ZERO = Decimal(0)
ONE = Decimal(1)
FEE_RATE = Decimal("0.01")
REFERRER_SHARE = Decimal("0.15")


def q2(amount: Decimal) -> Decimal:
    """Half-up to cents (casino payouts, trading figures)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def q6(amount: Decimal) -> Decimal:
    """Half-up to 6 dp (escrow fees and shares, balances)."""
    return amount.quantize(MICRO, rounding=ROUND_HALF_UP)


def q4_down(amount: Decimal) -> Decimal:
    """Down to 4 dp (dice multipliers)."""
    return amount.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)


def num(amount: Decimal) -> Decimal:
    """The JSON-number form: no trailing zeros, so whole values go out as ``1``, ``0``."""
    if amount == 0:
        return ZERO
    return amount.normalize()


def dstr(amount: Decimal) -> str:
    """The docs dialect's string form: at least 2 and up to 6 dp."""
    return to_wire(amount, 2)


def fee_of(amount: Decimal) -> Decimal:
    """The 1% escrow commission, half-up at 6 dp."""
    return q6(amount * FEE_RATE)


def referrer_share(fee: Decimal) -> Decimal:
    """The referrer's 15% of a fee, half-up at 6 dp."""
    return q6(fee * REFERRER_SHARE)


@functools.lru_cache(maxsize=1 << 16)
def iso(ts: float) -> str:
    """Unix seconds to ``2026-01-01T00:00:00.000Z``.

    Cached: replies repeat the same few times (ledger rows, chart days) on every poll, and
    formatting them was the simulator's largest single cost at fleet scale.
    """
    return (
        datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def parse_iso(text: str) -> float | None:
    """An ISO-8601 time (``Z`` allowed) to unix seconds; ``None`` when it is not one."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def day_start(ts: float) -> float:
    """Unix seconds of the UTC midnight at or before ``ts``."""
    return float(int(ts) - int(ts) % 86400)


def parse_amount(value: JSON, *, code: str = "invalid_amount", field: str = "amount") -> Decimal:
    """A JSON number or numeric string with at most 6 dp, else 400 ``code``."""
    if value is None or isinstance(value, (bool, float)):
        raise ApiError(400, code, f"{field} must be a number with at most 6 decimal places")
    try:
        return parse_money(value, field=field, max_dp=6, allow_negative=True)
    except MoneyError as exc:
        raise ApiError(400, code, str(exc)) from None
