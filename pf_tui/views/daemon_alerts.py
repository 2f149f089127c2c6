"""The Alerts tab's window on the daemon: its alert rows and heartbeat, read from the shared store.

The headless daemon (``pf-tui daemon``) evaluates the rules and is the only sender of
notifications; it writes one ``alerts`` row per episode and a heartbeat into the SQLite store
(:mod:`pf_tui.core.notify.alert_book`). The TUI reads the same file every couple of seconds, off the
event loop, and merges those rows into its :class:`~pf_tui.views.alert_log.AlertLog`. Acknowledging
or silencing a daemon row writes ``acked``/``acked_by``/``silenced_until`` back, which the daemon
reads each evaluation. The TUI never pages anyone, so running both never pages twice.
"""

from __future__ import annotations

import getpass
import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pf_tui.core.alerts.heartbeat import Heartbeat, read_heartbeat
from pf_tui.core.notify.dead_letters import DEAD_AT, dead_reason
from pf_tui.core.store.db import Store, transaction
from pf_tui.views.alert_log import AlertEntry
from pf_tui.views.times import clock_time

log = logging.getLogger(__name__)

READ_EVERY_S = 2.0
"""How often the TUI re-reads the daemon's rows and heartbeat."""
MAX_ROWS = 500
"""Newest daemon rows shown (older episodes stay in the store)."""
KEY_PREFIX = "db:"
"""Keys of daemon rows in the alert log: ``db:<alerts.id>``."""


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """Whether the daemon is running, from its heartbeat (``None`` when it never ran)."""

    heartbeat: Heartbeat | None
    now: float

    @property
    def state(self) -> str:
        """``alive``, ``stale`` (it wrote once, then stopped) or ``absent``."""
        if self.heartbeat is None:
            return "absent"
        return "alive" if self.heartbeat.alive(self.now) else "stale"

    def text(self) -> str:
        """``daemon: alive (pid N, 12s ago)``, ``daemon: stale since HH:MM`` or
        ``daemon: not running``."""
        beat = self.heartbeat
        if beat is None:
            return "daemon: not running"
        if beat.alive(self.now):
            return f"daemon: alive (pid {beat.pid}, {max(0, int(self.now - beat.at))}s ago)"
        return "daemon: stale since " + clock_time(beat.at, self.now)


DeadLetters = tuple[tuple[str, str, int], ...]
"""``(receiver, reason code, count)`` of the notifications a receiver refused for good."""


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """One read of the store: the daemon's newest alert rows, its heartbeat, its dead letters."""

    entries: tuple[AlertEntry, ...]
    heartbeat: Heartbeat | None
    dead_letters: DeadLetters = ()
    """Dead-lettered notifications by receiver and reason (``telegram``, ``http_400``, 3)."""


def read_dead_letters(conn: sqlite3.Connection) -> DeadLetters:
    """Dead-lettered outbox rows counted by ``(receiver, reason)``, most first."""
    rows = conn.execute(
        "SELECT receiver, last_error FROM outbox WHERE delivered_at IS NULL"
        " AND next_attempt_at >= ?",
        (DEAD_AT,),
    ).fetchall()
    counts: dict[tuple[str, str], int] = {}
    for receiver, error in rows:
        key = (str(receiver), dead_reason(str(error or "")))
        counts[key] = counts.get(key, 0) + 1
    return tuple(
        (receiver, reason, n)
        for (receiver, reason), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def row_key(row_id: int) -> str:
    """The alert log key of the daemon's ``alerts`` row ``row_id``."""
    return f"{KEY_PREFIX}{row_id}"


def operator_name() -> str:
    """Who acknowledges: ``$USER`` (or the login name), ``operator`` when unknown."""
    try:
        return getpass.getuser() or "operator"
    except (OSError, KeyError, ImportError):
        return "operator"


_SELECT = (
    "SELECT id, rule, agent, severity, state, value, threshold, message, started_at, ended_at,"
    " acked, silenced_until, labels FROM alerts ORDER BY started_at DESC, id DESC LIMIT ?"
)


def _labels(text: object) -> dict[str, str]:
    """An alert row's labels (a JSON object of strings); anything else reads as none."""
    try:
        value = json.loads(str(text)) if text else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


class AlertStore:
    """Blocking reads and writes of the daemon's alert state (call them in a thread).

    The store file is opened only once it exists: a console that was never beside a daemon does
    not create an empty store just to find nothing in it.
    """

    def __init__(self, path: Path, labels: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.labels = dict(labels or {})
        """Agent id to its configured label (the daemon's rows name agents by id)."""
        self._conn: sqlite3.Connection | None = None
        # Reads and writes run in worker threads over one connection: one at a time.
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.path.exists():
                return None
            store = Store(self.path)  # brings the schema up to date once
            try:
                self._conn = store.connect()
            finally:
                store.close()
        return self._conn

    def read(self) -> StoreSnapshot:
        """The newest daemon rows (as alert log entries) and the heartbeat."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return StoreSnapshot((), None)
            rows = conn.execute(_SELECT, (MAX_ROWS,)).fetchall()
            beat = read_heartbeat(conn)
            dead = read_dead_letters(conn)
        return StoreSnapshot(tuple(self._entry(row) for row in rows), beat, dead)

    def _entry(self, row: tuple[Any, ...]) -> AlertEntry:
        (
            row_id,
            rule,
            agent,
            severity,
            state,
            value,
            threshold,
            message,
            started_at,
            ended_at,
            acked,
            silenced_until,
            labels,
        ) = row
        agent_id = str(agent or "")
        subject = _labels(labels)
        shown = str(value) if value not in (None, "") else str(message or "")
        if value not in (None, "") and threshold not in (None, ""):
            shown = f"{value} (threshold {threshold})"
        return AlertEntry(
            key=row_key(int(row_id)),
            started_at=float(started_at),
            severity=str(severity or ""),
            agent_id=agent_id,
            agent_label=self.labels.get(agent_id, agent_id or "fleet"),
            rule=str(rule),
            value=shown,
            state=str(state),
            resolved_at=float(ended_at) if ended_at is not None else None,
            acknowledged=bool(acked),
            silenced_until=float(silenced_until) if silenced_until is not None else None,
            source="daemon",
            stream_id=subject.get("stream", ""),
            # The stream_timeout rule writes "-" for a stream whose escrow is not known.
            escrow_id="" if subject.get("escrow") == "-" else subject.get("escrow", ""),
        )

    def acknowledge(self, row_id: int, by: str) -> bool:
        """Set ``acked``/``acked_by`` on the row; False when the row is gone."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return False
            with transaction(conn):
                cur = conn.execute(
                    "UPDATE alerts SET acked = 1, acked_by = ? WHERE id = ?", (by, row_id)
                )
            return cur.rowcount == 1

    def silence(self, row_id: int, until: float, by: str) -> bool:
        """Mute the row's episode until ``until`` (the daemon checks it each evaluation), and ack
        it."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return False
            with transaction(conn):
                cur = conn.execute(
                    "UPDATE alerts SET silenced_until = ?, acked = 1, acked_by = ? WHERE id = ?",
                    (until, by, row_id),
                )
            return cur.rowcount == 1

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
