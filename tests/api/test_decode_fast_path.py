"""The decoding hot path (issue 15) answers exactly as the full readers do.

Each fast path is checked against the slow one it shortcuts: ``plain_wire_money`` against
``parse_money``, ``loads`` against ``json.loads`` with the same hooks, the ISO-time shortcut
against the general time reader, and the P&L chart rows against the field readers. A value, an
exponent, a time zone or an error message that differs between the paths fails here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui.api import fields as f
from pf_tui.api import normalize as norm
from pf_tui.api.errors import ResponseDecodeError
from pf_tui.usd import MoneyError, loads, parse_money, plain_wire_money

NUMBERS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
    st.integers(min_value=-(10**17), max_value=10**17),
    st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("1E+3"), Decimal("1E-19"), True]),
)


@given(NUMBERS)
def test_plain_wire_money_is_parse_money_or_nothing(value: object) -> None:
    plain = plain_wire_money(value)
    if plain is None:
        return  # the caller takes parse_money itself
    got = parse_money(value)
    assert plain == got and plain.as_tuple() == got.as_tuple()


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9
    )
)
def test_every_plain_wire_amount_takes_the_fast_path(value: Decimal) -> None:
    """Breaking it (the slow path taken for ordinary amounts) costs CPU, not correctness."""
    if value.is_zero() and value.is_signed():
        return
    assert plain_wire_money(value) is not None


def _reference_loads(data: str | bytes) -> object:
    def reject(name: str) -> None:
        raise ValueError(f"invalid JSON number {name}")

    return json.loads(data, parse_float=Decimal, parse_constant=reject)


JSON_TEXTS = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.text(),
    ),
    lambda inner: st.one_of(st.lists(inner), st.dictionaries(st.text(), inner)),
    max_leaves=20,
).map(lambda v: json.dumps(v, default=str))


@given(JSON_TEXTS, st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig", "str"]))
def test_loads_decodes_as_json_loads_did(text: str, encoding: str) -> None:
    data: str | bytes = text if encoding == "str" else text.encode(encoding)
    assert loads(data) == _reference_loads(data)


@pytest.mark.parametrize(
    "data", ["NaN", "[Infinity]", "-Infinity", "\ufeff{}", b"{", "", b"\xff\xfe\x00", "[1,]"]
)
def test_loads_refuses_what_json_loads_refused(data: str | bytes) -> None:
    with pytest.raises(ValueError) as ours:
        loads(data)
    with pytest.raises(ValueError) as theirs:
        _reference_loads(data)
    assert type(ours.value) is type(theirs.value)


def test_loads_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        loads(12)  # type: ignore[arg-type]


TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)


@given(TIMES, st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", ""]), st.booleans())
def test_iso_times_read_the_same_through_the_shortcut(
    when: datetime, zone: str, millis: bool
) -> None:
    base = when.replace(tzinfo=None).isoformat(timespec="milliseconds" if millis else "seconds")
    text = base + zone
    got = f.timestamp({"t": text}, "t")
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text
    expected = datetime.fromisoformat(iso)
    expected = expected.replace(tzinfo=UTC) if expected.tzinfo is None else expected
    assert got == expected.astimezone(UTC)
    assert got is not None and got.utcoffset() == timedelta(0)


def test_a_bad_iso_time_still_names_its_field() -> None:
    with pytest.raises(ResponseDecodeError, match=r"field t: expected a time"):
        f.timestamp({"t": "2026-13-40T00:00:00.000Z"}, "t")


CELLS = st.one_of(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6
    ),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from(["12.50", "-3", "1e3", "abc", "", None, True, 1.5, Decimal("-0")]),
)


def _expected_point(row: dict[str, object]) -> tuple[str, Decimal, Decimal] | str:
    """What the field readers make of one chart row: the point, or the error's field."""
    date = row.get("date")
    if date is None:
        return "chart[0].date"
    for key in ("daily_pnl", "cumulative_pnl"):
        value = row.get(key)
        if value is None:
            return f"chart[0].{key}"
        try:
            parse_money(value)
        except MoneyError:
            return f"chart[0].{key}"
    return str(date), parse_money(row["daily_pnl"]), parse_money(row["cumulative_pnl"])


@given(st.sampled_from(["2026-01-01", 20260101, None]), CELLS, CELLS)
def test_chart_rows_read_as_the_field_readers_read_them(
    date: object, daily: object, cumulative: object
) -> None:
    row = {"date": date, "daily_pnl": daily, "cumulative_pnl": cumulative}
    expected = _expected_point(row)
    reply = {"summary": {"net_pnl": 1}, "chart": [row]}
    if isinstance(expected, str):
        with pytest.raises(ResponseDecodeError) as err:
            norm.pnl_history(reply)
        assert err.value.field == expected
        return
    point = norm.pnl_history(reply).chart[0]
    assert (point.date, point.daily_pnl, point.cumulative_pnl) == expected
    assert point.daily_pnl.as_tuple() == expected[1].as_tuple()
