"""Money actions from the keyboard, exactly once: validate, preview, journal, send, reconcile.

The TUI's dialogs call, in order:

1. :meth:`ActionEngine.preview` with an intent (amounts may be the operator's raw text): every
   check runs here (read-only mode, amounts via :func:`pf_tui.usd.parse_amount_input`, the
   ``max_action_usd`` limit, one action at a time per stream) and the answer is an
   :class:`ActionPreview` holding the exact requests, fee, balances and idempotency key.
2. :meth:`ActionEngine.execute` with that preview once the operator confirms: the requests are
   journaled (``synchronous=FULL``) before the first leaves, sent with their keys, retried with
   the same keys, and settled or left ``unknown`` for :meth:`ActionEngine.reconcile`.
3. :meth:`ActionEngine.reconcile` on every poll and at start-up settles what a lost reply or a
   crash left open, by docs/api.md §5's rules; it never issues a new key for an old intent.

Pause and resume are local (no request): :meth:`pause`, :meth:`resume`.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import singledispatchmethod

from pf_tui.api.errors import PurpleFleaError
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.core.money.journal import Journal, intent_of
from pf_tui.core.money.plan import (
    Planned,
    StreamChange,
    plan_close,
    plan_complete,
    plan_dispute,
    plan_faucet,
    plan_open,
    plan_release,
)
from pf_tui.core.money.runner import Checkpoint, IntentRunner
from pf_tui.core.money.streams import Stream, StreamBook
from pf_tui.core.money.types import (
    MIN_ESCROW_USD,
    MIN_REASON_CHARS,
    ActionError,
    ActionInFlightError,
    ActionPreview,
    ActionResult,
    ActionValidationError,
    ClaimFaucet,
    CloseChoice,
    CloseStream,
    DisputeEscrow,
    Intent,
    LimitExceededError,
    MarkComplete,
    OpenStream,
    ReadOnlyError,
    ReleasePartial,
    RequestState,
    Resource,
    ResourceKind,
    StalePreviewError,
    StreamMode,
    StreamState,
    StreamUnit,
)
from pf_tui.core.money.wire import MoneyWire
from pf_tui.usd import MoneyError, format_usd, parse_amount_input

__all__ = ["ActionEngine", "ActionError"]

MAX_COUNT = 10**9
"""A counted release of more units than this is a typo."""


@dataclass(frozen=True, slots=True)
class _PlanContext:
    """What a planner gets besides its intent."""

    key: str
    """The intent's UUID (its idempotency key, or the stem of its requests' keys)."""
    now: float
    """The instant the plan is for (what is owed is computed at it)."""
    balance: Decimal | None
    """The paying agent's balance as last read (``None``: not read yet, or unreadable)."""
    stream_id: str | None = None
    """The stream id a preview showed, when re-planning it: an open gives its new stream this id
    again (the other intents name their stream themselves)."""


class ActionEngine:
    """Validate, preview, execute and reconcile money actions; keep stream records.

    ``conn`` is the store's journal connection
    (:meth:`pf_tui.core.store.db.Store.journal_connection`, ``synchronous=FULL``).
    ``max_action_usd`` bounds every amount an action moves; ``read_only`` refuses everything.
    ``checkpoint`` is called with ``before_journal``, ``after_journal`` and ``after_reply``
    (crash tests kill the process there).

    Each intent type has one planner, registered on :meth:`_plan` (validation and the stream
    record it needs, then the pure ``plan_*`` function); the intent itself says what it holds
    while it runs (``intent.resource``), so one action at a time acts on a stream, an escrow, a
    faucet claim or a new stream from one agent to one payee.
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
    ) -> None:
        self.clock = clock
        self.read_only = read_only
        self.max_action_usd = max_action_usd
        self.wire = wire
        self.journal = Journal(conn, operator=operator)
        self.book = StreamBook(conn)
        self._checkpoint: Checkpoint = checkpoint or (lambda _name: None)
        self.runner = IntentRunner(
            self.journal,
            self.book,
            wire,
            clock,
            max_attempts=max_attempts,
            rng=rng,
            checkpoint=self._checkpoint,
        )
        self._busy: dict[Resource, str] = {}
        """What an action is running on -> the key of that action's intent."""

    # ---- validation --------------------------------------------------------------------------

    def _refuse_read_only(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                "pf-tui is read-only (--read-only or [ui] read_only): no money action is sent"
            )

    def parse_amount(self, value: Decimal | str, field: str, *, limited: bool = True) -> Decimal:
        """An operator's amount as a ``Decimal`` (at most 6 dp, > 0, within ``max_action_usd``
        unless ``limited`` is false: a tranche stream's budget never moves in one action)."""
        text = format(value, "f") if isinstance(value, Decimal) else str(value)
        try:
            amount = parse_amount_input(text, field=field)
        except MoneyError as exc:
            raise ActionValidationError(str(exc), field=field) from None
        if not limited:
            return amount
        try:
            return parse_amount_input(text, field=field, limit=self.max_action_usd)
        except MoneyError as exc:
            raise LimitExceededError(str(exc), field=field) from None

    def _check_limit(self, amount: Decimal, field: str = "amount") -> None:
        if self.max_action_usd is not None and amount > self.max_action_usd:
            raise LimitExceededError(
                f"{field}: {format_usd(amount, dp=6)} is over the limit of "
                f"{format_usd(self.max_action_usd)} ([ui] max_action_usd)",
                field=field,
            )

    @staticmethod
    def _count(value: int | str | None) -> int:
        if value is None or value == "":
            return 0
        text = str(value).strip()
        if not text.isdigit() or len(text) > 10 or int(text) > MAX_COUNT:
            raise ActionValidationError(
                f"count: {text!r} is not a whole number of units", field="count"
            )
        return int(text)

    @staticmethod
    def _reason(reason: str) -> str:
        text = " ".join(reason.split())
        if len(text) < MIN_REASON_CHARS:
            raise ActionValidationError(
                f"reason: say why in at least {MIN_REASON_CHARS} characters (got {len(text)})",
                field="reason",
            )
        return text

    def _refuse_busy(self, resource: Resource, own: str | None = None) -> None:
        """Refuse a second action on ``resource`` (``own``: the intent asking, when executing)."""
        holder = self._busy.get(resource)
        if holder is not None and holder != own:
            raise ActionInFlightError(
                f"another action on {resource} is in flight; wait for it to finish"
            )
        if (
            resource.kind is ResourceKind.STREAM
            and resource.id in self.journal.unsettled_streams()
            and (own is None or not self.journal.has_intent(own))
        ):
            raise ActionInFlightError(
                f"{resource} has an action whose outcome is not known yet; it is reconciled on "
                "the next poll (or run reconcile) before anything else is sent"
            )

    @contextmanager
    def _holding(self, resource: Resource, key: str) -> Iterator[None]:
        """Intent ``key`` acts on ``resource`` for the block: another action on it is refused."""
        self._busy[resource] = key
        try:
            yield
        finally:
            self._busy.pop(resource, None)

    def _stream(self, stream_id: str) -> Stream:
        stream = self.book.get(stream_id)
        if stream.state.final:
            raise ActionValidationError(
                f"stream {stream_id} is {stream.state.value}: no more actions", field="stream_id"
            )
        return stream

    # ---- preview -------------------------------------------------------------------------------

    async def preview(self, intent: Intent, *, key: str | None = None) -> ActionPreview:
        """Validate ``intent`` and show exactly what :meth:`execute` would send (sends nothing).

        ``key`` is the intent's key (a fresh UUID by default): a caller that must reuse one
        intent across runs (a retried cron job) passes the same key each time."""
        self._refuse_read_only()
        self._refuse_busy(intent.resource)
        key = key or str(uuid.uuid4())
        now = self.clock.now()
        planned = self._plan(intent, _PlanContext(key, now, None))  # validates before any read
        balance = await self._balance(planned.preview.agent_id)
        planned = self._plan(intent, _PlanContext(key, now, balance))
        self._check_limit(planned.preview.amount)
        return replace(planned.preview, created_at=now)

    async def _balance(self, agent_id: str) -> Decimal | None:
        try:
            return await self.wire.balance(agent_id)
        except PurpleFleaError:
            return None  # the dialog shows "-": a read failure must not block a payment

    # ---- one planner per intent type ----------------------------------------------------------

    @singledispatchmethod
    def _plan(self, intent: Intent, ctx: _PlanContext) -> Planned:
        """Validate ``intent`` and plan its requests, with the planner registered for its type."""
        raise ActionValidationError(f"unknown action {type(intent).__name__}")

    @_plan.register
    def _plan_open(self, intent: OpenStream, ctx: _PlanContext) -> Planned:
        stream = self._new_stream(intent, ctx.now)
        if ctx.stream_id is not None:
            stream = replace(stream, id=ctx.stream_id)
        return plan_open(intent, ctx.key, stream, ctx.balance)

    @_plan.register
    def _plan_release(self, intent: ReleasePartial, ctx: _PlanContext) -> Planned:
        stream = self._stream(intent.stream_id)
        if stream.state is StreamState.CLOSING:
            raise ActionValidationError("the stream is closing", field="stream_id")
        owed = self._owed_for(stream, intent.count, intent.amount, ctx.now)
        if owed <= 0:
            raise ActionValidationError("nothing is owed yet", field="amount")
        self._check_limit(owed)
        return plan_release(intent, ctx.key, stream, owed, ctx.balance, ctx.now)

    @_plan.register
    def _plan_close(self, intent: CloseStream, ctx: _PlanContext) -> Planned:
        stream = self._stream(intent.stream_id)
        owed = self._owed_for(stream, intent.count, None, ctx.now)
        self._check_limit(owed, "owed")
        if intent.unearned is CloseChoice.DISPUTE:
            intent = replace(intent, reason=self._reason(intent.reason))
        return plan_close(intent, ctx.key, stream, owed, ctx.balance, ctx.now)

    @_plan.register
    def _plan_dispute(self, intent: DisputeEscrow, ctx: _PlanContext) -> Planned:
        intent = replace(intent, reason=self._reason(intent.reason))
        stream = self._stream(intent.stream_id) if intent.stream_id else None
        if stream is not None:
            if str(stream.escrow_id) != str(intent.escrow_id):
                raise ActionValidationError(
                    "that escrow is not the stream's current one", field="escrow_id"
                )
            # The stream knows its escrow's dialect (a tranche is classic whatever a list said).
            intent = replace(intent, dialect=stream.dialect)
        return plan_dispute(intent, ctx.key, ctx.balance, stream)

    @_plan.register
    def _plan_complete(self, intent: MarkComplete, ctx: _PlanContext) -> Planned:
        return plan_complete(intent, ctx.key, ctx.balance)

    @_plan.register
    def _plan_faucet(self, intent: ClaimFaucet, ctx: _PlanContext) -> Planned:
        return plan_faucet(intent, ctx.key, ctx.balance)

    def _owed_for(
        self, stream: Stream, count: int | str | None, amount: Decimal | str | None, now: float
    ) -> Decimal:
        if amount is not None and amount != "":
            value = self.parse_amount(amount, "amount")
            if value > stream.budget - stream.released:
                raise ActionValidationError(
                    f"amount: {format_usd(value, dp=6)} is more than the stream's unreleased "
                    "budget",
                    field="amount",
                )
            return value
        units = self._count(count)
        if units and stream.unit.time_based:
            raise ActionValidationError(
                "count: this stream is paid per hour; what is owed comes from time", field="count"
            )
        return stream.owed(now, units)

    def _new_stream(self, intent: OpenStream, now: float) -> Stream:
        if not intent.payee.startswith("ag_") or intent.payee == intent.agent_id:
            raise ActionValidationError("payee: another agent's id (ag_...)", field="payee")
        rate = self.parse_amount(intent.rate, "rate")
        # The amount an open moves (native: the budget; tranche: one batch) is checked on the plan.
        budget = self.parse_amount(
            intent.budget, "budget", limited=intent.mode is StreamMode.NATIVE
        )
        batch = self.parse_amount(intent.batch, "batch")
        if not isinstance(intent.unit, StreamUnit):
            raise ActionValidationError("unit: per call, per hour or per data point", field="unit")
        if budget < MIN_ESCROW_USD:
            raise ActionValidationError(
                f"budget: at least {format_usd(MIN_ESCROW_USD)}", field="budget"
            )
        if batch > budget:
            raise ActionValidationError("batch: no larger than the budget", field="batch")
        if intent.mode is StreamMode.TRANCHE and batch < MIN_ESCROW_USD:
            raise ActionValidationError(
                f"batch: a tranche is an escrow of at least {format_usd(MIN_ESCROW_USD)}",
                field="batch",
            )
        if not 1 <= int(intent.timeout_hours) <= 720:
            raise ActionValidationError("timeout: 1 to 720 hours", field="timeout_hours")
        return Stream(
            id=StreamBook.new_id(),
            agent_id=intent.agent_id,
            payee=intent.payee,
            mode=intent.mode,
            rate=rate,
            unit=intent.unit,
            budget=budget,
            batch=batch,
            released=Decimal(0),
            escrow_id=None,
            funded=Decimal(0),
            carry=Decimal(0),
            state=StreamState.OPEN,
            memo=intent.memo,
            active_since=None,
            last_release_at=None,
            created_at=now,
            updated_at=now,
            timeout_hours=int(intent.timeout_hours),
        )

    # ---- execute -------------------------------------------------------------------------------

    async def execute(self, preview: ActionPreview) -> ActionResult:
        """Send exactly what ``preview`` shows, once; the outcome (``unknown`` is reconciled later).

        Executing the same preview again resumes the same intent (same keys): it never pays twice.
        """
        self._refuse_read_only()
        resource = preview.intent.resource
        self._refuse_busy(resource, own=preview.key)
        with self._holding(resource, preview.key):
            if self.journal.has_intent(preview.key):
                return await self.runner.drive(preview.key)
            self._check_limit(preview.amount)
            if preview.needs_choice:
                raise ActionValidationError(
                    "choose what to do with the unearned tranche: overpay, dispute or leave",
                    field="unearned",
                )
            planned = self._replan(preview)
            self._checkpoint("before_journal")
            now = self.clock.now()
            self.journal.begin(preview, planned.meta, now, also=self._stream_change(planned, now))
            if not preview.requests:
                return ActionResult(
                    preview.key, preview.kind, RequestState.DONE, (), "nothing to send"
                )
            return await self.runner.drive(preview.key)

    def _replan(self, preview: ActionPreview) -> Planned:
        """The preview's own plan, after checking the stream did not change under it.

        Planned again with the preview's own key, time and balance, the bodies and the
        bookkeeping come out identical unless the stream moved.
        """
        resource = preview.intent.resource
        if resource.kind is ResourceKind.STREAM:
            stream = self.book.get(resource.id)
            if stream.version != preview.stream_version or stream.state.final:
                raise StalePreviewError("the stream changed since this preview: preview it again")
        ctx = _PlanContext(
            preview.key, preview.created_at, preview.balance_before, preview.stream_id
        )
        planned = self._plan(preview.intent, ctx)
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

        def apply() -> None:
            # Read again inside the journal's transaction; an open's record is not there yet.
            current = self.book.find(stream.id) or stream
            self.book.save(change(current, now))

        return apply

    # ---- reconcile -------------------------------------------------------------------------------

    async def reconcile(self) -> list[ActionResult]:
        """Settle every intent the journal holds open (on each poll and at start-up)."""
        if self.read_only:
            return []  # read-only sends nothing, not even a resend; the journal keeps its state
        results: list[ActionResult] = []
        for intent in self.journal.unsettled_intents():
            rows = self.journal.rows(intent)
            stream_id = rows[0].stream_id if rows else None
            resource = Resource.stream(stream_id) if stream_id else Resource.intent(intent)
            if self._busy.get(resource) not in (None, intent):
                continue
            with self._holding(resource, intent):
                results.append(await self.runner.drive(intent))
        return results

    def unsettled(self) -> list[ActionResult]:
        """Intents whose outcome is not known yet (for the status bar)."""
        return [self.runner.result(i) for i in self.journal.unsettled_intents()]

    def result(self, key: str) -> ActionResult:
        """The journaled state of one intent (``key`` may be a request key ``<uuid>/<n>``)."""
        return self.runner.result(intent_of(key))

    # ---- streams (local operations) -----------------------------------------------------------

    def streams(self, agent_id: str | None = None) -> list[Stream]:
        """pf-tui's stream records (of one paying agent)."""
        return self.book.all(agent_id)

    def stream(self, stream_id: str) -> Stream:
        """One stream record."""
        return self.book.get(stream_id)

    def owed(self, stream_id: str, count: int = 0) -> Decimal:
        """What a stream owes now (plus ``count`` units for counted streams)."""
        return self.book.get(stream_id).owed(self.clock.now(), count)

    def pause(self, stream_id: str) -> Stream:
        """Stop a time-based stream accruing (local; nothing is sent)."""
        return self._local_change(stream_id, StreamState.OPEN, StreamBook.paused)

    def resume(self, stream_id: str) -> Stream:
        """Let a paused stream accrue again (local; nothing is sent)."""
        return self._local_change(stream_id, StreamState.PAUSED, StreamBook.resumed)

    def _local_change(self, stream_id: str, state: StreamState, change: StreamChange) -> Stream:
        """Apply ``change`` to a stream that is in ``state`` (no request, one transaction)."""
        self._refuse_read_only()
        self._refuse_busy(Resource.stream(stream_id))
        stream = self._stream(stream_id)
        if stream.state is not state:
            raise ActionValidationError(
                f"stream is {stream.state.value}, not {state.value}", field="stream_id"
            )
        new = change(stream, self.clock.now())
        with self.journal.transaction():
            self.book.save(new)
        return new

    def busy(self, stream_id: str) -> bool:
        """Whether an action on the stream is in flight or unsettled."""
        return (
            Resource.stream(stream_id) in self._busy
            or stream_id in self.journal.unsettled_streams()
        )
