"""parse_money's fast path for decoded JSON numbers gives exactly what its full checks give.

The reference is the same function fed the number's text (a string never takes the fast path),
so a value, an exponent or a refusal message that differs between the two paths fails here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui.usd import MoneyError, parse_money


def outcome(value: object, **kw: object) -> tuple[str, object]:
    try:
        result = parse_money(value, **kw)  # type: ignore[arg-type]
    except MoneyError as exc:
        return "error", str(exc)
    return "ok", (result, result.as_tuple())


def slow(value: Decimal | int, **kw: object) -> tuple[str, object]:
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return outcome(text, **kw)


decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d.as_tuple().exponent <= 0 and abs(d.adjusted()) < 40
)
OPTIONS = st.sampled_from(
    [{}, {"allow_negative": False}, {"max_dp": 6}, {"max_dp": 2, "allow_negative": False}]
)


@given(decimals, OPTIONS)
def test_decimals_match_the_full_checks(value: Decimal, options: dict) -> None:
    kind, fast = outcome(value, field="amount", **options)
    slow_kind, reference = slow(value, field="amount", **options)
    assert kind == slow_kind
    if kind == "ok":
        assert fast == reference
    else:  # refusals name the value as the Decimal's text, so compare the reason only
        assert fast.split(" ", 1)[0] == reference.split(" ", 1)[0]


@given(st.integers(min_value=-(10**17), max_value=10**17), OPTIONS)
def test_ints_match_the_full_checks(value: int, options: dict) -> None:
    # An int's text is the same either way, so even the messages must be identical.
    assert outcome(value, field="amount", **options) == slow(value, field="amount", **options)


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (Decimal("-0.00"), {}, "negative zero"),
        (Decimal("-1.5"), {"allow_negative": False}, "is negative"),
        (Decimal("1.1234567"), {"max_dp": 6}, "more than 6 decimal places"),
        (Decimal("1234567890123456"), {}, "more than 15 integer digits"),
        (Decimal("NaN"), {}, "not a finite amount"),
        (-5, {"allow_negative": False}, "is negative"),
        (10**15, {}, "too large"),
        (True, {}, "expected an amount"),
    ],
)
def test_unusual_numbers_still_take_the_full_checks(
    value: object, options: dict, message: str
) -> None:
    with pytest.raises(MoneyError, match=message):
        parse_money(value, **options)  # type: ignore[arg-type]


def test_plain_numbers_come_back_exact() -> None:
    value = Decimal("12.340000")
    assert parse_money(value) is value  # immutable: no copy needed
    assert parse_money(7) == Decimal(7) and isinstance(parse_money(7), Decimal)
    assert (
        parse_money(Decimal("1E+2")).as_tuple() == Decimal("100").as_tuple()
    )  # as before: written out
