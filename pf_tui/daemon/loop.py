"""The headless alert daemon: poller -> fleet state -> alert rules -> outbox -> receivers.

``pf-tui --headless [--once] [--metrics-port N]``. One event loop runs:
- the poller (every agent's figures on their intervals) feeding the :class:`FleetState`;
- an evaluation every :data:`EVAL_INTERVAL_S`: facts per agent and fleet, the alert engine, and
  one store transaction with the alert log, the engine state and the outbox rows;
- one delivery task per receiver (Telegram, webhook, JSON log), each with its own queue;
- a heartbeat row in the store (see :mod:`pf_tui.core.alerts.heartbeat`) every loop, and a
  heartbeat *message* (alertname ``Watchdog``) every ``heartbeat_s``;
- ``/metrics`` on ``127.0.0.1:N`` when asked.

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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config, load_config
from pf_tui.core.alerts.engine import AlertEvent, EventKind, event_id_for, fingerprint_of
from pf_tui.core.alerts.facts import FactsSource, escrow_queue
from pf_tui.core.alerts.heartbeat import Heartbeat
from pf_tui.core.alerts.rules import Severity, rules_from_config
from pf_tui.core.notify.alert_book import AlertBook
from pf_tui.core.notify.receivers import Receiver
from pf_tui.core.polling.results import PollFailure, PollResult, Snapshot
from pf_tui.daemon.logs import log_event, setup_logging
from pf_tui.daemon.metrics import AgentRow, DaemonMetrics, FleetRow
from pf_tui.wiring import build_poll_engine, open_alerts, open_store

__all__ = ["EXIT_FIRING", "DaemonOptions", "main", "run_daemon"]

EXIT_OK, EXIT_FAILURE, EXIT_FIRING = 0, 1, 3
EVAL_INTERVAL_S = 1.0
HEARTBEAT_S = 6 * 3600.0
"""How often the daemon sends a "still alive" message to every receiver."""
DRAIN_GRACE_S = 5.0
"""On SIGTERM, how long deliveries may keep going before the daemon exits."""
ONCE_TIMEOUT_S = 30.0


@dataclass
class DaemonOptions:
    """Knobs tests and the benchmark turn; production uses the defaults."""

    eval_interval_s: float = EVAL_INTERVAL_S
    heartbeat_s: float = HEARTBEAT_S
    drain_grace_s: float = DRAIN_GRACE_S
    once_timeout_s: float = ONCE_TIMEOUT_S
    receivers: list[Receiver] | None = None
    on_first_poll: Callable[[float], None] | None = None


# ---- the daemon -------------------------------------------------------------------------------


class Daemon:
    """One daemon run; see the module docstring. Its parts come from :mod:`pf_tui.wiring`."""

    def __init__(self, config: Config, clock: Clock, options: DaemonOptions) -> None:
        self.config = config
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
        self.polling = build_poll_engine(config, clock)
        self.poller, self.fleet = self.polling.poller, self.polling.fleet
        self.facts = FactsSource(self.fleet, self.poller.stats)
        self.metrics = DaemonMetrics()
        self.heartbeat_slot = -1
        self.first_poll_seen = False

    # -- one evaluation --

    def evaluate(self, *, assume_for: bool = False) -> list[AlertEvent]:
        """Evaluate every rule now and commit log, state and outbox rows in one transaction."""
        now = self.clock.now()
        self.facts.load_store(self.conn)
        self.engine.muted = self.book.muted(now)
        agents = [self.facts.agent(a, now) for a in self.fleet.agents]
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
        slot = int(now // self.options.heartbeat_s)
        if not message or not self.names or slot == self.heartbeat_slot:
            return
        self.heartbeat_slot = slot
        labels = {"alertname": "Watchdog", "severity": "info"}
        fp = fingerprint_of(labels)
        start = slot * self.options.heartbeat_s
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
            self.fleet.apply(result)
            if isinstance(result, Snapshot):
                self.metrics.observe_poll(result.agent_id, result.kind.value, result.latency_s)
            elif isinstance(result, PollFailure):
                self.metrics.observe_poll(result.agent_id, result.kind.value, None)
            if not self.first_poll_seen:
                self.first_poll_seen = True
                if self.options.on_first_poll is not None:
                    self.options.on_first_poll(time.perf_counter())
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
                )
            )
        totals = self.fleet.totals(now)
        dead: dict[str, int] = {}
        for receiver, _, _ in self.outbox.dead_letters():
            dead[receiver] = dead.get(receiver, 0) + 1
        self.metrics.update(
            rows,
            FleetRow(
                totals.agents,
                totals.balance,
                totals.pnl,
                totals.positions,
                totals.stale_agents,
                queue_total,
            ),
            by_severity,
            self.outbox.depth(),
            dead,
            self.dispatcher.sent,
            self.dispatcher.failed,
            now,
        )
        self.metrics.set_brake(self.facts.brake.engaged, self.facts.brake.since)

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

    async def close(self) -> None:
        """Release everything (idempotent enough for the finally block)."""
        await self.polling.aclose()
        await self.alerts.aclose()
        await self.store.aclose()


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
            results = await asyncio.wait_for(daemon.poller.batch(), left)
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
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    options: DaemonOptions | None = None,
) -> int:
    """Run the daemon until ``stop`` is set or SIGTERM; the exit code (3: ``--once`` fired)."""
    clock = clock or SYSTEM_CLOCK
    options = options or DaemonOptions()
    stop = stop or asyncio.Event()
    daemon = Daemon(config, clock, options)
    loop = asyncio.get_running_loop()
    server = None
    installed: list[signal.Signals] = []
    try:
        if metrics_port is not None:
            from prometheus_client import start_http_server

            server, _thread = start_http_server(
                metrics_port, addr="127.0.0.1", registry=daemon.metrics.registry
            )
            log_event(logging.INFO, "metrics served", addr=f"127.0.0.1:{server.server_port}")
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
        )
        if once:
            await _poll_once(daemon, options.once_timeout_s)
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
    daemon.poller.start()
    next_eval = 0.0
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
                daemon.evaluate()
                daemon.heartbeat(daemon.clock.now())
    finally:
        stop.set()
        await daemon.poller.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await daemon.drain(daemon.options.drain_grace_s)
        log_event(logging.INFO, "daemon stopped", outbox=daemon.outbox.depth())
    return EXIT_OK


def main(config: Config, *, once: bool = False, metrics_port: int | None = None) -> int:
    """Entry point for ``pf-tui --headless``: logging, the event loop, exit codes."""
    setup_logging(config)
    try:
        return asyncio.run(run_daemon(config, once=once, metrics_port=metrics_port))
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as exc:  # port taken, store unwritable
        log_event(logging.ERROR, "daemon failed", reason=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILURE
