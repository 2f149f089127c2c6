"""The alert daemon in a background thread of the console's process, for ``pf-tui --demo``.

The console never evaluates alert rules: it shows the rows a daemon writes to the shared store
(docs/design.md, Storage). A newcomer running the demo has no daemon, so its Alerts tab showed
only the console's own poll events and no rule (``error_rate``, ``low_balance``) ever fired.
The demo therefore runs the same daemon (:func:`~pf_tui.daemon.loop.run_daemon`, the same
config and store, paging the simulator's Telegram stand-in) in a thread with its own event
loop, started a moment after the console so it does not slow the first screen, and stopped
before the demo's store is removed. Its log lines are kept off the terminal the console draws
on, and it leaves the garbage collector to the console's pacer (``DaemonOptions.own_gc``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pf_tui.wiring import open_store

if TYPE_CHECKING:
    from pf_tui.config import Config

START_DELAY_S = 2.0
"""The console draws its first figures before the daemon starts polling beside it."""
MAX_AGENTS = 200
"""A larger demo fleet runs without the daemon: it would double the polling load."""
STOP_TIMEOUT_S = 5.0


class EmbeddedDaemon:
    """:func:`run_daemon` in a thread; :meth:`stop` ends it (idempotent)."""

    def __init__(self, config: Config, *, start_delay_s: float = START_DELAY_S) -> None:
        self.config = config
        self.start_delay_s = start_delay_s
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pf-tui-daemon", daemon=True)
        self.error: BaseException | None = None
        """Why the daemon stopped early, if it did (the console carries on without it)."""

    def start(self) -> EmbeddedDaemon:
        """Start the thread; the daemon polls after :attr:`start_delay_s`."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the daemon to stop and wait for it (at most :data:`STOP_TIMEOUT_S`)."""
        self._stopping.set()
        with self._ready:
            loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # its loop already closed
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)

    def _run(self) -> None:
        if self._stopping.wait(self.start_delay_s):
            return
        try:
            asyncio.run(self._main())
        except Exception as exc:  # the console carries on; the Alerts tab says "daemon: stale"
            self.error = exc

    async def _main(self) -> None:
        stop = asyncio.Event()
        with self._ready:
            self._loop, self._stop = asyncio.get_running_loop(), stop
        if self._stopping.is_set():
            return
        from pf_tui.daemon.loop import DaemonOptions, run_daemon  # here: see the module

        # A short drain: on quit, an alert still being delivered gets a second, not five.
        await run_daemon(
            self.config, stop=stop, options=DaemonOptions(drain_grace_s=1.0, own_gc=False)
        )


@contextmanager
def embedded_daemon(config: Config) -> Iterator[EmbeddedDaemon | None]:
    """Run the daemon beside the console for the block (none past :data:`MAX_AGENTS`)."""
    if len(config.agents) > MAX_AGENTS:
        yield None
        return
    _quiet_logs()
    # The store's schema is written here, before the console or the daemon opens the store:
    # two first opens at once race in its migration ("table samples already exists"), and on a
    # loaded machine the console's open can come as late as the daemon's, which then died.
    with open_store(config):
        pass
    daemon = EmbeddedDaemon(config).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def _quiet_logs() -> None:
    """The daemon's log lines must not reach the terminal the console draws on (Python's
    last-resort handler prints warnings to stderr when no handler is configured)."""
    logger = logging.getLogger("pf_tui.daemon")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
