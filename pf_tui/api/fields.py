"""Field readers for the normaliser: each makes one JSON value a typed one, or names the field.

Every reader takes the object, the key (or several aliases, first present wins) and the dotted
path used in error messages, and raises :class:`ResponseDecodeError` naming the field: never
``KeyError``/``TypeError``. Money goes through :func:`pf_tui.usd.parse_money` (JSON numbers
arrive as ``Decimal`` or ``int`` from :func:`pf_tui.usd.loads`, docs strings as ``"10.00"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from pf_tui.api.errors import ResponseDecodeError
from pf_tui.usd import JSON, MoneyError, parse_money, plain_wire_money

__all__ = [
    "boolean",
    "fraction_rate",
    "has",
    "integer",
    "items",
    "money",
    "obj",
    "opt_int",
    "opt_money",
    "opt_text",
    "percent_rate",
    "text",
    "timestamp",
]

_HUNDRED = Decimal(100)
_MS_THRESHOLD = 10**12
"""Epoch values above this are milliseconds (docs/api.md §1)."""

Keys = str | Sequence[str]


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _fail(path: str, why: str) -> ResponseDecodeError:
    return ResponseDecodeError(f"field {path!s}: {why}", field=path)


def shape(value: object) -> str:
    """What a JSON value is, without its content: ``a string of 56 characters``, ``a number``.

    Decode errors describe the offending value this way and never quote it: a field that should
    hold an amount may hold anything, a key echoed by a confused server included.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal)):
        return "a number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def obj(value: JSON, path: str = "") -> dict[str, JSON]:
    """``value`` as a JSON object, else a decode error naming ``path`` (empty: the reply itself)."""
    if isinstance(value, dict):
        return value
    where = path or "reply"
    raise ResponseDecodeError(
        f"{where}: expected a JSON object, got {type(value).__name__}", field=path or None
    )


def _find(data: dict[str, JSON], keys: Keys) -> tuple[str, JSON]:
    """The first key of ``keys`` present and not null, and its value; (first key, None) if none."""
    if isinstance(keys, str):
        return keys, data.get(keys)
    for key in keys:
        value = data.get(key)
        if value is not None:
            return key, value
    return keys[0], None


def has(data: dict[str, JSON], keys: Keys) -> bool:
    """Whether any of ``keys`` is present with a non-null value."""
    return _find(data, keys)[1] is not None


def items(
    data: dict[str, JSON], keys: Keys, prefix: str = "", *, required: bool = True
) -> list[JSON]:
    """A JSON array field (``[]`` when absent and not required)."""
    key, value = _find(data, keys)
    if value is None:
        if required:
            raise _fail(_path(prefix, key), "missing")
        return []
    if not isinstance(value, list):
        raise _fail(_path(prefix, key), f"expected a list, got {type(value).__name__}")
    return value


def opt_money(data: dict[str, JSON], keys: Keys, prefix: str = "") -> Decimal | None:
    """An amount (JSON number or numeric string), or None when absent."""
    if type(keys) is str:  # one key: no alias search (the common case, read per row)
        key, value = keys, data.get(keys)
    else:
        key, value = _find(data, keys)
    if value is None:
        return None
    plain = plain_wire_money(value)  # a plain JSON number: parse_money's answer, without a call
    if plain is not None:
        return plain
    try:
        return parse_money(value, field=key)
    except MoneyError:
        raise _fail(_path(prefix, key), f"expected a plain amount, got {shape(value)}") from None


def money(data: dict[str, JSON], keys: Keys, prefix: str = "") -> Decimal:
    """A required amount."""
    value = opt_money(data, keys, prefix)
    if value is None:
        raise _fail(_path(prefix, _find(data, keys)[0]), "missing")
    return value


def opt_int(data: dict[str, JSON], keys: Keys, prefix: str = "") -> int | None:
    """A count: a JSON integer, an integral decimal (``3.0``) or a digit string; None if absent."""
    key, value = _find(data, keys)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _fail(_path(prefix, key), "expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if (
        isinstance(value, str)
        and value.strip().lstrip("-").isdigit()
        and value.isascii()
        and len(value) < 19
    ):
        return int(value.strip())
    raise _fail(_path(prefix, key), f"expected a whole number, got {shape(value)}")


def integer(data: dict[str, JSON], keys: Keys, prefix: str = "") -> int:
    """A required count."""
    value = opt_int(data, keys, prefix)
    if value is None:
        raise _fail(_path(prefix, _find(data, keys)[0]), "missing")
    return value


def opt_text(data: dict[str, JSON], keys: Keys, prefix: str = "") -> str | None:
    """A string, or None when absent (a number is written out: ids are sometimes numeric)."""
    key, value = _find(data, keys)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise _fail(_path(prefix, key), f"expected text, got {type(value).__name__}")


def text(data: dict[str, JSON], keys: Keys, prefix: str = "") -> str:
    """A required string."""
    value = opt_text(data, keys, prefix)
    if value is None:
        raise _fail(_path(prefix, _find(data, keys)[0]), "missing")
    return value


def boolean(data: dict[str, JSON], keys: Keys, prefix: str = "") -> bool:
    """A required boolean (``true``/``false``; also 0/1, which some rows carry)."""
    key, value = _find(data, keys)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if value is None:
        raise _fail(_path(prefix, key), "missing")
    raise _fail(_path(prefix, key), f"expected true or false, got {type(value).__name__}")


def _epoch(value: Decimal | int, path: str) -> datetime:
    seconds = Decimal(value)
    if seconds > _MS_THRESHOLD:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC).replace(
            microsecond=int((seconds - int(seconds)) * 1_000_000)
        )
    except (OverflowError, OSError, ValueError):
        raise _fail(path, "time out of range") from None


def timestamp(data: dict[str, JSON], keys: Keys, prefix: str = "") -> datetime | None:
    """A time as an aware UTC datetime: ISO-8601 (naive is UTC), epoch seconds, or ms (> 1e12)."""
    key, value = _find(data, keys)
    path = _path(prefix, key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _fail(path, "expected a time, got a boolean")
    if isinstance(value, (int, Decimal)):
        if isinstance(value, Decimal) and not value.is_finite():
            raise _fail(path, "expected a time")
        if value < 0:
            raise _fail(path, "negative time")
        return _epoch(value, path)
    if isinstance(value, str):
        if len(value) > 20 and value[-1] == "Z" and value[10] == "T":
            # The servers' own form (``2026-08-20T00:00:00.000Z``): what the lines below would
            # make of it, without the strip, digit test and offset rewrite.
            try:
                return datetime.fromisoformat(value).astimezone(UTC)
            except ValueError:
                pass  # the lines below say why, naming the field
        raw = value.strip()
        if raw.isascii() and raw.isdigit() and len(raw) <= 16:
            return _epoch(int(raw), path)
        iso = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
        try:
            when = datetime.fromisoformat(iso)
        except ValueError:
            raise _fail(path, f"expected a time, got {shape(value)}") from None
        if when.tzinfo is None:
            return when.replace(tzinfo=UTC)
        return when.astimezone(UTC)
    raise _fail(path, f"expected a time, got {type(value).__name__}")


def _rate(data: dict[str, JSON], keys: Keys, prefix: str, divisor: Decimal) -> Decimal | None:
    key, value = _find(data, keys)
    if value is None:
        return None
    path = _path(prefix, key)
    try:
        rate = parse_money(value, field=key, allow_negative=False) / divisor
    except MoneyError:
        raise _fail(path, f"expected a rate, got {shape(value)}") from None
    if rate > 1:
        raise _fail(path, "rate is out of range (above 100%)")
    return rate


def percent_rate(data: dict[str, JSON], keys: Keys, prefix: str = "") -> Decimal | None:
    """A percent 0..100 (production ``win_rate``, ``*_pct``) as a fraction 0..1."""
    return _rate(data, keys, prefix, _HUNDRED)


def fraction_rate(data: dict[str, JSON], keys: Keys, prefix: str = "") -> Decimal | None:
    """A fraction 0..1 (docs ``win_rate``)."""
    return _rate(data, keys, prefix, Decimal(1))
