"""Keeps the Alerts tab in step with the daemon's rows and heartbeat in the shared store.

:class:`AlertStoreSync` reads :class:`~pf_tui.views.daemon_alerts.AlertStore` every
:data:`~pf_tui.views.daemon_alerts.READ_EVERY_S` in a worker thread and merges what changed into
the app's alert log; acks and silences of daemon rows are written back the same way.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from pf_tui.views.daemon_alerts import READ_EVERY_S, AlertStore, operator_name

if TYPE_CHECKING:
    from pf_tui.tui.app import PfApp

log = logging.getLogger(__name__)


class AlertStoreSync:
    """Drives the app's :class:`AlertStore` (``[store] path``): periodic reads, and the writes
    acks make. The app's :class:`AlertLog` forwards acks and silences of daemon rows here;
    :meth:`start` begins the reads, one every :data:`READ_EVERY_S` in a worker thread.
    """

    def __init__(self, app: PfApp, *, every_s: float = READ_EVERY_S) -> None:
        labels = {agent.id: agent.label or agent.id for agent in app.config.agents}
        self.app = app
        self.store = AlertStore(app.config.store.path, labels)
        self.every_s = every_s
        self.reads = 0
        """Completed reads (tests wait on it)."""
        self.error = ""
        self._busy = False
        self._writes: set[asyncio.Task[None]] = set()
        self._user = operator_name()
        # Acks and silences of daemon rows in the Alerts tab are written back through here.
        app.alert_log.bind_store(self.acknowledge, self.silence)

    def start(self) -> None:
        """Begin reading: the first read at once, then every :attr:`every_s`."""
        self.app.set_interval(self.every_s, self.refresh, name="alert-store")
        self.app.call_later(self.refresh)

    async def refresh(self) -> None:
        """Read the store off the event loop and merge what changed into the alert log."""
        if self._busy:
            return  # a slow disk: never queue reads behind each other
        self._busy = True
        try:
            snapshot = await asyncio.to_thread(self.store.read)
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            self.error = f"alert store unreadable: {type(exc).__name__}: {exc}"
            log.warning("%s", self.error)
            self.app.alert_log.set_daemon_status(None, reachable=False)
            return
        finally:
            self._busy = False
        self.error = ""
        self.reads += 1
        log_ = self.app.alert_log
        changed = log_.merge_daemon(snapshot.entries)
        changed |= log_.set_daemon_status(snapshot.heartbeat, dead_letters=snapshot.dead_letters)
        if changed:
            self.app.call_later(self.app.redraw)

    def acknowledge(self, row_id: int) -> None:
        """Write an ack of the daemon row (the alert log already shows it acked)."""
        self._spawn(asyncio.to_thread(self.store.acknowledge, row_id, self._user))

    def silence(self, row_id: int, until: float) -> None:
        """Write a silence of the daemon row's episode."""
        self._spawn(asyncio.to_thread(self.store.silence, row_id, until, self._user))

    def _spawn(self, work: Coroutine[Any, Any, bool]) -> None:
        task = asyncio.get_running_loop().create_task(self._write(work))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, work: Coroutine[Any, Any, bool]) -> None:
        try:
            if not await work:
                self.app.notify(
                    "that daemon alert is gone from the store", severity="warning", timeout=3
                )
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            self.app.notify(
                f"could not write to the alert store: {type(exc).__name__}: {exc}",
                severity="error",
                markup=False,
            )
        await self.refresh()

    async def flush(self) -> None:
        """Wait for acks and silences still being written."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def aclose(self) -> None:
        """Finish pending writes and close the connection."""
        await self.flush()
        await asyncio.to_thread(self.store.close)
