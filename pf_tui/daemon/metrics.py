"""Prometheus ``/metrics`` for the daemon: per agent and fleet figures, API health, alerts, outbox.

Everything lives in a private :class:`~prometheus_client.CollectorRegistry` (no process or
platform collectors from other libraries, no global state), updated by the daemon's loop after
each evaluation and served by prometheus-client's own HTTP server on ``127.0.0.1`` only. No label
ever carries a secret: labels are agent ids, config labels, data types, receiver names.

Money stays a ``Decimal`` up to the gauge: :func:`_exposed` turns it into the float the exposition
format requires as it is set, the one place money becomes a float.

API latency is a histogram per data type (fleet-wide); per agent it is p50, p95 and p99 gauges,
because a histogram per agent would be ~70 series an agent (70,000 at 1,000 agents). The figures
of the console's Overview are in :mod:`pf_tui.daemon.overview_metrics`; the README lists every
metric.

A daemon started with ``--shard i/n`` labels every series it serves ``shard="i/n"``
(:attr:`DaemonMetrics.exposed`), so Prometheus can tell the shards of one fleet apart and sum
them; an unsharded daemon serves its series without the label.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from pf_tui.daemon.overview_metrics import OverviewMetrics

__all__ = ["AgentRow", "DaemonMetrics", "FleetRow", "StreamTimeoutRow"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class AgentRow:
    """One agent's figures for the gauges (``None``: no figure yet, exported as NaN)."""

    agent_id: str
    label: str
    balance: Decimal | None
    pnl: Decimal | None
    positions: Decimal | None
    data_age_s: float | None
    stale: bool
    latency_p95_s: float | None
    escrow_queue: int
    alerts_firing: int
    error_rate_pct: float | None = None
    """The worst service's failed share of the last 5 minutes of calls: the figure the Fleet tab
    and the ``error_rate_pct`` rule show (:meth:`CallStats.error_rate`)."""
    drawdown_pct: Decimal | None = None
    """The current fall of equity from its peak on the 30-day chart: the ``drawdown`` rule's."""


@dataclass(frozen=True)
class StreamTimeoutRow:
    """A live stream whose escrow's timeout would move money, as the stream_timeout rule sees it."""

    agent_id: str
    stream_id: str
    seconds_left: float
    lead_s: float
    idle: bool


@dataclass(frozen=True)
class FleetRow:
    """Fleet totals for the gauges."""

    agents: int
    balance: Decimal
    pnl: Decimal
    positions: int
    stale_agents: int
    escrow_queue: int
    error_rate_pct: float | None = None
    """The worst service's failed share of the fleet's last 5 minutes of calls."""


class ConstantLabels(Collector):
    """Every series of ``registry``, served with ``labels`` added (the daemon's ``shard``).

    One wrapper at exposition time instead of a ``shard`` label on every family: the families
    and their ``labels(...)`` calls stay as they are, and an unsharded daemon is unchanged.
    """

    def __init__(self, registry: CollectorRegistry, labels: Mapping[str, str]) -> None:
        self._registry = registry
        self._labels = dict(labels)

    def describe(self) -> list[Metric]:
        """Nothing up front: the inner registry already checked its names."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The inner families, each sample with the constant labels added."""
        for family in self._registry.collect():
            out = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                out.add_sample(
                    sample.name,
                    {**sample.labels, **self._labels},
                    sample.value,
                    sample.timestamp,
                    sample.exemplar,
                )
            yield out


class DaemonMetrics:
    """The daemon's metric families and how they are updated.

    ``registry`` holds the families; :attr:`exposed` is what ``/metrics`` serves: the same, with
    ``shard="i/n"`` on every series when ``shard`` is given.
    """

    def __init__(self, shard: str | None = None) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.shard = shard
        self.exposed = r
        if shard is not None:
            self.exposed = CollectorRegistry(auto_describe=False)
            self.exposed.register(ConstantLabels(r, {"shard": shard}))
        a, lbl = ("agent", "label"), ("agent",)
        self.balance = Gauge("pf_agent_balance_usd", "Casino balance in USD", a, registry=r)
        self.pnl = Gauge("pf_agent_pnl_usd", "Trading + casino P&L in USD", a, registry=r)
        self.positions = Gauge("pf_agent_open_positions", "Open trading positions", a, registry=r)
        self.age = Gauge(
            "pf_agent_data_age_seconds", "Age of the agent's oldest figure", a, registry=r
        )
        self.stale = Gauge("pf_agent_stale", "1 when the agent's figures are stale", a, registry=r)
        self.agent_latency = Gauge(
            "pf_agent_api_latency_p95_seconds",
            "p95 latency of the agent's recent API calls",
            lbl,
            registry=r,
        )
        self.agent_errors = Counter(
            "pf_agent_api_errors", "Failed polls of the agent", lbl, registry=r
        )
        self.agent_polls = Counter(
            "pf_agent_api_polls", "Polls made for the agent (errors: pf_agent_api_errors)", lbl,
            registry=r,
        )  # fmt: skip
        self.fleet_error_rate = Gauge(
            "pf_fleet_api_error_5m_ratio",
            "Failed share of the fleet's calls to its worst service over the last 5 minutes"
            " (the fleet_error_rate rule's figure)",
            registry=r,
        )
        self.agent_drawdown = Gauge(
            "pf_agent_drawdown_ratio",
            "Current fall of equity from its peak on the 30-day P&L chart (the drawdown rule's"
            " figure; 0.1: 10%)",
            lbl,
            registry=r,
        )
        self.agent_escrows = Gauge(
            "pf_agent_escrow_queue_depth",
            "Escrows the agent created that are funded, not yet released",
            lbl,
            registry=r,
        )
        self.agent_alerts = Gauge(
            "pf_agent_alerts_firing", "Alerts firing for the agent", lbl, registry=r
        )
        self.latency = Histogram(
            "pf_api_latency_seconds",
            "API poll latency",
            ("kind",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter("pf_api_errors", "Failed polls", ("kind",), registry=r)
        self.polls = Counter("pf_api_polls", "Polls made", ("kind",), registry=r)
        self.fleet_agents = Gauge("pf_fleet_agents", "Agents watched", registry=r)
        self.fleet_balance = Gauge("pf_fleet_balance_usd", "Sum of casino balances", registry=r)
        self.fleet_pnl = Gauge("pf_fleet_pnl_usd", "Sum of P&L", registry=r)
        self.fleet_positions = Gauge("pf_fleet_open_positions", "Sum of open positions", registry=r)
        self.fleet_stale = Gauge("pf_fleet_stale_agents", "Agents with stale figures", registry=r)
        self.fleet_escrows = Gauge(
            "pf_fleet_escrow_queue_depth",
            "Escrows the fleet created that are funded, not yet released",
            registry=r,
        )
        self.firing = Gauge("pf_alerts_firing", "Alerts firing", ("severity",), registry=r)
        self.outbox = Gauge(
            "pf_notify_outbox_depth",
            "Notifications waiting to be delivered",
            ("receiver",),
            registry=r,
        )
        self.dead = Gauge(
            "pf_notify_dead_letters",
            "Notifications a receiver refused for good, by reason (http_400, http_403, ...)",
            ("receiver", "reason"),
            registry=r,
        )
        self.sent = Counter("pf_notify_sent", "Notifications delivered", ("receiver",), registry=r)
        self.failed = Counter(
            "pf_notify_failures", "Failed delivery attempts", ("receiver",), registry=r
        )
        self.brake = Gauge(
            "pf_money_brake_engaged",
            "1 while the stop-all brake is on: no pf-tui process on the store sends money",
            registry=r,
        )
        self.brake_since = Gauge(
            "pf_money_brake_changed_timestamp_seconds",
            "Unix time the brake was last engaged or lifted (0: never)",
            registry=r,
        )
        st = ("agent", "stream")
        self.stream_money_timeout = Gauge(
            "pf_stream_money_timeout_seconds",
            "Seconds until the stream's escrow times out and its money moves on its own"
            " (only while it would: a streaming escrow pays the payee, a classic one refunds)",
            st,
            registry=r,
        )
        self.stream_timeout_lead = Gauge(
            "pf_stream_timeout_lead_seconds",
            "How long before that timeout the stream_timeout rule pages ([alerts]"
            " stream_timeout_lead, else 1 h or a quarter of a shorter escrow timeout)",
            st,
            registry=r,
        )
        self.stream_idle = Gauge(
            "pf_stream_idle",
            "1 while the stream is paused, or pf-tui has released nothing since the lead window"
            " before its timeout began: the stream_timeout rule's other half",
            st,
            registry=r,
        )
        self._timeout_seen: set[tuple[str, str]] = set()
        self.up = Gauge("pf_daemon_up", "1 while the daemon runs", registry=r)
        self.last_eval = Gauge(
            "pf_daemon_last_evaluation_timestamp_seconds",
            "Unix time of the last alert evaluation",
            registry=r,
        )
        self.overview = OverviewMetrics(r)
        """The Overview's figures, latency percentiles, spend and streams (updated beside)."""
        self._known: set[tuple[str, str]] = set()
        self._dead_seen: set[tuple[str, str]] = set()
        self._sent_seen: dict[str, int] = {}
        self._failed_seen: dict[str, int] = {}

    def observe_poll(self, agent_id: str, kind: str, latency_s: float | None) -> None:
        """Count one poll result (``latency_s`` ``None``: it failed)."""
        self.polls.labels(kind).inc()
        self.agent_polls.labels(agent_id).inc()
        # Touched on every poll so an error ratio (errors / polls) exists at 0, not as no data.
        errors, agent_errors = self.errors.labels(kind), self.agent_errors.labels(agent_id)
        if latency_s is None:
            errors.inc()
            agent_errors.inc()
        else:
            self.latency.labels(kind).observe(latency_s)

    def update(
        self,
        agents: Iterable[AgentRow],
        fleet: FleetRow,
        firing_by_severity: Mapping[str, int],
        outbox: Mapping[str, int],
        dead: Mapping[tuple[str, str], int],
        sent: Mapping[str, int],
        failed: Mapping[str, int],
        now: float,
    ) -> None:
        """Set every gauge from the loop's latest state; drop series of agents that left."""
        seen: set[tuple[str, str]] = set()
        for row in agents:
            key = (row.agent_id, row.label)
            seen.add(key)
            _set(self.balance.labels(*key), row.balance)
            _set(self.pnl.labels(*key), row.pnl)
            _set(self.positions.labels(*key), row.positions)
            _set(self.age.labels(*key), row.data_age_s)
            self.stale.labels(*key).set(1 if row.stale else 0)
            _set(self.agent_latency.labels(row.agent_id), row.latency_p95_s)
            _set(self.agent_drawdown.labels(row.agent_id), _ratio(row.drawdown_pct))
            self.agent_escrows.labels(row.agent_id).set(row.escrow_queue)
            self.agent_alerts.labels(row.agent_id).set(row.alerts_firing)
        for key in self._known - seen:
            for gauge in (self.balance, self.pnl, self.positions, self.age, self.stale):
                _remove(gauge, *key)
            for metric in (
                self.agent_latency,
                self.agent_drawdown,
                self.agent_escrows,
                self.agent_alerts,
                self.agent_errors,
                self.agent_polls,
            ):
                _remove(metric, key[0])
        self._known = seen
        self.fleet_agents.set(fleet.agents)
        self.fleet_balance.set(_exposed(fleet.balance))
        self.fleet_pnl.set(_exposed(fleet.pnl))
        self.fleet_positions.set(fleet.positions)
        self.fleet_stale.set(fleet.stale_agents)
        self.fleet_escrows.set(fleet.escrow_queue)
        _set(self.fleet_error_rate, _ratio(fleet.error_rate_pct))
        for severity in ("critical", "warning", "info"):
            self.firing.labels(severity).set(firing_by_severity.get(severity, 0))
        for name in set(outbox) | set(sent):
            self.outbox.labels(name).set(outbox.get(name, 0))
        # A (receiver, reason) pair keeps its series at 0 once seen, so a rate() over it works.
        self._dead_seen |= set(dead)
        for receiver, reason in self._dead_seen:
            self.dead.labels(receiver, reason).set(dead.get((receiver, reason), 0))
        _advance(self.sent, self._sent_seen, sent)
        _advance(self.failed, self._failed_seen, failed)
        self.up.set(1)
        self.last_eval.set(now)

    def set_stream_timeouts(self, rows: Sequence[StreamTimeoutRow]) -> None:
        """Each live stream whose escrow's timeout would move money (others are removed)."""
        seen: set[tuple[str, str]] = set()
        for row in rows:
            key = (row.agent_id, row.stream_id)
            seen.add(key)
            self.stream_money_timeout.labels(*key).set(max(0.0, row.seconds_left))
            self.stream_timeout_lead.labels(*key).set(row.lead_s)
            self.stream_idle.labels(*key).set(1 if row.idle else 0)
        for key in self._timeout_seen - seen:
            for gauge in (self.stream_money_timeout, self.stream_timeout_lead, self.stream_idle):
                _remove(gauge, *key)
        self._timeout_seen = seen

    def set_brake(self, engaged: bool, since: float | None) -> None:
        """The brake's state as the store has it (read each evaluation; one indexed row)."""
        self.brake.set(1 if engaged else 0)
        self.brake_since.set(since or 0)


def _exposed(value: Decimal | float | None) -> float:
    """``value`` as the exposition format's float; NaN for a figure not known yet."""
    return float("nan") if value is None else float(value)


def _set(gauge: Gauge, value: Decimal | float | None) -> None:
    gauge.set(_exposed(value))


def _ratio(pct: Decimal | float | None) -> float | None:
    """A percentage as the fraction Prometheus's ``_ratio`` names promise (``None`` stays)."""
    return None if pct is None else float(pct) / 100


def _remove(metric: Gauge | Counter, *labels: str) -> None:
    try:
        metric.remove(*labels)
    except KeyError:
        pass  # never set for that agent


def _advance(counter: Counter, seen: dict[str, int], totals: Mapping[str, int]) -> None:
    for name, total in totals.items():
        delta = total - seen.get(name, 0)
        counter.labels(name)
        if delta > 0:
            counter.labels(name).inc(delta)
        seen[name] = total
