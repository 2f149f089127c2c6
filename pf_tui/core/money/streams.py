"""pf-tui's stream records: what a stream is, what it owes, and how its tranches are planned.

A stream (docs/api.md §3, "Streams in pf-tui") pays a payee at a rate per unit (per hour, per call,
per data point) out of a budget. It is backed either natively (one docs-dialect escrow of the whole
budget, partial releases) or by tranches (one classic escrow of one batch kept funded ahead).

What is owed is kept as ``carry`` (owed as of the last checkpoint) plus, for time-based units
while the stream is open, ``rate x hours since active_since``. Pausing folds the accrued time into
``carry``; a release subtracts what it paid. The records live in the store's ``streams`` table;
``carry`` and the funded tranche's amount live in ``stream_accounts`` beside it. Every write
takes the caller's connection, so a stream change commits in the same transaction as the journal
row that caused it.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from pf_tui.api.models import Dialect
from pf_tui.core.money.escrows import HeldEscrow
from pf_tui.core.money.types import (
    MIN_ESCROW_USD,
    Op,
    StreamMode,
    StreamOrigin,
    StreamState,
    StreamUnit,
    UnknownStreamError,
)
from pf_tui.core.store.schema import migrate
from pf_tui.usd import MICRO

SECONDS_PER_HOUR = Decimal(3600)


def ensure_side_schema(conn: sqlite3.Connection) -> None:
    """Bring the store's schema up to date (``stream_accounts`` is migration 2); idempotent."""
    migrate(conn)


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream record (immutable; :class:`StreamBook` writes new versions)."""

    id: str
    agent_id: str
    """The paying agent (creator of the escrows)."""
    payee: str
    mode: StreamMode
    rate: Decimal
    unit: StreamUnit
    budget: Decimal
    batch: Decimal
    released: Decimal
    """Gross amount released to the payee so far."""
    escrow_id: str | None
    """The native escrow, or the tranche currently funded (``None`` between tranches)."""
    funded: Decimal
    """Money held in ``escrow_id`` that is still the payer's to release (0 when none)."""
    carry: Decimal
    state: StreamState
    memo: str
    active_since: float | None
    """When time began accruing again (``None`` while paused or not time-based)."""
    last_release_at: float | None
    created_at: float
    updated_at: float
    timeout_hours: int = 24
    timeout_at: float | None = None
    """Unix time the current escrow times out (from the server's reply; ``None``: unknown)."""
    origin: StreamOrigin = StreamOrigin.OPENED

    @property
    def dialect(self) -> Dialect:
        """The escrow dialect the stream's mode speaks."""
        return self.mode.dialect

    @property
    def version(self) -> str:
        """A fingerprint of everything an action plan depends on (a preview goes stale when it
        changes)."""
        return "|".join(
            str(v)
            for v in (
                self.state.value,
                self.escrow_id,
                self.funded,
                self.released,
                self.carry,
                self.active_since,
                self.updated_at,
            )
        )

    def held(self) -> HeldEscrow | None:
        """What the stream's current escrow holds by pf-tui's record (``None``: no escrow)."""
        if self.escrow_id is None:
            return None
        timeout_at = self.timeout_at
        if (
            timeout_at is None
            and self.origin is StreamOrigin.OPENED
            and self.mode.dialect is (Dialect.STREAMING)
        ):
            # A native stream's one escrow was made at the open: its timeout follows from it.
            timeout_at = self.created_at + self.timeout_hours * 3600
        return HeldEscrow(
            self.escrow_id, self.dialect, self.funded, timeout_at, self.agent_id, self.payee
        )

    @property
    def unescrowed(self) -> Decimal:
        """Budget not yet released nor held in an escrow (what future tranches can use)."""
        return max(Decimal(0), self.budget - self.released - self.funded)

    def owed(self, now: float, count: Decimal | int = 0) -> Decimal:
        """What the payee is owed at ``now`` (plus ``count`` x rate for counted units).

        Capped at the budget not yet released, and rounded down to 6 dp: pf-tui never pays a
        fraction of a micro-dollar that was not earned.
        """
        owed = self.carry + self.rate * Decimal(count)
        if (
            self.unit.time_based
            and self.state is StreamState.OPEN
            and self.active_since is not None
        ):
            elapsed = Decimal(str(max(0.0, now - self.active_since)))
            owed += self.rate * elapsed / SECONDS_PER_HOUR
        cap = max(Decimal(0), self.budget - self.released)
        return min(owed, cap).quantize(MICRO, rounding=ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class TrancheStep:
    """One step of a tranche plan: create a tranche of ``amount`` (``Op.CLASSIC_CREATE``) or
    release one (``Op.CLASSIC_RELEASE``)."""

    op: Op
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TranchePlan:
    """Steps in send order, what stays owed, and the tranche left funded (``None``: none)."""

    steps: tuple[TrancheStep, ...]
    owed_after: Decimal
    funded_after: Decimal | None
    released: Decimal

    @property
    def releases(self) -> int:
        """How many tranches the plan releases."""
        return sum(1 for s in self.steps if s.op is Op.CLASSIC_RELEASE)


def plan_tranches(stream: Stream, owed: Decimal, *, keep_funded: bool) -> TranchePlan:
    """Release what is owed in whole tranches, funding new ones as needed.

    The current tranche (``stream.funded``, if any) is released when ``owed`` covers it; a tranche
    owed in full but not yet funded is created and released at once. With ``keep_funded`` (a
    release, not a close) one tranche is funded ahead afterwards, if the budget allows a tranche of
    at least $0.10. Whatever is less than a tranche stays owed.
    """
    steps: list[TrancheStep] = []
    current: Decimal | None = stream.funded if stream.escrow_id and stream.funded > 0 else None
    unescrowed = stream.unescrowed
    released = Decimal(0)
    while True:
        if current is None:
            nxt = min(stream.batch, unescrowed)
            if nxt < MIN_ESCROW_USD or owed < nxt:
                break
            steps.append(TrancheStep(Op.CLASSIC_CREATE, nxt))
            unescrowed -= nxt
            current = nxt
        if owed < current:
            break
        steps.append(TrancheStep(Op.CLASSIC_RELEASE, current))
        owed -= current
        released += current
        current = None
    if keep_funded and current is None:
        nxt = min(stream.batch, unescrowed)
        if nxt >= MIN_ESCROW_USD:
            steps.append(TrancheStep(Op.CLASSIC_CREATE, nxt))
            current = nxt
    return TranchePlan(tuple(steps), owed, current, released)


_COLUMNS = (
    "s.id, s.agent_id, s.payee, s.mode, s.rate, s.unit, s.budget, s.batch, s.released, "
    "s.escrow_id, s.state, s.memo, s.active_since, s.last_release_at, s.created_at, s.updated_at, "
    "a.carry, a.funded, a.timeout_hours, a.timeout_at, a.origin"
)


_StreamRow = tuple[
    str,  # id
    str,  # agent_id
    str,  # payee
    str,  # mode
    str,  # rate
    str,  # unit
    str,  # budget
    str | None,  # batch
    str,  # released
    str | None,  # escrow_id
    str,  # state
    str | None,  # memo
    float | None,  # active_since
    float | None,  # last_release_at
    float,  # created_at
    float,  # updated_at
    str | None,  # carry (stream_accounts is LEFT JOINed: a stream from before migration 2)
    str | None,  # funded
    int | None,  # timeout_hours
    float | None,  # timeout_at
    str | None,  # origin
]
"""One row of :data:`_COLUMNS` (money columns are TEXT: ``Decimal`` text, never a float)."""


def _row_to_stream(row: _StreamRow) -> Stream:
    (
        sid,
        agent,
        payee,
        mode,
        rate,
        unit,
        budget,
        batch,
        released,
        escrow,
        state,
        memo,
        active_since,
        last_release,
        created,
        updated,
        carry,
        funded,
        timeout,
        timeout_at,
        origin,
    ) = row
    return Stream(
        id=str(sid),
        agent_id=str(agent),
        payee=str(payee),
        mode=StreamMode(mode),
        rate=Decimal(str(rate)),
        unit=StreamUnit(unit),
        budget=Decimal(str(budget)),
        batch=Decimal(str(batch if batch is not None else budget)),
        released=Decimal(str(released)),
        escrow_id=str(escrow) if escrow is not None else None,
        funded=Decimal(str(funded if funded is not None else 0)),
        carry=Decimal(str(carry if carry is not None else 0)),
        state=StreamState(state),
        memo=str(memo or ""),
        active_since=float(active_since) if active_since is not None else None,
        last_release_at=float(last_release) if last_release is not None else None,
        created_at=float(created),
        updated_at=float(updated),
        timeout_hours=int(timeout) if timeout is not None else 24,
        timeout_at=float(timeout_at) if timeout_at is not None else None,
        origin=StreamOrigin(origin or StreamOrigin.OPENED.value),
    )


class StreamBook:
    """Reads and writes stream records on one SQLite connection (the journal's).

    Writers pass through inside the caller's transaction (see
    :func:`pf_tui.core.store.db.transaction`); the book never commits on its own, so a stream
    never disagrees with the journal.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        ensure_side_schema(conn)

    def get(self, stream_id: str) -> Stream:
        """The stream, or :class:`UnknownStreamError`."""
        stream = self.find(stream_id)
        if stream is None:
            raise UnknownStreamError(f"no stream {stream_id!r} in the store", field="stream_id")
        return stream

    def find(self, stream_id: str) -> Stream | None:
        """The stream, or ``None`` when the store has no such record."""
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM streams s LEFT JOIN stream_accounts a ON a.stream_id = s.id"
            " WHERE s.id = ?",
            (stream_id,),
        ).fetchone()
        return None if row is None else _row_to_stream(row)

    def all(self, agent_id: str | None = None) -> list[Stream]:
        """Every stream (of one paying agent), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM streams s LEFT JOIN stream_accounts a ON a.stream_id = s.id"
        params: tuple[object, ...] = ()
        if agent_id is not None:
            sql += " WHERE s.agent_id = ?"
            params = (agent_id,)
        rows = self.conn.execute(sql + " ORDER BY s.created_at, s.id", params).fetchall()
        return [_row_to_stream(r) for r in rows]

    def owner(self, escrow_id: str) -> Stream | None:
        """The live (not closed, not disputed) stream whose current escrow is ``escrow_id``."""
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM streams s LEFT JOIN stream_accounts a ON a.stream_id = s.id"
            " WHERE s.escrow_id = ? AND s.state NOT IN (?, ?) ORDER BY s.created_at DESC",
            (escrow_id, StreamState.CLOSED.value, StreamState.DISPUTED.value),
        ).fetchone()
        return None if row is None else _row_to_stream(row)

    @staticmethod
    def new_id() -> str:
        """A fresh stream id (``st_`` + 12 hex)."""
        return "st_" + uuid.uuid4().hex[:12]

    def save(self, stream: Stream) -> None:
        """Insert or replace the record (call inside a transaction)."""
        self.conn.execute(
            "INSERT INTO streams (id, agent_id, payee, mode, dialect, rate, unit, budget, batch,"
            " released, escrow_id, state, memo, last_release_at, active_since, created_at,"
            " updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET released = excluded.released,"
            " escrow_id = excluded.escrow_id, state = excluded.state,"
            " last_release_at = excluded.last_release_at, active_since = excluded.active_since,"
            " updated_at = excluded.updated_at",
            (
                stream.id,
                stream.agent_id,
                stream.payee,
                stream.mode.value,
                stream.dialect.value,
                str(stream.rate),
                stream.unit.value,
                str(stream.budget),
                str(stream.batch),
                str(stream.released),
                stream.escrow_id,
                stream.state.value,
                stream.memo,
                stream.last_release_at,
                stream.active_since,
                stream.created_at,
                stream.updated_at,
            ),
        )
        self.conn.execute(
            "INSERT INTO stream_accounts (stream_id, carry, funded, timeout_hours, timeout_at,"
            " origin) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(stream_id) DO UPDATE SET carry = excluded.carry,"
            " funded = excluded.funded, timeout_at = excluded.timeout_at",
            (
                stream.id,
                str(stream.carry),
                str(stream.funded),
                stream.timeout_hours,
                stream.timeout_at,
                stream.origin.value,
            ),
        )

    def log(self, stream_id: str, at: float, operator: str, event: str, detail: str = "") -> None:
        """Record a change that sent nothing (pause, resume, adopt, brake, sync), inside the
        caller's transaction: the audit of who did what to a stream, and when."""
        self.conn.execute(
            "INSERT INTO stream_events (stream_id, at, operator, event, detail)"
            " VALUES (?, ?, ?, ?, ?)",
            (stream_id, at, operator, event, detail),
        )

    def events(self, stream_id: str) -> list[tuple[float, str, str, str]]:
        """``(at, operator, event, detail)`` of one stream's local changes, oldest first."""
        rows = self.conn.execute(
            "SELECT at, operator, event, detail FROM stream_events WHERE stream_id = ? ORDER BY id",
            (stream_id,),
        ).fetchall()
        return [(float(a), str(o), str(e), str(d or "")) for a, o, e, d in rows]

    # ---- pure transitions (return the new version; the caller saves it) ------------------

    @staticmethod
    def paused(stream: Stream, now: float) -> Stream:
        """Stop accruing: fold the time owed so far into ``carry``."""
        return replace(
            stream,
            carry=stream.owed(now),
            active_since=None,
            state=StreamState.PAUSED,
            updated_at=now,
        )

    @staticmethod
    def resumed(stream: Stream, now: float) -> Stream:
        """Accrue again from ``now``."""
        return replace(
            stream,
            state=StreamState.OPEN,
            active_since=now if stream.unit.time_based else None,
            updated_at=now,
        )

    @staticmethod
    def after_release(
        stream: Stream, amount: Decimal, owed_left: Decimal, checkpoint_at: float
    ) -> Stream:
        """``amount`` was released; ``owed_left`` stays owed as of ``checkpoint_at`` (the time the
        owed figure was computed for the preview, so accrual since then is not lost)."""
        return replace(
            stream,
            released=stream.released + amount,
            funded=max(Decimal(0), stream.funded - amount),
            carry=max(Decimal(0), owed_left),
            active_since=checkpoint_at if stream.active_since is not None else None,
            last_release_at=checkpoint_at,
            updated_at=max(stream.updated_at, checkpoint_at),
        )
