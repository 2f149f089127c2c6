"""Idempotency-Key: replay the first reply, 422 on another body, 409 while the first still runs."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from pf_tui.usd import JSON

MAX_KEYS = 100_000


@dataclass(slots=True)
class Entry:
    """The first request under one key: its body, and its reply once it has one."""

    body: JSON | bytes
    """The decoded body, or the raw bytes of one that is not JSON (compared as sent)."""
    reply: object = None
    """The HTTP layer's reply, replayed as it was (this layer only keeps it)."""
    in_flight: bool = True


class IdempotencyStore:
    """Keys scoped to (caller's key, method, path, Idempotency-Key); the oldest go past a bound."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str, str, str], Entry] = OrderedDict()

    def begin(self, scope: tuple[str, str, str, str], body: JSON | bytes) -> tuple[str, object]:
        """What to do with a request under ``scope``, and the reply to replay.

        ``("run", None)``, ``("replay", reply)``, ``("mismatch", None)`` or ``("in_flight", None)``.
        """
        entry = self._entries.get(scope)
        if entry is None:
            self._entries[scope] = Entry(body)
            if len(self._entries) > MAX_KEYS:
                self._entries.popitem(last=False)
            return "run", None
        if entry.body != body:
            return "mismatch", None
        if entry.in_flight:
            return "in_flight", None
        return "replay", entry.reply

    def finish(self, scope: tuple[str, str, str, str], reply: object) -> None:
        entry = self._entries.get(scope)
        if entry is not None:
            entry.reply = reply
            entry.in_flight = False

    def abandon(self, scope: tuple[str, str, str, str]) -> None:
        """The handler never produced a reply (the request died): forget the key."""
        entry = self._entries.get(scope)
        if entry is not None and entry.in_flight:
            del self._entries[scope]

    def clear(self) -> None:
        self._entries.clear()
