"""One planner per intent type: validation against the records, then the exact requests.

:class:`Planners` is what the engine asks, per intent, three questions: which escrow it acts on
(:meth:`~Planners.target`, read fresh before planning), whether the operator's inputs are
acceptable before anything is read (:meth:`~Planners.inputs`), and what exactly it sends
(:meth:`~Planners.plan`, through the pure ``plan_*`` functions of :mod:`pf_tui.core.money.plan`
and :mod:`pf_tui.core.money.escrow_plan`). A new intent type gets one entry in each.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from functools import singledispatchmethod

from pf_tui.api.models import Dialect, Escrow
from pf_tui.core.money.escrow_plan import (
    adopted_stream,
    plan_adopt,
    plan_close_escrow,
    plan_complete,
    plan_create_escrow,
    plan_dispute,
    plan_release_escrow,
)
from pf_tui.core.money.plan import Planned, plan_close, plan_faucet, plan_open, plan_release
from pf_tui.core.money.streams import Stream, StreamBook
from pf_tui.core.money.types import (
    MIN_ESCROW_USD,
    ActionError,
    ActionValidationError,
    AdoptEscrow,
    ClaimFaucet,
    CloseChoice,
    CloseEscrow,
    CloseStream,
    CreateEscrow,
    DisputeEscrow,
    Intent,
    MarkComplete,
    OpenStream,
    ReleaseEscrow,
    ReleasePartial,
    StreamMode,
    StreamState,
    StreamUnit,
)
from pf_tui.core.money.validate import Limits, count, reason
from pf_tui.usd import format_usd


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What a planner gets besides its intent."""

    key: str
    """The intent's UUID (its idempotency key, or the stem of its requests' keys)."""
    now: float
    """The instant the plan is for (what is owed is computed at it)."""
    balance: Decimal | None
    """The paying agent's balance as last read (``None``: not read yet, or unreadable)."""
    stream_id: str | None = None
    """The stream id a preview showed, when re-planning it: an open or an adoption gives its new
    stream this id again (the other intents name their stream themselves)."""
    escrow: Escrow | None = None
    """The escrow acted on, as just read from the server (``None``: there is none yet)."""


@dataclass(frozen=True, slots=True)
class Target:
    """The escrow an intent acts on: whose key reads it, and through which dialect."""

    agent_id: str
    escrow_id: str
    dialect: Dialect


class Planners:
    """One planner per intent type, and what each intent acts on.

    ``plan`` validates an intent against the records it needs (the stream book; the escrow as
    just read) and returns its exact requests; ``target`` names the escrow an intent acts on
    (read fresh by the engine before planning); ``inputs`` checks the operator's free text and
    amounts before anything is read. Each is a ``singledispatchmethod`` with one entry per
    intent type (``tests/actions/test_dispatch.py`` checks every type has a planner).
    """

    def __init__(self, book: StreamBook, limits: Limits) -> None:
        self.book = book
        self.limits = limits

    def parse_amount(self, value: Decimal | str, field: str, *, limited: bool = True) -> Decimal:
        """An operator's amount as a ``Decimal`` (see :meth:`Limits.parse_amount`)."""
        return self.limits.parse_amount(value, field, limited=limited)

    def stream(self, stream_id: str) -> Stream:
        """A stream that can still take an action (refused when closed or disputed)."""
        stream = self.book.get(stream_id)
        if stream.state.final:
            raise ActionValidationError(
                f"stream {stream_id} is {stream.state.value}: no more actions", field="stream_id"
            )
        return stream

    def not_a_stream_escrow(self, escrow_id: str, action: str) -> None:
        owner = self.book.owner(escrow_id)
        if owner is not None:
            raise ActionValidationError(
                f"escrow {escrow_id} backs stream {owner.id}: {action} it through the stream "
                "(its release, close or dispute keep the stream's books)",
                field="escrow_id",
            )

    @singledispatchmethod
    def target(self, intent: Intent) -> Target | None:
        """The escrow ``intent`` acts on (``None``: none yet, an open or a faucet claim)."""
        return None

    @target.register
    def _target_stream(self, intent: ReleasePartial | CloseStream) -> Target | None:
        stream = self.book.get(intent.stream_id)
        if stream.escrow_id is None:
            return None  # a tranche stream between tranches
        return Target(stream.agent_id, stream.escrow_id, stream.dialect)

    @target.register
    def _target_dispute(self, intent: DisputeEscrow) -> Target | None:
        stream = self.book.find(intent.stream_id) if intent.stream_id else None
        dialect = stream.dialect if stream is not None else intent.dialect
        return Target(intent.agent_id, intent.escrow_id, dialect)

    @target.register
    def _target_escrow(
        self, intent: ReleaseEscrow | AdoptEscrow | MarkComplete | CloseEscrow
    ) -> Target | None:
        return Target(intent.agent_id, intent.escrow_id, intent.dialect)

    # ---- the operator's inputs, checked before anything is read --------------------------------

    @singledispatchmethod
    def inputs(self, intent: Intent) -> Intent:
        """``intent`` with its free-text inputs checked and normalised (no I/O)."""
        return intent

    @inputs.register
    def _inputs_dispute(self, intent: DisputeEscrow) -> Intent:
        owner = None if intent.stream_id else self.book.owner(intent.escrow_id)
        if owner is not None:
            # The escrow of a live stream is disputed as the stream's, so its books follow.
            intent = replace(intent, stream_id=owner.id, dialect=owner.dialect)
        if intent.stream_id:
            stream = self.stream(intent.stream_id)
            if str(stream.escrow_id) != str(intent.escrow_id):
                raise ActionValidationError(
                    "that escrow is not the stream's current one", field="escrow_id"
                )
        return replace(intent, reason=reason(intent.reason))

    @inputs.register
    def _inputs_release(self, intent: ReleaseEscrow) -> Intent:
        if intent.amount is not None and intent.amount != "":
            self.parse_amount(intent.amount, "amount")
        return intent

    @inputs.register
    def _inputs_create(self, intent: CreateEscrow) -> Intent:
        if not intent.payee.startswith("ag_") or intent.payee == intent.agent_id:
            raise ActionValidationError("payee: another agent's id (ag_...)", field="payee")
        if not isinstance(intent.dialect, Dialect):
            raise ActionValidationError("dialect: classic or streaming", field="dialect")
        if not 1 <= int(intent.timeout_hours) <= 720:
            raise ActionValidationError("timeout: 1 to 720 hours", field="timeout_hours")
        self._create_amount(intent)
        return intent

    def _create_amount(self, intent: CreateEscrow) -> Decimal:
        amount = self.parse_amount(intent.amount, "amount")
        if amount < MIN_ESCROW_USD:
            raise ActionValidationError(
                f"amount: at least {format_usd(MIN_ESCROW_USD)}", field="amount"
            )
        return amount

    @inputs.register
    def _inputs_adopt(self, intent: AdoptEscrow) -> Intent:
        self.parse_amount(intent.rate, "rate")
        if not isinstance(intent.unit, StreamUnit):
            raise ActionValidationError("unit: per call, per hour or per data point", field="unit")
        return intent

    # ---- one planner per intent type ----------------------------------------------------------

    @staticmethod
    def _record(ctx: PlanContext) -> Escrow:
        if ctx.escrow is None:
            raise ActionError("the escrow could not be read: nothing was sent")
        return ctx.escrow

    @singledispatchmethod
    def plan(self, intent: Intent, ctx: PlanContext) -> Planned:
        """Validate ``intent`` and plan its requests, with the planner registered for its type."""
        raise ActionValidationError(f"unknown action {type(intent).__name__}")

    @plan.register
    def _plan_open(self, intent: OpenStream, ctx: PlanContext) -> Planned:
        stream = self._new_stream(intent, ctx.now)
        if ctx.stream_id is not None:
            stream = replace(stream, id=ctx.stream_id)
        return plan_open(intent, ctx.key, stream, ctx.balance)

    @plan.register
    def _plan_release(self, intent: ReleasePartial, ctx: PlanContext) -> Planned:
        stream = self.stream(intent.stream_id)
        if stream.state is StreamState.CLOSING:
            raise ActionValidationError("the stream is closing", field="stream_id")
        owed = self._owed_for(stream, intent.count, intent.amount, ctx.now)
        if owed <= 0:
            raise ActionValidationError("nothing is owed yet", field="amount")
        self.limits.check(owed)
        # An amount the operator typed pays toward what has accrued; the rest stays owed.
        explicit = intent.amount is not None and intent.amount != ""
        accrued = stream.owed(ctx.now, count(intent.count)) if explicit else None
        return plan_release(intent, ctx.key, stream, owed, ctx.balance, ctx.now, accrued)

    @plan.register
    def _plan_close(self, intent: CloseStream, ctx: PlanContext) -> Planned:
        stream = self.stream(intent.stream_id)
        owed = self._owed_for(stream, intent.count, None, ctx.now)
        self.limits.check(owed, "owed")
        if intent.unearned is CloseChoice.DISPUTE:
            intent = replace(intent, reason=reason(intent.reason))
        return plan_close(intent, ctx.key, stream, owed, ctx.balance, ctx.now)

    @plan.register
    def _plan_dispute(self, intent: DisputeEscrow, ctx: PlanContext) -> Planned:
        intent = replace(intent, reason=reason(intent.reason))
        stream = self.stream(intent.stream_id) if intent.stream_id else None
        if stream is not None:
            if str(stream.escrow_id) != str(intent.escrow_id):
                raise ActionValidationError(
                    "that escrow is not the stream's current one", field="escrow_id"
                )
            # The stream knows its escrow's dialect (a tranche is classic whatever a list said).
            intent = replace(intent, dialect=stream.dialect)
        return plan_dispute(intent, ctx.key, self._record(ctx), ctx.balance, ctx.now, stream)

    @plan.register
    def _plan_complete(self, intent: MarkComplete, ctx: PlanContext) -> Planned:
        return plan_complete(intent, ctx.key, self._record(ctx), ctx.balance, ctx.now)

    @plan.register
    def _plan_release_escrow(self, intent: ReleaseEscrow, ctx: PlanContext) -> Planned:
        self.not_a_stream_escrow(intent.escrow_id, "release")
        amount = None
        if intent.amount is not None and intent.amount != "":
            amount = self.parse_amount(intent.amount, "amount")
        escrow = self._record(ctx)
        return plan_release_escrow(intent, ctx.key, escrow, amount, ctx.balance, ctx.now)

    @plan.register
    def _plan_close_escrow(self, intent: CloseEscrow, ctx: PlanContext) -> Planned:
        self.not_a_stream_escrow(intent.escrow_id, "close")
        return plan_close_escrow(intent, ctx.key, self._record(ctx), ctx.balance, ctx.now)

    @plan.register
    def _plan_adopt(self, intent: AdoptEscrow, ctx: PlanContext) -> Planned:
        self.not_a_stream_escrow(intent.escrow_id, "adopt")
        rate = self.parse_amount(intent.rate, "rate")
        escrow = self._record(ctx)
        stream_id = ctx.stream_id or StreamBook.new_id()
        stream = adopted_stream(intent, escrow, stream_id, rate, ctx.now)
        return plan_adopt(intent, ctx.key, escrow, stream, ctx.balance, ctx.now)

    @plan.register
    def _plan_create(self, intent: CreateEscrow, ctx: PlanContext) -> Planned:
        return plan_create_escrow(intent, ctx.key, self._create_amount(intent), ctx.balance)

    @plan.register
    def _plan_faucet(self, intent: ClaimFaucet, ctx: PlanContext) -> Planned:
        return plan_faucet(intent, ctx.key, ctx.balance)

    def _owed_for(
        self, stream: Stream, units: int | str | None, amount: Decimal | str | None, now: float
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
        n = count(units)
        if n and stream.unit.time_based:
            raise ActionValidationError(
                "count: this stream is paid per hour; what is owed comes from time", field="count"
            )
        return stream.owed(now, n)

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
