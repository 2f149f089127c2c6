"""The poller's own request counters: latency samples and error counts per endpoint and per agent.

Production has no error-stats route (docs/api.md §7): pf-tui derives error rates from its own calls.
Latencies are kept in bounded rings (recent behaviour is what an operator needs); counts are
totals since start plus the outcome of the last ``window`` calls for a current error rate.
Percentiles are the client's nearest-rank :func:`~pf_tui.api.latency.percentile`, so every
latency pf-tui shows is one it measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pf_tui.api.latency import FlagRing, FloatRing, percentile

RING = 512
"""Latency samples and outcomes kept per key."""


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


class CallStats:
    """Per-endpoint and per-agent latency (successful calls) and error counts (recent window)."""

    def __init__(self) -> None:
        self._by_endpoint: dict[str, _Counter] = {}
        self._by_agent: dict[str, _Counter] = {}

    def record(self, agent_id: str, endpoint: str, latency_s: float, ok: bool) -> None:
        """Count one call (``endpoint`` like ``casino GET /auth/balance``)."""
        ep = self._by_endpoint.get(endpoint)
        if ep is None:
            ep = self._by_endpoint[endpoint] = _Counter()
        ep.add(latency_s, ok)
        ag = self._by_agent.get(agent_id)
        if ag is None:
            ag = self._by_agent[agent_id] = _Counter()
        ag.add(latency_s, ok)

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
