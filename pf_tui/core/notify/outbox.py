"""Durable, per-receiver delivery of alert notifications.

A notification is written to the store's ``outbox`` (in the same transaction as the alert state
that produced it) before anything is sent, and marked delivered only after the receiver accepted
it. Each receiver has its own queue: its rows are sent in order, a failure backs off that receiver
alone (honouring 429 ``retry_after``), and a permanent refusal (400/403) dead-letters the row with
the reason instead of retrying forever. A crash between "sent" and "marked" resends that one row
on restart (receivers dedup on the event id); nothing else is lost or doubled.

Outbox rows (schema: :mod:`pf_tui.core.store.schema`): ``event_id`` holds ``<receiver>:<event id>``
(the column is unique across receivers), ``payload`` the event as JSON; a delivered row keeps its
``delivered_at``; a dead-lettered row has ``next_attempt_at = DEAD_AT`` and ``last_error`` reading
``dead: <reason code>: <detail>`` (:func:`dead_reason` reads the code back: ``http_400``...).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pf_tui.core.alerts.engine import AlertEvent
from pf_tui.core.notify.dead_letters import DEAD_AT, dead_reason
from pf_tui.core.notify.format import event_from_dict, event_to_dict

if TYPE_CHECKING:
    from pf_tui.core.notify.receivers import Outcome, Receiver

__all__ = ["DEAD_AT", "Dispatcher", "Outbox", "OutboxRow", "backoff_s", "dead_reason"]

BASE_BACKOFF_S = 2.0
MAX_BACKOFF_S = 600.0
_MAX_DOUBLINGS = 32
"""Past this the cap has long been reached; it keeps 2.0 ** n far from float overflow."""


def backoff_s(attempts: int, *, base: float = BASE_BACKOFF_S, cap: float = MAX_BACKOFF_S) -> float:
    """Seconds to wait after the ``attempts``-th failure: doubling from ``base``, capped."""
    # A receiver that stays down keeps counting attempts (one every `cap` seconds); an exponent
    # left to grow would overflow a float after ~1,000 of them and break delivery for good.
    return min(cap, base * 2.0 ** min(max(0, attempts - 1), _MAX_DOUBLINGS))


@dataclass(frozen=True)
class OutboxRow:
    """One pending notification for one receiver."""

    id: int
    receiver: str
    event: AlertEvent
    attempts: int


class Outbox:
    """The outbox table, for one connection (autocommit; callers group writes in transactions)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def enqueue(self, events: Iterable[AlertEvent], receivers: Sequence[str], now: float) -> int:
        """Insert one row per (event, receiver), ignoring ones already there; return how many.

        Runs on ``self.conn`` without opening a transaction, so the caller can commit it together
        with the alert state that produced the events.
        """
        added = 0
        events = list(events)
        if not events:
            return 0
        # A receiver that is backing off holds its queue: new rows queue behind the held ones,
        # so they are neither sent early nor out of order.
        hold = {name: max(now, self._hold(name)) for name in receivers}
        for event in events:
            payload = json.dumps(event_to_dict(event), ensure_ascii=False, sort_keys=True)
            for name in receivers:
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO outbox (receiver, event_id, payload, attempts,"
                    " next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?)",
                    (name, f"{name}:{event.event_id}", payload, hold[name], now),
                )
                added += cur.rowcount
        return added

    def _hold(self, receiver: str) -> float:
        row = self.conn.execute(
            "SELECT MAX(next_attempt_at) FROM outbox WHERE receiver = ? AND delivered_at IS NULL"
            " AND next_attempt_at < ?",
            (receiver, DEAD_AT),
        ).fetchone()
        return 0.0 if row[0] is None else float(row[0])

    def due(self, receiver: str, now: float, limit: int = 50) -> list[OutboxRow]:
        """Undelivered rows of ``receiver`` due at ``now``, oldest first."""
        rows = self.conn.execute(
            "SELECT id, payload, attempts FROM outbox WHERE receiver = ? AND delivered_at IS NULL"
            " AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (receiver, now, limit),
        ).fetchall()
        return [OutboxRow(r[0], receiver, event_from_dict(json.loads(r[1])), r[2]) for r in rows]

    def next_due_at(self, receiver: str) -> float | None:
        """When the receiver's next row falls due (``None``: nothing pending)."""
        row = self.conn.execute(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE receiver = ? AND delivered_at IS NULL"
            " AND next_attempt_at < ?",
            (receiver, DEAD_AT),
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def delivered(self, row_id: int, now: float) -> None:
        """The receiver accepted the row."""
        self.conn.execute(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL"
            " WHERE id = ?",
            (now, row_id),
        )

    def retry(self, row_id: int, receiver: str, at: float, error: str) -> None:
        """The send failed for now: hold the whole receiver's queue until ``at``.

        Every pending row of the receiver moves to ``at`` at the earliest (a 429 is about the
        receiver, not the row), so order is kept and the hold survives a restart.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], row_id),
            )
            self.conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE receiver = ? AND delivered_at IS NULL"
                " AND next_attempt_at < ?",
                (at, receiver, at),
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def hold(self, receiver: str, at: float) -> None:
        """Hold the receiver's pending rows until ``at`` (pacing: nothing failed, no attempt is
        counted). New rows queue behind held ones (:meth:`enqueue`)."""
        self.conn.execute(
            "UPDATE outbox SET next_attempt_at = ? WHERE receiver = ? AND delivered_at IS NULL"
            " AND next_attempt_at < ?",
            (at, receiver, at),
        )

    def dead(self, row_id: int, reason: str, code: str = "refused") -> None:
        """The receiver refused the row for good: keep it, with the reason, and stop trying.

        ``code`` is the short reason (``http_400``) the metrics and the Alerts tab count by.
        """
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
            " WHERE id = ?",
            (DEAD_AT, f"dead: {code}: {reason}"[:500], row_id),
        )

    def depth(self) -> dict[str, int]:
        """Undelivered, not dead-lettered rows per receiver."""
        rows = self.conn.execute(
            "SELECT receiver, COUNT(*) FROM outbox WHERE delivered_at IS NULL"
            " AND next_attempt_at < ? GROUP BY receiver",
            (DEAD_AT,),
        ).fetchall()
        return dict(rows)

    def dead_letters(self) -> list[tuple[str, str, str]]:
        """``(receiver, event id, reason)`` of every dead-lettered row."""
        rows = self.conn.execute(
            "SELECT receiver, event_id, last_error FROM outbox WHERE delivered_at IS NULL"
            " AND next_attempt_at >= ? ORDER BY id",
            (DEAD_AT,),
        ).fetchall()
        return [(r, e.split(":", 1)[1], err or "") for r, e, err in rows]

    def dead_by_reason(self) -> dict[tuple[str, str], int]:
        """How many rows are dead-lettered, by ``(receiver, reason code)``."""
        counts: dict[tuple[str, str], int] = {}
        for receiver, _, error in self.dead_letters():
            key = (receiver, dead_reason(error))
            counts[key] = counts.get(key, 0) + 1
        return counts

    def prune_delivered(self, before: float) -> int:
        """Forget delivered rows older than ``before`` (kept until then so replays dedup)."""
        return self.conn.execute(
            "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (before,)
        ).rowcount


class Dispatcher:
    """Sends what the outbox holds, one independent queue per receiver.

    A receiver with a ``min_interval_s`` (Telegram: one chat's rate limit) is *paced*: at most
    one message per interval, and when several rows are due its ``send_many`` packs as many as
    fit into that one message. Pacing holds the receiver's rows in the outbox until the next
    slot, so the hold survives a restart and new rows queue behind it.
    """

    def __init__(
        self,
        outbox: Outbox,
        receivers: Sequence[Receiver],
        *,
        batch: int = 50,
        group_max: int = 200,
    ) -> None:
        self.outbox = outbox
        self.receivers = {r.name: r for r in receivers}
        self.batch = batch
        self.group_max = group_max
        """Rows offered to one digest (it takes what fits in one message)."""
        self.sent = dict.fromkeys(self.receivers, 0)
        self.failed = dict.fromkeys(self.receivers, 0)
        self.messages = dict.fromkeys(self.receivers, 0)
        """Messages a paced receiver was sent (a digest is one message, many rows)."""
        self._next_send: dict[str, float] = {}
        self._solo: dict[str, int] = {}
        """Rows of a refused digest still to be sent one by one, so that one row the receiver
        refuses for good does not take the others with it."""

    async def deliver(self, name: str, now: float) -> int:
        """One pass for receiver ``name`` at ``now``: send due rows in order until one fails.

        Returns how many were accepted. A retryable failure stops the pass (the receiver is
        backing off, and order is kept); a dead-letter moves on to the next row.
        """
        receiver = self.receivers[name]
        pace = float(getattr(receiver, "min_interval_s", 0.0) or 0.0)
        if pace > 0:
            return await self._deliver_paced(name, receiver, now, pace)
        accepted = 0
        for row in self.outbox.due(name, now, self.batch):
            outcome: Outcome = await receiver.send(row.event)
            if outcome.ok:
                self.outbox.delivered(row.id, now)
                self.sent[name] += 1
                accepted += 1
                continue
            self.failed[name] += 1
            if outcome.dead is not None:
                self.outbox.dead(row.id, outcome.dead, outcome.reason)
                continue
            wait = outcome.retry_after
            if wait is None:
                wait = backoff_s(row.attempts + 1)
            self.outbox.retry(row.id, name, now + wait, outcome.error)
            break
        return accepted

    async def _deliver_paced(self, name: str, receiver: Receiver, now: float, pace: float) -> int:
        """At most one message now: a digest of every row due (as many as fit), or one row."""
        slot = self._next_send.get(name, 0.0)
        if now < slot:
            self.outbox.hold(name, slot)
            return 0
        rows = self.outbox.due(name, now, self.group_max)
        if not rows:
            return 0
        send_many = getattr(receiver, "send_many", None)
        solo = self._solo.get(name, 0)
        if solo or send_many is None or len(rows) == 1:
            outcome, taken = await receiver.send(rows[0].event), 1
            if solo:
                self._solo[name] = solo - 1
        else:
            outcome, taken = await send_many([r.event for r in rows])
        self._next_send[name] = now + pace
        self.messages[name] = self.messages.get(name, 0) + 1
        group = rows[:taken]
        accepted = 0
        if outcome.ok:
            for row in group:
                self.outbox.delivered(row.id, now)
            self.sent[name] += taken
            accepted = taken
        else:
            self.failed[name] += 1
            if outcome.dead is not None and taken == 1:
                self.outbox.dead(rows[0].id, outcome.dead, outcome.reason)
            elif outcome.dead is not None:
                self._solo[name] = taken  # find the row it refuses: one by one, still paced
            else:
                wait = outcome.retry_after
                if wait is None:
                    wait = backoff_s(rows[0].attempts + 1)
                self.outbox.retry(rows[0].id, name, now + max(wait, pace), outcome.error)
                return 0
        if self.outbox.next_due_at(name) is not None:
            self.outbox.hold(name, now + pace)
        return accepted

    async def close(self) -> None:
        """Close every receiver's HTTP client."""
        for receiver in self.receivers.values():
            await receiver.aclose()
