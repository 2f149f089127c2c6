"""Stream changes that send nothing: pause, resume, the stop-all brake, and syncing with the server.

Each change is one transaction on the journal's connection, with a ``stream_events`` row saying
who did what and why, so the store's audit covers what pf-tui did without the network too.

- **Pause** stops pf-tui releasing: a time-based stream stops accruing. It does not stop the
  server: the escrow's timeout still pays the payee (streaming) or refunds the creator (classic),
  and :func:`~pf_tui.core.money.escrows.timeout_outcome` says what and when.
- **The brake** pauses every open stream and refuses every new money action from every pf-tui
  process on the store until it is lifted (:mod:`pf_tui.core.money.brake`). Engaging it needs the
  caller's :class:`BrakePreview` (what it will pause, and what the server will still do on its
  own), so a caller cannot engage it without having shown that.
- **Sync** brings a stream record in line with its escrow as last read: an escrow that ended on
  the server (its timeout, a dispute by the other party, a release by the agent's own code) ends
  or shrinks the stream, so the record never claims money the escrow no longer holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from pf_tui.api.models import Escrow, EscrowStatus
from pf_tui.clock import Clock
from pf_tui.core.money.brake import BrakeState, read_brake, write_brake
from pf_tui.core.money.escrows import (
    TimeoutOutcome,
    released_of,
    remaining_of,
    timeout_outcome,
)
from pf_tui.core.money.journal import Journal
from pf_tui.core.money.streams import Stream, StreamBook
from pf_tui.core.money.types import (
    ActionValidationError,
    BrakeEngagedError,
    ReadOnlyError,
    Resource,
    StreamMode,
    StreamState,
)
from pf_tui.core.money.validate import MIN_BRAKE_REASON_CHARS, reason
from pf_tui.usd import format_usd6

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BrakePreview:
    """What engaging the brake will do, for the caller to show before it confirms."""

    pauses: tuple[Stream, ...]
    """Open streams it pauses now (streams opened after the preview are paused too)."""
    already_paused: tuple[Stream, ...]
    """Live streams that are paused already (they stay paused)."""
    outcomes: tuple[tuple[str, TimeoutOutcome], ...]
    """Per live stream id: what its escrow's timeout still does on its own. The brake stops
    pf-tui, not the server."""
    unsettled: int
    """Actions whose outcome is not known yet: settled by reads only while the brake is on."""
    state: BrakeState
    """The brake as it was when previewed."""
    created_at: float


@dataclass(frozen=True, slots=True)
class SyncChange:
    """A stream record the server's state changed, and why."""

    stream: Stream
    detail: str


class StreamKeeper:
    """Pause, resume, the brake and sync for one engine (see the module docstring)."""

    def __init__(
        self,
        journal: Journal,
        book: StreamBook,
        clock: Clock,
        *,
        read_only: bool,
        refuse_busy: Callable[[Resource], None],
    ) -> None:
        self.journal = journal
        self.book = book
        self.clock = clock
        self.read_only = read_only
        self._refuse_busy = refuse_busy

    @property
    def operator(self) -> str:
        """Who is acting (the journal's operator identity)."""
        return self.journal.operator

    # ---- pause and resume ------------------------------------------------------------------

    def pause(self, stream_id: str) -> Stream:
        """Stop a stream accruing: pf-tui releases nothing more (the server's timeout still
        moves the escrow's money)."""
        return self._flip(stream_id, StreamState.OPEN, StreamBook.paused, "paused")

    def resume(self, stream_id: str) -> Stream:
        """Let a paused stream accrue again (refused while the brake is on)."""
        brake = self.brake()
        if brake.engaged:
            raise BrakeEngagedError(f"{brake.text}: lift it before resuming a stream")
        return self._flip(stream_id, StreamState.PAUSED, StreamBook.resumed, "resumed")

    def _flip(
        self,
        stream_id: str,
        state: StreamState,
        change: Callable[[Stream, float], Stream],
        event: str,
    ) -> Stream:
        if self.read_only:
            raise ReadOnlyError(
                "pf-tui is read-only (--read-only or [ui] read_only): no money action is sent"
            )
        self._refuse_busy(Resource.stream(stream_id))
        stream = self.book.get(stream_id)
        if stream.state is not state:
            raise ActionValidationError(
                f"stream is {stream.state.value}, not {state.value}", field="stream_id"
            )
        now = self.clock.now()
        new = change(stream, now)
        with self.journal.transaction():
            self.book.save(new)
            self.book.log(stream_id, now, self.operator, event)
        return new

    # ---- the brake ----------------------------------------------------------------------------

    def brake(self) -> BrakeState:
        """The brake as the store has it (one indexed row: cheap)."""
        return read_brake(self.journal.conn)

    def preview_brake(
        self, outcome_of: Callable[[Stream], TimeoutOutcome] | None = None
    ) -> BrakePreview:
        """What engaging the brake would do now; ``outcome_of`` says what a stream's escrow
        will do at its timeout (default: from pf-tui's own record of it)."""
        live = [s for s in self.book.all() if not s.state.final]
        outcome = outcome_of or (lambda s: timeout_outcome(None, s.held(), paused=True))
        return BrakePreview(
            pauses=tuple(s for s in live if s.state is StreamState.OPEN),
            already_paused=tuple(s for s in live if s.state is StreamState.PAUSED),
            outcomes=tuple((s.id, outcome(s)) for s in live),
            unsettled=len(self.journal.unsettled_intents()),
            state=self.brake(),
            created_at=self.clock.now(),
        )

    def engage_brake(self, preview: BrakePreview, why: str) -> BrakeState:
        """Engage the brake (the caller showed ``preview`` and the operator confirmed): pause
        every open stream, refuse every new money action until lifted. Allowed read-only: it
        only ever stops money."""
        why = reason(why, MIN_BRAKE_REASON_CHARS)
        now = self.clock.now()
        with self.journal.transaction():
            current = read_brake(self.journal.conn)
            if current.engaged:
                raise ActionValidationError(f"the brake is already on ({current.text})")
            paused: list[str] = []
            for stream in self.book.all():
                if stream.state is StreamState.OPEN:
                    self.book.save(StreamBook.paused(stream, now))
                    self.book.log(stream.id, now, self.operator, "paused", f"brake: {why}")
                    paused.append(stream.id)
            state = BrakeState(True, now, self.operator, why, tuple(paused))
            write_brake(self.journal.conn, state)
        del preview  # shown to the operator; what is paused is whatever is open now
        return state

    def lift_brake(self, why: str, *, resume: bool = False) -> BrakeState:
        """Lift the brake; with ``resume`` the streams its engagement paused (and still paused)
        accrue again. Refused read-only: lifting lets money move."""
        if self.read_only:
            raise ReadOnlyError("pf-tui is read-only: the brake is lifted from a console that acts")
        why = reason(why, MIN_BRAKE_REASON_CHARS)
        now = self.clock.now()
        with self.journal.transaction():
            current = read_brake(self.journal.conn)
            if not current.engaged:
                raise ActionValidationError("the brake is not on")
            if resume:
                for stream_id in current.streams:
                    stream = self.book.find(stream_id)
                    if stream is not None and stream.state is StreamState.PAUSED:
                        self.book.save(StreamBook.resumed(stream, now))
                        self.book.log(
                            stream_id, now, self.operator, "resumed", f"brake lifted: {why}"
                        )
            state = BrakeState(False, now, self.operator, why, ())
            write_brake(self.journal.conn, state)
        return state

    # ---- sync with the server --------------------------------------------------------------------

    def sync(
        self, records: Iterable[tuple[Escrow, float]], *, skip: Callable[[str], bool]
    ) -> list[SyncChange]:
        """Bring each live stream in line with its escrow's record, given as ``(record, the time
        it was read)``. A record read before the stream last changed says nothing new and is
        passed over; so is a stream for which ``skip(stream_id)`` is true (an action is running
        or unsettled on it: its record is the journal's to change)."""
        by_id = {e.escrow_id: (e, at) for e, at in records}
        changes: list[SyncChange] = []
        now = self.clock.now()
        for stream in self.book.all():
            found = by_id.get(stream.escrow_id or "")
            if found is None or stream.state.final or stream.state is StreamState.CLOSING:
                continue
            escrow, read_at = found
            if read_at <= stream.updated_at or skip(stream.id):
                continue
            change = synced(stream, escrow, now)
            if change is None:
                continue
            with self.journal.transaction():
                current = self.book.find(stream.id)
                if current != stream:
                    continue  # changed meanwhile (another process): next poll looks again
                self.book.save(change.stream)
                if change.detail:
                    self.book.log(stream.id, now, self.operator, "synced", change.detail)
            changes.append(change)
        return changes


def synced(stream: Stream, escrow: Escrow, now: float) -> SyncChange | None:
    """``stream`` as its escrow's record says it now is (``None``: they agree)."""
    if escrow.escrow_id != stream.escrow_id:
        return None
    timeout_at = escrow.auto_release_at.timestamp() if escrow.auto_release_at else None
    status = escrow.status
    held = remaining_of(escrow)
    new, detail = stream, ""
    if status is EscrowStatus.DISPUTED:
        new = replace(stream, state=StreamState.DISPUTED, active_since=None, updated_at=now)
        detail = f"escrow {escrow.escrow_id} was disputed on the server: its funds are frozen"
    elif stream.mode is StreamMode.NATIVE:
        released = released_of(escrow)
        paid = max(ZERO, released - stream.released)
        if status.terminal or held != stream.funded or paid:
            new = replace(
                stream,
                released=max(stream.released, released),
                funded=held,
                carry=max(ZERO, stream.carry - paid),
                updated_at=now,
            )
            if status.terminal:
                new = replace(new, state=StreamState.CLOSED, active_since=None)
            detail = (
                f"escrow {escrow.escrow_id} is {status.value} on the server "
                f"({format_usd6(released)} released, {format_usd6(held)} held)"
            )
    elif status.terminal:  # a tranche ended without pf-tui: the next release funds a new one
        paid = stream.funded if status is EscrowStatus.RELEASED else ZERO
        new = replace(
            stream,
            released=stream.released + paid,
            carry=max(ZERO, stream.carry - paid),
            funded=ZERO,
            escrow_id=None,
            updated_at=now,
        )
        detail = f"tranche {escrow.escrow_id} is {status.value} on the server" + (
            f": the payee got {format_usd6(paid)} less 1%" if paid else ": nothing paid"
        )
    if new is stream:
        if timeout_at is not None and stream.timeout_at != timeout_at:
            # The server's timeout, learnt: not a change of what the stream holds or owes.
            return SyncChange(replace(stream, timeout_at=timeout_at), "")
        return None
    if timeout_at is not None and new.escrow_id == escrow.escrow_id:
        new = replace(new, timeout_at=timeout_at)
    return SyncChange(new, detail)
