"""Latency samples and success/error counts per endpoint and per agent, in bounded memory.

The engine makes about 2,000 requests a second, so :meth:`LatencyRecorder.record` does two dict
lookups and two ring-buffer appends and nothing else; percentiles are computed only when someone
reads them. Keys are endpoint labels (``casino GET /auth/balance``: service, method and route
template), so a thousand agents share a few dozen series, plus one small series per (endpoint,
agent) for the Fleet tab's per-agent figures.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["FlagRing", "FloatRing", "LatencyRecorder", "LatencyStats", "percentile"]


class FloatRing:
    """The last ``size`` floats, oldest first when iterated: a ``deque(maxlen=size)`` of floats in
    8 bytes a sample.

    A deque holds each sample as a 24-byte float object behind an 8-byte pointer; at 5,000 agents
    the per-agent latency rings alone took over 200 MB that way (docs/performance.md, "Memory").
    """

    __slots__ = ("_buf", "_next", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a ring holds at least one sample")
        self.size = size
        self._buf = array("d")
        self._next = 0
        """Where the next sample goes once the ring is full (the oldest sample)."""

    def append(self, value: float) -> None:
        """Add a sample, dropping the oldest when full."""
        buf = self._buf
        if len(buf) < self.size:
            buf.append(value)
            return
        i = self._next
        buf[i] = value
        self._next = 0 if i + 1 == self.size else i + 1

    def __len__(self) -> int:
        return len(self._buf)

    def __iter__(self) -> Iterator[float]:
        buf, i = self._buf, self._next
        return iter(buf[i:] + buf[:i]) if i else iter(buf)

    def clear(self) -> None:
        """Forget every sample."""
        self._buf = array("d")
        self._next = 0


class FlagRing:
    """The last ``size`` booleans (a ``deque(maxlen=size)`` of bools, one byte each); ``count``
    says how many of them are true."""

    __slots__ = ("_buf", "_next", "count", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a ring holds at least one flag")
        self.size = size
        self._buf = bytearray()
        self._next = 0
        self.count = 0
        """True flags in the ring, kept as they come and go (no scan on read)."""

    def append(self, flag: bool) -> None:
        """Add a flag, dropping the oldest when full."""
        buf = self._buf
        bit = 1 if flag else 0
        if len(buf) < self.size:
            buf.append(bit)
        else:
            i = self._next
            self.count -= buf[i]
            buf[i] = bit
            self._next = 0 if i + 1 == self.size else i + 1
        self.count += bit

    def __len__(self) -> int:
        return len(self._buf)

    def __iter__(self) -> Iterator[bool]:
        buf, i = self._buf, self._next
        ordered = buf[i:] + buf[:i] if i else buf
        return (b == 1 for b in ordered)


def percentile(sorted_samples: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted samples; None when empty."""
    n = len(sorted_samples)
    if n == 0:
        return None
    rank = max(1, -(-q * n // 100))  # ceil(q/100 * n), at least the first sample
    return sorted_samples[min(n, int(rank)) - 1]


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Latency percentiles (seconds) over the kept samples, and counts since start."""

    ok: int
    errors: int
    samples: int
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def requests(self) -> int:
        """Requests counted (successes and errors)."""
        return self.ok + self.errors

    @property
    def error_rate(self) -> float | None:
        """Errors over requests, None before the first request."""
        total = self.ok + self.errors
        return self.errors / total if total else None


class _Series:
    __slots__ = ("errors", "ok", "samples")

    def __init__(self, size: int) -> None:
        self.samples = FloatRing(size)
        self.ok = 0
        self.errors = 0


def _stats(series: Iterable[_Series]) -> LatencyStats:
    ok = errors = 0
    samples: list[float] = []
    for s in series:
        ok += s.ok
        errors += s.errors
        samples.extend(s.samples)
    samples.sort()
    return LatencyStats(
        ok=ok,
        errors=errors,
        samples=len(samples),
        p50=percentile(samples, 50),
        p95=percentile(samples, 95),
        p99=percentile(samples, 99),
    )


class LatencyRecorder:
    """Ring buffers of request latencies per endpoint and per (endpoint, agent).

    ``window`` samples are kept per endpoint and ``agent_window`` per (endpoint, agent), so memory
    is bounded by the number of endpoints times agents whatever the run time. Failed requests
    count as errors and keep their latency too (a timeout's latency is the timeout).
    ``agent_window=0`` keeps no per-agent series: the poller counts its calls per agent itself
    (:class:`~pf_tui.core.polling.callstats.CallStats`), so its client need not hold a second
    copy (``wiring.build_poll_engine``).
    """

    def __init__(self, window: int = 2048, agent_window: int = 64) -> None:
        if window < 1 or agent_window < 0:
            raise ValueError("the endpoint window must hold at least one sample")
        self._window = window
        self._agent_window = agent_window
        self._by_endpoint: dict[str, _Series] = {}
        self._by_agent: dict[tuple[str, str], _Series] = {}

    def record(self, endpoint: str, agent_id: str | None, seconds: float, ok: bool) -> None:
        """Add one request's latency; ``agent_id`` None records only the endpoint series."""
        series = self._by_endpoint.get(endpoint)
        if series is None:
            series = self._by_endpoint[endpoint] = _Series(self._window)
        series.samples.append(seconds)
        if ok:
            series.ok += 1
        else:
            series.errors += 1
        if agent_id is None or not self._agent_window:
            return
        key = (endpoint, agent_id)
        per = self._by_agent.get(key)
        if per is None:
            per = self._by_agent[key] = _Series(self._agent_window)
        per.samples.append(seconds)
        if ok:
            per.ok += 1
        else:
            per.errors += 1

    def endpoints(self) -> list[str]:
        """Endpoint labels seen so far, sorted."""
        return sorted(self._by_endpoint)

    def agents(self) -> list[str]:
        """Agent ids seen so far, sorted."""
        return sorted({agent for _, agent in self._by_agent})

    def stats(self, endpoint: str | None = None, agent_id: str | None = None) -> LatencyStats:
        """Figures for one endpoint, one agent, one (endpoint, agent), or everything (no filter)."""
        if agent_id is None:
            if endpoint is None:
                return _stats(self._by_endpoint.values())
            series = self._by_endpoint.get(endpoint)
            return _stats([series] if series else [])
        if endpoint is not None:
            per = self._by_agent.get((endpoint, agent_id))
            return _stats([per] if per else [])
        return _stats(s for (_, agent), s in self._by_agent.items() if agent == agent_id)

    def snapshot(self) -> dict[str, LatencyStats]:
        """Figures for every endpoint, keyed by label."""
        return {name: _stats([s]) for name, s in sorted(self._by_endpoint.items())}

    def clear(self) -> None:
        """Forget every sample and count."""
        self._by_endpoint.clear()
        self._by_agent.clear()


class NoLatency(LatencyRecorder):
    """A recorder that keeps nothing: the poll engine's client.

    The poller times and counts every call itself, per endpoint and per agent
    (:class:`~pf_tui.core.polling.callstats.CallStats`, which the console, the daemon's
    ``/metrics`` and the alert rules read); a second per-endpoint ring in the client was read by
    nobody, and recording into it was about 1% of the engine's CPU at 5,000 agents.
    """

    def record(self, endpoint: str, agent_id: str | None, seconds: float, ok: bool) -> None:
        return None
