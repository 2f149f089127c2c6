"""The money desk: the console's one door to the money-actions core (one :class:`ActionEngine`).

The desk owns the store's journal connection, a client of its own (money requests never queue
behind the poller's reads) and the engine. The money flow's workers call :meth:`MoneyDesk.preview`,
:meth:`~MoneyDesk.execute` and :meth:`~MoneyDesk.reconcile`; the dialogs only see previews. It also
answers what the keys' guards ask (read-only, the brake, stale figures, an action already in
flight), what the forms choose from (live streams, modes), what the screen learns beyond the
server (:meth:`~MoneyDesk.escrow_notes`: the dialect of what pf-tui created, its streams, what is
unsettled, the brake), the intent behind each row's offered action
(:meth:`~MoneyDesk.intent_for`), the brake itself, and what the audit view lists. No Textual here.

What other processes on the store do (a daemon, the command line, a second console) reaches the
screen within a tick: the notes are read again whenever SQLite says another connection committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pf_tui import usd
from pf_tui.api.models import Dialect, Escrow
from pf_tui.clock import Clock
from pf_tui.config import Config
from pf_tui.core.fleet.state import FleetState
from pf_tui.core.money.brake import BRAKE_OFF, BrakeState
from pf_tui.core.money.engine import ActionEngine
from pf_tui.core.money.escrows import TimeoutOutcome, timeout_outcome
from pf_tui.core.money.keeper import BrakePreview, SyncChange
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import (
    ActionPreview,
    ActionResult,
    ActionValidationError,
    CloseChoice,
    Intent,
    RequestState,
    StreamMode,
    StreamUnit,
)
from pf_tui.core.polling.results import DataType, EscrowSnapshot
from pf_tui.views.escrow_rows import intent_for
from pf_tui.views.model import EscrowAction, EscrowView, MoneyNotes
from pf_tui.views.money_notes import Tracked, read_notes
from pf_tui.wiring import MoneyParts, open_money

INTERACTIVE_ATTEMPTS = 4
"""Sends of one request while the operator watches (about 2-4 s of backoff in all). After that the
outcome is ``unknown`` on screen and reconciliation retries on every poll with the same key, so an
operator is never left behind a spinner for the minutes the core's default of 12 can take."""

NEEDED: tuple[DataType, ...] = (DataType.BALANCE, DataType.ESCROWS)
"""Figures a money dialog shows and depends on: stale ones disable the money keys."""


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One journaled request, as the audit view lists it (``memo``-free: ids and states only)."""

    key: str
    at: float
    operator: str
    intent_kind: str
    op: str
    agent_id: str
    amount: Decimal | None
    state: str
    server_ref: str | None
    error: str | None


class MoneyDesk:
    """Builds and owns the :class:`ActionEngine`; the console's single door to money actions."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock,
        read_only: bool,
        operator: str | None = None,
        fleet: FleetState | None = None,
        track: Callable[[Mapping[str, Mapping[str, Dialect]]], None] | None = None,
    ) -> None:
        """``fleet`` is the poll engine's fleet state (the desk syncs stream records with the
        escrows polled there); ``track`` is :meth:`Poller.set_tracked_escrows`, told which of
        pf-tui's escrows to read by id (those the list and the ledger may not show yet)."""
        self.config = config
        self.clock = clock
        self.read_only = read_only
        self.max_action_usd: Decimal = config.ui.max_action_usd
        self.typed_confirm_usd: Decimal = config.ui.typed_confirm_usd
        self._operator = operator
        self._fleet = fleet
        self._track = track
        self._parts: MoneyParts | None = None
        self.last_unknown: str = ""
        """The newest action left ``unknown`` (cleared once reconciliation settles everything)."""
        self._notes: MoneyNotes | None = None
        """The notes as last read (``None``: read them again)."""
        self._notes_shown = MoneyNotes()
        self._data_version: int | None = None
        self._tracked: Tracked = {}
        self._synced: dict[str, float] = {}
        """Per paying agent: when its escrows were last read, as synced into its streams."""

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def engine(self) -> ActionEngine:
        """The engine, opened on first use (the store file and a client)."""
        if self._parts is None:
            self._parts = open_money(
                self.config,
                self.clock,
                read_only=self.read_only,
                max_action_usd=self.max_action_usd,
                operator=self._operator,
                max_attempts=INTERACTIVE_ATTEMPTS,
            )
        return self._parts.engine

    def journal_exists(self) -> bool:
        """Whether there can be a journal to read: the engine is open, or the store file exists
        (a console that never acted does not create the store just to find it empty)."""
        return self._parts is not None or self.config.store.path.exists()

    async def aclose(self) -> None:
        """Close the client, the journal connection and the store (idempotent)."""
        parts, self._parts = self._parts, None
        if parts is not None:
            await parts.aclose()

    # ---- the three calls the app's workers make ----------------------------------------------

    async def preview(self, intent: Intent, *, key: str | None = None) -> ActionPreview:
        """What ``intent`` would send (raises a typed :class:`ActionError` when refused);
        ``key``: the intent's key, when the caller reuses one across runs."""
        return await self.engine.preview(intent, key=key)

    async def execute(self, preview: ActionPreview) -> ActionResult:
        """Send what ``preview`` shows, once; an ``unknown`` outcome is kept for the status line.

        An escrow it created is handed to the poller at once, so a poll asked for right after
        finds it whatever its dialect."""
        try:
            result = await self.engine.execute(preview)
        finally:
            self._notes = None
            self.escrow_notes()
        if result.state is RequestState.UNKNOWN:
            self.last_unknown = f"{result.kind.value} {result.key[:8]}"
        return result

    async def reconcile(self) -> list[ActionResult]:
        """Settle what the journal holds open; a no-op (no network) when nothing is."""
        engine = self.engine
        if self.read_only or not engine.journal.unsettled_intents():
            return []
        results = await engine.reconcile()
        if any(r.state is not RequestState.UNKNOWN for r in results):
            self._notes = None  # something settled: the journal may know a new escrow
        if not engine.journal.unsettled_intents():
            self.last_unknown = ""
        return results

    def unsettled_count(self) -> int:
        """Intents whose outcome is not known yet."""
        return len(self.engine.journal.unsettled_intents())

    # ---- guards -------------------------------------------------------------------------------

    def needs_typed_confirm(self, amount: Decimal) -> bool:
        """From ``[ui] typed_confirm_usd`` up the operator types the amount to confirm."""
        return amount > 0 and amount >= self.typed_confirm_usd

    @staticmethod
    def stale_reason(fleet: FleetState, agent_id: str | None, now: float) -> str | None:
        """Why the figures an action on ``agent_id`` depends on cannot be trusted now
        (``None``: fresh, or no agent to act for)."""
        if agent_id is None or agent_id not in fleet.agents:
            return None
        for kind in NEEDED:
            staleness = fleet.staleness(agent_id, kind, now)
            if staleness.stale:
                return f"{kind.value} is stale ({staleness.reason})"
        return None

    # ---- what the dialogs choose from ---------------------------------------------------------

    def live_streams(self, agent_id: str | None = None) -> list[Stream]:
        """Streams that can still take an action (not closed, not disputed)."""
        return [s for s in self.engine.streams(agent_id) if not s.state.final]

    def escrow_notes(self) -> MoneyNotes:
        """What the store knows beyond the server, for the feed (:mod:`pf_tui.views.money_notes`).

        Read again after this desk changed something, and whenever another process committed
        to the store; the same object while nothing changed (the feed rebuilds escrow rows only
        when it gets a new one). Before the store exists (nothing ever acted): nothing. Each
        read also syncs the streams whose escrows were polled since, and tells the poller which
        of pf-tui's escrows to read by id."""
        if self._parts is None and not self.journal_exists():
            return self._notes_shown
        engine = self.engine
        version = engine.journal.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self._notes = None
        if self._notes is not None and self._sync(engine):
            self._notes = None
        if self._notes is None:
            notes, tracked = read_notes(engine, self.clock.now())
            self._notes = notes
            if notes != self._notes_shown:
                self._notes_shown = notes
            if tracked != self._tracked and self._track is not None:
                self._tracked = tracked
                self._track(tracked)
        return self._notes_shown

    def _sync(self, engine: ActionEngine) -> list[SyncChange]:
        """Sync the live streams whose payer's escrows were polled since the last sync."""
        fleet = self._fleet
        if fleet is None:
            return []
        records: list[tuple[Escrow, float]] = []
        for stream in self._notes_shown.streams:
            agent = fleet.agents.get(stream.agent_id)
            if agent is None:
                continue
            figure = agent.figures[DataType.ESCROWS]
            at = figure.fetched_at
            if at is None or at <= self._synced.get(stream.agent_id, 0.0):
                continue
            self._synced[stream.agent_id] = at
            if isinstance(figure.value, EscrowSnapshot):
                records += [(e, at) for e in figure.value.escrows]
        if not records or self.read_only:
            return []
        return engine.sync(records)

    # ---- the rows' actions ------------------------------------------------------------------

    def intent_for(
        self,
        row: EscrowView,
        action: EscrowAction,
        *,
        amount: Decimal | str | None = None,
        count: int | str | None = None,
        reason: str = "",
        rate: Decimal | str | None = None,
        unit: StreamUnit | None = None,
        unearned: CloseChoice | None = None,
    ) -> Intent:
        """The intent behind ``action`` on ``row``, with the row's version (see
        :func:`pf_tui.views.escrow_rows.intent_for`)."""
        return intent_for(
            row,
            action,
            amount=amount,
            count=count,
            reason=reason,
            rate=rate,
            unit=unit,
            unearned=unearned,
        )

    def pause(self, row: EscrowView) -> Stream:
        """Pause the row's stream: pf-tui releases nothing more (the row's ``timeout`` says
        what the server will still do). Nothing is sent."""
        try:
            return self.engine.pause(_stream_of(row))
        finally:
            self._notes = None

    def resume(self, row: EscrowView) -> Stream:
        """Let the row's paused stream accrue again (refused while the brake is on)."""
        try:
            return self.engine.resume(_stream_of(row))
        finally:
            self._notes = None

    # ---- the stop-all brake -----------------------------------------------------------------

    def brake(self) -> BrakeState:
        """The brake for the header: as the notes last read it (cheap, no query of its own)."""
        return self._notes_shown.brake if self.journal_exists() else BRAKE_OFF

    def preview_brake(self) -> BrakePreview:
        """What engaging the brake would pause, and what each stream's escrow will still do
        on its own (from its polled record when there is one)."""
        records = self._records()

        def outcome(stream: Stream) -> TimeoutOutcome:
            record = records.get(stream.escrow_id or "")
            return timeout_outcome(record, stream.held(), paused=True)

        return self.engine.preview_brake(outcome)

    def engage_brake(self, preview: BrakePreview, why: str) -> BrakeState:
        """Engage the brake the operator confirmed after seeing ``preview``: every open stream
        pauses and every pf-tui process on the store refuses money actions until it is lifted.
        Allowed read-only (it only stops money)."""
        try:
            return self.engine.engage_brake(preview, why)
        finally:
            self._notes = None

    def lift_brake(self, why: str, *, resume: bool = False) -> BrakeState:
        """Lift the brake; ``resume`` restarts the streams it paused."""
        try:
            return self.engine.lift_brake(why, resume=resume)
        finally:
            self._notes = None

    def _records(self) -> dict[str, Escrow]:
        """Every escrow as last polled, by id."""
        out: dict[str, Escrow] = {}
        if self._fleet is None:
            return out
        for agent in self._fleet.agents.values():
            value = agent.figures[DataType.ESCROWS].value
            if isinstance(value, EscrowSnapshot):
                out.update((e.escrow_id, e) for e in value.escrows)
        return out

    def stream_for_escrow(self, escrow_id: str | None) -> Stream | None:
        """The stream backed by ``escrow_id``, if pf-tui opened one."""
        if escrow_id is None:
            return None
        for stream in self.engine.streams():
            if stream.escrow_id == escrow_id:
                return stream
        return None

    def modes(self) -> tuple[StreamMode, ...]:
        """Modes offered in the open dialog: the forced dialect's only, or both."""
        dialect = self.config.api.escrow_dialect
        if dialect == "classic":
            return (StreamMode.TRANCHE,)
        if dialect == "streaming":
            return (StreamMode.NATIVE,)
        return (StreamMode.NATIVE, StreamMode.TRANCHE)

    # ---- audit --------------------------------------------------------------------------------

    def audit_rows(self, limit: int = 500) -> list[AuditRow]:
        """The newest journaled requests, newest first (a read; the journal is append-only)."""
        engine = self.engine
        found = engine.journal.conn.execute(
            "SELECT idempotency_key, kind, agent_id, amount, request, state, operator, error,"
            " server_ref, created_at FROM actions ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        out: list[AuditRow] = []
        for (
            key,
            op,
            agent_id,
            amount,
            request,
            state,
            operator,
            error,
            server_ref,
            created,
        ) in found:
            try:
                intent_kind = str(usd.loads(request).get("intent_kind", "")) if request else ""
            except (ValueError, AttributeError):
                intent_kind = ""
            out.append(
                AuditRow(
                    key=str(key),
                    at=float(created),
                    operator=str(operator or ""),
                    intent_kind=intent_kind,
                    op=str(op),
                    agent_id=str(agent_id),
                    amount=None if amount is None else Decimal(str(amount)),
                    state=str(state),
                    server_ref=None if server_ref is None else str(server_ref),
                    error=None if error is None else str(error),
                )
            )
        return out


def _stream_of(row: EscrowView) -> str:
    if row.stream_id is None or row.stream_state in ("closed", "disputed"):
        raise ActionValidationError(
            "the row is not a live pf-tui stream: adopt it first to pause it", field="stream_id"
        )
    return row.stream_id


def escrow_record(fleet: FleetState, agent_id: str, escrow_id: str) -> Escrow | None:
    """The polled escrow ``escrow_id`` of ``agent_id`` (with its parties' ids), if known."""
    if agent_id not in fleet.agents:
        return None
    value = fleet.agents[agent_id].figures[DataType.ESCROWS].value
    if not isinstance(value, EscrowSnapshot):
        return None
    for escrow in value.escrows:
        if escrow.escrow_id == escrow_id:
            return escrow
    return None
