"""The poller's own request counters: latency samples and error counts per endpoint and per agent.

Production has no error-stats route (docs/api.md §7): pf-tui derives error rates from its own calls.
Latencies are kept in bounded rings (recent behaviour is what an operator needs); counts are
totals since start plus the outcome of the last :data:`RING` calls.

**The error rate** (:meth:`CallStats.error_rate`, the one figure the Fleet tab, the daemon's
``/metrics`` and the ``error_rate_pct`` rule all show) is what an operator would call failing:
per service, the failed share of the agent's calls over the last :data:`WINDOW_S` seconds
(``[polling] error_window``; the demo looks at the last minute), and
the agent's figure is its *worst* service. A service whose calls all failed is 100% however
healthy the others are (a share of all calls hid a dead casino behind busy trading reads: 0.5%
during a 100% outage), and a service the poller has backed off after a failure, so that no call
fell in the window, counts as 100% too: its last word was a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pf_tui.api.latency import FlagRing, FloatRing, percentile
from pf_tui.clock import SYSTEM_CLOCK, Clock

RING = 512
"""Latency samples and outcomes kept per key."""
WINDOW_S = 300.0
"""The error rate looks at the last five minutes of calls unless told otherwise."""
BUCKET_S = 10.0
"""Calls are counted in buckets of this many seconds (30 make the default window): constant
memory per (agent, service) however fast it is polled."""


def window_buckets(window_s: float) -> int:
    """How many :data:`BUCKET_S` buckets make a window of ``window_s`` seconds (at least one)."""
    return max(1, round(window_s / BUCKET_S))


class _Window:
    """Calls and failures of one (agent, service) over the last ``buckets`` x :data:`BUCKET_S`."""

    __slots__ = ("buckets", "calls", "fails", "head", "last_ok")

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self.calls = [0] * buckets
        self.fails = [0] * buckets
        self.head = -1
        """The newest bucket number counted (monotonic seconds // BUCKET_S)."""
        self.last_ok = True

    def _roll(self, bucket: int) -> None:
        if bucket <= self.head:
            return
        if self.head < 0 or bucket - self.head >= self.buckets:
            self.calls = [0] * self.buckets
            self.fails = [0] * self.buckets
        else:
            for b in range(self.head + 1, bucket + 1):
                self.calls[b % self.buckets] = self.fails[b % self.buckets] = 0
        self.head = bucket

    def add(self, t: float, ok: bool) -> None:
        bucket = int(t // BUCKET_S)
        self._roll(bucket)
        if bucket <= self.head - self.buckets:
            return  # older than the window (a clock that went back): not recent
        self.calls[bucket % self.buckets] += 1
        if not ok:
            self.fails[bucket % self.buckets] += 1
        self.last_ok = ok

    def counts(self, t: float) -> tuple[int, int]:
        """``(calls, failures)`` in the window ending at ``t``; a service with no call in it but
        whose last call failed is ``(1, 1)``: backed off after failing is failing."""
        self._roll(int(t // BUCKET_S))
        calls = sum(self.calls)
        if calls == 0:
            return (1, 0) if self.last_ok else (1, 1)
        return calls, sum(self.fails)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Latency percentiles (seconds) and error rate of one endpoint or agent."""

    p50: float | None
    p95: float | None
    p99: float | None
    requests: int
    errors: int

    @property
    def error_rate(self) -> float | None:
        """Errors over requests, ``None`` with no requests."""
        return error_rate(self.requests, self.errors)


def latency_summary(samples: Sequence[float], requests: int, errors: int) -> LatencySummary:
    """p50/p95/p99 of ``samples`` (sorted once) with the request and error counts."""
    ordered = sorted(samples)
    return LatencySummary(
        percentile(ordered, 50), percentile(ordered, 95), percentile(ordered, 99), requests, errors
    )


def error_rate(requests: int, errors: int) -> float | None:
    """Fraction of calls that failed; ``None`` when nothing was called."""
    return errors / requests if requests else None


@dataclass(slots=True)
class _Counter:
    # Compact rings (8 bytes a latency, 1 an outcome): one counter per agent, 5,000 agents.
    service: str = ""
    """An endpoint's service (its label's first word), split once."""
    latencies: FloatRing = field(default_factory=lambda: FloatRing(RING))
    outcomes: FlagRing = field(default_factory=lambda: FlagRing(RING))
    requests: int = 0
    errors: int = 0

    def add(self, latency: float, ok: bool) -> None:
        self.requests += 1
        if ok:
            self.latencies.append(latency)
        else:
            self.errors += 1
        self.outcomes.append(ok)

    def summary(self) -> LatencySummary:
        window = len(self.outcomes)
        failed = window - self.outcomes.count
        return latency_summary(list(self.latencies), window, failed)


@dataclass(frozen=True, slots=True)
class ErrorRate:
    """An error rate and the service it comes from (the worst one)."""

    rate: float | None
    """Failed share 0..1 over the window; ``None`` when nothing was called yet."""
    service: str | None = None
    """The service the rate is of (``casino``), ``None`` with no calls."""

    @property
    def pct(self) -> float | None:
        """:attr:`rate` in percent."""
        return None if self.rate is None else self.rate * 100


NO_CALLS = ErrorRate(None)


def _worst(by_service: dict[str, tuple[int, int]]) -> ErrorRate:
    worst = NO_CALLS
    for service in sorted(by_service):
        calls, fails = by_service[service]
        rate = fails / calls
        if worst.rate is None or rate > worst.rate:
            worst = ErrorRate(rate, service)
    return worst


class CallStats:
    """Per-endpoint and per-agent latency (successful calls) and error counts (recent window),
    and the windowed per-service error rate (see the module docstring)."""

    def __init__(
        self, clock: Clock = SYSTEM_CLOCK, *, window_s: float = WINDOW_S, agent_latency: bool = True
    ) -> None:
        """``agent_latency=False`` keeps no per-agent latency (:meth:`agent` then says nothing):
        the console reads only the error rates and its fleet state's own latency ring, and
        these rings were 4.6 KB an agent, 23 MB at 5,000 agents."""
        self._clock = clock
        self._agent_latency = agent_latency
        self._buckets = window_buckets(window_s)
        self._by_endpoint: dict[str, _Counter] = {}
        self._by_agent: dict[str, _Counter] = {}
        self._windows: dict[str, dict[str, _Window]] = {}
        """agent -> service -> its recent calls."""

    def record(
        self, agent_id: str, endpoint: str, latency_s: float, ok: bool, *, now: float | None = None
    ) -> None:
        """Count one call (``endpoint`` like ``casino GET /auth/balance``: service first) that
        ended at ``now`` (the clock's monotonic time; read here when not given)."""
        ep = self._by_endpoint.get(endpoint)
        if ep is None:
            ep = self._by_endpoint[endpoint] = _Counter(endpoint.split(" ", 1)[0])
        ep.add(latency_s, ok)
        if self._agent_latency:
            ag = self._by_agent.get(agent_id)
            if ag is None:
                ag = self._by_agent[agent_id] = _Counter()
            ag.add(latency_s, ok)
        windows = self._windows.get(agent_id)
        if windows is None:
            windows = self._windows[agent_id] = {}
        service = ep.service
        window = windows.get(service)
        if window is None:
            window = windows[service] = _Window(self._buckets)
        window.add(self._clock.monotonic() if now is None else now, ok)

    def service_counts(self, agent_id: str) -> dict[str, tuple[int, int]]:
        """``service -> (calls, failures)`` of one agent over the window (see :class:`_Window`)."""
        now = self._clock.monotonic()
        return {s: w.counts(now) for s, w in self._windows.get(agent_id, {}).items()}

    def error_rate(self, agent_id: str) -> ErrorRate:
        """The agent's error rate: its worst service's failed share over the window."""
        return _worst(self.service_counts(agent_id))

    def fleet_error_rate(self, agents: Sequence[str] | None = None) -> ErrorRate:
        """Per service, the failed share of the whole fleet's calls over the window; the worst
        service's (a casino outage is a fleet problem however many other calls succeed)."""
        totals: dict[str, tuple[int, int]] = {}
        for agent_id in self._windows if agents is None else agents:
            for service, (calls, fails) in self.service_counts(agent_id).items():
                c, f = totals.get(service, (0, 0))
                totals[service] = (c + calls, f + fails)
        return _worst(totals)

    def endpoints(self) -> list[str]:
        """Endpoints called so far."""
        return sorted(self._by_endpoint)

    def endpoint(self, endpoint: str) -> LatencySummary:
        """p50/p95/p99 and error rate over the last calls of one endpoint."""
        counter = self._by_endpoint.get(endpoint)
        return counter.summary() if counter else latency_summary([], 0, 0)

    def agent(self, agent_id: str) -> LatencySummary:
        """p50/p95/p99 and error rate over the last calls made for one agent."""
        counter = self._by_agent.get(agent_id)
        return counter.summary() if counter else latency_summary([], 0, 0)

    def totals(self, endpoint: str) -> tuple[int, int]:
        """``(requests, errors)`` of an endpoint since start."""
        counter = self._by_endpoint.get(endpoint)
        return (counter.requests, counter.errors) if counter else (0, 0)

    def forget_agent(self, agent_id: str) -> None:
        """Drop an agent's counters (it was removed from the fleet)."""
        self._by_agent.pop(agent_id, None)
        self._windows.pop(agent_id, None)
