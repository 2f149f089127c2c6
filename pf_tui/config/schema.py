"""The known keys of every section, and a reader that validates values against them.

:data:`SCHEMA` is the single list of keys pf-tui understands. The :class:`Section` reader refuses
any key not in it (with a did-you-mean hint) and refuses to read a key that is not in it either,
so the parser cannot drift from the list that the example-config test walks.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pf_tui.config.errors import ConfigError
from pf_tui.config.model import POLL_TYPES, SERVICES
from pf_tui.usd import MoneyError, parse_money

_SECRET_VARIANTS = ("_env", "_file", "_credential", "")


def _secret_keys(base: str) -> tuple[str, ...]:
    return tuple(base + suffix for suffix in _SECRET_VARIANTS)


SCHEMA: dict[str, tuple[str, ...]] = {
    "": ("profile", "api", "polling", "agents", "alerts", "notify", "ui", "mcp", "store"),
    "api": (*SERVICES, "timeout", "escrow_dialect", "transport"),
    "polling": (
        *POLL_TYPES,
        "max_backoff",
        "error_window",
        "max_concurrency",
        "engine",
        "worker_nice",
    ),
    "agents[]": (
        "id",
        "label",
        "strategy",
        "initial_balance",
        "base_address",
        "solana_address",
        *_secret_keys("casino_key"),
        *_secret_keys("trading_key"),
        *_secret_keys("wallet_key"),
    ),
    "alerts": ("rules", "silences", "stream_timeout_lead"),
    "alerts.rules.*": (
        "scope",
        "metric",
        "op",
        "threshold",
        "clear_threshold",
        "for",
        "repeat_interval",
        "severity",
        "enabled",
    ),
    "alerts.silences[]": ("matcher", "expires", "comment"),
    "alerts.silences[].matcher": ("rule", "agent", "severity"),
    "notify": ("telegram", "webhook", "log", "heartbeat", "alertmanager"),
    "notify.telegram": ("enabled", *_secret_keys("token"), "chat_id", "api_base", "per_minute"),
    "notify.webhook": ("enabled", *_secret_keys("url"), "timeout"),
    "notify.log": ("path",),
    "notify.heartbeat": ("interval", *_secret_keys("deadman_url"), "deadman_interval"),
    "notify.alertmanager": ("enabled", "url", "timeout", "resend_interval"),
    "ui": ("theme", "keymap", "read_only", "max_action_usd", "typed_confirm_usd"),
    "mcp": ("write_agents", "max_call_usd", "max_hour_usd"),
    "store": ("path", "retention_days"),
}
"""Section pattern -> the keys it may hold. ``[]`` marks an array of tables, ``*`` a free name.
``ui.keymap`` is free-form (binding id -> keys) and so is not listed."""

SECRET_KEYS: frozenset[str] = frozenset(
    _secret_keys("casino_key")
    + _secret_keys("trading_key")
    + _secret_keys("wallet_key")
    + _secret_keys("token")
    + _secret_keys("url")
    + _secret_keys("deadman_url")
)
"""Keys whose values are never echoed in an error."""


class ExponentNumber(Decimal):
    """A TOML float written with an exponent (``1e3``): the parser marks it so money and
    thresholds can refuse it, as :func:`pf_tui.usd.parse_money` refuses ``"1e3"`` on the wire."""

    __slots__ = ()


def toml_float(text: str) -> Decimal:
    """``parse_float`` for :func:`tomllib.loads`: exact, and marked if written with an exponent."""
    if "e" in text or "E" in text:
        return ExponentNumber(text)
    return Decimal(text)


_MISSING = object()
_Choice = TypeVar("_Choice", bound=str)
_CREDENTIALS = "must not carry a user name or password"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def type_name(value: object) -> str:
    """How a TOML value's type is called in messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, (date, time)):
        return "a date" if isinstance(value, date) else "a time"
    return type(value).__name__


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``did you mean 'x'?`` for the closest choice, else the list of choices."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(choices)


def key_path(parent: str, key: str) -> str:
    """``parent.key`` (``key`` quoted when it is not a bare TOML key)."""
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'
    return f"{parent}.{shown}" if parent else shown


def printable(text: str) -> bool:
    """True when ``text`` has no control, escape or bidi characters."""
    return text.isprintable()


@dataclass(frozen=True)
class Context:
    """What every reader needs: the file (messages), its folder (relative paths), the env."""

    path: Path | None
    base_dir: Path
    env: Mapping[str, str]

    def error(self, key: str, message: str, fix: str = "") -> ConfigError:
        """A :class:`ConfigError` about ``key`` in this file."""
        return ConfigError(self.path, key, message, fix)


class Section:
    """A TOML table being read: checks unknown keys, types and ranges, naming each key's path."""

    def __init__(self, ctx: Context, where: str, data: object, schema: str) -> None:
        if not isinstance(data, dict):
            raise ctx.error(
                where, f"expected a table, got {type_name(data)}", f"write it as [{where}]"
            )
        self.ctx = ctx
        self.where = where
        self.data: dict[str, Any] = data
        self.allowed = SCHEMA[schema]
        for key in data:
            if key not in self.allowed:
                raise ctx.error(self.path(key), "unknown key", did_you_mean(key, self.allowed))

    def path(self, key: str) -> str:
        """The dotted path of ``key`` in this section."""
        return key_path(self.where, key)

    def has(self, key: str) -> bool:
        """Whether the file sets ``key`` here."""
        return key in self.data

    def raw(self, key: str, default: object = None) -> Any:
        """The value as TOML gave it (``default`` when absent)."""
        if key not in self.allowed:
            raise KeyError(f"{key!r} is not in SCHEMA for {self.where or 'the top level'}")
        return self.data.get(key, default)

    def error(self, key: str, message: str, fix: str = "") -> ConfigError:
        """A :class:`ConfigError` about ``key`` in this section."""
        return self.ctx.error(self.path(key), message, fix)

    def _typed(self, key: str, kinds: tuple[type, ...], expected: str, default: object) -> Any:
        value = self.raw(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {expected}, got {type_name(value)}")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {expected}, got {type_name(value)}")
        return value

    def string(self, key: str, default: str | None = None, *, max_len: int = 200) -> str | None:
        """A printable string (one line), or ``default``."""
        value: str | None = self._typed(key, (str,), "a string", default)
        if value is None or value is default:
            return value
        secret = key in SECRET_KEYS
        if not printable(value):
            raise self.error(
                key, "contains a control character or line break", "write it on one line"
            )
        if len(value) > max_len and not secret:
            raise self.error(key, f"is longer than {max_len} characters", "shorten it")
        return value

    def required_string(self, key: str, fix: str) -> str:
        """A non-empty string that must be present."""
        value = self.string(key)
        if value is None:
            raise self.error(key, "missing", fix)
        if not value.strip():
            raise self.error(key, "is empty", fix)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """``true``/``false``."""
        return bool(self._typed(key, (bool,), "true or false", default))

    def choice(self, key: str, default: _Choice, choices: Sequence[_Choice]) -> _Choice:
        """One of ``choices``, with a did-you-mean hint otherwise."""
        value = self._typed(key, (str,), "a string", default)
        for choice in choices:
            if choice == value:
                return choice
        raise self.error(
            key, f"{value!r} is not one of {', '.join(choices)}", did_you_mean(value, choices)
        )

    def number(
        self, key: str, default: float, lo: float, hi: float, *, unit: str = "seconds"
    ) -> float:
        """A number (integer or decimal) within ``lo..hi``."""
        value = self._typed(key, (int, Decimal), "a number", _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, Decimal) and not value.is_finite():
            raise self.error(key, f"{value} is not a finite number")
        if not lo <= value <= hi:
            raise self.error(
                key, f"{_fmt(value)} is out of range", f"use {_fmt(lo)} to {_fmt(hi)} {unit}"
            )
        return float(value)

    def integer(self, key: str, default: int, lo: int, hi: int, *, unit: str) -> int:
        """An integer within ``lo..hi``."""
        value = self._typed(key, (int,), "an integer", default)
        if not lo <= value <= hi:
            raise self.error(key, f"{value} is out of range", f"use {lo} to {hi} {unit}")
        return int(value)

    def decimal(
        self,
        key: str,
        default: Decimal | None,
        *,
        lo: Decimal | None = None,
        hi: Decimal | None = None,
    ) -> Decimal | None:
        """A plain number kept exact (thresholds), within ``lo..hi`` when given; no exponent."""
        value = self._typed(key, (int, Decimal), "a number", _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, Decimal) and not value.is_finite():
            raise self.error(key, f"{value} is not a finite number")
        if isinstance(value, ExponentNumber):
            raise self.error(key, "uses an exponent", "write the number out in full, like 1000")
        number = Decimal(value)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise self.error(
                key, f"{_fmt(number)} is out of range", f"use {_fmt(lo or 0)} to {_fmt(hi or 0)}"
            )
        return number

    def money(
        self,
        key: str,
        default: Decimal | None,
        *,
        positive: bool = False,
        hi: Decimal = Decimal(10**9),
    ) -> Decimal | None:
        """A USD amount (number or numeric string), at most 6 dp, never negative, at most ``hi``.

        An exponent (``1e3``, bare or quoted) is refused, as the money rules refuse it on the wire.
        """
        value = self.raw(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, ExponentNumber):
            raise self.error(key, "uses an exponent", "write the amount out in full, like 1000")
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            raise self.error(
                key,
                f"expected an amount in USD, got {type_name(value)}",
                'write it like 100 or "100.00"',
            )
        try:
            amount = parse_money(value, field="amount", max_dp=6, allow_negative=False)
        except MoneyError as exc:
            detail, _, fix = str(exc).removeprefix("amount: ").partition("; ")
            raise self.error(
                key, detail, fix or 'write a plain amount like 100 or "100.00"'
            ) from None
        if positive and amount <= 0:
            raise self.error(key, "must be more than 0")
        if amount > hi:
            raise self.error(key, f"{_fmt(amount)} is out of range", f"use at most {_fmt(hi)} USD")
        return amount

    def duration(self, key: str, default: float, hi: float) -> float:
        """Seconds, from a number or a string like ``90s``, ``5m``, ``1h30m``."""
        value = self._typed(key, (int, Decimal, str), 'seconds or a duration like "5m"', _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, str):
            seconds = parse_duration(value)
            if seconds is None:
                raise self.error(
                    key,
                    f"{value!r} is not a duration",
                    'write seconds (90) or "90s", "5m", "1h30m"',
                )
        else:
            seconds = float(value)
        if not 0 <= seconds <= hi:
            raise self.error(
                key, f"{_fmt(seconds)} seconds is out of range", f"use 0 to {_fmt(hi)} seconds"
            )
        return seconds

    def url(self, key: str, default: str) -> str:
        """An http(s) URL with a host, trailing slash removed.

        A bad URL is quoted in the error only as :func:`shown_url` makes it: without a user,
        password, query or fragment, which is where a key or a password would be.
        """
        value = self.string(key, default)
        assert value is not None
        problem = url_problem(value)
        if problem == _CREDENTIALS:  # never echo a password
            raise self.error(key, problem, "put credentials in a key, not in the URL")
        if problem:
            raise self.error(
                key,
                f"{shown_url(value)} {problem}",
                "write it like https://casino.purpleflea.com/api/v1",
            )
        return value.rstrip("/")

    def path_value(self, key: str) -> Path | None:
        """A file path: ``~`` expanded, relative paths taken from the config file's folder."""
        value = self.string(key, None, max_len=4096)
        if value is None:
            return None
        if not value.strip():
            raise self.error(key, "is empty", "give a file path or remove the key")
        return resolve_path(value, self.ctx.base_dir)


def resolve_path(text: str, base_dir: Path) -> Path:
    """``text`` as a path: ``~`` expanded and relative paths anchored at ``base_dir``."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path


def shown_url(value: str) -> str:
    """How a URL from the config may be quoted in an error: its scheme, host and path only.

    A user name, a password (``htps://operator:pw@host``: a mistyped scheme is no reason to echo
    the password), a query (``?key=sk_live_...``) and a fragment are shown as ``***``.
    """
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    if "@" in authority:
        host = "***@" + host
    path = slash + path
    for mark in ("?", "#"):
        if mark in path:
            path = path.split(mark, 1)[0] + mark + "***"
    if "?" in host or "#" in host:
        host = host.split("?", 1)[0].split("#", 1)[0] + "?***"
    text = f"{scheme}{sep}{host}{path}"
    return repr(text if len(text) <= 120 else text[:117] + "...")


def url_problem(value: str, *, base: bool = True) -> str:
    """Why ``value`` is not a usable http(s) URL ('' when it is); a ``base`` takes no query."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "is not a URL"
    # Credentials first: whatever else is wrong, a URL holding a password is never echoed.
    if parts.username is not None or parts.password is not None:
        return _CREDENTIALS
    if parts.scheme not in ("http", "https"):
        return "is not an http(s) URL"
    if not parts.hostname:
        return "has no host"
    if base and (parts.query or parts.fragment):
        return "must not have a query or fragment"
    return ""


def parse_duration(text: str) -> float | None:
    """Seconds in ``"90s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``, ``"2d"``; else ``None``."""
    text = text.strip()
    if not text:
        return None
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match[1]) * _UNIT_S[match[2]]
        pos = match.end()
    return total if pos == len(text) else None


def _fmt(value: float | int | Decimal) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
