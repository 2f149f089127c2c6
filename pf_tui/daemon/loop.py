"""The headless alert daemon: poller -> fleet state -> alert rules -> outbox -> receivers.

``pf-tui --headless [--once] [--metrics-port N]``. One event loop runs:
- the poller (every agent's figures on their intervals) feeding the :class:`FleetState`;
- an evaluation every :data:`EVAL_INTERVAL_S`: facts per agent and fleet, the alert engine, and
  one store transaction with the alert log, the engine state and the outbox rows;
- one delivery task per receiver (Telegram, webhook, JSON log), each with its own queue;
- a heartbeat row in the store (see :mod:`pf_tui.core.alerts.heartbeat`) every loop, and a
  heartbeat *message* (alertname ``Watchdog``) every ``[notify.heartbeat] interval``;
- after each healthy evaluation (rules evaluated, state committed), a call to the dead man's
  switch URL if one is configured (:mod:`pf_tui.core.notify.deadman`), at most once per
  ``deadman_interval``;
- sample history pruned to ``[store] retention_days`` at start and every hour;
- ``/metrics`` on ``127.0.0.1:N`` when asked.

A store that cannot be written (disk full, read-only, locked by another writer) fails that
evaluation with a clear log line and nothing else: the daemon keeps polling, tries again next
second, and the dead man's switch, not pinged meanwhile, tells the operator from outside.

Signals: SIGTERM/SIGINT stop polling, give deliveries a short grace to drain, exit 0. SIGHUP
reloads ``[alerts]`` from the config file; a bad file keeps the old rules and logs why.
``--once`` polls every figure once, fires every rule whose condition holds now (``for`` counts as
met), delivers, and exits 3 when any alert is firing, else 0. Only the daemon sends; the TUI reads
the same ``alerts`` table and never pages.

Logs are JSON lines on stderr; a filter masks every configured secret in case one slips in.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pf_tui import event_loop
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config, load_config
from pf_tui.core.alerts.engine import (
    AlertEvent,
    EventKind,
    event_id_for,
    fingerprint_of,
    timeout_window,
)
from pf_tui.core.alerts.facts import AgentFacts, FactsSource, escrow_queue
from pf_tui.core.alerts.heartbeat import Heartbeat
from pf_tui.core.alerts.rules import RuleKind, Severity, rules_from_config
from pf_tui.core.money.streams import StreamBook
from pf_tui.core.notify.alert_book import AlertBook
from pf_tui.core.notify.alertmanager import AlertmanagerReceiver, FiringAlert
from pf_tui.core.notify.deadman import DeadMan
from pf_tui.core.notify.receivers import Receiver
from pf_tui.core.polling.results import PollFailure, PollResult, Snapshot
from pf_tui.daemon.gc_policy import EngineGc
from pf_tui.daemon.logs import log_event, setup_logging
from pf_tui.daemon.metrics import AgentRow, DaemonMetrics, FleetRow, StreamTimeoutRow
from pf_tui.daemon.overview_metrics import AgentExtras, StreamRow
from pf_tui.shard import Shard
from pf_tui.views.feed import FleetFeed
from pf_tui.wiring import build_poll_engine, config_redactor, open_alerts, open_store

__all__ = ["EXIT_FIRING", "DaemonOptions", "main", "run_daemon"]

EXIT_OK, EXIT_FAILURE, EXIT_FIRING = 0, 1, 3
EVAL_INTERVAL_S = 1.0
PRUNE_EVERY_S = 3600.0
"""How often sample history is pruned to ``[store] retention_days``."""
DRAIN_GRACE_S = 5.0
"""On SIGTERM, how long deliveries may keep going before the daemon exits."""
ONCE_TIMEOUT_S = 30.0


@dataclass
class DaemonOptions:
    """Knobs tests and the benchmark turn; production uses the defaults."""

    eval_interval_s: float = EVAL_INTERVAL_S
    heartbeat_s: float | None = None
    """Seconds between "still alive" messages; ``None``: ``[notify.heartbeat] interval``."""
    drain_grace_s: float = DRAIN_GRACE_S
    once_timeout_s: float = ONCE_TIMEOUT_S
    receivers: list[Receiver] | None = None
    on_first_poll: Callable[[float], None] | None = None
    own_gc: bool = True
    """Run the collector itself (:class:`EngineGc`). ``False`` in the console's process (the
    demo's embedded daemon): the console's pacer runs it there, and two policies would undo
    each other (the daemon's turns the automatic collector off for the whole process, and its
    full pass every 5 minutes thaws and walks the console's heap too, inside a frame)."""


# ---- the daemon -------------------------------------------------------------------------------


class Daemon:
    """One daemon run; see the module docstring. Its parts come from :mod:`pf_tui.wiring`."""

    def __init__(
        self, config: Config, clock: Clock, options: DaemonOptions, shard: Shard | None = None
    ) -> None:
        self.config = config
        self.shard = shard
        """``--shard``: ``config`` holds this shard's agents already (``wiring.shard_config``)."""
        self.clock = clock
        self.options = options
        self.started_at = clock.now()
        self.store = open_store(config, clock)
        self.alerts = open_alerts(config, self.store, receivers=options.receivers)
        self.conn, self.book = self.alerts.conn, self.alerts.book
        self.engine, self.dispatcher = self.alerts.engine, self.alerts.dispatcher
        self.outbox = self.book.outbox
        self.names = self.alerts.receiver_names
        self.wake = {name: asyncio.Event() for name in self.names}
        self.polling = build_poll_engine(config, clock, keep_samples=True)  # stored each cycle
        self.poller, self.fleet = self.polling.poller, self.polling.fleet
        self.facts = FactsSource(self.fleet, self.poller.stats)
        self.metrics = DaemonMetrics(shard=None if shard is None else shard.label)
        self.feed = FleetFeed(self.fleet)
        """The console's own view builder: the Overview's figures, for ``/metrics``."""
        self.changed: set[str] | None = None
        """Agents whose figures changed since the last view (``None``: rebuild all)."""
        self.last_facts: list[AgentFacts] = []
        self.heartbeat_slot = -1
        self.first_poll_seen = False
        beat = config.notify.heartbeat
        self.heartbeat_s = beat.interval if options.heartbeat_s is None else options.heartbeat_s
        self.deadman = (
            DeadMan(
                beat.deadman_url, interval=beat.deadman_interval, redactor=config_redactor(config)
            )
            if beat.deadman_url is not None
            else None
        )
        self.store_error = ""
        """Why the last evaluation could not be committed (``""`` once one is)."""
        self.next_prune = 0.0

    # -- one evaluation --

    def evaluate(self, *, assume_for: bool = False) -> list[AlertEvent]:
        """Evaluate every rule now and commit log, state and outbox rows in one transaction."""
        now = self.clock.now()
        self.facts.load_store(self.conn, now)
        self.engine.muted = self.book.muted(now)
        agents = [self.facts.agent(a, now) for a in self.fleet.agents]
        self.last_facts = agents
        before = AlertBook.snapshot(self.engine)
        events = self.engine.evaluate(
            agents, self.facts.fleet_facts(agents), now, assume_for=assume_for
        )
        self.book.commit(self.engine, before, events, self.names, now)
        for event in events:
            log_event(
                logging.WARNING if event.kind is not EventKind.RESOLVED else logging.INFO,
                "alert " + event.kind.value,
                rule=event.rule,
                event_id=event.event_id,
                labels=dict(event.labels),
                severity=event.severity.value,
            )
        if events:
            for w in self.wake.values():
                w.set()
        self._update_metrics(now)
        return events

    def heartbeat(self, now: float, *, message: bool = True) -> None:
        """Write the heartbeat row; queue the heartbeat message once per ``heartbeat_s`` slot.

        The message's id depends only on the slot, so a restarted daemon does not send another
        one for the same slot (the outbox ignores an id it already holds).
        """
        firing = len(self.engine.firing())
        depth = self.outbox.depth()
        self.book.beat(
            Heartbeat(
                os.getpid(),
                self.started_at,
                now,
                len(self.fleet.agents),
                firing,
                sum(depth.values()),
                self.options.eval_interval_s,
            )
        )
        if self.heartbeat_s <= 0:
            return  # [notify.heartbeat] interval = 0: no still-alive message
        slot = int(now // self.heartbeat_s)
        if not message or not self.names or slot == self.heartbeat_slot:
            return
        self.heartbeat_slot = slot
        labels = {"alertname": "Watchdog", "severity": "info"}
        fp = fingerprint_of(labels)
        start = slot * self.heartbeat_s
        event = AlertEvent(
            event_id=event_id_for(fp, start, EventKind.HEARTBEAT, slot),
            kind=EventKind.HEARTBEAT,
            rule="Watchdog",
            severity=Severity.INFO,
            fingerprint=fp,
            labels=labels,
            summary="pf-tui daemon alive",
            description=f"watching {len(self.fleet.agents)} agents, {firing} alerts firing",
            starts_at=start,
            ends_at=None,
            at=now,
        )
        self.book.enqueue([event], self.names, now)
        for w in self.wake.values():
            w.set()

    def apply(self, results: Iterable[PollResult]) -> None:
        """Feed poll results to the fleet state and the metrics."""
        for result in results:
            if self.fleet.apply(result) is not None and self.changed is not None:
                self.changed.add(result.agent_id)
            if isinstance(result, Snapshot):
                self.metrics.observe_poll(result.agent_id, result.kind.value, result.latency_s)
            elif isinstance(result, PollFailure):
                self.metrics.observe_poll(result.agent_id, result.kind.value, None)
            if not self.first_poll_seen:
                self.first_poll_seen = True
                if self.options.on_first_poll is not None:
                    self.options.on_first_poll(time.perf_counter())
                # A start-up figure operators can read off the log (benchmarks/daemon_start.py)
                log_event(
                    logging.INFO,
                    "first poll",
                    ms_since_start=round(1000 * (self.clock.now() - self.started_at), 1),
                )
        samples = self.fleet.drain_samples()
        if samples:
            self.store.put_samples(samples)

    def _update_metrics(self, now: float) -> None:
        firing = self.engine.firing()
        by_agent: dict[str, int] = {}
        by_severity: dict[str, int] = {}
        for inst in firing:
            by_agent[inst.labels.get("agent", "")] = (
                by_agent.get(inst.labels.get("agent", ""), 0) + 1
            )
            sev = inst.labels.get("severity", "warning")
            by_severity[sev] = by_severity.get(sev, 0) + 1
        rows = []
        queue_total = 0
        for agent_id, state in self.fleet.agents.items():
            stale = self.fleet.agent_staleness(agent_id, now)
            queue = escrow_queue(self.fleet, agent_id)
            queue_total += queue
            rows.append(
                AgentRow(
                    agent_id,
                    state.info.label,
                    state.derived.get("balance"),
                    state.derived.get("pnl"),
                    state.derived.get("positions"),
                    stale.age_s,
                    stale.stale,
                    self.poller.stats.agent(agent_id).p95,
                    queue,
                    by_agent.get(agent_id, 0),
                    self.poller.stats.error_rate(agent_id).pct,
                    state.derived.get("drawdown_pct"),
                )
            )
        totals = self.fleet.totals(now)
        dead = self.outbox.dead_by_reason()
        self.metrics.update(
            rows,
            FleetRow(
                totals.agents,
                totals.balance,
                totals.pnl,
                totals.positions,
                totals.stale_agents,
                queue_total,
                self.poller.stats.fleet_error_rate().pct,
            ),
            by_severity,
            self.outbox.depth(),
            dead,
            self.dispatcher.sent,
            self.dispatcher.failed,
            now,
        )
        self.metrics.set_brake(self.facts.brake.engaged, self.facts.brake.since)
        self.metrics.set_stream_timeouts(self._stream_timeouts(now))
        self._update_overview(now)

    def _stream_timeouts(self, now: float) -> list[StreamTimeoutRow]:
        """Each live stream whose escrow's timeout would move money, as ``stream_timeout`` sees it
        (nothing when that rule is disabled)."""
        rule = next((r for r in self.engine.rules if r.kind is RuleKind.STREAM_TIMEOUT), None)
        if rule is None:
            return []
        rows: list[StreamTimeoutRow] = []
        for facts in self.last_facts:
            for t in facts.stream_timeouts:
                window = timeout_window(rule, t)
                left = t.outcome.seconds_left(now)
                if window is None or left is None:
                    continue
                start, idle = window
                lead = (t.outcome.at or start) - start
                rows.append(StreamTimeoutRow(facts.agent_id, t.stream_id, left, lead, idle))
        return rows

    def _update_overview(self, now: float) -> None:
        """The Overview's figures (the same view the console draws), spend, and open streams."""
        view = self.feed.build(now, self.changed)
        self.changed = set()
        extras: dict[str, AgentExtras] = {}
        facts = {f.agent_id: f for f in self.last_facts}
        for agent_id in self.fleet.agents:
            summary = self.poller.stats.agent(agent_id)
            known = facts.get(agent_id)
            extras[agent_id] = AgentExtras(
                summary.p50,
                summary.p99,
                known.metrics.get("spend_usd_per_hour") if known else None,
                len(known.disputes) if known else 0,
                len(known.unknown_actions) if known else 0,
            )
        silent = {s.stream_id: s for streams in self.facts.streams.values() for s in streams}
        timeouts = {(e.agent_id, e.escrow_id): e.next_at for e in view.escrows}
        streams = []
        for stream in StreamBook(self.conn).all():
            if stream.state.final or stream.agent_id not in self.fleet.agents:
                continue
            due = timeouts.get((stream.agent_id, stream.escrow_id or ""))
            cadence = silent.get(stream.id)
            streams.append(
                StreamRow(
                    stream.agent_id,
                    stream.id,
                    stream.budget - stream.released,
                    stream.owed(now),
                    None if due is None else max(0.0, due - now),
                    cadence.last_release_at if cadence else None,
                    cadence.expected_interval_s if cadence else None,
                )
            )
        self.metrics.overview.update(view.agents, view.totals, extras, streams, now)

    # -- delivery --

    async def deliver_loop(self, name: str, stop: asyncio.Event) -> None:
        """Deliver ``name``'s queue until ``stop``; sleeps until the next row falls due."""
        wake = self.wake[name]
        while not stop.is_set():
            wake.clear()
            try:
                await self.dispatcher.deliver(name, self.clock.now())
            except Exception:  # a broken store must be seen in the log, not end delivery
                log_event(logging.ERROR, "delivery pass failed", receiver=name)
            nxt = self.outbox.next_due_at(name)
            timeout = 60.0 if nxt is None else max(0.0, nxt - self.clock.now())
            if timeout <= 0:
                continue
            await _wait_any(self.clock, timeout, wake, stop)

    async def drain(self, grace_s: float) -> None:
        """Deliver what is due now, for at most ``grace_s`` (shutdown and ``--once``)."""

        async def one(name: str) -> None:
            while True:
                if await self.dispatcher.deliver(name, self.clock.now()) == 0:
                    return

        if self.names:
            try:
                await asyncio.wait_for(asyncio.gather(*(one(n) for n in self.names)), grace_s)
            except TimeoutError:
                log_event(
                    logging.WARNING,
                    "shutdown with notifications still queued",
                    outbox=self.outbox.depth(),
                )

    # -- Alertmanager --

    def firing_alerts(self) -> list[FiringAlert]:
        """Every alert firing now, with the description its episode's row holds."""
        described = dict(
            self.conn.execute("SELECT fingerprint, message FROM alerts WHERE state = 'firing'")
        )
        return [
            FiringAlert(
                i.fingerprint, dict(i.labels), i.starts_at, described.get(i.fingerprint) or ""
            )
            for i in self.engine.firing()
        ]

    async def refresh_loop(self, receiver: AlertmanagerReceiver, stop: asyncio.Event) -> None:
        """Re-send every firing alert each resend interval, so Alertmanager keeps them firing."""
        while not stop.is_set():
            await _wait_any(self.clock, receiver.resend_interval_s, stop)
            if stop.is_set():
                return
            outcome = await receiver.refresh(self.firing_alerts())
            if not outcome.ok:
                log_event(
                    logging.WARNING,
                    "alertmanager refresh failed",
                    receiver=receiver.name,
                    reason=outcome.error,
                )

    # -- reload --

    def reload(self) -> None:
        """SIGHUP: re-read ``[alerts]``; a bad config keeps the old rules and says why."""
        source = self.config.source
        if source is None:
            log_event(logging.WARNING, "reload ignored: this config was not read from a file")
            return
        try:
            fresh = load_config(source)
            rules, silences = rules_from_config(fresh.alerts)
        except Exception as exc:  # ConfigError names file, key and fix; keep running on the old
            log_event(logging.ERROR, "reload failed; keeping the previous rules", reason=str(exc))
            return
        self.engine.replace_rules(rules, silences)
        self.config = fresh
        log_event(logging.INFO, "rules reloaded", rules=len(rules), silences=len(silences))

    def tick(self) -> bool:
        """One evaluation and heartbeat; ``False`` (logged, nothing raised) when the store could
        not take them. A healthy tick pings the dead man's switch."""
        try:
            self.evaluate()
            self.heartbeat(self.clock.now())
        except (sqlite3.Error, OSError) as exc:
            reason = store_problem(exc)
            if reason != self.store_error:  # once per cause, not once a second
                log_event(
                    logging.ERROR,
                    "evaluation not committed: the store cannot be written; retrying",
                    reason=reason,
                    store=str(self.store.path),
                )
            self.store_error = reason
            return False
        if self.store_error:
            log_event(logging.INFO, "store writable again", was=self.store_error)
            self.store_error = ""
        if self.deadman is not None:
            self.deadman.healthy(self.clock.monotonic())
        return True

    async def prune(self) -> None:
        """Drop samples older than ``[store] retention_days`` (in a thread; never raises)."""
        try:
            removed = await self.store.aprune()
        except (sqlite3.Error, OSError) as exc:
            log_event(logging.WARNING, "history not pruned", reason=store_problem(exc))
            return
        if removed:
            log_event(logging.INFO, "history pruned", samples=removed)

    async def close(self) -> None:
        """Release everything (idempotent enough for the finally block)."""
        await self.polling.aclose()
        await self.alerts.aclose()
        if self.deadman is not None:
            await self.deadman.aclose()
        await self.store.aclose()


def store_problem(exc: BaseException) -> str:
    """A store failure in words an operator acts on (disk full, read-only, locked)."""
    text = str(exc).lower()
    if "full" in text or getattr(exc, "errno", None) == 28:
        return "disk full"
    if "readonly" in text or "read-only" in text:
        return "read-only database"
    if "locked" in text or "busy" in text:
        return "database locked by another writer"
    return f"{type(exc).__name__}: {exc}"


async def _wait_any(clock: Clock, seconds: float, *events: asyncio.Event) -> None:
    # `seconds` of the daemon's clock, not of the event loop: a fake clock drives the tests.
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait([*waiters, sleeper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*waiters, sleeper):
            task.cancel()


async def _poll_once(daemon: Daemon, timeout_s: float) -> None:
    """Wait until every (agent, data type) has answered once (or failed), or the timeout."""
    pending = set(daemon.poller.sources())
    daemon.poller.start()
    daemon.poller.refresh_now()  # first polls are spread over each interval; --once wants all now
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            log_event(
                logging.WARNING, "--once: some figures did not answer in time", missing=len(pending)
            )
            return
        try:
            async with asyncio.timeout(left):  # not wait_for: 3.11's can drop a cancel
                results = await daemon.poller.batch()
        except TimeoutError:
            continue
        daemon.apply(results)
        for r in results:
            pending.discard((r.agent_id, r.kind))


async def run_daemon(
    config: Config,
    *,
    once: bool = False,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    options: DaemonOptions | None = None,
    shard: Shard | None = None,
) -> int:
    """Run the daemon until ``stop`` is set or SIGTERM; the exit code (3: ``--once`` fired).

    ``shard`` labels the metrics; ``config`` is already narrowed to it
    (``wiring.shard_config``).
    """
    clock = clock or SYSTEM_CLOCK
    options = options or DaemonOptions()
    stop = stop or asyncio.Event()
    daemon = Daemon(config, clock, options, shard)
    loop = asyncio.get_running_loop()
    server = None
    installed: list[signal.Signals] = []
    try:
        if metrics_port is not None:
            from prometheus_client import start_http_server

            server, _thread = start_http_server(
                metrics_port, addr=metrics_host, registry=daemon.metrics.exposed
            )
            log_event(logging.INFO, "metrics served", addr=f"{metrics_host}:{server.server_port}")
        if not once:
            for sig, handler in (
                (signal.SIGTERM, stop.set),
                (signal.SIGINT, stop.set),
                (signal.SIGHUP, daemon.reload),
            ):
                try:
                    loop.add_signal_handler(sig, handler)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass  # not the main thread (tests) or not a Unix loop
        log_event(
            logging.INFO,
            "daemon starting",
            agents=len(config.agents),
            receivers=daemon.names,
            once=once,
            shard=None if shard is None else shard.label,
        )
        if once:
            await _poll_once(daemon, options.once_timeout_s)
            daemon.facts.first_poll_grace = False  # every first poll has had its chance
            daemon.evaluate(assume_for=True)
            await daemon.drain(options.drain_grace_s)
            daemon.heartbeat(clock.now(), message=False)  # cron runs must not spam
            firing = daemon.engine.firing()
            log_event(logging.INFO, "once done", firing=len(firing))
            return EXIT_FIRING if firing else EXIT_OK
        return await _run_loop(daemon, stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if server is not None:
            server.shutdown()
            server.server_close()
        await daemon.close()


async def _run_loop(daemon: Daemon, stop: asyncio.Event) -> int:
    tasks = [
        asyncio.create_task(daemon.deliver_loop(n, stop), name=f"deliver-{n}") for n in daemon.names
    ]
    tasks += [
        asyncio.create_task(daemon.refresh_loop(r, stop), name=f"refresh-{r.name}")
        for r in daemon.dispatcher.receivers.values()
        if isinstance(r, AlertmanagerReceiver)
    ]
    daemon.poller.start()
    next_eval = 0.0
    collector = EngineGc()  # the automatic collector's full passes cost a fifth of a core
    if daemon.options.own_gc:
        collector.start(time.monotonic())
    try:
        while not stop.is_set():
            batch = asyncio.ensure_future(daemon.poller.batch())
            stopper = asyncio.ensure_future(stop.wait())
            wait = max(0.0, next_eval - daemon.clock.monotonic())
            sleeper = asyncio.ensure_future(daemon.clock.sleep(wait))
            await asyncio.wait([batch, stopper, sleeper], return_when=asyncio.FIRST_COMPLETED)
            for task in (stopper, sleeper):
                task.cancel()
            if batch.done():
                daemon.apply(batch.result())
            else:
                batch.cancel()
                daemon.apply(daemon.poller.drain())
            if daemon.clock.monotonic() >= next_eval:
                next_eval = daemon.clock.monotonic() + daemon.options.eval_interval_s
                daemon.tick()
            if daemon.clock.monotonic() >= daemon.next_prune:
                daemon.next_prune = daemon.clock.monotonic() + PRUNE_EVERY_S
                await daemon.prune()
            collector.tick(time.monotonic())  # real time: the collector's work is real CPU
    finally:
        collector.stop()
        stop.set()
        await daemon.poller.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await daemon.drain(daemon.options.drain_grace_s)
        log_event(logging.INFO, "daemon stopped", outbox=daemon.outbox.depth())
    return EXIT_OK


def main(
    config: Config,
    *,
    once: bool = False,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    shard: Shard | None = None,
) -> int:
    """Entry point for ``pf-tui --headless``: logging, the event loop, exit codes.

    ``/metrics`` binds ``metrics_host`` (127.0.0.1 unless asked: in a Kubernetes pod the Service
    must reach it, so the manifests pass 0.0.0.0, the pod's own interfaces).
    """
    setup_logging(config)
    try:
        # On uvloop when it is installed, as the poll worker and the simulator run.
        return event_loop.run(
            run_daemon(
                config,
                once=once,
                metrics_port=metrics_port,
                metrics_host=metrics_host,
                shard=shard,
            )
        )
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as exc:  # port taken, store unwritable
        log_event(logging.ERROR, "daemon failed", reason=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILURE
