"""History rings: the last N ``(t, Decimal)`` samples of one metric, in 17 bytes a sample.

A ``deque`` of ``(float, Decimal)`` tuples costs about 190 bytes a sample (the tuple, the float,
the Decimal). The fleet keeps 360 samples for each of 10 metrics of every agent, and a ring fills
within the hour for an active agent: at 5,000 agents that grew past 3 GB (docs/performance.md,
"Memory"). :class:`SampleRing` keeps each time as a double and each amount as its integer
coefficient and exponent, and gives back the very same ``Decimal`` (value, sign and exponent) on
every read, so history stays exact money. An amount that does not fit (more than 18 digits, or
negative zero) is kept as the object itself.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from decimal import Decimal

from pf_tui.usd import PACK_ODD, pack, unpack

__all__ = ["DAY_S", "DayChange", "SampleRing"]

DAY_S = 86_400
"""Seconds in a UTC day (POSIX time counts no leap seconds)."""


class SampleRing:
    """The last ``maxlen`` samples ``(t, amount)``, oldest first; ``ring[-1]`` is the newest.

    Reads rebuild the ``Decimal`` from its coefficient and exponent, equal to what was appended
    with the same exponent (``Decimal("12.50")`` stays ``12.50``).
    """

    __slots__ = ("_coeffs", "_exps", "_next", "_odd", "_times", "maxlen")

    def __init__(self, samples: Iterable[tuple[float, Decimal]] = (), maxlen: int = 360) -> None:
        if maxlen < 1:
            raise ValueError("a history ring holds at least one sample")
        self.maxlen = maxlen
        self._times = array("d")
        self._coeffs = array("q")
        self._exps = array("b")
        self._odd: dict[int, Decimal] = {}
        self._next = 0
        """Where the next sample goes once the ring is full (the oldest sample's slot)."""
        for t, value in samples:
            self.append((t, value))

    def append(self, sample: tuple[float, Decimal]) -> None:
        """Add a sample, dropping the oldest when full."""
        t, value = sample
        coeff, exp = pack(value)
        if len(self._times) < self.maxlen:
            slot = len(self._times)
            self._times.append(t)
            self._coeffs.append(coeff)
            self._exps.append(exp)
        else:
            slot = self._next
            self._times[slot] = t
            self._coeffs[slot] = coeff
            self._exps[slot] = exp
            self._next = 0 if slot + 1 == self.maxlen else slot + 1
        if exp == PACK_ODD:
            self._odd[slot] = value
        else:
            self._odd.pop(slot, None)

    def _at(self, slot: int) -> tuple[float, Decimal]:
        exp = self._exps[slot]
        if exp == PACK_ODD:
            return self._times[slot], self._odd[slot]
        return self._times[slot], unpack(self._coeffs[slot], exp)

    def __len__(self) -> int:
        return len(self._times)

    def __bool__(self) -> bool:
        return len(self._times) > 0

    def __getitem__(self, index: int) -> tuple[float, Decimal]:
        n = len(self._times)
        if not -n <= index < n:
            raise IndexError("history ring index out of range")
        position = index % n
        return self._at((self._next + position) % n if n == self.maxlen else position)

    def __iter__(self) -> Iterator[tuple[float, Decimal]]:
        n = len(self._times)
        start = self._next if n == self.maxlen else 0
        for i in range(n):
            yield self._at((start + i) % n)

    def __repr__(self) -> str:
        return f"SampleRing({list(self)!r}, maxlen={self.maxlen})"


class DayChange:
    """How far one metric moved since UTC midnight, whatever the number of samples in between.

    A ring of the last N samples cannot say it: an agent whose casino net changes on every
    2-second poll fills 360 samples in 12 minutes, and the sample before midnight is gone. This
    keeps three things: the latest sample, its time, and the base of its UTC day (the last
    sample before that day began, or the day's first sample when there was none before).
    Samples arrive in time order.
    """

    __slots__ = ("base", "day", "last", "last_t")

    def __init__(self) -> None:
        self.day: int | None = None
        self.last_t = 0.0
        self.last: Decimal | None = None
        self.base: Decimal | None = None

    def append(self, t: float, value: Decimal) -> None:
        """Record the metric's value at ``t``."""
        day = int(t // DAY_S)
        if self.day is None:
            self.base = value
        elif day != self.day:
            self.base = self.last  # the value the new day started from
        self.day, self.last_t, self.last = day, t, value

    def since(self, midnight: float) -> Decimal | None:
        """The move since ``midnight`` (the latest UTC midnight, at or before the latest
        sample's day); zero when no sample came after it, ``None`` before any sample."""
        last, base = self.last, self.base
        if last is None or base is None:
            return None
        if self.last_t < midnight:
            return last - last  # zero, with the figure's exponent
        return last - base
