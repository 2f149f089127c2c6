"""The stop-all brake and the cross-process leases: what every pf-tui process on one store obeys.

Both live in the store, so the console, the daemon, the command line and any later caller on the
same SQLite file see the same thing (docs/design.md, Storage):

- **The brake** (``brake_events``): the newest row is the state. Engaging it pauses every open
  stream and refuses every new money action from every process until it is lifted; each change is
  journaled with who, when and why, and survives restarts. :func:`read_brake` is one indexed
  row: cheap enough for a header redrawn every second and for ``/metrics``.
- **Leases** (``leases``): one action at a time on a stream, an escrow, a faucet claim or a new
  stream from one agent to one payee, across processes. A lease is taken inside the journal's
  ``BEGIN IMMEDIATE`` transaction that journals the action, so of two processes racing for one
  stream exactly one journals; the other is refused before anything is sent. A lease of a
  process that died is taken over (every process on one store is on one host: SQLite's WAL needs
  shared memory), and a lease older than :data:`LEASE_TTL_S` is void whatever its holder.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from pf_tui.core.money.types import ActionInFlightError, Resource

LEASE_TTL_S = 30 * 60.0
"""A lease older than this is void: longer than any action runs (12 sends, 30 s of backoff at
most between them), short enough that a holder whose pid was reused does not block for long."""


# ---- the brake ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrakeState:
    """The brake as the store has it: engaged or not, since when, by whom, why."""

    engaged: bool
    since: float | None = None
    """When it was engaged (or last lifted); ``None``: never touched."""
    operator: str = ""
    reason: str = ""
    streams: tuple[str, ...] = ()
    """The streams this engagement paused (lifting may resume exactly these)."""

    @property
    def text(self) -> str:
        """One line for a header or a refusal: ``brake on since ... by ops: incident 42``."""
        if not self.engaged:
            return "brake off"
        return f"brake on by {self.operator}: {self.reason}"


BRAKE_OFF = BrakeState(engaged=False)


def read_brake(conn: sqlite3.Connection) -> BrakeState:
    """The brake's state: the newest ``brake_events`` row (one indexed read)."""
    row: tuple[int, float, str, str, str] | None = conn.execute(
        "SELECT engaged, at, operator, reason, streams FROM brake_events ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return BRAKE_OFF
    engaged, at, operator, reason, streams = row
    try:
        paused = tuple(str(s) for s in json.loads(streams or "[]"))
    except ValueError:
        paused = ()
    return BrakeState(bool(engaged), float(at), str(operator), str(reason), paused)


def write_brake(conn: sqlite3.Connection, state: BrakeState) -> None:
    """Append ``state`` (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO brake_events (engaged, at, operator, reason, streams) VALUES (?, ?, ?, ?, ?)",
        (
            int(state.engaged),
            state.since,
            state.operator,
            state.reason,
            json.dumps(list(state.streams)),
        ),
    )


def brake_history(conn: sqlite3.Connection, limit: int = 50) -> list[BrakeState]:
    """The newest brake changes first (the audit of who engaged and lifted it, when, why)."""
    rows = conn.execute(
        "SELECT engaged, at, operator, reason, streams FROM brake_events ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        BrakeState(bool(e), float(at), str(op), str(why), tuple(json.loads(st or "[]")))
        for e, at, op, why, st in rows
    ]


# ---- leases --------------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a lease: another process's pid and the action it runs."""

    holder: str
    pid: int
    intent: str


class Leases:
    """This process's leases on one store connection (the journal's)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        alive: Callable[[int], bool] = pid_alive,
        ttl_s: float = LEASE_TTL_S,
    ) -> None:
        self.conn = conn
        self.pid = os.getpid()
        # Not uuid4: the intents' keys come from it, and a holder token must not use one up.
        self.holder = f"{socket.gethostname()}:{self.pid}:{secrets.token_hex(4)}"
        """This engine's identity: two engines in one process are two holders."""
        self._alive = alive
        self.ttl_s = ttl_s

    def holder_of(self, resource: Resource, now: float) -> LeaseHolder | None:
        """Another live holder of ``resource`` (``None``: free, ours, dead or expired)."""
        row: tuple[str, str, int, float] | None = self.conn.execute(
            "SELECT holder, intent, pid, expires_at FROM leases WHERE resource = ?",
            (resource.key,),
        ).fetchone()
        if row is None:
            return None
        holder, intent, pid, expires_at = row
        if holder == self.holder or expires_at <= now or not self._alive(int(pid)):
            return None
        return LeaseHolder(str(holder), int(pid), str(intent))

    def refuse_if_held(self, resource: Resource, now: float) -> None:
        """:class:`ActionInFlightError` when another live process acts on ``resource``."""
        other = self.holder_of(resource, now)
        if other is not None:
            raise ActionInFlightError(
                f"another pf-tui process (pid {other.pid}) is acting on {resource} "
                f"(action {other.intent[:8]}); wait for it to finish"
            )

    def acquire(self, resource: Resource, intent: str, now: float) -> None:
        """Take ``resource`` for ``intent`` (inside the caller's ``BEGIN IMMEDIATE``
        transaction, so the check and the take are one step for every process)."""
        self.refuse_if_held(resource, now)
        self.conn.execute(
            "INSERT INTO leases (resource, holder, intent, pid, acquired_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(resource) DO UPDATE SET"
            " holder = excluded.holder, intent = excluded.intent, pid = excluded.pid,"
            " acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
            (resource.key, self.holder, intent, self.pid, now, now + self.ttl_s),
        )

    def release(self, resource: Resource) -> None:
        """Give ``resource`` back (its own short transaction; a no-op when not ours)."""
        self.conn.execute(
            "DELETE FROM leases WHERE resource = ? AND holder = ?", (resource.key, self.holder)
        )
