"""A value that must never be shown: API keys, bot tokens, webhook URLs.

``Secret`` prints as ``<secret>`` through ``repr``, ``str``, ``format``, f-strings, logging,
``json.dumps`` (it is not serialisable by accident: the default encoder raises on it, and
:func:`pf_tui.usd.dumps` refuses it), pickling and tracebacks that show locals. The value is
reached only through :meth:`Secret.reveal`, so every use of a real key is greppable. ``source``
names where it came from (``env:PF_CASINO_KEY``, ``file:/run/secrets/casino``, ``config``) and is
safe to print.
"""

from __future__ import annotations

from typing import NoReturn

_MASK = "<secret>"


class Secret:
    """A secret string with a safe ``source`` description."""

    __slots__ = ("_value", "source")
    _value: str
    source: str

    def __init__(self, value: str, source: str = "config") -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "source", source)

    def reveal(self) -> str:
        """The secret value itself: pass it straight to the wire, never to a log or a widget."""
        return self._value

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return f"Secret({_MASK}, source={self.source!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return format(_MASK, spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            import hmac

            return hmac.compare_digest(self._value, other._value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __json__(self) -> str:  # for encoders that honour it
        return _MASK
