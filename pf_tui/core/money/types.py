"""The vocabulary of money actions: intents, planned requests, previews, results and errors.

An *intent* is what the operator asked for in a dialog (open a stream, release a partial, close,
dispute, mark complete, claim the faucet). :meth:`ActionEngine.preview` turns it into an
:class:`ActionPreview`: exactly the requests that will be sent, in order, each with its
idempotency key, and the money figures. :meth:`ActionEngine.execute` sends what the preview shows
and nothing else. No Textual here: the dialogs import these types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from pf_tui.api.models import Dialect
from pf_tui.core.money.escrows import EscrowStake

MIN_ESCROW_USD = Decimal("0.10")
"""Both dialects refuse a create below ten cents (docs/api.md §3, §7)."""
MIN_REASON_CHARS = 10
"""A dispute needs a reason a human can act on."""

JsonObject = dict[str, Any]
"""A JSON object as sent or decoded (money as ``Decimal``, see :func:`pf_tui.usd.loads`)."""


class StreamUnit(str, enum.Enum):
    """What a stream's rate is per. ``HOUR`` accrues with time; the others are counted."""

    CALL = "call"
    HOUR = "hour"
    DATA_POINT = "data_point"

    @property
    def time_based(self) -> bool:
        """Whether what is owed grows with active time (else the operator enters a count)."""
        return self is StreamUnit.HOUR


class StreamMode(str, enum.Enum):
    """How a stream is backed (docs/api.md §3, Streams in pf-tui)."""

    NATIVE = "native"
    """One docs-dialect escrow of the whole budget; partial releases."""
    TRANCHE = "tranche"
    """One classic escrow of one batch funded ahead; release it and fund the next."""

    @property
    def dialect(self) -> Dialect:
        """The escrow dialect the mode speaks."""
        return Dialect.STREAMING if self is StreamMode.NATIVE else Dialect.CLASSIC


class StreamState(str, enum.Enum):
    """pf-tui's own stream states."""

    OPEN = "open"
    PAUSED = "paused"
    CLOSING = "closing"
    CLOSED = "closed"
    DISPUTED = "disputed"

    @property
    def final(self) -> bool:
        """No money action applies to a closed or disputed stream."""
        return self in (StreamState.CLOSED, StreamState.DISPUTED)


class StreamOrigin(str, enum.Enum):
    """How a stream record began."""

    OPENED = "opened"
    """pf-tui created its escrow (the open key)."""
    ADOPTED = "adopted"
    """An agent created the escrow; the operator adopted it for accrual tracking."""


class CloseChoice(str, enum.Enum):
    """What to do, at close, with a funded tranche the payee has not earned in full."""

    OVERPAY = "overpay"
    """Release the tranche in full: the payee gets more than is owed."""
    DISPUTE = "dispute"
    """Dispute the tranche: funds frozen until resolved by hand."""
    LEAVE = "leave"
    """Send nothing: the timeout refunds the creator (less the 1% fee)."""


class ActionKind(str, enum.Enum):
    """The kinds of operator intent (the journal's intent-level ``kind``)."""

    OPEN_STREAM = "open_stream"
    RELEASE_PARTIAL = "release_partial"
    CLOSE_STREAM = "close_stream"
    DISPUTE_ESCROW = "dispute_escrow"
    MARK_COMPLETE = "mark_complete"
    CLAIM_FAUCET = "claim_faucet"
    RELEASE_ESCROW = "release_escrow"
    CLOSE_ESCROW = "close_escrow"
    ADOPT_ESCROW = "adopt_escrow"
    CREATE_ESCROW = "create_escrow"


class Op(str, enum.Enum):
    """One request an intent sends (the journal's per-request ``kind``)."""

    CLASSIC_CREATE = "create"
    CLASSIC_RELEASE = "release"
    CLASSIC_COMPLETE = "complete"
    CLASSIC_DISPUTE = "dispute"
    STREAM_CREATE = "stream_create"
    STREAM_RELEASE_PARTIAL = "release_partial"
    STREAM_CLOSE = "close"
    STREAM_DISPUTE = "stream_dispute"
    FAUCET_CLAIM = "faucet_claim"

    @property
    def creates(self) -> bool:
        """Whether the request creates an escrow (its reply carries the new id)."""
        return self in (Op.CLASSIC_CREATE, Op.STREAM_CREATE)

    @property
    def dialect(self) -> Dialect | None:
        """The escrow dialect the request speaks (``None``: the faucet, which is no escrow)."""
        return _OP_DIALECTS[self]


_OP_DIALECTS: dict[Op, Dialect | None] = {
    Op.CLASSIC_CREATE: Dialect.CLASSIC,
    Op.CLASSIC_RELEASE: Dialect.CLASSIC,
    Op.CLASSIC_COMPLETE: Dialect.CLASSIC,
    Op.CLASSIC_DISPUTE: Dialect.CLASSIC,
    Op.STREAM_CREATE: Dialect.STREAMING,
    Op.STREAM_RELEASE_PARTIAL: Dialect.STREAMING,
    Op.STREAM_CLOSE: Dialect.STREAMING,
    Op.STREAM_DISPUTE: Dialect.STREAMING,
    Op.FAUCET_CLAIM: None,
}


class RequestState(str, enum.Enum):
    """Journal states of one request (the store's ``actions.state``)."""

    JOURNALED = "journaled"
    """Written, not yet handed to the network."""
    SENT = "sent"
    """Handed to the network; the reply is not journaled yet (a crash leaves it here)."""
    DONE = "done"
    FAILED = "failed"
    """The server refused it for good (4xx other than 'already done'); nothing moved."""
    UNKNOWN = "unknown"
    """The reply was lost and reconciliation has not settled it yet."""
    SKIPPED = "skipped"
    """Not sent because an earlier request of the same intent failed."""

    @property
    def settled(self) -> bool:
        """Whether reconciliation has nothing more to do with it."""
        return self in (RequestState.DONE, RequestState.FAILED, RequestState.SKIPPED)


# ---- resources (what one action at a time is held on) --------------------------------------


class ResourceKind(enum.Enum):
    """What an action holds while it runs, so that a second one on the same thing waits."""

    STREAM = "stream"
    ESCROW = "escrow"
    FAUCET = "faucet"
    """An agent's faucet claim."""
    OPEN = "open"
    """A stream or escrow being opened from an agent to a payee (no id before it is journaled)."""
    INTENT = "intent"
    """A journaled intent with no stream (reconciliation holds it while it drives it)."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One thing only one money action at a time may act on (the engine's in-flight map key)."""

    kind: ResourceKind
    id: str
    """The stream, escrow or intent id; the agent's id for a faucet claim or an open."""
    payee: str | None = None
    """An open's payee: opens from one agent to two payees do not wait for each other."""

    @classmethod
    def stream(cls, stream_id: str) -> Resource:
        """A stream pf-tui keeps."""
        return cls(ResourceKind.STREAM, stream_id)

    @classmethod
    def escrow(cls, escrow_id: str) -> Resource:
        """An escrow that no stream of pf-tui's stands for."""
        return cls(ResourceKind.ESCROW, escrow_id)

    @classmethod
    def faucet(cls, agent_id: str) -> Resource:
        """An agent's faucet claim."""
        return cls(ResourceKind.FAUCET, agent_id)

    @classmethod
    def open(cls, agent_id: str, payee: str) -> Resource:
        """A new stream or escrow from ``agent_id`` to ``payee``."""
        return cls(ResourceKind.OPEN, agent_id, payee)

    @classmethod
    def intent(cls, key: str) -> Resource:
        """A journaled intent that acts on no stream."""
        return cls(ResourceKind.INTENT, key)

    @property
    def key(self) -> str:
        """The resource as one string (the store's lease key): ``stream:st_..``,
        ``open:ag_..>ag_..``."""
        tail = f">{self.payee}" if self.payee else ""
        return f"{self.kind.value}:{self.id}{tail}"

    def __str__(self) -> str:
        """The resource in words, for the operator (``stream st_..``, ``escrow esc_..``)."""
        return _RESOURCE_WORDS[self.kind].format(id=self.id, payee=self.payee)


_RESOURCE_WORDS: dict[ResourceKind, str] = {
    ResourceKind.STREAM: "stream {id}",
    ResourceKind.ESCROW: "escrow {id}",
    ResourceKind.FAUCET: "the faucet claim of {id}",
    ResourceKind.OPEN: "the new stream or escrow from {id} to {payee}",
    ResourceKind.INTENT: "action {id}",
}


# ---- intents (what the dialogs build; amounts may be the operator's raw text) -------------
#
# Each intent type says what it is (``kind``) and what it holds while it runs (``resource``);
# the engine plans it with the one planner registered for its type
# (:meth:`pf_tui.core.money.engine.ActionEngine._plan`).

AmountInput = Decimal | str


@dataclass(frozen=True, slots=True)
class OpenStream:
    """Open a stream from ``agent_id`` to ``payee``: fund the budget (native) or one batch
    (tranche)."""

    kind: ClassVar[ActionKind] = ActionKind.OPEN_STREAM

    agent_id: str
    payee: str
    rate: AmountInput
    unit: StreamUnit
    budget: AmountInput
    batch: AmountInput
    memo: str = ""
    mode: StreamMode = StreamMode.NATIVE
    timeout_hours: int = 24

    @property
    def resource(self) -> Resource:
        """The new stream from agent to payee (it has no id yet)."""
        return Resource.open(self.agent_id, self.payee)


@dataclass(frozen=True, slots=True)
class ReleasePartial:
    """Pay what a stream owes: the time accrued (per hour), ``count`` x rate (counted units),
    or an explicit ``amount``. Tranche streams pay whole tranches; the rest stays owed."""

    kind: ClassVar[ActionKind] = ActionKind.RELEASE_PARTIAL

    stream_id: str
    count: int | str | None = None
    amount: AmountInput | None = None

    @property
    def resource(self) -> Resource:
        """The stream."""
        return Resource.stream(self.stream_id)


@dataclass(frozen=True, slots=True)
class CloseStream:
    """Close a stream: pay what is owed, then stop (native ``close`` refunds the rest).

    ``unearned`` is needed for a tranche stream whose funded tranche is not earned in full;
    ``reason`` goes with ``CloseChoice.DISPUTE``.
    """

    kind: ClassVar[ActionKind] = ActionKind.CLOSE_STREAM

    stream_id: str
    count: int | str | None = None
    unearned: CloseChoice | None = None
    reason: str = ""

    @property
    def resource(self) -> Resource:
        """The stream."""
        return Resource.stream(self.stream_id)


@dataclass(frozen=True, slots=True)
class DisputeEscrow:
    """Dispute an escrow (either party). With ``stream_id`` the stream's escrow, and the stream
    becomes ``disputed``."""

    kind: ClassVar[ActionKind] = ActionKind.DISPUTE_ESCROW

    agent_id: str
    """The party that disputes: the creator or the payee (either may)."""
    escrow_id: str
    reason: str
    dialect: Dialect = Dialect.CLASSIC
    stream_id: str | None = None
    version: str | None = None
    """:func:`~pf_tui.core.money.escrows.escrow_version` of the record the operator saw
    (``None``: none; the preview's own read is what execute checks)."""

    @property
    def resource(self) -> Resource:
        """The stream when the escrow is a stream's (it waits for the stream's other actions),
        else the escrow."""
        if self.stream_id:
            return Resource.stream(self.stream_id)
        return Resource.escrow(self.escrow_id)


@dataclass(frozen=True, slots=True)
class MarkComplete:
    """As the payee of a classic escrow, mark the work done (``complete``)."""

    kind: ClassVar[ActionKind] = ActionKind.MARK_COMPLETE

    agent_id: str
    """The payee."""
    escrow_id: str
    version: str | None = None
    """The version the operator saw (see :attr:`DisputeEscrow.version`)."""
    dialect: Dialect = Dialect.CLASSIC
    """The escrow's dialect as polled: a streaming escrow is refused (it has no complete)."""

    @property
    def resource(self) -> Resource:
        """The escrow."""
        return Resource.escrow(self.escrow_id)


@dataclass(frozen=True, slots=True)
class ReleaseEscrow:
    """As its creator, release an escrow that no live pf-tui stream owns.

    ``amount`` ``None`` releases all it holds (classic: ``release``; streaming: a
    ``release-partial`` of its remaining). An amount releases that much of a streaming escrow;
    a classic escrow is only ever released whole.
    """

    kind: ClassVar[ActionKind] = ActionKind.RELEASE_ESCROW

    agent_id: str
    """The creator."""
    escrow_id: str
    dialect: Dialect
    amount: AmountInput | None = None
    version: str | None = None
    """The version the operator saw (see :attr:`DisputeEscrow.version`)."""

    @property
    def resource(self) -> Resource:
        """The escrow."""
        return Resource.escrow(self.escrow_id)


@dataclass(frozen=True, slots=True)
class CloseEscrow:
    """As its creator, close a streaming escrow no live pf-tui stream owns: what remains goes
    back to the creator in full."""

    kind: ClassVar[ActionKind] = ActionKind.CLOSE_ESCROW

    agent_id: str
    """The creator."""
    escrow_id: str
    version: str | None = None
    """The version the operator saw (see :attr:`DisputeEscrow.version`)."""
    dialect: Dialect = Dialect.STREAMING
    """The escrow's dialect as polled: a classic escrow is refused (it has no close)."""

    @property
    def resource(self) -> Resource:
        """The escrow."""
        return Resource.escrow(self.escrow_id)


@dataclass(frozen=True, slots=True)
class AdoptEscrow:
    """Track an escrow an agent created as a pf-tui stream paying ``rate`` per ``unit``.

    Nothing is sent: the stream record starts owing from now, backed by the escrow (streaming:
    a native stream of its amount; classic: a tranche stream of one tranche, the escrow). From
    then on the stream's release, pause and close act on it.
    """

    kind: ClassVar[ActionKind] = ActionKind.ADOPT_ESCROW

    agent_id: str
    """The creator: the stream's payer."""
    escrow_id: str
    dialect: Dialect
    rate: AmountInput
    unit: StreamUnit
    version: str | None = None
    """The version the operator saw (see :attr:`DisputeEscrow.version`)."""

    @property
    def resource(self) -> Resource:
        """The escrow."""
        return Resource.escrow(self.escrow_id)


@dataclass(frozen=True, slots=True)
class CreateEscrow:
    """Fund one escrow from ``agent_id`` to ``payee`` that no pf-tui stream keeps: the creator
    later releases it (whole, or a streaming one in parts), closes or disputes it, or leaves it
    to its timeout (classic: refunds the creator; streaming: pays the payee)."""

    kind: ClassVar[ActionKind] = ActionKind.CREATE_ESCROW

    agent_id: str
    """The creator, who funds it."""
    payee: str
    amount: AmountInput
    dialect: Dialect = Dialect.CLASSIC
    memo: str = ""
    timeout_hours: int = 24

    @property
    def resource(self) -> Resource:
        """A new escrow from the creator to the payee (it has no id yet)."""
        return Resource.open(self.agent_id, self.payee)


@dataclass(frozen=True, slots=True)
class ClaimFaucet:
    """Claim the faucet's $1 for an agent (one claim per agent and per IP a day)."""

    kind: ClassVar[ActionKind] = ActionKind.CLAIM_FAUCET

    agent_id: str
    referral_code: str | None = None

    @property
    def resource(self) -> Resource:
        """The agent's faucet claim."""
        return Resource.faucet(self.agent_id)


Intent = (
    OpenStream
    | ReleasePartial
    | CloseStream
    | DisputeEscrow
    | MarkComplete
    | ClaimFaucet
    | ReleaseEscrow
    | CloseEscrow
    | AdoptEscrow
    | CreateEscrow
)
"""Every intent type. A new one is added here, with its ``kind``, its ``resource`` and one
planner registered in the engine (``tests/actions/test_dispatch.py`` checks all three)."""

EscrowIntent = DisputeEscrow | MarkComplete | ReleaseEscrow | CloseEscrow | AdoptEscrow
"""The intents that act on one escrow named by id (its record is read fresh to preview them)."""


# ---- plans and previews -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscrowRef:
    """ "The escrow created by request ``seq`` of this intent" (known only once it replied)."""

    seq: int

    def __str__(self) -> str:
        return f"<escrow from #{self.seq}>"


EscrowTarget = str | EscrowRef


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of an intent, exactly as it will be sent (an :class:`EscrowRef` in ``path``
    is filled in from an earlier reply of the same intent)."""

    seq: int
    key: str
    """The ``Idempotency-Key`` header: the intent's UUID, or ``<uuid>/<seq>`` when it sends
    several."""
    op: Op
    service: str
    method: str
    path: str
    body: JsonObject | None
    escrow: EscrowTarget | None = None
    amount: Decimal | None = None
    """Money this request moves (gross), when it moves any."""
    tag: str | None = None
    """The ``pf:`` tag written into the description/memo of a created escrow."""

    def describe(self) -> str:
        """``POST /escrow/release/esc_..`` for the dialog."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class StreamTerms:
    """The terms of the stream a preview acts on, so the confirmation can show them whole."""

    payee: str
    rate: Decimal
    """Dollars per unit (6 dp: a per-call rate may be below a cent)."""
    unit: StreamUnit
    budget: Decimal
    batch: Decimal
    """Tranche mode: one tranche (each pays its own 1% fee); native: the budget."""
    fee_total: Decimal
    """The 1% commission if the whole budget is released (native: 1% of the budget; tranche:
    each tranche's own 1%, the last one smaller when the batch does not divide the budget)."""

    @property
    def net_total(self) -> Decimal:
        """What the payee nets if the whole budget is released."""
        return self.budget - self.fee_total


@dataclass(frozen=True, slots=True)
class ActionPreview:
    """Everything the confirmation dialog shows, and everything :meth:`execute` will send."""

    key: str
    """The intent's UUID: one per confirmed dialog, reused on every retry and after a crash."""
    kind: ActionKind
    intent: Intent
    agent_id: str
    requests: tuple[PlannedRequest, ...]
    amount: Decimal
    """Money leaving the paying agent's control in this action (gross; 0 for dispute/complete)."""
    fee: Decimal
    """The 1% commission on what is released to the payee in this action (6 dp)."""
    payee_nets: Decimal
    """What the payee receives from this action (released minus fee)."""
    dialect: Dialect | None
    mode: StreamMode | None = None
    stream_id: str | None = None
    escrow_id: str | None = None
    tranche_fee: Decimal | None = None
    """Tranche mode: the 1% each tranche pays on release (every tranche pays its own)."""
    balance_before: Decimal | None = None
    """The paying agent's casino balance as last read (``None`` when it could not be read)."""
    balance_after: Decimal | None = None
    owed: Decimal | None = None
    """What the stream owes at preview time."""
    owed_after: Decimal | None = None
    """What stays owed after this action (tranche remainders, or a close's leftover)."""
    refund: Decimal | None = None
    """Money that comes back to the payer (native close: the remainder; 0 when none)."""
    stream_version: str | None = None
    notes: tuple[str, ...] = ()
    """Plain-language consequences ("the timeout refunds $0.99 to you at 14:00")."""
    choices: tuple[CloseChoice, ...] = ()
    """Non-empty when the intent must say what to do with an unearned tranche."""
    created_at: float = 0.0
    """When the preview was made (what is owed was computed at this instant)."""
    stake: EscrowStake | None = None
    """The funds at stake in the escrow acted on, read fresh for this preview, and what its
    timeout will do (``None``: no escrow yet, an open or a faucet claim)."""
    terms: StreamTerms | None = None
    """The stream's payee, rate, unit, budget, batch and whole-budget fee (``None``: no stream)."""
    escrow_version: str | None = None
    """The version of that read: execute re-reads the escrow and refuses, sending nothing, when
    it differs."""

    @property
    def needs_choice(self) -> bool:
        """A tranche close whose unearned tranche has no decision yet: not executable."""
        return (
            bool(self.choices)
            and isinstance(self.intent, CloseStream)
            and self.intent.unearned is None
        )


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """Where one request ended up."""

    seq: int
    key: str
    op: Op
    state: RequestState
    escrow_id: str | None = None
    response: JsonObject | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What :meth:`execute` (or reconciliation) achieved for one intent."""

    key: str
    kind: ActionKind
    state: RequestState
    """DONE when every request is done; FAILED when one was refused; UNKNOWN while one is
    unsettled."""
    requests: tuple[RequestOutcome, ...] = field(default_factory=tuple)
    message: str = ""

    @property
    def done(self) -> bool:
        """Whether the whole intent went through."""
        return self.state is RequestState.DONE


# ---- errors (each refuses before anything is sent) -----------------------------------------


class ActionError(Exception):
    """A money action was refused; ``str()`` says why in words the operator can act on."""


class ReadOnlyError(ActionError):
    """pf-tui runs read-only (``--read-only`` or ``[ui] read_only``): no money action at all."""


class ActionValidationError(ActionError):
    """An input is not acceptable (bad amount, short reason, unknown stream...)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        """The intent field at fault, so the dialog can put the cursor there."""


class LimitExceededError(ActionValidationError):
    """The amount is over ``[ui] max_action_usd``; refused before any request."""


class ActionInFlightError(ActionError):
    """Another action on the same stream (or escrow, or faucet) is still running or unresolved."""


class StalePreviewError(ActionError):
    """The stream or escrow changed since the preview was made: preview again before
    confirming. Nothing was sent."""


class BrakeEngagedError(ActionError):
    """The stop-all brake is on: no money action is sent by any pf-tui process on this store
    until it is lifted."""


class UnknownStreamError(ActionValidationError):
    """No stream with that id in the store."""
