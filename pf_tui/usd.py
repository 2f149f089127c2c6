"""USDC amounts as :class:`~decimal.Decimal`, end to end.

Money reaches pf-tui from three places: JSON numbers (decoded with ``parse_float=Decimal``, see
:func:`loads`), JSON strings (the docs dialect sends ``"10.00"``) and what an operator types. All of
them go through :func:`parse_money`, which reads the *text* of the value and never does float
arithmetic. The grammar is deliberately narrow: plain fixed-point decimals only. NaN, Infinity,
negative zero, exponents (``1e3``), locale separators (``1,5``) and absurdly long values are refused
with a message that says what was wrong, because each of them has caused a real payment bug
somewhere.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any, NoReturn, TypeAlias

__all__ = [
    "CENT",
    "JSON",
    "MAX_INT_DIGITS",
    "MICRO",
    "PACK_ODD",
    "MoneyError",
    "dumps",
    "fee_of",
    "format_usd",
    "format_usd6",
    "loads",
    "pack",
    "parse_amount_input",
    "parse_money",
    "plain_wire_money",
    "quantize_display",
    "quantize_fee",
    "to_wire",
    "unpack",
]

CENT = Decimal("0.01")
"""Display precision (2 dp)."""
MICRO = Decimal("0.000001")
"""Escrow precision: fees, balances and ledger amounts carry up to 6 dp."""
FEE_RATE = Decimal("0.01")
"""Escrow commission: 1% of each released amount, taken from the payee's side."""

MAX_INT_DIGITS = 15
"""A quadrillion dollars is more than exists; anything longer is a bug or an attack."""
MAX_WIRE_DP = 18
"""Servers written in JavaScript emit float noise (0.30000000000000004); accept and round it."""
MAX_INPUT_DP = 6

JSON: TypeAlias = Any
"""A decoded JSON value (what :func:`loads` returns, what :func:`dumps` takes): a dict, list, str,
int, ``Decimal``, bool or None, nested. The name says what the value is; its shape is checked by
whoever reads it (:mod:`pf_tui.api.fields` field by field), which a recursive union could only
restate as a cast at every read."""

_INT_LIMIT = 10**MAX_INT_DIGITS
_INT_LIMIT_NEG = -_INT_LIMIT
_PLAIN = re.compile(r"^(?P<sign>-)?(?P<int>\d+)(?:\.(?P<frac>\d+))?$")


class MoneyError(ValueError):
    """A value that is not an acceptable amount of money; the message says why."""


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def plain_wire_money(value: object) -> Decimal | None:
    """``value`` as :func:`parse_money` reads a wire amount, when it is a plain JSON number.

    The normaliser's hot path (docs/performance.md, "Decoding"): a ``Decimal`` or ``int`` exactly
    as :func:`loads` makes them, finite, in range, with at most :data:`MAX_WIRE_DP` places and
    not negative zero, comes back as the very ``Decimal`` ``parse_money(value)`` would return.
    Anything else (strings, floats, bools, exponents, ``-0``, huge values, subclasses) gives
    ``None``: the caller then takes :func:`parse_money` and its exact refusal. Exact type checks,
    not isinstance: a bool is an int, and a Decimal subclass takes the full checks.
    """
    if type(value) is Decimal:
        # One as_tuple() answers finiteness (a str exponent is NaN/Infinity), places and sign.
        sign, digits, exp = value.as_tuple()
        if (
            type(exp) is int
            and -MAX_WIRE_DP <= exp <= 0
            and len(digits) + exp <= MAX_INT_DIGITS
            and not (sign and not any(digits))
        ):
            return value
        return None
    if type(value) is int and _INT_LIMIT_NEG < value < _INT_LIMIT:
        return Decimal(value)
    return None


def parse_money(
    value: object,
    *,
    field: str = "amount",
    max_dp: int = MAX_WIRE_DP,
    allow_negative: bool = True,
) -> Decimal:
    """Parse a JSON number (``Decimal`` or ``int``) or a string into a ``Decimal``.

    Raises :class:`MoneyError` naming ``field`` for anything that is not a plain fixed-point
    decimal: floats (they already lost precision), booleans, NaN, Infinity, ``-0``, exponents,
    thousands or decimal commas, more than :data:`MAX_INT_DIGITS` integer digits or more than
    ``max_dp`` decimal places.
    """
    # Fast path: JSON numbers arrive as Decimal/int (loads), nearly always plain and in range.
    # It returns only what the full checks below would return (the same value, exponent and
    # sign); anything unusual falls through to them, so every refusal and message is unchanged.
    if max_dp == MAX_WIRE_DP and allow_negative:
        fast = plain_wire_money(value)
        if fast is not None:
            return fast
    elif type(value) is Decimal:
        if value.is_finite() and (allow_negative or not value.is_signed()):
            exp = value.as_tuple().exponent
            if (
                isinstance(exp, int)
                and -max_dp <= exp <= 0
                and value.adjusted() < MAX_INT_DIGITS
                and (value or not value.is_signed())
            ):
                return value
    elif type(value) is int and (
        (_INT_LIMIT_NEG if allow_negative else 0) < value < _INT_LIMIT or value == 0
    ):
        return Decimal(value)
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field}: expected an amount, got {_describe(value)}")
    if isinstance(value, float):
        raise MoneyError(
            f"{field}: got a float ({value!r}); money must be decoded as Decimal, never float"
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(f"{field}: {value} is not a finite amount")
        # A Decimal is exact already (JSON decoded with parse_float=Decimal); check its size
        # before rendering it, so that 1E+100000 never becomes a 100,000-character string.
        if value != 0 and value.adjusted() >= MAX_INT_DIGITS:
            raise MoneyError(
                f"{field}: {_describe(value)} has more than {MAX_INT_DIGITS} integer digits"
            )
        exp = value.as_tuple().exponent
        if isinstance(exp, int) and exp < -(max_dp + MAX_INT_DIGITS):
            raise MoneyError(f"{field}: {_describe(value)} has more than {max_dp} decimal places")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise MoneyError(
            f"{field}: expected a number or a numeric string, got {type(value).__name__}"
        )

    if not text:
        raise MoneyError(f"{field}: empty amount")
    lowered = text.lower()
    if lowered.lstrip("+-") in {"nan", "snan", "inf", "infinity"}:
        raise MoneyError(f"{field}: {text!r} is not a finite amount")
    if "e" in lowered:
        raise MoneyError(f"{field}: {text!r} uses an exponent; write the amount out in full")
    if "," in text or "_" in text or " " in text:
        raise MoneyError(
            f"{field}: {text!r} contains a separator; "
            "use a dot for decimals and no thousands separator"
        )
    match = _PLAIN.match(text)
    if match is None:
        raise MoneyError(f"{field}: {_describe(text)} is not a plain decimal amount")
    int_part, frac = match["int"], match["frac"] or ""
    if len(int_part.lstrip("0")) > MAX_INT_DIGITS:
        raise MoneyError(
            f"{field}: a {len(int_part)}-digit amount is too large "
            f"(at most {MAX_INT_DIGITS} integer digits)"
        )
    if len(frac) > max_dp:
        raise MoneyError(f"{field}: {_describe(text)} has more than {max_dp} decimal places")
    with localcontext() as ctx:
        ctx.prec = MAX_INT_DIGITS + MAX_WIRE_DP + 2
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the grammar above already guards
            raise MoneyError(f"{field}: {_describe(text)} is not a decimal amount") from exc
    if match["sign"]:
        if amount == 0:
            raise MoneyError(f"{field}: negative zero ({text!r}) is not an amount")
        if not allow_negative:
            raise MoneyError(f"{field}: {text!r} is negative")
    return amount


def parse_amount_input(
    text: str, *, field: str = "amount", limit: Decimal | None = None
) -> Decimal:
    """Parse what an operator typed: positive, at most 6 dp, and not above ``limit``."""
    amount = parse_money(text, field=field, max_dp=MAX_INPUT_DP, allow_negative=False)
    if amount <= 0:
        raise MoneyError(f"{field}: must be more than 0")
    if limit is not None and amount > limit:
        raise MoneyError(f"{field}: {format_usd(amount)} is over the limit of {format_usd(limit)}")
    return amount


def quantize_display(amount: Decimal) -> Decimal:
    """Round half-up to cents, for display."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def quantize_fee(amount: Decimal) -> Decimal:
    """Round half-up to 6 dp, the escrow services' precision (docs/api.md §7)."""
    return amount.quantize(MICRO, rounding=ROUND_HALF_UP)


def fee_of(amount: Decimal) -> Decimal:
    """The 1% escrow commission on ``amount``, at 6 dp."""
    return quantize_fee(amount * FEE_RATE)


def format_usd(amount: Decimal | None, *, sign: bool = False, dp: int = 2) -> str:
    """``$1,234.50`` (or ``-$3.20``; ``+$3.20`` with ``sign``); ``-`` for a missing figure."""
    if amount is None:
        return "-"
    q = amount.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)
    body = f"{abs(q):,.{dp}f}"
    if q < 0:
        return f"-${body}"
    return f"+${body}" if sign and q > 0 else f"${body}"


def format_usd6(amount: Decimal | None) -> str:
    """Dollars at the services' 6 dp, trailing zeros beyond cents dropped (``$0.0099``)."""
    if amount is None:
        return "-"
    text = format_usd(amount, dp=6)
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"


def to_wire(amount: Decimal, dp: int = 2) -> str:
    """Fixed-point text with at least ``dp`` places and no exponent (docs dialect strings)."""
    q = amount.normalize()
    exp = q.as_tuple().exponent
    places = max(dp, -exp if isinstance(exp, int) else 0)
    return format(amount.quantize(Decimal(1).scaleb(-places)), "f")


def _encode(obj: JSON) -> str:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise MoneyError(f"cannot send {obj} as an amount")
        return format(obj, "f")
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in obj) + "]"
    if isinstance(obj, float):
        raise MoneyError("refusing to serialise a float; use Decimal for amounts")
    return json.dumps(obj)


def dumps(obj: JSON) -> str:
    """JSON with ``Decimal`` written as a plain JSON number (production's wire format)."""
    return _encode(obj)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"invalid JSON number {name}")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)
"""Built once: ``json.loads`` with any keyword builds a new decoder and scanner on every call."""


def loads(data: str | bytes) -> JSON:
    """JSON with every non-integer number decoded as ``Decimal`` (never float).

    NaN/Infinity literals, which Python's json accepts by default, are refused. Bytes are decoded
    as ``json.loads`` decodes them (UTF-8, or UTF-16/32 told by their first bytes), and a str that
    starts with a byte-order mark is refused as ``json.loads`` refuses it.
    """
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
        return _DECODER.decode(data)
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(
            f"the JSON object must be str, bytes or bytearray, not {type(data).__name__}"
        )
    return _DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))


PACK_ODD = -128
"""The exponent :func:`pack` gives an amount it cannot pack: keep that one as an object."""
_MAX_PACKED = 10**18


def pack(value: Decimal) -> tuple[int, int]:
    """``(coefficient, exponent)`` with ``unpack(coefficient, exponent)`` the very same
    ``Decimal`` (value, sign and exponent: ``12.50`` stays ``12.50``), for keeping amounts in
    an ``array`` (9 bytes instead of a 104-byte object); ``(0, PACK_ODD)`` when the amount must
    be kept as an object (more than 18 digits, an exponent past +-99, negative zero, NaN)."""
    sign, digits, exp = value.as_tuple()
    if type(exp) is not int or not -100 < exp < 100 or len(digits) > 18:
        return 0, PACK_ODD
    coeff = int(value.scaleb(-exp))  # exact: at most 18 digits, an integer once scaled
    if sign:
        if coeff == 0:
            return 0, PACK_ODD  # negative zero: an int has no sign to keep it
        coeff = -abs(coeff)
    if coeff >= _MAX_PACKED or coeff <= -_MAX_PACKED:
        return 0, PACK_ODD
    return coeff, exp


def unpack(coeff: int, exp: int) -> Decimal:
    """The ``Decimal`` :func:`pack` packed (never called with :data:`PACK_ODD`)."""
    return Decimal(coeff).scaleb(exp)
