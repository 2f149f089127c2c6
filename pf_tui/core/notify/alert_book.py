"""The daemon's book of alerts in the store: the alert log, the engine's state, the outbox rows.

One evaluation commits in ONE transaction (:meth:`AlertBook.commit`): the engine's state (``kv``
key :data:`STATE_KEY`), the ``alerts`` rows that changed (the log the TUI's Alerts tab reads), and
the ``outbox`` rows of the notifications due. A crash before the commit re-evaluates to the same
events (same ids); after it, the outbox holds them. So nothing is lost and nothing is produced
twice. It sits in the delivery package because it writes the alert engine's results and the
outbox together; the alert rules and engine below it know nothing of either.

What other processes read (the TUI):
- ``alerts`` rows with ``state`` ``pending`` / ``firing`` / ``resolved`` (one row per episode,
  keyed by fingerprint and ``started_at``); ``silenced_until`` set by the TUI mutes that episode's
  notifications (the daemon reads it every evaluation); only the daemon sends.
- the heartbeat row :meth:`AlertBook.beat` writes (:mod:`pf_tui.core.alerts.heartbeat`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from pf_tui.core.alerts.engine import (
    AlertEngine,
    AlertEvent,
    AlertInstance,
    AlertState,
    EventKind,
)
from pf_tui.core.alerts.heartbeat import HEARTBEAT_KEY, Heartbeat
from pf_tui.core.notify.outbox import Outbox
from pf_tui.core.store.db import read_kv, transaction, write_kv

__all__ = ["STATE_KEY", "AlertBook", "Marks"]

STATE_KEY = "daemon.alert_state"


Marks = dict[str, tuple[AlertState, float]]
"""Each instance's ``(state, active_since)`` by fingerprint, taken before an evaluation."""


class AlertBook:
    """Persists an :class:`AlertEngine`'s evaluations; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outbox = Outbox(conn)

    def load_instances(self) -> list[AlertInstance]:
        """The engine state saved by the last commit (empty on first run or if unreadable)."""
        text = read_kv(self.conn, STATE_KEY)
        if text is None:
            return []
        try:
            return [AlertInstance.from_dict(d) for d in json.loads(text)]
        except (ValueError, TypeError, KeyError):
            return []

    def muted(self, now: float) -> dict[str, float]:
        """Fingerprints the operator silenced from the TUI (``alerts.silenced_until``)."""
        rows = self.conn.execute(
            "SELECT fingerprint, MAX(silenced_until) FROM alerts WHERE silenced_until > ?"
            " AND state IN ('pending', 'firing') GROUP BY fingerprint",
            (now,),
        ).fetchall()
        return {fp: float(until) for fp, until in rows}

    @staticmethod
    def snapshot(engine: AlertEngine) -> Marks:
        """Each instance's ``(state, active_since)``, taken before an evaluation."""
        return {fp: (i.state, i.active_since) for fp, i in engine.instances.items()}

    def commit(
        self,
        engine: AlertEngine,
        before: Marks,
        events: Sequence[AlertEvent],
        receivers: Sequence[str],
        now: float,
    ) -> None:
        """Write the evaluation's changes, the engine state and the outbox rows atomically."""
        changed = self._transitions(engine, before)
        if not changed and not events:
            return
        with transaction(self.conn):
            self._write_log(engine, before, changed, events, now)
            state = [
                i.to_dict() for i in engine.instances.values() if i.state is not AlertState.INACTIVE
            ]
            write_kv(self.conn, STATE_KEY, json.dumps(state, sort_keys=True))
            self.outbox.enqueue(events, receivers, now)

    def enqueue(self, events: Iterable[AlertEvent], receivers: Sequence[str], now: float) -> None:
        """Queue events that change no alert state (heartbeats)."""
        with transaction(self.conn):
            self.outbox.enqueue(events, receivers, now)

    def beat(self, beat: Heartbeat) -> None:
        """Record the daemon's heartbeat for the TUI."""
        with transaction(self.conn):
            write_kv(self.conn, HEARTBEAT_KEY, beat.to_json())

    @staticmethod
    def _transitions(engine: AlertEngine, before: Marks) -> set[str]:
        after = {fp: (i.state, i.active_since) for fp, i in engine.instances.items()}
        return {fp for fp in before.keys() | after.keys() if before.get(fp) != after.get(fp)}

    def _write_log(
        self,
        engine: AlertEngine,
        before: Marks,
        changed: set[str],
        events: Sequence[AlertEvent],
        now: float,
    ) -> None:
        messages = {e.fingerprint: e for e in events}
        rules = {r.name: r for r in engine.rules}
        for fp in changed | messages.keys():
            inst = engine.instances.get(fp)
            old_state, old_since = before.get(fp, (AlertState.INACTIVE, 0.0))
            event = messages.get(fp)
            if inst is None or inst.state is AlertState.INACTIVE:
                if old_state is AlertState.PENDING:
                    self.conn.execute(  # a flap inside `for`: it never was an alert
                        "DELETE FROM alerts WHERE fingerprint = ? AND started_at = ?"
                        " AND state = 'pending'",
                        (fp, old_since),
                    )
                elif old_state is AlertState.FIRING:
                    self.conn.execute(
                        "UPDATE alerts SET state = 'resolved', ended_at = ?, updated_at = ?,"
                        " last_notified_at = COALESCE(?, last_notified_at)"
                        " WHERE fingerprint = ? AND started_at = ?",
                        (now, now, now if event is not None else None, fp, old_since),
                    )
                continue
            rule = rules.get(inst.rule)
            message = event.description if event is not None else None
            cur = self.conn.execute(
                "UPDATE alerts SET state = ?, value = ?, updated_at = ?,"
                " message = COALESCE(?, message),"
                " last_notified_at = COALESCE(?, last_notified_at)"
                " WHERE fingerprint = ? AND started_at = ?",
                (
                    inst.state.value,
                    inst.value,
                    now,
                    message,
                    now if event is not None and event.kind is not EventKind.RESOLVED else None,
                    fp,
                    inst.active_since,
                ),
            )
            if cur.rowcount == 0:
                self.conn.execute(
                    "INSERT INTO alerts (fingerprint, rule, agent, severity, state, value,"
                    " threshold, message, labels, started_at, updated_at, last_notified_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fp,
                        inst.rule,
                        inst.labels.get("agent"),
                        inst.labels.get("severity", ""),
                        inst.state.value,
                        inst.value,
                        str(rule.threshold) if rule is not None and rule.metric else None,
                        message,
                        json.dumps(inst.labels, sort_keys=True),
                        inst.active_since,
                        now,
                        now if event is not None else None,
                    ),
                )
