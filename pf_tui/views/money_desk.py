"""The money desk: the console's one door to the money-actions core (one :class:`ActionEngine`).

The desk owns the store's journal connection, a client of its own (money requests never queue
behind the poller's reads) and the engine. The money flow's workers call :meth:`MoneyDesk.preview`,
:meth:`~MoneyDesk.execute` and :meth:`~MoneyDesk.reconcile`; the dialogs only see previews. It also
answers what the keys' guards ask (read-only, stale figures, an action already in flight), what
the forms choose from (live streams, modes), what the Escrows tab learns of pf-tui's own escrows,
and what the audit view lists. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pf_tui import usd
from pf_tui.api.models import Dialect, Escrow
from pf_tui.clock import Clock
from pf_tui.config import Config
from pf_tui.core.fleet.state import FleetState
from pf_tui.core.money.engine import ActionEngine
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import (
    ActionPreview,
    ActionResult,
    Intent,
    Op,
    RequestState,
    StreamMode,
)
from pf_tui.core.polling.results import DataType, EscrowSnapshot
from pf_tui.usd import format_usd6
from pf_tui.views.model import EscrowNote
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
    ) -> None:
        self.config = config
        self.clock = clock
        self.read_only = read_only
        self.max_action_usd: Decimal = config.ui.max_action_usd
        self.typed_confirm_usd: Decimal = config.ui.typed_confirm_usd
        self._operator = operator
        self._parts: MoneyParts | None = None
        self.last_unknown: str = ""
        """The newest action left ``unknown`` (cleared once reconciliation settles everything)."""
        self._notes: dict[str, EscrowNote] | None = None
        self._notes_shown: dict[str, EscrowNote] = {}

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
        """Send what ``preview`` shows, once; an ``unknown`` outcome is kept for the status line."""
        try:
            result = await self.engine.execute(preview)
        finally:
            self._notes = None
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

    def escrow_notes(self) -> dict[str, EscrowNote]:
        """What the journal and the stream records say of the escrows pf-tui created: the dialect
        each was created in, and a stream's rate on its current escrow. Read again after each
        action or settled reconciliation; the same object while nothing changed (the feed
        rebuilds its escrow rows when it gets a new one). Empty before the journal is open."""
        if self._parts is None:
            return self._notes_shown
        if self._notes is None:
            notes = {
                escrow_id: EscrowNote(
                    Dialect.CLASSIC if kind == Op.CLASSIC_CREATE.value else Dialect.STREAMING
                )
                for escrow_id, kind in self._parts.engine.journal.created_escrows().items()
            }
            for stream in self._parts.engine.streams():
                if stream.escrow_id:
                    rate = f"{format_usd6(stream.rate)}/{stream.unit.value}"
                    notes[stream.escrow_id] = EscrowNote(stream.dialect, rate)
            self._notes = notes
            if notes != self._notes_shown:
                self._notes_shown = notes
        return self._notes_shown

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
