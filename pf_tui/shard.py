"""Shards: which agents one pf-tui process watches when a fleet is split over several.

``--shard i/n`` (0 <= i < n) makes a daemon, a console or a read command handle only the agents
whose shard is ``i``. The shard of an agent depends on its id and ``n`` alone, the same in every
process, on every machine, in every release (docs/design.md, "Scale"):

1. ``key`` = the first 8 bytes of SHA-256 of the agent id's UTF-8 bytes, read as a big-endian
   unsigned 64-bit integer;
2. ``shard`` = Lamping and Veach's jump consistent hash of ``key`` into ``n`` buckets
   ("A Fast, Minimal Memory, Consistent Hash Algorithm", 2014), exactly as :func:`jump_hash`
   writes it.

Python's own ``hash()`` is salted per process, so it is never used. The jump hash spreads agents
evenly, and when a fleet grows from ``n`` to ``n + 1`` shards only about ``1/(n + 1)`` of the
agents move (to the new shard), so re-sharding keeps most agents' history and alert state where
it was. The ``n`` shards partition the fleet exactly: every agent is in one shard and only one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["MAX_SHARDS", "Shard", "ShardError", "jump_hash", "parse_shard", "shard_key", "shard_of"]

T = TypeVar("T")

MAX_SHARDS = 1024
"""More shards than any fleet needs: a bound, so a typo (``0/20000``) is refused, not obeyed."""

_MASK64 = (1 << 64) - 1
_SPEC = re.compile(r"^\s*(\d{1,5})\s*/\s*(\d{1,5})\s*$")


class ShardError(ValueError):
    """A ``--shard`` value that is not ``i/n`` with ``0 <= i < n <= MAX_SHARDS``."""


def shard_key(agent_id: str) -> int:
    """The 64-bit key of an agent id: SHA-256 of its UTF-8 bytes, first 8 bytes, big-endian."""
    return int.from_bytes(hashlib.sha256(agent_id.encode("utf-8")).digest()[:8], "big")


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash of a 64-bit ``key`` into ``0..buckets-1`` (Lamping and Veach).

    The reference loop, with the 64-bit linear congruential step made explicit (``& 2**64-1``)
    so it gives the same answer as the paper's C++ on any machine.
    """
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    key &= _MASK64
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


def shard_of(agent_id: str, count: int) -> int:
    """Which of ``count`` shards ``agent_id`` belongs to (see the module docstring)."""
    return jump_hash(shard_key(agent_id), count)


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``: the agents :func:`shard_of` puts there."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ShardError(f"shard count {self.count}: choose between 1 and {MAX_SHARDS}")
        if not 0 <= self.index < self.count:
            raise ShardError(
                f"shard {self.index}/{self.count}: the index runs from 0 to {self.count - 1}"
            )

    @property
    def label(self) -> str:
        """``i/n``: how the flag spells it, and the ``shard`` label of the daemon's metrics."""
        return f"{self.index}/{self.count}"

    def owns(self, agent_id: str) -> bool:
        """Whether ``agent_id`` is in this shard."""
        return self.count == 1 or shard_of(agent_id, self.count) == self.index

    def select(self, items: Iterable[T], agent_id: Callable[[T], str]) -> list[T]:
        """The items whose agent is in this shard, in their order: the filter every face uses
        (the daemon's and the console's agents, a read command's rows)."""
        return [item for item in items if self.owns(agent_id(item))]

    def __str__(self) -> str:
        return self.label


def parse_shard(text: str) -> Shard:
    """``"i/n"`` as a :class:`Shard`; :class:`ShardError` says what is wrong."""
    match = _SPEC.match(text)
    if match is None:
        raise ShardError(f"shard {text!r}: write it as i/n, for example 0/2 (the first of two)")
    return Shard(int(match[1]), int(match[2]))
