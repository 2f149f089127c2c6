"""Money actions, exactly once: validate, preview, journal, send, reconcile.

Every caller (the console's dialogs, the daemon, the command line, any later face) goes, in order:

1. :meth:`ActionEngine.preview` with an intent (amounts may be the operator's raw text): every
   check runs here (read-only mode, the stop-all brake, amounts via
   :func:`pf_tui.usd.parse_amount_input`, the ``max_action_usd`` limit, one action at a time per
   stream or escrow across every process on the store). The escrow acted on is read fresh, so the
   answer, an :class:`ActionPreview`, holds the exact requests, the fee, balances, the
   idempotency key, the funds at stake and what the escrow's timeout will do, and the version of
   that read.
2. :meth:`ActionEngine.execute` with that preview once the operator confirms: the escrow is read
   again and the action refused as stale, sending nothing, if it changed; then the requests are
   journaled (``synchronous=FULL``, in the transaction that takes the store's lease on what it
   acts on and checks the brake) before the first leaves, sent with their keys, retried with the
   same keys, and settled or left ``unknown`` for :meth:`ActionEngine.reconcile`.
3. :meth:`ActionEngine.reconcile` on every poll and at start-up settles what a lost reply or a
   crash left open, by docs/api.md §5's rules; it never issues a new key for an old intent.

What sends nothing is local (:mod:`pf_tui.core.money.keeper`): :meth:`pause`, :meth:`resume`,
the brake (:meth:`preview_brake`, :meth:`engage_brake`, :meth:`lift_brake`), and :meth:`sync`,
which brings stream records in line with their escrows as polled.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal

from pf_tui.api.errors import PurpleFleaError
from pf_tui.api.models import Escrow
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.core.money.brake import BrakeState, Leases, read_brake
from pf_tui.core.money.escrows import TimeoutOutcome, escrow_version, stake_of, timeout_outcome
from pf_tui.core.money.journal import Journal, intent_of
from pf_tui.core.money.keeper import BrakePreview, StreamKeeper, SyncChange, synced
from pf_tui.core.money.plan import (
    Planned,
)
from pf_tui.core.money.planners import PlanContext, Planners, Target
from pf_tui.core.money.runner import Checkpoint, IntentRunner
from pf_tui.core.money.streams import Stream, StreamBook
from pf_tui.core.money.types import (
    ActionError,
    ActionInFlightError,
    ActionPreview,
    ActionResult,
    ActionValidationError,
    BrakeEngagedError,
    CloseStream,
    EscrowIntent,
    Intent,
    ReadOnlyError,
    ReleasePartial,
    RequestState,
    Resource,
    ResourceKind,
    StalePreviewError,
    StreamState,
)
from pf_tui.core.money.validate import Limits
from pf_tui.core.money.wire import MoneyWire

__all__ = ["ActionEngine", "ActionError"]


class ActionEngine:
    """Validate, preview, execute and reconcile money actions; keep stream records.

    ``conn`` is the store's journal connection
    (:meth:`pf_tui.core.store.db.Store.journal_connection`, ``synchronous=FULL``).
    ``max_action_usd`` bounds every amount an action moves; ``read_only`` refuses everything.
    ``checkpoint`` is called with ``before_journal``, ``after_journal`` and ``after_reply``
    (crash tests kill the process there).

    Each intent type has one planner, registered on :meth:`_plan` (validation and the records it
    needs, then the pure ``plan_*`` function), and says what it holds while it runs
    (``intent.resource``; an escrow a live stream owns is held as that stream), so one action at a
    time acts on a stream, an escrow, a faucet claim or a new stream from one agent to one payee:
    within this process (an in-memory map) and across every process on the store (a lease row
    taken in the journal's transaction, :mod:`pf_tui.core.money.brake`).

    ``journal_guard``, when set, is called with the preview inside the very transaction that
    journals it (``BEGIN IMMEDIATE``: no other process journals in between) and may refuse by
    raising: a caller's own limit over what the journal already holds (``pf-tui mcp``'s hour).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        wire: MoneyWire,
        *,
        clock: Clock = SYSTEM_CLOCK,
        read_only: bool = False,
        max_action_usd: Decimal | None = None,
        operator: str | None = None,
        checkpoint: Checkpoint | None = None,
        max_attempts: int = 12,
        rng: random.Random | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.clock = clock
        self.read_only = read_only
        self.max_action_usd = max_action_usd
        self.limits = Limits(max_action_usd)
        self.wire = wire
        self.journal = Journal(conn, operator=operator)
        self.book = StreamBook(conn)
        self.leases = leases or Leases(conn)
        self._checkpoint: Checkpoint = checkpoint or (lambda _name: None)
        self.runner = IntentRunner(
            self.journal,
            self.book,
            wire,
            clock,
            max_attempts=max_attempts,
            rng=rng,
            checkpoint=self._checkpoint,
            may_send=lambda: not read_brake(conn).engaged,
        )
        self.planners = Planners(self.book, self.limits)
        self._busy: dict[Resource, str] = {}
        """What an action is running on in this process -> the key of that action's intent."""
        self.journal_guard: Callable[[ActionPreview], None] | None = None
        self.keeper = StreamKeeper(
            self.journal, self.book, clock, read_only=read_only, refuse_busy=self._refuse_busy
        )

    # ---- refusals ------------------------------------------------------------------------------

    def _refuse_read_only(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                "pf-tui is read-only (--read-only or [ui] read_only): no money action is sent"
            )

    def _refuse_braked(self) -> None:
        state = read_brake(self.journal.conn)
        if state.engaged:
            raise BrakeEngagedError(f"{state.text}: no money action is sent until it is lifted")

    def parse_amount(self, value: Decimal | str, field: str, *, limited: bool = True) -> Decimal:
        """An operator's amount as a ``Decimal`` (see :meth:`Limits.parse_amount`)."""
        return self.limits.parse_amount(value, field, limited=limited)

    def _refuse_busy(self, resource: Resource, own: str | None = None) -> None:
        """Refuse a second action on ``resource`` (``own``: the intent asking, when executing):
        one running here, one whose outcome is not known yet, or one another process runs."""
        holder = self._busy.get(resource)
        if holder is not None and holder != own:
            raise ActionInFlightError(
                f"another action on {resource} is in flight; wait for it to finish"
            )
        if own is None or not self.journal.has_intent(own):
            self._refuse_unsettled(resource)
        self.leases.refuse_if_held(resource, self.clock.now())

    def _refuse_unsettled(self, resource: Resource) -> None:
        if resource.kind is ResourceKind.STREAM:
            unsettled = resource.id in self.journal.unsettled_streams()
        elif resource.kind is ResourceKind.ESCROW:
            unsettled = resource.id in self.journal.unsettled_escrows()
        else:
            return
        if unsettled:
            raise ActionInFlightError(
                f"{resource} has an action whose outcome is not known yet; it is reconciled on "
                "the next poll (or run reconcile) before anything else is sent"
            )

    def _journal_check(self, resource: Resource, preview: ActionPreview) -> Callable[[], None]:
        """What is checked inside the transaction that journals an intent: the brake, an action
        another process journaled meanwhile, the :attr:`journal_guard`, and the store's lease,
        taken for the preview's key."""

        def check() -> None:
            self._refuse_braked()
            self._refuse_unsettled(resource)
            if self.journal_guard is not None:
                self.journal_guard(preview)
            self.leases.acquire(resource, preview.key, self.clock.now())

        return check

    @contextmanager
    def _holding(self, resource: Resource, key: str) -> Iterator[None]:
        """Intent ``key`` acts on ``resource`` for the block: another action on it is refused."""
        self._busy[resource] = key
        try:
            yield
        finally:
            self._busy.pop(resource, None)

    def _resource_of(self, intent: Intent) -> Resource:
        """What ``intent`` holds while it runs; an escrow a live stream owns is that stream."""
        resource = intent.resource
        if resource.kind is ResourceKind.ESCROW:
            owner = self.book.owner(resource.id)
            if owner is not None:
                return Resource.stream(owner.id)
        return resource

    # ---- the escrow acted on -------------------------------------------------------------------

    async def _read(self, target: Target, when: str) -> Escrow:
        try:
            return await self.wire.escrow(target.agent_id, target.escrow_id, target.dialect)
        except PurpleFleaError as exc:
            raise ActionError(
                f"could not read escrow {target.escrow_id} {when}: {exc}; nothing was sent"
            ) from None

    def _sync_stream(self, intent: Intent, escrow: Escrow) -> None:
        """A stream whose escrow moved on the server without pf-tui is brought up to date first,
        and the action refused when that changed what it would act on."""
        if not isinstance(intent, ReleasePartial | CloseStream):
            return
        stream = self.book.get(intent.stream_id)
        change = synced(stream, escrow, self.clock.now())
        if change is None or self.busy(stream.id):
            return
        with self.journal.transaction():
            self.book.save(change.stream)
            if change.detail:
                self.book.log(
                    stream.id, self.clock.now(), self.journal.operator, "synced", change.detail
                )
        if change.detail:
            raise StalePreviewError(
                f"{change.detail}; the stream's record was brought up to date: nothing was sent, "
                "look at it again"
            )

    # ---- preview -------------------------------------------------------------------------------

    async def preview(self, intent: Intent, *, key: str | None = None) -> ActionPreview:
        """Validate ``intent`` and show exactly what :meth:`execute` would send (sends nothing),
        with the funds at stake in the escrow it acts on, read fresh.

        ``key`` is the intent's key (a fresh UUID by default): a caller that must reuse one
        intent across runs (a retried cron job) passes the same key each time."""
        self._refuse_read_only()
        self._refuse_braked()
        self._refuse_busy(self._resource_of(intent))
        key = key or str(uuid.uuid4())
        now = self.clock.now()
        intent = self.planners.inputs(intent)  # the operator's inputs, checked before any read
        ctx = PlanContext(key, now, None)
        target = self.planners.target(intent)
        escrow = None
        if isinstance(intent, EscrowIntent):
            # An escrow action is checked against the escrow as it is now.
            escrow = await self._read(target, "to preview it") if target is not None else None
            ctx = replace(ctx, escrow=escrow)
            planned = self.planners.plan(intent, ctx)
        else:
            # A stream's own figures are checked before its escrow is read: an action refused
            # for its amount sends no request at all.
            planned = self.planners.plan(intent, ctx)
            self.limits.check(planned.preview.amount)
            if target is not None:
                escrow = await self._read(target, "to preview it")
                self._sync_stream(intent, escrow)
        balance = await self._balance(planned.preview.agent_id)
        planned = self.planners.plan(intent, replace(ctx, balance=balance))
        self.limits.check(planned.preview.amount)
        preview = planned.preview
        if escrow is not None and preview.stake is None:
            stream = self.book.find(preview.stream_id or "")
            paused = stream is not None and stream.state is StreamState.PAUSED
            stake = stake_of(escrow, paused=paused)
            preview = replace(
                preview,
                stake=stake,
                escrow_version=stake.version,
                notes=(*preview.notes, f"if nothing is done: {stake.timeout.sentence(now)}"),
            )
        seen = intent.version if isinstance(intent, EscrowIntent) else None
        if seen is not None and seen != preview.escrow_version:
            preview = replace(
                preview,
                notes=(
                    "the escrow changed since the row you acted on: these are its figures now",
                    *preview.notes,
                ),
            )
        return replace(preview, created_at=now)

    async def _balance(self, agent_id: str) -> Decimal | None:
        try:
            return await self.wire.balance(agent_id)
        except PurpleFleaError:
            return None  # the dialog shows "-": a read failure must not block a payment

    # ---- execute -------------------------------------------------------------------------------

    async def execute(self, preview: ActionPreview) -> ActionResult:
        """Send exactly what ``preview`` shows, once; the outcome (``unknown`` is reconciled later).

        The escrow is read again first: if it changed since the preview the action is refused
        as stale and nothing is sent. Executing the same preview again resumes the same intent
        (same keys): it never pays twice.
        """
        self._refuse_read_only()
        resource = self._resource_of(preview.intent)
        self._refuse_busy(resource, own=preview.key)
        with self._holding(resource, preview.key):
            if self.journal.has_intent(preview.key):
                return await self._resume(preview.key, resource)
            self._refuse_braked()
            self.limits.check(preview.amount)
            if preview.needs_choice:
                raise ActionValidationError(
                    "choose what to do with the unearned tranche: overpay, dispute or leave",
                    field="unearned",
                )
            escrow = await self._verify_escrow(preview)
            planned = self._replan(preview, escrow)
            self._checkpoint("before_journal")
            now = self.clock.now()
            self.journal.begin(
                preview,
                planned.meta,
                now,
                also=self._stream_change(planned, now),
                check=self._journal_check(resource, preview),
            )
            try:
                if not preview.requests:
                    return ActionResult(
                        preview.key, preview.kind, RequestState.DONE, (), "nothing to send"
                    )
                return await self.runner.drive(preview.key)
            finally:
                self.leases.release(resource)

    async def _resume(self, key: str, resource: Resource) -> ActionResult:
        """Drive an intent already journaled, holding the store's lease on what it acts on."""
        with self.journal.transaction():
            self.leases.acquire(resource, key, self.clock.now())
        try:
            return await self.runner.drive(key)
        finally:
            self.leases.release(resource)

    async def _verify_escrow(self, preview: ActionPreview) -> Escrow | None:
        """The escrow read again before anything is journaled; refused as stale if it changed."""
        if preview.escrow_version is None:
            return None
        target = self.planners.target(preview.intent)
        if target is None:
            raise StalePreviewError(
                "the stream no longer has the escrow this preview showed: preview it again"
            )
        escrow = await self._read(target, "before sending")
        if escrow_version(escrow) != preview.escrow_version:
            raise StalePreviewError(
                f"escrow {target.escrow_id} changed since the preview (it is {escrow.status.value}"
                f", {stake_of(escrow).remaining} held): nothing was sent; preview it again"
            )
        return escrow

    def _replan(self, preview: ActionPreview, escrow: Escrow | None) -> Planned:
        """The preview's own plan, after checking the stream did not change under it.

        Planned again with the preview's own key, time and balance (and the escrow, read again
        and unchanged), the bodies and the bookkeeping come out identical unless something moved.
        """
        resource = self._resource_of(preview.intent)
        if resource.kind is ResourceKind.STREAM and preview.stream_version is not None:
            stream = self.book.find(resource.id)
            if stream is None or stream.version != preview.stream_version or stream.state.final:
                raise StalePreviewError("the stream changed since this preview: preview it again")
        ctx = PlanContext(
            preview.key, preview.created_at, preview.balance_before, preview.stream_id, escrow
        )
        planned = self.planners.plan(preview.intent, ctx)
        if tuple(r.body for r in planned.preview.requests) != tuple(
            r.body for r in preview.requests
        ):
            raise StalePreviewError("the action no longer matches its preview: preview it again")
        return planned

    def _stream_change(self, planned: Planned, now: float) -> Callable[[], None] | None:
        """The stream record change journaled with the intent (``None``: it makes none)."""
        change, stream = planned.begin, planned.stream
        if change is None or stream is None:
            return None
        operator = self.journal.operator

        def apply() -> None:
            # Read again inside the journal's transaction; an open's record is not there yet.
            current = self.book.find(stream.id) or stream
            self.book.save(change(current, now))
            if planned.event:
                self.book.log(stream.id, now, operator, planned.event, planned.preview.key)

        return apply

    # ---- reconcile -------------------------------------------------------------------------------

    async def reconcile(self) -> list[ActionResult]:
        """Settle every intent the journal holds open (on each poll and at start-up).

        An intent another process is driving (it holds the lease) is left to it. While the
        brake is on, nothing new is sent: what may have executed is settled by reads alone.
        """
        if self.read_only:
            return []  # read-only sends nothing, not even a resend; the journal keeps its state
        results: list[ActionResult] = []
        for intent in self.journal.unsettled_intents():
            resource = self._resource_of_rows(intent)
            if self._busy.get(resource) not in (None, intent):
                continue
            with self._holding(resource, intent):
                try:
                    results.append(await self._resume(intent, resource))
                except ActionInFlightError:
                    continue  # another process drives it
        return results

    def _resource_of_rows(self, intent: str) -> Resource:
        """What a journaled intent holds: its stream, else the escrow it acts on, else itself."""
        rows = self.journal.rows(intent)
        if rows and rows[0].stream_id:
            return Resource.stream(rows[0].stream_id)
        for row in rows:
            if isinstance(row.escrow, str):
                return Resource.escrow(row.escrow)
        return Resource.intent(intent)

    def unsettled(self) -> list[ActionResult]:
        """Intents whose outcome is not known yet (for the status bar)."""
        return [self.runner.result(i) for i in self.journal.unsettled_intents()]

    def result(self, key: str) -> ActionResult:
        """The journaled state of one intent (``key`` may be a request key ``<uuid>/<n>``)."""
        return self.runner.result(intent_of(key))

    # ---- streams (local operations: nothing is sent) -------------------------------------------

    def streams(self, agent_id: str | None = None) -> list[Stream]:
        """pf-tui's stream records (of one paying agent)."""
        return self.book.all(agent_id)

    def stream(self, stream_id: str) -> Stream:
        """One stream record."""
        return self.book.get(stream_id)

    def owed(self, stream_id: str, units: int = 0) -> Decimal:
        """What a stream owes now (plus ``units`` units for counted streams)."""
        return self.book.get(stream_id).owed(self.clock.now(), units)

    def pause(self, stream_id: str) -> Stream:
        """Stop a time-based stream accruing: pf-tui releases nothing more (nothing is sent; the
        escrow's timeout still moves its money, see :meth:`timeout_of`)."""
        return self.keeper.pause(stream_id)

    def resume(self, stream_id: str) -> Stream:
        """Let a paused stream accrue again (nothing is sent; refused while the brake is on)."""
        return self.keeper.resume(stream_id)

    def timeout_of(self, stream_id: str, escrow: Escrow | None = None) -> TimeoutOutcome:
        """What the server will still do on its own with a stream's escrow, and when: from the
        escrow's polled record when given, else from the stream's own record."""
        stream = self.book.get(stream_id)
        record = escrow if escrow is not None and escrow.escrow_id == stream.escrow_id else None
        paused = stream.state is StreamState.PAUSED or self.brake().engaged
        return timeout_outcome(record, stream.held(), paused=paused)

    def sync(self, records: Iterable[tuple[Escrow, float]]) -> list[SyncChange]:
        """Bring stream records in line with their escrows as polled (``(record, read at)``);
        streams with an action running or unsettled are left alone."""
        return self.keeper.sync(records, skip=self.busy)

    def busy(self, stream_id: str) -> bool:
        """Whether an action on the stream is in flight (here or in another process) or
        unsettled."""
        resource = Resource.stream(stream_id)
        return (
            resource in self._busy
            or stream_id in self.journal.unsettled_streams()
            or self.leases.holder_of(resource, self.clock.now()) is not None
        )

    # ---- the stop-all brake ---------------------------------------------------------------------

    def brake(self) -> BrakeState:
        """The brake as the store has it (cheap: one indexed row)."""
        return self.keeper.brake()

    def preview_brake(
        self, outcome_of: Callable[[Stream], TimeoutOutcome] | None = None
    ) -> BrakePreview:
        """What engaging the brake would pause, and what the server will still do on its own."""
        return self.keeper.preview_brake(outcome_of)

    def engage_brake(self, preview: BrakePreview, why: str) -> BrakeState:
        """Engage the brake the caller previewed and the operator confirmed (see
        :meth:`StreamKeeper.engage_brake`)."""
        return self.keeper.engage_brake(preview, why)

    def lift_brake(self, why: str, *, resume: bool = False) -> BrakeState:
        """Lift the brake; ``resume`` restarts the streams its engagement paused."""
        return self.keeper.lift_brake(why, resume=resume)
