"""The daemon's heartbeat: the ``kv`` row that tells the TUI whether the daemon is running.

The daemon rewrites ``kv`` key :data:`HEARTBEAT_KEY` every loop with JSON ``{pid, started_at, at,
agents, firing, outbox, interval_s}`` (see :meth:`pf_tui.core.notify.alert_book.AlertBook.beat`);
the TUI reads it with :func:`read_heartbeat`. The daemon counts as alive while
``now - at < 3 * interval_s``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass

from pf_tui.core.store.db import read_kv

__all__ = ["HEARTBEAT_KEY", "Heartbeat", "read_heartbeat"]

HEARTBEAT_KEY = "daemon.heartbeat"


@dataclass(frozen=True)
class Heartbeat:
    """What the daemon last said about itself (read by the TUI)."""

    pid: int
    started_at: float
    at: float
    agents: int
    firing: int
    outbox: int
    interval_s: float

    def alive(self, now: float) -> bool:
        """Whether the daemon wrote recently enough to be considered running."""
        return now - self.at < 3 * self.interval_s

    def to_json(self) -> str:
        """The row's JSON text."""
        return json.dumps(asdict(self))


def read_heartbeat(conn: sqlite3.Connection) -> Heartbeat | None:
    """The daemon's last heartbeat; ``None`` if it never ran (or the row is garbled)."""
    text = read_kv(conn, HEARTBEAT_KEY)
    if text is None:
        return None
    try:
        data = json.loads(text)
        return Heartbeat(**{k: data[k] for k in Heartbeat.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        return None
