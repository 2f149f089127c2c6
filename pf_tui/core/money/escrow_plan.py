"""Plans for actions on one escrow, whoever created it: create, release, close, dispute, complete,
adopt.

Pure functions, like :mod:`pf_tui.core.money.plan`: each takes the intent, the escrow as just
read from the server (its own dialect's view) and the figures it needs, checks the escrow is in a
state and the agent in a role the action needs, and returns the exact requests and a preview
with the funds at stake (:func:`~pf_tui.core.money.escrows.stake_of`) and what the timeout will
do afterwards. Which party may do what is docs/api.md §3's table.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from pf_tui.api.models import Dialect, Escrow, EscrowStatus
from pf_tui.core.money.escrows import EscrowStake, remaining_of, stake_of
from pf_tui.core.money.journal import RequestMeta, StreamEffect
from pf_tui.core.money.plan import Planned, RequestBuilder, preview_of
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import (
    ActionPreview,
    ActionValidationError,
    AdoptEscrow,
    CloseEscrow,
    CreateEscrow,
    DisputeEscrow,
    EscrowIntent,
    JsonObject,
    MarkComplete,
    Op,
    PlannedRequest,
    ReleaseEscrow,
    StreamMode,
    StreamOrigin,
    StreamState,
)
from pf_tui.usd import fee_of, format_usd6, to_wire

ZERO = Decimal(0)


def _who(escrow: Escrow, agent_id: str) -> str:
    if agent_id == escrow.creator_id:
        return "creator"
    if agent_id == escrow.counterparty_id:
        return "payee"
    return "not a party"


def require_role(escrow: Escrow, agent_id: str, role: str, action: str) -> None:
    """Refuse unless ``agent_id`` is the escrow's ``role`` (``creator``, ``payee`` or ``party``)."""
    who = _who(escrow, agent_id)
    if role == "party" and who != "not a party":
        return
    if who == role:
        return
    party = {"creator": escrow.creator_id, "payee": escrow.counterparty_id}.get(role)
    whom = f" ({party})" if party else ""
    need = "either party" if role == "party" else f"its {role}{whom}"
    raise ActionValidationError(
        f"only {need} may {action} escrow {escrow.escrow_id}; {agent_id} is {who}",
        field="agent_id",
    )


def require_open(escrow: Escrow, action: str) -> None:
    """Refuse an action on a terminal escrow, naming its state."""
    if escrow.status.terminal:
        raise ActionValidationError(
            f"escrow {escrow.escrow_id} is {escrow.status.value}: nothing to {action}",
            field="escrow_id",
        )


def _check(
    escrow: Escrow,
    agent_id: str,
    role: str,
    action: str,
    *,
    dialect: Dialect | None = None,
    other_dialect: str = "",
    funded: bool = False,
) -> EscrowStake:
    """An action's preconditions, in the order they are told: the ``dialect`` it needs
    (``other_dialect`` says why not), ``agent_id`` in ``role``, the escrow still open and, where
    ``funded``, still funded (not completed). The funds at stake."""
    if dialect is not None and escrow.dialect is not dialect:
        raise ActionValidationError(other_dialect, field="escrow_id")
    require_role(escrow, agent_id, role, action)
    require_open(escrow, action)
    if funded and escrow.status is not EscrowStatus.FUNDED:
        raise ActionValidationError(
            f"escrow {escrow.escrow_id} is {escrow.status.value}, not funded", field="escrow_id"
        )
    return stake_of(escrow)


def _preview(
    intent: EscrowIntent,
    key: str,
    escrow: Escrow,
    requests: tuple[PlannedRequest, ...],
    *,
    stake: EscrowStake,
    amount: Decimal,
    fee: Decimal,
    balance: Decimal | None,
    notes: list[str],
    refund: Decimal = ZERO,
    stream_id: str | None = None,
    stream_version: str | None = None,
) -> ActionPreview:
    return replace(
        preview_of(
            intent,
            key,
            intent.agent_id,
            requests,
            amount=amount,
            fee=fee,
            payee_nets=amount - fee,
            dialect=escrow.dialect,
            balance=balance,
            change=refund,
            notes=notes,
        ),
        stream_id=stream_id,
        escrow_id=escrow.escrow_id,
        refund=refund,
        stream_version=stream_version,
        stake=stake,
        escrow_version=stake.version,
    )


def _plan_one(
    intent: EscrowIntent,
    key: str,
    escrow: Escrow,
    stake: EscrowStake,
    balance: Decimal | None,
    notes: list[str],
    *,
    op: Op,
    target: str,
    body: JsonObject | None = None,
    meta: RequestMeta | None = None,
    final_state: StreamState | None = None,
    refund: Decimal = ZERO,
    stream_id: str | None = None,
    stream_version: str | None = None,
) -> Planned:
    """An action of one request that pays nothing out (close, dispute, complete): ``op`` on
    escrow ``target`` with ``body``, journaled with ``meta``."""
    b = RequestBuilder(key)
    b.add(op, target, body, None, meta or {})
    requests, metas = b.build(final_state=final_state)
    preview = _preview(
        intent,
        key,
        escrow,
        requests,
        stake=stake,
        amount=ZERO,
        fee=ZERO,
        balance=balance,
        notes=notes,
        refund=refund,
        stream_id=stream_id,
        stream_version=stream_version,
    )
    return Planned(preview, metas)


def _left_alone(stake: EscrowStake, now: float) -> str:
    return f"if nothing is done: {stake.timeout.sentence(now)}"


def plan_create_escrow(
    intent: CreateEscrow, key: str, amount: Decimal, balance: Decimal | None
) -> Planned:
    """Create: one request in the intent's dialect, funding ``amount`` (validated) at once."""
    b = RequestBuilder(key)
    memo = intent.memo or "pf-tui escrow"
    body: JsonObject
    if intent.dialect is Dialect.CLASSIC:
        body = {
            "counterparty_agent_id": intent.payee,
            "amount_usd": amount,
            "description": memo,
            "timeout_hours": intent.timeout_hours,
        }
        b.add(Op.CLASSIC_CREATE, None, body, amount, {})
        later = f"if left alone, it refunds you (less 1%) after {intent.timeout_hours} h"
    else:
        body = {
            "to_agent_id": intent.payee,
            "amount": to_wire(amount),
            "memo": memo,
            "auto_release_hours": intent.timeout_hours,
        }
        b.add(Op.STREAM_CREATE, None, body, amount, {})
        later = f"if left alone, it pays the payee (less 1%) after {intent.timeout_hours} h"
    requests, meta = b.build()
    preview = preview_of(
        intent,
        key,
        intent.agent_id,
        requests,
        amount=amount,
        fee=ZERO,
        payee_nets=ZERO,
        dialect=intent.dialect,
        balance=balance,
        change=-amount,
        notes=(
            f"locks {format_usd6(amount)} from your balance until it is released, closed, "
            "disputed or times out; a release pays 1% commission",
            later,
        ),
    )
    return Planned(preview, meta)


def plan_release_escrow(
    intent: ReleaseEscrow,
    key: str,
    escrow: Escrow,
    amount: Decimal | None,
    balance: Decimal | None,
    now: float,
) -> Planned:
    """Release a classic escrow whole, or a streaming one in part or in full (as its creator)."""
    streaming = escrow.dialect is Dialect.STREAMING
    stake = _check(escrow, intent.agent_id, "creator", "release", funded=streaming)
    held = stake.remaining
    b = RequestBuilder(key)
    notes: list[str] = []
    if escrow.dialect is Dialect.CLASSIC:
        if amount is not None and amount != held:
            raise ActionValidationError(
                f"amount: a classic escrow is released whole ({format_usd6(held)}); "
                "leave the amount empty",
                field="amount",
            )
        b.add(Op.CLASSIC_RELEASE, escrow.escrow_id, None, held, {})
        pay = held
        notes.append(
            f"the payee {escrow.counterparty_id} gets {format_usd6(held - fee_of(held))}; "
            "the escrow ends released"
        )
    else:
        pay = held if amount is None else amount
        if pay <= 0 or pay > held:
            raise ActionValidationError(
                f"amount: {format_usd6(pay)} is more than the {format_usd6(held)} it holds",
                field="amount",
            )
        body = {"amount": to_wire(pay), "memo": escrow.description[:200]}
        b.add(Op.STREAM_RELEASE_PARTIAL, escrow.escrow_id, body, pay, {})
        left = held - pay
        if left > 0:
            after = replace(escrow, released=(escrow.released or ZERO) + pay, remaining=left)
            notes.append(f"{format_usd6(left)} stays in the escrow")
            notes.append(f"afterwards: {stake_of(after).timeout.sentence(now)}")
        else:
            notes.append("releases all it holds: the escrow ends released")
    requests, metas = b.build()
    preview = _preview(
        intent,
        key,
        escrow,
        requests,
        stake=stake,
        amount=pay,
        fee=fee_of(pay),
        balance=balance,
        notes=notes,
    )
    return Planned(preview, metas)


def plan_close_escrow(
    intent: CloseEscrow, key: str, escrow: Escrow, balance: Decimal | None, now: float
) -> Planned:
    """Close a streaming escrow (as its creator): what remains goes back to the creator."""
    stake = _check(
        escrow,
        intent.agent_id,
        "creator",
        "close",
        dialect=Dialect.STREAMING,
        other_dialect="a classic escrow has no close: release it, dispute it, or leave it to its "
        "timeout refund",
    )
    notes = [
        f"nothing more is released: {format_usd6(stake.remaining)} goes back to the creator "
        "in full (no fee on a refund)",
        f"instead of: {stake.timeout.sentence(now)}",
    ]
    return _plan_one(
        intent,
        key,
        escrow,
        stake,
        balance,
        notes,
        op=Op.STREAM_CLOSE,
        target=escrow.escrow_id,
        body={},
        refund=stake.remaining,
    )


def plan_dispute(
    intent: DisputeEscrow,
    key: str,
    escrow: Escrow,
    balance: Decimal | None,
    now: float,
    stream: Stream | None = None,
) -> Planned:
    """Dispute one escrow in its dialect (either party); with ``stream`` (the stream it
    belongs to) the stream ends disputed."""
    stake = _check(escrow, intent.agent_id, "party", "dispute")
    op = Op.CLASSIC_DISPUTE if escrow.dialect is Dialect.CLASSIC else Op.STREAM_DISPUTE
    disputed: RequestMeta = {"effect": StreamEffect.DISPUTED} if intent.stream_id else {}
    notes = [
        f"freezes {format_usd6(stake.remaining)} until the dispute is resolved by hand: no "
        "release and no timeout moves it",
        f"instead of: {stake.timeout.sentence(now)}",
    ]
    return _plan_one(
        intent,
        key,
        escrow,
        stake,
        balance,
        notes,
        op=op,
        target=intent.escrow_id,
        body={"reason": intent.reason},
        meta=disputed,
        final_state=StreamState.DISPUTED if intent.stream_id else None,
        stream_id=intent.stream_id,
        stream_version=stream.version if stream is not None else None,
    )


def plan_complete(
    intent: MarkComplete, key: str, escrow: Escrow, balance: Decimal | None, now: float
) -> Planned:
    """Mark a classic escrow complete (as its payee)."""
    stake = _check(
        escrow,
        intent.agent_id,
        "payee",
        "mark complete",
        dialect=Dialect.CLASSIC,
        other_dialect="only a classic escrow is marked complete (a streaming one is released "
        "in parts)",
        funded=True,
    )
    notes = [
        "moves no money: the creator still has to release it",
        f"even after complete, {stake.timeout.sentence(now)}",
    ]
    return _plan_one(
        intent, key, escrow, stake, balance, notes, op=Op.CLASSIC_COMPLETE, target=intent.escrow_id
    )


def adopted_stream(
    intent: AdoptEscrow, escrow: Escrow, stream_id: str, rate: Decimal, now: float
) -> Stream:
    """The stream record an adoption creates: backed by ``escrow``, owing from ``now``."""
    native = escrow.dialect is Dialect.STREAMING
    held = remaining_of(escrow)
    released = escrow.released or ZERO
    return Stream(
        id=stream_id,
        agent_id=intent.agent_id,
        payee=str(escrow.counterparty_id),
        mode=StreamMode.NATIVE if native else StreamMode.TRANCHE,
        rate=rate,
        unit=intent.unit,
        budget=escrow.amount,
        batch=escrow.amount if not native else held,
        released=released,
        escrow_id=escrow.escrow_id,
        funded=held,
        carry=ZERO,
        state=StreamState.OPEN,
        memo=escrow.description[:200],
        active_since=now if intent.unit.time_based else None,
        last_release_at=None,
        created_at=now,
        updated_at=now,
        timeout_hours=escrow.timeout_hours or 24,
        timeout_at=escrow.auto_release_at.timestamp() if escrow.auto_release_at else None,
        origin=StreamOrigin.ADOPTED,
    )


def stream_adopted(stream: Stream, now: float) -> Stream:
    """An adopted stream's record as journaled: it starts owing from this instant."""
    since = now if stream.unit.time_based else None
    return replace(stream, created_at=now, updated_at=now, active_since=since)


def plan_adopt(
    intent: AdoptEscrow,
    key: str,
    escrow: Escrow,
    stream: Stream,
    balance: Decimal | None,
    now: float,
) -> Planned:
    """Adopt an agent's escrow as a pf-tui stream: nothing is sent, the record starts owing."""
    streaming = escrow.dialect is Dialect.STREAMING
    stake = _check(escrow, intent.agent_id, "creator", "adopt", funded=streaming)
    if escrow.counterparty_id is None:
        raise ActionValidationError(
            f"escrow {escrow.escrow_id} does not say who its payee is", field="escrow_id"
        )
    rate = f"{format_usd6(stream.rate)}/{stream.unit.value}"
    if stream.mode is StreamMode.NATIVE:
        how = "releases pay out of it in parts; close returns the rest to the creator"
    else:
        how = (
            "it is one tranche: a release pays it whole once that much is owed; close offers "
            "to overpay, dispute or leave it"
        )
    notes = [
        f"nothing is sent: pf-tui tracks what is owed at {rate} from now, backed by escrow "
        f"{escrow.escrow_id} ({how})",
        f"pausing it stops pf-tui releasing, not the server: {stake.timeout.sentence(now)}",
    ]
    preview = _preview(
        intent,
        key,
        escrow,
        (),
        stake=stake,
        amount=ZERO,
        fee=ZERO,
        balance=balance,
        notes=notes,
        stream_id=stream.id,
        stream_version=stream.version,
    )
    preview = replace(preview, mode=stream.mode, owed=ZERO, owed_after=ZERO)
    return Planned(preview, {}, stream, begin=stream_adopted, event="adopted")
