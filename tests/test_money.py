"""usd.py: amounts parse through their text, never float; bad forms are refused clearly."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui import usd
from pf_tui.usd import MoneyError, parse_amount_input, parse_money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.00", Decimal("10.00")),
        ("0.1", Decimal("0.1")),
        (" 2.50 ", Decimal("2.50")),
        (3, Decimal(3)),
        (0, Decimal(0)),
        (Decimal("1.000001"), Decimal("1.000001")),
        ("-3.2", Decimal("-3.2")),
        ("999999999999999", Decimal("999999999999999")),
    ],
)
def test_accepts_plain_amounts(value: object, expected: Decimal) -> None:
    parsed = parse_money(value)
    assert parsed == expected
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "amount: 'NaN' is not a finite amount"),
        ("nan", "amount: 'nan' is not a finite amount"),
        ("Infinity", "amount: 'Infinity' is not a finite amount"),
        ("-inf", "amount: '-inf' is not a finite amount"),
        (Decimal("NaN"), "amount: NaN is not a finite amount"),
        ("-0", "amount: negative zero ('-0') is not an amount"),
        ("-0.00", "amount: negative zero ('-0.00') is not an amount"),
        ("1e3", "amount: '1e3' uses an exponent; write the amount out in full"),
        ("1E-2", "amount: '1E-2' uses an exponent; write the amount out in full"),
        (
            "1,5",
            "amount: '1,5' contains a separator; use a dot for decimals and no thousands separator",
        ),
        (
            "1,000.00",
            "amount: '1,000.00' contains a separator; "
            "use a dot for decimals and no thousands separator",
        ),
        ("1" * 40, "amount: a 40-digit amount is too large (at most 15 integer digits)"),
        ("", "amount: empty amount"),
        ("abc", "amount: 'abc' is not a plain decimal amount"),
        ("+1", "amount: '+1' is not a plain decimal amount"),
        (".5", "amount: '.5' is not a plain decimal amount"),
        ("0x10", "amount: '0x10' is not a plain decimal amount"),
        (1.5, "amount: got a float (1.5); money must be decoded as Decimal, never float"),
        (True, "amount: expected an amount, got True"),
        (None, "amount: expected an amount, got None"),
        ([1], "amount: expected a number or a numeric string, got list"),
        (Decimal("1E+20"), "amount: Decimal('1E+20') has more than 15 integer digits"),
    ],
)
def test_refuses_with_a_clear_message(value: object, message: str) -> None:
    with pytest.raises(MoneyError) as info:
        parse_money(value)
    assert str(info.value) == message


def test_field_name_is_in_the_message() -> None:
    with pytest.raises(MoneyError, match=r"^amount_usd: "):
        parse_money("NaN", field="amount_usd")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e3", "amount: '1e3' uses an exponent; write the amount out in full"),
        ("-0", "amount: negative zero ('-0') is not an amount"),
        ("NaN", "amount: 'NaN' is not a finite amount"),
        ("Infinity", "amount: 'Infinity' is not a finite amount"),
        ("1" * 40, "amount: a 40-digit amount is too large (at most 15 integer digits)"),
        (
            "1,5",
            "amount: '1,5' contains a separator; use a dot for decimals and no thousands separator",
        ),
        ("0", "amount: must be more than 0"),
        ("-1", "amount: '-1' is negative"),
        ("0.0000001", "amount: '0.0000001' has more than 6 decimal places"),
        ("250.01", "amount: $250.01 is over the limit of $250.00"),
    ],
)
def test_operator_input_is_strict(text: str, message: str) -> None:
    with pytest.raises(MoneyError) as info:
        parse_amount_input(text, limit=Decimal("250"))
    assert str(info.value) == message


def test_operator_input_accepts_a_small_amount_and_the_limit_itself() -> None:
    assert parse_amount_input("0.1", limit=Decimal("250")) == Decimal("0.1")
    assert parse_amount_input("250", limit=Decimal("250")) == Decimal("250")


def test_loads_decodes_numbers_as_decimal_and_refuses_nan() -> None:
    data = usd.loads('{"a": 0.1, "b": 2, "c": 0.30000000000000004}')
    assert data == {"a": Decimal("0.1"), "b": 2, "c": Decimal("0.30000000000000004")}
    assert type(data["a"]) is Decimal
    with pytest.raises(ValueError, match="invalid JSON number NaN"):
        usd.loads('{"a": NaN}')
    with pytest.raises(ValueError, match="invalid JSON number Infinity"):
        usd.loads("[Infinity]")


def test_dumps_writes_decimal_as_a_plain_number() -> None:
    text = usd.dumps({"amount_usd": Decimal("10.50"), "n": 3, "s": 'x"y', "z": None, "l": [True]})
    assert text == '{"amount_usd":10.50,"n":3,"s":"x\\"y","z":null,"l":[true]}'
    assert json.loads(text)["s"] == 'x"y'
    with pytest.raises(MoneyError):
        usd.dumps({"a": 1.5})
    with pytest.raises(MoneyError):
        usd.dumps({"a": Decimal("NaN")})


def test_rounding_is_half_up() -> None:
    assert usd.quantize_display(Decimal("0.005")) == Decimal("0.01")
    assert usd.quantize_display(Decimal("-0.005")) == Decimal("-0.01")
    assert usd.quantize_fee(Decimal("0.0000005")) == Decimal("0.000001")
    assert usd.fee_of(Decimal("10")) == Decimal("0.100000")
    assert usd.fee_of(Decimal("0.15")) == Decimal("0.001500")
    assert usd.fee_of(Decimal("0.000049")) == Decimal("0.000000")
    assert usd.fee_of(Decimal("0.00005")) == Decimal("0.000001")


@pytest.mark.parametrize(
    ("amount", "kwargs", "text"),
    [
        (Decimal("1234.5"), {}, "$1,234.50"),
        (Decimal("-3.204"), {}, "-$3.20"),
        (Decimal("3.205"), {"sign": True}, "+$3.21"),
        (Decimal("-0.001"), {}, "$0.00"),
        (Decimal("0"), {"sign": True}, "$0.00"),
        (None, {}, "-"),
        (Decimal("0.123456"), {"dp": 6}, "$0.123456"),
    ],
)
def test_format_usd(amount: Decimal | None, kwargs: dict[str, object], text: str) -> None:
    assert usd.format_usd(amount, **kwargs) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "dp", "text"),
    [
        (Decimal("10"), 2, "10.00"),
        (Decimal("0.123456"), 2, "0.123456"),
        (Decimal("1.5"), 2, "1.50"),
        (Decimal("7"), 0, "7"),
    ],
)
def test_to_wire(amount: Decimal, dp: int, text: str) -> None:
    assert usd.to_wire(amount, dp) == text


amounts = st.decimals(
    min_value=Decimal("-999999999999"),
    max_value=Decimal("999999999999"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)


@given(amounts)
def test_text_round_trip_is_exact(amount: Decimal) -> None:
    text = format(amount, "f")
    if amount == 0:
        text = text.lstrip("-")
    assert parse_money(text) == amount
    assert parse_money(usd.loads(usd.dumps({"a": amount}))["a"]) == amount


@given(amounts)
def test_wire_strings_round_trip(amount: Decimal) -> None:
    assert parse_money(usd.to_wire(abs(amount), 2)) == abs(amount)


@given(st.text(max_size=30))
def test_arbitrary_text_parses_or_raises_money_error(text: str) -> None:
    try:
        value = parse_money(text)
    except MoneyError as exc:
        refusal = str(exc)
        assert refusal.startswith("amount: ")
    else:
        assert value.is_finite()
        assert not (value == 0 and value.is_signed())
        assert "e" not in text.lower()


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_always_refused(value: float) -> None:
    with pytest.raises(MoneyError, match="never float"):
        parse_money(value)


@given(amounts, amounts)
def test_fee_plus_net_equals_gross(a: Decimal, b: Decimal) -> None:
    gross = abs(a) + abs(b)
    fee = usd.fee_of(gross)
    assert fee + (gross - fee) == gross
    assert fee <= gross
    assert fee == (gross / 100).quantize(usd.MICRO, rounding="ROUND_HALF_UP")
