"""The poller: every agent's data types on their own intervals, from one scheduler.

One heap of due times (monotonic seconds) is driven by one task. Due jobs start a fetch task each
(bounded per host by :class:`~pf_tui.core.polling.fetch.Fetcher`); a job is re-armed only when its
fetch ends, so one (agent, data type) is never in flight twice and a hung source holds only its own
job. First polls are spread evenly over each interval, starting at once (one agent's figures come
in right away, the rest at an even rate), so 5,000 agents never fire in step and the servers see
a steady request rate rather than random clumps.

Backoff per (agent, data type): after ``n`` consecutive failures the next try waits
``min(interval * 2**n * (1 + 0..20% jitter), max_backoff)``, or the server's
``Retry-After`` when that is longer, up to :data:`RETRY_AFTER_CAP_S` (a server that asks for a
day, or for infinity, must not park a figure for that long); one success returns the job to its
interval. Every failure
backs off, not only 429/5xx/timeouts: a 401 or a broken body will not mend by asking faster.

Casino figures come from ``/stats/me`` only: ``/bets/*`` is limited to 60 a minute per client IP
for the whole fleet (docs/api.md §7), so the poller never calls it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from pf_tui.api.errors import MissingKeyError, RateLimitError
from pf_tui.api.models import Dialect
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.core.polling.callstats import WINDOW_S, CallStats
from pf_tui.core.polling.fetch import Fetcher, PollTarget, settled_per_agent
from pf_tui.core.polling.results import (
    DataType,
    PollFailure,
    PollResult,
    Snapshot,
    SnapshotValue,
    changes,
)

DEFAULT_INTERVALS: dict[DataType, float] = {
    DataType.BALANCE: 10.0,
    DataType.POSITIONS: 5.0,
    DataType.PNL: 3.0,
    DataType.CASINO: 2.0,
    DataType.REFERRALS: 30.0,
    DataType.ESCROWS: 5.0,
}
TICK = 0.005
"""Jobs due within this many seconds start together: fewer scheduler wake-ups, same rhythm."""
START_SPREAD_CAP = 1.0
"""Agents added while running are first polled within this many seconds."""
BACKOFF_JITTER = 0.2
RETRY_AFTER_CAP_S = 600.0
"""The longest ``Retry-After`` the poller honours (or ``max_backoff``, if that is longer)."""


@dataclass(eq=False, slots=True)
class _Job:
    target: PollTarget
    kind: DataType
    due: float = 0.0
    gen: int = 0
    in_flight: bool = False
    removed: bool = False
    failures: int = 0
    rate_limited_until: float = 0.0
    last_started: float | None = None
    last_value: SnapshotValue | None = None
    hosts: tuple[str, ...] = ()
    """The hosts a poll of this job may call (``Fetcher.hosts_for``)."""
    parked: bool = False
    """Due, but waiting for room on a host (counted as in flight: never armed twice)."""
    again: bool = False
    """Poll again as soon as the poll in flight ends: it may have read the server before
    what :meth:`Poller.refresh` was asked for happened."""


class Poller:
    """Polls every agent's figures and yields typed results (see the module docstring).

    Use ``async with poller:`` (or :meth:`start` / :meth:`stop`) and read results with
    ``async for result in poller`` or ``await poller.batch()``.
    """

    def __init__(
        self,
        targets: Iterable[PollTarget] = (),
        *,
        intervals: Mapping[str, float] | None = None,
        max_backoff: float = 120.0,
        error_window: float = WINDOW_S,
        max_concurrency: int = 16,
        hosts: Mapping[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        seed: int | None = None,
        buffer: int = 100_000,
        stats: CallStats | None = None,
    ) -> None:
        """``stats`` counts every call (by default a :class:`CallStats` of ``error_window``; the
        console's poll worker passes one that also forwards each call to the screen's process)."""
        self._clock = clock
        self._rng = random.Random(seed)
        self.intervals: dict[DataType, float] = dict(DEFAULT_INTERVALS)
        for name, seconds in (intervals or {}).items():
            self._set_interval_value(name, seconds)
        self.max_backoff = max_backoff
        self.stats = stats if stats is not None else CallStats(clock, window_s=error_window)
        self._initial = list(targets)
        self._fetcher = Fetcher(
            clock,
            self.stats,
            max_concurrency=max_concurrency,
            hosts=hosts,
            # Sized for the fleet polled from the start (agents added later share it).
            keep_settled=settled_per_agent(len(self._initial)),
        )
        self._jobs: dict[str, dict[DataType, _Job]] = {}
        self._heap: list[tuple[float, int, int, _Job]] = []
        self._seq = itertools.count()
        self._results: deque[PollResult] = deque(maxlen=buffer)
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._starts = 0
        """How many times :meth:`start` started the scheduler (a stop tells a restart by it)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop :meth:`start` ran in. Polls start as its tasks directly: asking asyncio for
        the running loop checks the process id, a system call, once a poll."""
        self._paused = False
        self._sleeping_until = float("inf")
        self._parked: dict[str, deque[_Job]] = {}
        """Due jobs per host whose request queue is full, in the order they fell due."""
        self._budget: dict[str, int] = {}
        """Polls each host may still start in this pass of the scheduler."""

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler in the running loop; first polls are spread over each interval.

        The ``n`` jobs of one data type are first due one ``interval / n`` apart, from a random
        phase of that step (seeded), in a random rotation of the agents: evenly spaced, so the
        request rate is flat from the first second instead of random clumps. The fastest data
        type starts at phase 0, so the first result comes in at once (the daemon's start-up,
        docs/performance.md).
        """
        if self._runner is not None:
            return
        initial, self._initial = self._initial, []  # _add's removal scan skips an empty list
        for target in initial:
            self._add(target, spread=None)
        now = self._clock.monotonic()
        by_kind: dict[DataType, list[_Job]] = {}
        for agent_jobs in self._jobs.values():
            for job in agent_jobs.values():
                by_kind.setdefault(job.kind, []).append(job)
        fastest = min(by_kind, key=lambda k: self.intervals[k], default=None)
        for kind, kind_jobs in by_kind.items():
            n, step = len(kind_jobs), self.intervals[kind] / len(kind_jobs)
            phase = 0.0 if kind is fastest else self._rng.random()
            first = self._rng.randrange(n)  # which agent goes first is not config order's luck
            for k, job in enumerate(kind_jobs):
                self._arm(job, now + (((k - first) % n) + phase) * step)
        self._loop = asyncio.get_running_loop()
        self._starts += 1
        self._runner = self._loop.create_task(self._run(), name="pf-tui-poller")

    async def stop(self) -> None:
        """Stop scheduling and cancel fetches in flight."""
        runner, self._runner = self._runner, None
        starts = self._starts
        pending = [t for t in (runner, *self._tasks) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._starts != starts:
            return  # started again while this stop waited: its polls are its own
        self._tasks.clear()
        for jobs in self._jobs.values():
            for job in jobs.values():
                if not job.parked:
                    # A poll cancelled before its task first ran never cleared this itself: the
                    # figure would never be polled again after a restart.
                    job.in_flight = job.again = False

    async def __aenter__(self) -> Poller:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        """Whether the scheduler runs."""
        return self._runner is not None and not self._runner.done()

    @property
    def paused(self) -> bool:
        """Whether polling is paused (``p`` in the TUI)."""
        return self._paused

    # ---- control (all take effect at once) ------------------------------------------------

    def add_agent(self, target: PollTarget) -> None:
        """Start polling an agent (replacing one with the same id); first polls within a second."""
        if self._runner is None:
            self._initial = [t for t in self._initial if t.agent_id != target.agent_id] + [target]
            return
        self._add(target, spread=START_SPREAD_CAP)
        self._wake.set()

    def remove_agent(self, agent_id: str) -> None:
        """Stop polling an agent; a fetch in flight finishes but its result is dropped."""
        self._initial = [t for t in self._initial if t.agent_id != agent_id]
        for job in self._jobs.pop(agent_id, {}).values():
            job.removed = True
        self._fetcher.forget(agent_id)
        self.stats.forget_agent(agent_id)

    def agent_ids(self) -> list[str]:
        """Agents being polled."""
        return list(self._jobs) + [t.agent_id for t in self._initial]

    def sources(self) -> list[tuple[str, DataType]]:
        """Every ``(agent id, data type)`` polled, whether or not :meth:`start` ran yet."""
        started = [(agent_id, kind) for agent_id, jobs in self._jobs.items() for kind in jobs]
        return started + [(t.agent_id, kind) for t in self._initial for kind in t.data_types()]

    def track_escrow(
        self, agent_id: str, escrow_id: str, dialect: Dialect = Dialect.CLASSIC
    ) -> None:
        """Poll an escrow pf-tui created (or a stream's tranche) with the agent's escrows,
        through ``dialect``: the one it was created in."""
        jobs = self._jobs.get(agent_id)
        targets = (
            [j.target for j in jobs.values()][:1]
            if jobs
            else [t for t in self._initial if t.agent_id == agent_id]
        )
        for target in targets:
            target.known_escrows[escrow_id] = dialect

    def set_tracked_escrows(self, tracked: Mapping[str, Mapping[str, Dialect]]) -> None:
        """Replace every agent's tracked escrows: ``agent id -> {escrow id: dialect}`` (an agent
        not named tracks none). The money desk keeps this to pf-tui's live and recent escrows,
        so what is polled besides the list and the ledger stays bounded."""
        targets = [t for jobs in self._jobs.values() for t in [j.target for j in jobs.values()][:1]]
        for target in [*targets, *self._initial]:
            target.known_escrows = dict(tracked.get(target.agent_id, {}))

    def set_interval(self, kind: DataType | str, seconds: float) -> None:
        """Change one data type's interval; due times move at once (never into the past)."""
        dt = self._set_interval_value(kind, seconds)
        if dt is None:
            return
        now = self._clock.monotonic()
        for jobs in self._jobs.values():
            job = jobs.get(dt)
            if job is None or job.in_flight or job.failures:
                continue
            base = job.last_started if job.last_started is not None else now
            self._arm(
                job,
                max(now, base + self.intervals[dt])
                if job.last_started is not None
                else now + self._rng.uniform(0, min(seconds, START_SPREAD_CAP)),
            )
        self._wake.set()

    def set_intervals(self, intervals: Mapping[str, float]) -> None:
        """:meth:`set_interval` for each entry (unknown names such as ``errors`` are ignored)."""
        for name, seconds in intervals.items():
            self.set_interval(name, seconds)

    def refresh_now(self) -> None:
        """Poll everything now (``r``), except sources a server told to wait (429 Retry-After)."""
        now = self._clock.monotonic()
        for jobs in self._jobs.values():
            for job in jobs.values():
                if not job.in_flight and job.rate_limited_until <= now:
                    self._arm(job, now)
        self._wake.set()

    def refresh(self, agent_id: str, kinds: Iterable[DataType]) -> None:
        """Poll ``agent_id``'s ``kinds`` now: after a money action, the figures it changed.

        A poll of one of them already under way may have read the server before the action
        landed, so another follows it at once. Sources a server told to wait (429
        Retry-After) still wait; an agent or kind not polled is ignored.
        """
        jobs = self._jobs.get(agent_id)
        if not jobs:
            return
        now = self._clock.monotonic()
        for kind in kinds:
            job = jobs.get(kind)
            if job is None or job.rate_limited_until > now:
                continue
            if not job.in_flight:
                self._arm(job, now)
            elif not job.parked:
                job.again = True  # parked: its fetch has not started, so it reads the new state
        self._wake.set()

    def pause(self) -> None:
        """Stop starting polls (``p``); fetches in flight finish and their results are kept."""
        self._paused = True

    def resume(self) -> None:
        """Start polling again; what fell due while paused is spread over the next second."""
        if not self._paused:
            return
        self._paused = False
        now = self._clock.monotonic()
        for jobs in self._jobs.values():
            for job in jobs.values():
                if not job.in_flight and job.due <= now:
                    self._arm(
                        job,
                        now + self._rng.uniform(0, min(self.intervals[job.kind], START_SPREAD_CAP)),
                    )
        self._wake.set()

    # ---- results --------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[PollResult]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[PollResult]:
        while True:
            for result in await self.batch():
                yield result

    async def batch(self) -> list[PollResult]:
        """Wait for at least one result, then return every result ready (oldest first)."""
        while not self._results:
            self._ready.clear()
            await self._ready.wait()
        out = list(self._results)
        self._results.clear()
        return out

    def drain(self) -> list[PollResult]:
        """Every result ready now, without waiting."""
        out = list(self._results)
        self._results.clear()
        return out

    def pending(self) -> int:
        """How many of the results ready now change what the screen shows (see
        :func:`~pf_tui.core.polling.results.changes`)."""
        return changes(self._results)

    # ---- internals ------------------------------------------------------------------------

    def _set_interval_value(self, kind: DataType | str, seconds: float) -> DataType | None:
        try:
            dt = DataType(kind)
        except ValueError:
            return None  # "errors" and other settings that are not polled data types
        if not seconds > 0:
            raise ValueError(f"interval of {dt.value} must be more than 0 s, got {seconds!r}")
        self.intervals[dt] = float(seconds)
        return dt

    def _add(self, target: PollTarget, spread: float | None) -> None:
        """Make ``target``'s jobs; arm each within ``spread`` seconds (``None``: :meth:`start`
        arms them all together, evenly)."""
        self.remove_agent(target.agent_id)
        now = self._clock.monotonic()
        jobs: dict[DataType, _Job] = {}
        for kind in target.data_types():
            job = _Job(target, kind, hosts=self._fetcher.hosts_for(target, kind))
            if spread is not None:
                self._arm(job, now + self._rng.uniform(0, min(spread, self.intervals[kind])))
            jobs[kind] = job
        self._jobs[target.agent_id] = jobs

    def _arm(self, job: _Job, due: float) -> None:
        job.gen += 1
        job.due = due
        heapq.heappush(self._heap, (due, next(self._seq), job.gen, job))
        if due < self._sleeping_until:
            self._wake.set()  # the scheduler sleeps past this due time (or on an empty heap)

    async def _run(self) -> None:
        heap = self._heap
        while True:
            self._wake.clear()
            now = self._clock.monotonic()
            if not self._paused:
                self._budget.clear()
                for host in [h for h, q in self._parked.items() if q]:
                    self._unpark(host)
                horizon = now + TICK
                while heap and heap[0][0] <= horizon:
                    _, _, gen, job = heapq.heappop(heap)
                    if job.gen != gen or job.removed or job.in_flight:
                        continue
                    job.in_flight = True
                    self._launch(job)
            timeout = None if self._paused or not heap else max(TICK, heap[0][0] - now)
            self._sleeping_until = (
                float("inf") if timeout is None or self._paused else now + timeout
            )
            await self._sleep_or_wake(timeout)
            self._sleeping_until = -float("inf")  # awake: arming needs no wake-up

    # -- admission: a poll starts only when its hosts' request queues have room --------------
    #
    # Behind a slow host (or a saturated core) every due poll used to start at once and wait
    # on the host's limit: tens of thousands of tasks, coroutines and futures at 5,000 agents,
    # whose memory and garbage-collection cost slowed the engine further. A due job whose host
    # has a full queue now waits in that host's FIFO here instead, as one deque entry, and
    # starts when the queue drains. Each host is judged alone, so a hung host holds back only
    # the polls that would call it.

    def _launch(self, job: _Job) -> None:
        """Start ``job`` (marked in flight) now, or park it behind a host with no room."""
        blocked = self._blocked_host(job, None)
        if blocked is not None:
            self._park(job, blocked)
            return
        self._start(job)

    def _start(self, job: _Job) -> None:
        for host in job.hosts:
            self._budget[host] -= 1
        assert self._loop is not None  # jobs start only from the scheduler, after start()
        task = self._loop.create_task(self._poll(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _blocked_host(self, job: _Job, draining: str | None) -> str | None:
        """A host of ``job`` with no room left in this pass, or earlier jobs parked on it."""
        for host in job.hosts:
            budget = self._budget.get(host)
            if budget is None:
                limit = self._fetcher.limit_of(host)
                budget = self._budget[host] = limit.limit - limit.waiting
            if budget <= 0 or (host != draining and self._parked.get(host)):
                return host
        return None

    def _park(self, job: _Job, host: str) -> None:
        job.parked = True
        self._parked.setdefault(host, deque()).append(job)
        limit = self._fetcher.limit_of(host)
        if limit.on_room is None:
            limit.on_room = self._wake.set  # a slot freed: the scheduler drains the queue

    def _unpark(self, host: str) -> None:
        """Start the jobs parked on ``host``, oldest first, while it has room."""
        queue = self._parked[host]
        while queue:
            job = queue[0]
            if job.removed:
                queue.popleft()
                job.parked = job.in_flight = False
                continue
            blocked = self._blocked_host(job, host)
            if blocked == host:
                break
            queue.popleft()
            job.parked = False
            if blocked is not None:
                self._park(job, blocked)  # behind another host now
                continue
            self._start(job)
        if queue:
            limit = self._fetcher.limit_of(host)
            if limit.on_room is None:
                limit.on_room = self._wake.set

    def parked(self) -> int:
        """Due polls waiting for room on their hosts now."""
        return sum(len(q) for q in self._parked.values())

    async def _sleep_or_wake(self, seconds: float | None) -> None:
        # `seconds` of the poller's clock (a fake one in tests), so not an asyncio.timeout
        if self._wake.is_set():
            return
        waiter = asyncio.ensure_future(self._wake.wait())
        if seconds is None:
            await waiter
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()

    async def _poll(self, job: _Job) -> None:
        started = self._clock.monotonic()
        job.last_started = started
        agent_id = job.target.agent_id
        try:
            value = await self._fetcher.fetch(job.target, job.kind)
        except asyncio.CancelledError:
            job.in_flight = False
            raise
        except Exception as exc:  # typed client errors; anything else must not stop the poller
            job.in_flight = job.again = False  # a failure backs off, asked for again or not
            if job.removed:
                return
            job.failures += 1
            now = self._clock.monotonic()
            # The interval is read when the poll ends, so a change made meanwhile counts.
            delay = self._backoff(job, self.intervals[job.kind], exc)
            if isinstance(exc, RateLimitError) and exc.retry_after:
                job.rate_limited_until = now + delay
            self._arm(job, now + delay)
            error = _without_traceback(exc)
            del exc  # the frame's own reference, so nothing here keeps the traceback alive
            self._push(
                PollFailure(agent_id, job.kind, error, self._clock.now(), job.failures, delay)
            )
            return
        job.in_flight = False
        if job.removed:
            return
        end = self._clock.monotonic()
        job.failures = 0
        job.rate_limited_until = 0.0
        # The client hands back the very model it parsed last time when the reply's bytes are
        # unchanged, so identity settles most polls without a deep comparison.
        changed = value is not job.last_value and value != job.last_value
        if changed:
            job.last_value = value
        elif job.last_value is not None:
            value = job.last_value  # keep the one object the UI has
        # Fixed rhythm from the start of this poll keeps the jitter spread and data age ~ interval.
        if job.again:
            job.again = False
            self._arm(job, end)  # asked for while this poll was under way (:meth:`refresh`)
        else:
            self._arm(job, max(end, started + self.intervals[job.kind]))
        self._push(Snapshot(agent_id, job.kind, value, self._clock.now(), end - started, changed))

    def _backoff(self, job: _Job, interval: float, exc: Exception) -> float:
        if isinstance(exc, MissingKeyError):
            return self.max_backoff  # configuration, not weather: ask rarely
        exp = min(job.failures, 30)
        jittered = interval * (2.0**exp) * (1.0 + self._rng.uniform(0.0, BACKOFF_JITTER))
        delay = min(jittered, self.max_backoff)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, (int, float)) and retry_after > delay:
            # NaN fails the comparison above; infinity and days are capped here.
            delay = min(float(retry_after), max(RETRY_AFTER_CAP_S, self.max_backoff))
        return delay

    def _push(self, result: PollResult) -> None:
        self._results.append(result)
        self._ready.set()

    def trouble(self) -> str | None:
        """Always ``None``: this poller runs in the caller's loop and stops only when told (the
        console's poll worker, which can die, says why it did)."""
        return None

    def backoff_of(self, agent_id: str, kind: DataType) -> tuple[int, float]:
        """``(consecutive failures, seconds until the next try)`` of one source."""
        job = self._jobs[agent_id][kind]
        return job.failures, max(0.0, job.due - self._clock.monotonic())


def _without_traceback(exc: Exception) -> Exception:
    """``exc`` (and the exceptions it chains) without tracebacks: what a failure keeps is its type
    and message. A traceback holds the frames it passed through, their locals hold the exception
    (``raise errors[0]``, ``bal, chain = await gather(...)``), and that cycle with every reply
    and buffer in those frames waits for a full collection, which the daemon runs every five
    minutes: at 5% faults its RSS climbed ~1.5 MB a minute until then."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return exc
