"""The console's poll engine in a process of its own (``[polling] engine``, docs/architecture.md).

On one event loop, the console's poller and its screen share one core: at 1,000 agents polling
takes about half the console's CPU, its callbacks run between a tick's handler and the frame that
draws it, and at 5,000 agents polling alone needs most of a core. :class:`RemotePoller` gives the
console the poller's interface (:class:`~pf_tui.wiring.PollSource`) with the polling done by a
child process (``python -m pf_tui.poll_worker``), on the other core:

- The child builds the same client and :class:`~pf_tui.core.polling.poller.Poller` from the same
  config (:func:`~pf_tui.wiring.build_poller`), so it polls, parses and masks secrets exactly as
  the in-process engine does. The console keeps the fleet state, the history and the views.
- Frames on the child's stdin and stdout: a 4-byte length, then a pickle. The config, keys
  included, goes down stdin once (never argv, the environment or a file); the keys are pickled
  only by :func:`dumps_config` for that pipe, as a :class:`~pf_tui.secret.Secret` refuses to be
  pickled anywhere else. Up come results and every call's latency and outcome (the console's
  API health and error rates). A figure that did not change comes up without its value: the
  console already holds it, and hands the fleet state the very same object, so an unchanged
  figure costs the screen's process no unpickling and no derivation.
- The child exits when its stdin closes (the console ended, even by SIGKILL), and runs in a
  session of its own, so the terminal's signals reach only the console. A child that dies is
  started again, after 1 s and then up to :data:`RESTART_MAX_S`, with the pause, the tracked
  escrows and a refresh; meanwhile :meth:`RemotePoller.trouble` says why (the status bar shows
  it, redacted) and the figures age into stale as they would with a dead network.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import os
import pickle
import struct
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pf_tui import event_loop
from pf_tui.api.errors import PurpleFleaError
from pf_tui.api.models import Dialect
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config
from pf_tui.config.model import PROCESS_ENGINE_FROM
from pf_tui.core.fleet.state import CONSOLE_HISTORY, FleetState
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.results import (
    BalanceSnapshot,
    DataType,
    PollFailure,
    PollResult,
    Snapshot,
    SnapshotValue,
    changes,
)
from pf_tui.secret import Secret
from pf_tui.text import one_line
from pf_tui.wiring import (
    ConsoleEngine,
    build_fleet,
    build_poll_client,
    build_poll_engine,
    build_poller,
    config_redactor,
)

HEADER = struct.Struct("!I")
"""Each frame's length, before its pickle."""
MAX_FRAME = 1 << 30
"""A frame longer than this is a broken pipe, not a batch of results."""
SEND_TICK_S = 0.01
"""The child gathers the results of this long into one frame."""
RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
"""A dead worker is started again after 1 s, doubling to this."""
AUTOGROUP_TRIES = 5
AUTOGROUP_RETRY_S = 0.11
"""A refused write of the worker's group niceness (another within 100 ms) is tried again."""
STOP_GRACE_S = 2.0
"""How long :meth:`RemotePoller.stop` waits for the child to leave before it kills it."""

Item = tuple[Any, ...]
"""One result on the wire: ``("s", agent, kind, value | None, at, latency, changed)`` or
``("f", agent, kind, error, at, failures, retry_in)``."""


def engine_mode(config: Config, clock: Clock = SYSTEM_CLOCK) -> str:
    """``process`` or ``inline``: where the console polls for ``config``.

    Only the system clock crosses into another process: a console on another clock (the tests'
    frozen clock) polls inline whatever the config says."""
    if clock is not SYSTEM_CLOCK:
        return "inline"
    mode = config.polling.engine
    if mode == "auto":
        return "process" if len(config.agents) >= PROCESS_ENGINE_FROM else "inline"
    return mode


def console_engine(config: Config, clock: Clock = SYSTEM_CLOCK) -> ConsoleEngine:
    """The console's polling parts: in a worker process or inline (:func:`engine_mode`)."""
    if engine_mode(config, clock) == "process":
        return RemoteEngine.build(config)
    return build_poll_engine(config, clock, history_metrics=CONSOLE_HISTORY)


# ---- the wire ------------------------------------------------------------------------------------


class _PipePickler(pickle.Pickler):
    """Pickles a :class:`Secret` as its value: only for the worker's private pipe."""

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, Secret):
            return (Secret, (obj.reveal(), obj.source))
        return NotImplemented


def dumps_config(config: Config) -> bytes:
    """``config`` pickled with its secrets, for the worker's stdin and nothing else."""
    buffer = io.BytesIO()
    _PipePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(config)
    return buffer.getvalue()


def frame(message: object) -> bytes:
    """One message as a frame: its length, then its pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message; ``EOFError`` when the pipe closed."""
    try:
        header = await reader.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        if size > MAX_FRAME:
            raise EOFError(f"a frame of {size} bytes")
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError as exc:
        raise EOFError("the pipe closed") from exc


def _portable(error: Exception) -> Exception:
    """``error`` as it can cross the pipe: a Purple Flea error as itself (its own pickling keeps
    every attribute), anything else as a Purple Flea error naming its type and message."""
    if isinstance(error, PurpleFleaError):
        return error
    return PurpleFleaError(one_line(f"{type(error).__name__}: {error}"))


def _for_console(value: SnapshotValue) -> SnapshotValue:
    """What the console needs of a figure: a balance without its recent activity. Only the
    poller reads that (for the ledger hint, here in the worker); in the console's fleet state
    it was eight rows an agent for nothing, 21 MB at 5,000 agents."""
    if isinstance(value, BalanceSnapshot) and value.balance.recent_activity:
        return replace(value, balance=replace(value.balance, recent_activity=()))
    return value


def encode(results: list[PollResult]) -> list[Item]:
    """Results as wire items; an unchanged figure without its value."""
    items: list[Item] = []
    for r in results:
        if isinstance(r, Snapshot):
            value = _for_console(r.value) if r.changed else None
            items.append(("s", r.agent_id, r.kind, value, r.fetched_at, r.latency_s, r.changed))
        else:
            error = _portable(r.error)
            items.append(("f", r.agent_id, r.kind, error, r.at, r.failures, r.retry_in))
    return items


class Decoder:
    """Wire items back into results, with each unchanged figure's value as last received."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, DataType], SnapshotValue] = {}

    def decode(self, items: list[Item]) -> list[PollResult]:
        """The results ``items`` carry (an unchanged figure never seen changed is dropped: a
        child's first poll of each figure always comes with its value)."""
        out: list[PollResult] = []
        last = self._last
        for tag, agent_id, kind, payload, at, a, b in items:
            if tag == "s":
                key = (agent_id, kind)
                if b:
                    last[key] = payload
                    value = payload
                else:
                    value = last.get(key)
                    if value is None:
                        continue
                out.append(Snapshot(agent_id, kind, value, at, a, b))
            else:
                out.append(PollFailure(agent_id, kind, payload, at, a, b))
        return out


# ---- the console's side --------------------------------------------------------------------------


class RemotePoller:
    """A :class:`~pf_tui.wiring.PollSource` whose polling runs in a worker process."""

    def __init__(self, config: Config, *, command: list[str] | None = None) -> None:
        """``command`` starts the worker (default: this interpreter, ``-m pf_tui.poll_worker``)."""
        self._config = config
        self._command = command or [sys.executable, "-m", "pf_tui.poll_worker"]
        self._redactor = config_redactor(config)
        # The console's counters: error rates only (the latency column reads the fleet state's).
        self.stats = CallStats(
            SYSTEM_CLOCK, window_s=float(config.polling.error_window), agent_latency=False
        )
        self._decoder = Decoder()
        self._results: deque[PollResult] = deque(maxlen=100_000)
        self._ready = asyncio.Event()
        self._paused = False
        self._tracked: dict[str, dict[str, Dialect]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._trouble: str | None = None
        self._stopping = False
        self._stderr: deque[str] = deque(maxlen=20)
        self.starts = 0
        """Workers started so far (the first, and each restart)."""

    # ---- PollSource ---------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """Whether polling is paused."""
        return self._paused

    @property
    def pid(self) -> int | None:
        """The worker's process id while one runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def start(self) -> None:
        """Start the worker (and keep one running) in the running loop."""
        if self._runner is None:
            self._stopping = False
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name="pf-tui-poll-worker"
            )

    async def stop(self) -> None:
        """Stop the worker: ask, wait :data:`STOP_GRACE_S`, then kill."""
        runner, self._runner = self._runner, None
        self._stopping = True  # a cancel lost by Python 3.11's wait_for still ends the runner
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        await self._end(self._proc)
        self._proc = None

    def refresh_now(self) -> None:
        """Poll everything now."""
        self._send(("refresh",))

    def refresh(self, agent_id: str, kinds: Iterable[DataType]) -> None:
        """Poll one agent's ``kinds`` now (after a money action)."""
        self._send(("refresh-agent", agent_id, tuple(kind.value for kind in kinds)))

    def pause(self) -> None:
        """Stop starting polls (a poll in flight still reports)."""
        self._paused = True
        self._send(("pause",))

    def resume(self) -> None:
        """Start polling again."""
        self._paused = False
        self._send(("resume",))

    def set_tracked_escrows(self, tracked: Mapping[str, Mapping[str, Dialect]]) -> None:
        """Replace every agent's tracked escrows (kept for a restarted worker too)."""
        self._tracked = {agent: dict(escrows) for agent, escrows in tracked.items()}
        self._send(("track", self._tracked))

    async def batch(self) -> list[PollResult]:
        """Wait for at least one result, then return every result ready (oldest first)."""
        while not self._results:
            self._ready.clear()
            await self._ready.wait()
        return self.drain()

    def drain(self) -> list[PollResult]:
        """Every result ready now, without waiting."""
        out = list(self._results)
        self._results.clear()
        return out

    def pending(self) -> int:
        """How many of the results ready now change what the screen shows (see
        :func:`~pf_tui.core.polling.results.changes`)."""
        return changes(self._results)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called (the runner leaves even if its cancel was lost)."""
        return self._stopping

    def trouble(self) -> str | None:
        """Why no worker polls right now (it died, and when the next starts), or ``None``."""
        return self._trouble

    # ---- the worker ---------------------------------------------------------------------------

    def _send(self, message: object) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            return  # the next worker starts with the state kept here
        with contextlib.suppress(ConnectionError, RuntimeError):
            proc.stdin.write(frame(message))

    async def _run(self) -> None:
        wait = RESTART_MIN_S
        while True:
            why = await self._one_worker()
            if self.stopping:
                return
            self._trouble = one_line(
                self._redactor.scrub(f"poll worker {why}; starting again in {wait:.0f} s")
            )
            await asyncio.sleep(wait)
            wait = min(wait * 2, RESTART_MAX_S)

    async def _one_worker(self) -> str:
        """Run one worker until it ends; why it ended."""
        self._stderr.clear()
        spawning = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        )
        try:
            proc = self._proc = await asyncio.shield(spawning)
            if self.stopping:
                raise asyncio.CancelledError
        except OSError as exc:  # no interpreter to start, no processes left: try again later
            return f"could not start ({type(exc).__name__}: {exc})"
        except asyncio.CancelledError:
            # Stopped while the worker was being started: it must not outlive the console
            # waiting for a stdin nobody holds (nor keep the loop's child watcher waiting).
            with contextlib.suppress(Exception):
                await self._end(await spawning)
            raise
        self.starts += 1
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        tail = asyncio.ensure_future(self._keep_stderr(proc.stderr))
        code: int | None
        try:
            state = {"paused": self._paused, "tracked": self._tracked}
            proc.stdin.write(frame(("start", dumps_config(self._config), state)))
            while True:
                try:
                    message = await read_frame(proc.stdout)
                except EOFError:
                    break
                self._take(message)
            code = await proc.wait()
            await asyncio.wait([tail], timeout=1.0)  # its last lines (wait_for can lose a cancel)
        except Exception as exc:  # a broken pipe or frame must not end the console's polling
            await self._end(proc)
            code = proc.returncode
            self._stderr.append(f"{type(exc).__name__}: {exc}")
        finally:
            tail.cancel()
        last = self._stderr[-1] if self._stderr else "no message"
        return f"exited (code {code}): {last}"

    def _take(self, message: Any) -> None:
        kind = message[0]
        if kind == "results":
            _, items, calls = message
            record = self.stats.record
            for call in calls:
                record(*call)
            results = self._decoder.decode(items)
            self._trouble = None
            if results:
                self._results.extend(results)
                self._ready.set()
        elif kind == "ready":
            self._trouble = None

    async def _keep_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr.append(self._redactor.scrub(text))

    @staticmethod
    async def _end(proc: asyncio.subprocess.Process | None) -> None:
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                proc.stdin.write(frame(("stop",)))
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


@dataclass
class RemoteEngine:
    """The console's polling parts with the poller in a worker process."""

    poller: RemotePoller
    fleet: FleetState

    @classmethod
    def build(cls, config: Config) -> RemoteEngine:
        """The worker-backed poller and the fleet state for ``config``'s agents; not started."""
        poller = RemotePoller(config)
        return cls(poller, build_fleet(config, poller.stats, history_metrics=CONSOLE_HISTORY))

    async def aclose(self) -> None:
        """Stop the worker."""
        await self.poller.stop()


# ---- the worker's side ---------------------------------------------------------------------------


class _CallTap(CallStats):
    """Keeps every call for the next frame instead of counting it: the console counts."""

    def __init__(self) -> None:
        super().__init__(SYSTEM_CLOCK)
        self.outbox: list[tuple[str, str, float, bool]] = []

    def record(
        self, agent_id: str, endpoint: str, latency_s: float, ok: bool, *, now: float | None = None
    ) -> None:
        self.outbox.append((agent_id, endpoint, latency_s, ok))


async def _pipes() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(os.dup(1), "wb")
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


def yield_cores(increment: int) -> None:
    """Run this process ``increment`` steps of niceness below the console that started it, so
    that when the cores are busy the screen's frames and the operator's keys go first.

    On Linux the worker's session of its own is also a scheduling group of its own (autogroup),
    and the kernel shares the cores between groups before it looks at a process's niceness: a
    niced worker in a group at nice 0 takes as much as before. So the group is lowered too
    (``/proc/self/autogroup``, which any process may lower for its own group), to ``increment``
    below the console's group, and never above the worker's own niceness. The kernel refuses
    such writes for 100 ms after any other on the machine (``EAGAIN``, without
    ``CAP_SYS_ADMIN``): two workers starting together try again. Where neither is possible the
    worker runs as it is: polling goes on either way.
    """
    if increment <= 0:
        return
    try:
        niceness = os.nice(increment)
    except (AttributeError, OSError):  # no os.nice on this platform, or refused
        return
    if os.getsid(0) != os.getpid():
        return  # not a session of its own: the group is the console's, and must stay as it is
    console_group = autogroup_nice(os.getppid())
    if console_group is None:
        return  # no autogroup here (another system, or a kernel without it)
    target = min(19, max(niceness, console_group + increment))
    for _ in range(AUTOGROUP_TRIES):
        try:
            with open("/proc/self/autogroup", "w") as group:
                group.write(str(target))
            return
        except OSError as error:
            if error.errno != errno.EAGAIN:
                return
        time.sleep(AUTOGROUP_RETRY_S)


def autogroup_nice(pid: int | str) -> int | None:
    """The niceness of process ``pid``'s (or ``"self"``'s) scheduling group, where Linux keeps
    one."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


async def serve() -> None:
    """The worker: read the config, poll, send results until stdin closes or says stop."""
    reader, writer = await _pipes()
    start = await read_frame(reader)
    if start[0] != "start":
        raise SystemExit(f"expected a start frame, got {start[0]!r}")
    _, config_bytes, state = start
    config: Config = pickle.loads(config_bytes)
    del config_bytes, start
    yield_cores(config.polling.worker_nice)
    tap = _CallTap()
    client = build_poll_client(config)
    poller = build_poller(config, client, stats=tap)
    poller.set_tracked_escrows(state["tracked"])
    if state["paused"]:
        poller.pause()
    poller.start()
    poller.refresh_now()  # everything at once, as the console's own start-up asks

    async def commands() -> None:
        while True:
            try:
                message = await read_frame(reader)
            except EOFError:
                return
            match message[0]:
                case "stop":
                    return
                case "refresh":
                    poller.refresh_now()
                case "refresh-agent":
                    poller.refresh(message[1], map(DataType, message[2]))
                case "pause":
                    poller.pause()
                case "resume":
                    poller.resume()
                case "track":
                    poller.set_tracked_escrows(message[1])

    async def results() -> None:
        writer.write(frame(("ready",)))
        while True:
            batch = await poller.batch()
            await asyncio.sleep(SEND_TICK_S)
            batch += poller.drain()
            calls, tap.outbox = tap.outbox, []
            writer.write(frame(("results", encode(batch), calls)))
            await writer.drain()

    listening = asyncio.ensure_future(commands())
    sending = asyncio.ensure_future(results())
    try:
        await asyncio.wait((listening, sending), return_when=asyncio.FIRST_COMPLETED)
        if sending.done():
            sending.result()  # a broken pipe or a bug: say so on stderr
    finally:
        for task in (listening, sending):
            task.cancel()
        await asyncio.gather(listening, sending, return_exceptions=True)
        await poller.stop()
        await client.aclose()


def main() -> None:
    """``python -m pf_tui.poll_worker``: started by :class:`RemotePoller`, never by hand."""
    # Stdout is the frame channel: whatever prints goes to stderr instead.
    sys.stdout = sys.stderr
    event_loop.run(serve())


if __name__ == "__main__":
    main()
