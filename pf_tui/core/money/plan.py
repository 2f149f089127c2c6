"""From a validated intent to the exact requests it sends, and the money figures the dialog shows.

Pure functions: no I/O, no clock reads (``now`` is passed in). Each ``plan_*`` function returns
the :class:`ActionPreview` and, per request, the stream bookkeeping that request implies once it
is done (``meta``), which the journal keeps so that a crash can be finished from the journal
alone; and the change to the stream record that is journaled with the intent (``begin``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from pf_tui.api.errors import plain_text
from pf_tui.api.models import Dialect
from pf_tui.core.money.journal import RequestMeta, StreamEffect, request_key, tag_for
from pf_tui.core.money.routes import route
from pf_tui.core.money.streams import Stream, plan_tranches
from pf_tui.core.money.types import (
    ActionPreview,
    ActionValidationError,
    ClaimFaucet,
    CloseChoice,
    CloseStream,
    EscrowRef,
    EscrowTarget,
    Intent,
    JsonObject,
    Op,
    OpenStream,
    PlannedRequest,
    ReleasePartial,
    StreamMode,
    StreamState,
    StreamTerms,
)
from pf_tui.text import plural
from pf_tui.usd import fee_of, format_usd, to_wire

FAUCET_GRANT = Decimal(1)
"""What a successful faucet claim credits (docs/api.md §4)."""


def with_tag(text: str, tag: str) -> str:
    """A description/memo carrying the ``pf:`` tag (appended, space-separated)."""
    text = plain_text(text, limit=200)
    return f"{text} {tag}" if text else f"pf-tui stream {tag}"


@dataclass(frozen=True, slots=True)
class _Step:
    """One request of an intent before the intent's request count (and so its keys) is known."""

    op: Op
    escrow: EscrowTarget | None
    body: JsonObject | None
    amount: Decimal | None
    meta: RequestMeta


@dataclass
class RequestBuilder:
    """Accumulates the requests of one intent; keys and tags are numbered once the count is
    known. ``prior_state`` goes into every request's meta: where a refusal puts the stream back.
    """

    intent_key: str
    prior_state: StreamState | None = None
    steps: list[_Step] = field(default_factory=list)

    def add(
        self,
        op: Op,
        escrow: EscrowTarget | None,
        body: JsonObject | None,
        amount: Decimal | None,
        meta: RequestMeta,
    ) -> int:
        """Add a request; its ``seq`` (1-based)."""
        self.steps.append(_Step(op, escrow, body, amount, meta))
        return len(self.steps)

    def build(
        self, final_state: StreamState | None = None
    ) -> tuple[tuple[PlannedRequest, ...], dict[int, RequestMeta]]:
        """The requests in send order and each one's meta; ``final_state`` is where the stream
        ends once the last request is done."""
        total = len(self.steps)
        requests: list[PlannedRequest] = []
        metas: dict[int, RequestMeta] = {}
        for seq, step in enumerate(self.steps, start=1):
            body, tag = step.body, None
            if step.op.creates and body is not None:
                tag = tag_for(self.intent_key, seq, total)
                text_field = "description" if step.op is Op.CLASSIC_CREATE else "memo"
                body = {**body, text_field: with_tag(str(body.get(text_field, "")), tag)}
            service, method, path = route(step.op, step.escrow)
            requests.append(
                PlannedRequest(
                    seq=seq,
                    key=request_key(self.intent_key, seq, total),
                    op=step.op,
                    service=service,
                    method=method,
                    path=path,
                    body=body,
                    escrow=step.escrow,
                    amount=step.amount,
                    tag=tag,
                )
            )
            meta = step.meta
            if final_state is not None and seq == total:
                meta = {**meta, "final_state": final_state.value}
            if self.prior_state is not None:
                meta = {**meta, "prior_state": self.prior_state.value}
            metas[seq] = meta
        return tuple(requests), metas


def _classic_create(stream: Stream, amount: Decimal) -> JsonObject:
    return {
        "counterparty_agent_id": stream.payee,
        "amount_usd": amount,
        "description": stream.memo,
        "timeout_hours": stream.timeout_hours,
    }


StreamChange = Callable[[Stream, float], Stream]
"""A change to a stream record, given the record and the instant it is written."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A preview and the per-request bookkeeping the journal keeps with it."""

    preview: ActionPreview
    meta: dict[int, RequestMeta]
    stream: Stream | None = None
    """The stream record to create (open) or the one acted on."""
    begin: StreamChange | None = None
    """The change to ``stream`` written in the same transaction as the journal rows (an open
    creates the record; a close marks it closing)."""
    event: str = ""
    """A ``stream_events`` entry written with ``begin`` (an adoption: ``adopted``)."""


def preview_of(
    intent: Intent,
    key: str,
    agent_id: str,
    requests: tuple[PlannedRequest, ...],
    *,
    amount: Decimal,
    fee: Decimal,
    payee_nets: Decimal,
    dialect: Dialect | None,
    balance: Decimal | None,
    change: Decimal,
    notes: Iterable[str],
) -> ActionPreview:
    """What every preview shows: the money that moves, its fee, what the payee nets, and the
    paying agent's balance before and after (``change``: what this action adds to it, negative
    when it pays out). The rest of a preview (stream, escrow, stake) is ``replace``d in."""
    return ActionPreview(
        key=key,
        kind=intent.kind,
        intent=intent,
        agent_id=agent_id,
        requests=requests,
        amount=amount,
        fee=fee,
        payee_nets=payee_nets,
        dialect=dialect,
        balance_before=balance,
        balance_after=None if balance is None else balance + change,
        notes=tuple(notes),
    )


def stream_created(stream: Stream, now: float) -> Stream:
    """A new stream's record, stamped with the instant its open is journaled."""
    return replace(stream, created_at=now, updated_at=now)


def _closing(stream: Stream, now: float) -> Stream:
    """A close on its way: no other action until it settles."""
    return replace(stream, state=StreamState.CLOSING, updated_at=now)


def _closed(stream: Stream, now: float) -> Stream:
    """A close with nothing to send: closed at once."""
    return replace(stream, state=StreamState.CLOSED, active_since=None, updated_at=now)


def stream_terms(stream: Stream) -> StreamTerms:
    """The terms a confirmation shows: payee, rate, unit, budget, batch, whole-budget fee."""
    if stream.mode is StreamMode.TRANCHE and stream.batch > 0:
        whole, rest = divmod(stream.budget, stream.batch)
        fee_total = fee_of(stream.batch) * int(whole) + (fee_of(rest) if rest else Decimal(0))
        batch = stream.batch
    else:
        fee_total = fee_of(stream.budget)
        batch = stream.budget
    return StreamTerms(
        payee=stream.payee,
        rate=stream.rate,
        unit=stream.unit,
        budget=stream.budget,
        batch=batch,
        fee_total=fee_total,
    )


def plan_open(intent: OpenStream, key: str, stream: Stream, balance: Decimal | None) -> Planned:
    """Open: one create (native: the whole budget; tranche: the first batch)."""
    # A refused create leaves the new record closed: it never held money.
    b = RequestBuilder(key, prior_state=StreamState.CLOSED)
    funded: RequestMeta
    if intent.mode is StreamMode.NATIVE:
        amount = stream.budget
        body: JsonObject = {
            "to_agent_id": stream.payee,
            "amount": to_wire(amount),
            "memo": stream.memo,
            "auto_release_hours": intent.timeout_hours,
        }
        funded = {"effect": StreamEffect.FUNDED, "amount": str(amount)}
        b.add(Op.STREAM_CREATE, None, body, amount, funded)
        notes = (
            f"locks the whole budget {format_usd(amount)}; each release pays 1% commission",
            f"if left alone, the remainder pays the payee after {intent.timeout_hours} h",
        )
        tranche_fee = None
    else:
        amount = min(stream.batch, stream.budget)
        body = {
            "counterparty_agent_id": stream.payee,
            "amount_usd": amount,
            "description": stream.memo,
            "timeout_hours": intent.timeout_hours,
        }
        funded = {"effect": StreamEffect.FUNDED, "amount": str(amount)}
        b.add(Op.CLASSIC_CREATE, None, body, amount, funded)
        tranche_fee = fee_of(amount)
        notes = (
            f"funds one tranche of {format_usd(amount)} ahead; each tranche pays its own 1% "
            f"({format_usd(tranche_fee, dp=6)})",
            f"a tranche left alone refunds you (less 1%) after {intent.timeout_hours} h",
        )
    requests, meta = b.build()
    preview = replace(
        preview_of(
            intent,
            key,
            stream.agent_id,
            requests,
            amount=amount,
            fee=Decimal(0),
            payee_nets=Decimal(0),
            dialect=intent.mode.dialect,
            balance=balance,
            change=-amount,
            notes=notes,
        ),
        mode=intent.mode,
        stream_id=stream.id,
        tranche_fee=tranche_fee,
        owed=Decimal(0),
        owed_after=Decimal(0),
        refund=Decimal(0),
        stream_version=stream.version,
        terms=stream_terms(stream),
    )
    return Planned(preview, meta, stream, begin=stream_created)


def _release_meta(amount: Decimal, owed_left: Decimal, now: float) -> RequestMeta:
    return {
        "effect": StreamEffect.RELEASED,
        "amount": str(amount),
        "owed_left": str(owed_left),
        "checkpoint": repr(now),
    }


@dataclass(frozen=True, slots=True)
class _Figures:
    """What one release or close moves, for its preview."""

    released: Decimal
    """Gross released to the payee."""
    fees: Decimal
    debited: Decimal
    """New money leaving the payer's balance (tranches funded by this action)."""
    owed_after: Decimal
    refund: Decimal = Decimal(0)


def _stream_preview(
    intent: ReleasePartial | CloseStream,
    key: str,
    stream: Stream,
    requests: tuple[PlannedRequest, ...],
    figures: _Figures,
    *,
    owed: Decimal,
    balance: Decimal | None,
    tranche_fee: Decimal | None,
    notes: list[str],
    choices: tuple[CloseChoice, ...] = (),
) -> ActionPreview:
    """The preview of an action that pays out of an existing stream (a release or a close)."""
    return replace(
        preview_of(
            intent,
            key,
            stream.agent_id,
            requests,
            amount=figures.released,
            fee=figures.fees,
            payee_nets=figures.released - figures.fees,
            dialect=stream.dialect,
            balance=balance,
            change=figures.refund - figures.debited,
            notes=notes,
        ),
        mode=stream.mode,
        stream_id=stream.id,
        escrow_id=stream.escrow_id,
        tranche_fee=tranche_fee,
        owed=owed,
        owed_after=figures.owed_after,
        refund=figures.refund,
        stream_version=stream.version,
        choices=choices,
        terms=stream_terms(stream),
    )


def _tranche_steps(
    b: RequestBuilder,
    stream: Stream,
    owed: Decimal,
    now: float,
    keep_funded: bool,
    extra: Decimal = Decimal(0),
) -> tuple[_Figures, Decimal | None, int]:
    """Add a tranche plan's requests paying ``owed`` in whole tranches; ``extra`` is owed beyond
    what this action pays and stays owed. Returns (figures, funded_after, releases)."""
    tp = plan_tranches(stream, owed, keep_funded=keep_funded)
    current: EscrowTarget | None = stream.escrow_id if stream.funded > 0 else None
    left, fees, debited = owed, Decimal(0), Decimal(0)
    for step in tp.steps:
        if step.op is Op.CLASSIC_CREATE:
            seq = b.add(
                Op.CLASSIC_CREATE,
                None,
                _classic_create(stream, step.amount),
                step.amount,
                {"effect": StreamEffect.FUNDED, "amount": str(step.amount)},
            )
            current = EscrowRef(seq)
            debited += step.amount
        else:
            left -= step.amount
            fees += fee_of(step.amount)
            b.add(
                Op.CLASSIC_RELEASE,
                current,
                None,
                step.amount,
                _release_meta(step.amount, left + extra, now),
            )
            current = None
    figures = _Figures(tp.released, fees, debited, owed - tp.released + extra)
    return figures, tp.funded_after, tp.releases


def plan_release(
    intent: ReleasePartial,
    key: str,
    stream: Stream,
    owed: Decimal,
    balance: Decimal | None,
    now: float,
    accrued: Decimal | None = None,
) -> Planned:
    """Release: native ``release-partial`` of ``owed``; tranche: whole tranches of it, then fund
    one ahead. ``accrued`` is what the stream owes in all when the operator pays a different
    amount: what this release does not pay of it stays owed."""
    b = RequestBuilder(key, prior_state=stream.state)
    notes: list[str] = []
    tranche_fee = None
    extra = max(Decimal(0), accrued - owed) if accrued is not None else Decimal(0)
    if stream.mode is StreamMode.NATIVE:
        if stream.escrow_id is None or stream.funded <= 0:
            raise ActionValidationError("the stream's escrow holds nothing more to release")
        if owed > stream.funded:
            raise ActionValidationError(
                f"{format_usd(owed, dp=6)} owed is more than the "
                f"{format_usd(stream.funded, dp=6)} left in the escrow",
                field="amount",
            )
        body: JsonObject = {"amount": to_wire(owed), "memo": stream.memo}
        b.add(
            Op.STREAM_RELEASE_PARTIAL,
            stream.escrow_id,
            body,
            owed,
            _release_meta(owed, extra, now),
        )
        figures = _Figures(owed, fee_of(owed), Decimal(0), extra)
        if extra > 0:
            notes.append(f"{format_usd(extra, dp=6)} stays owed")
    else:
        figures, _funded, releases = _tranche_steps(
            b, stream, owed, now, keep_funded=True, extra=extra
        )
        if releases == 0:
            raise ActionValidationError(
                f"{format_usd(owed, dp=6)} owed is less than one tranche "
                f"({format_usd(stream.funded or stream.batch)}); "
                "a tranche stream pays whole tranches",
                field="amount",
            )
        tranche_fee = fee_of(stream.batch)
        each = "each paying its own" if releases != 1 else "paying its"
        notes.append(f"{plural(releases, 'tranche')}, {each} 1% fee")
        if figures.owed_after > 0:
            notes.append(f"{format_usd(figures.owed_after, dp=6)} stays owed (less than a tranche)")
    requests, meta = b.build()
    preview = _stream_preview(
        intent,
        key,
        stream,
        requests,
        figures,
        owed=owed if accrued is None else accrued,
        balance=balance,
        tranche_fee=tranche_fee,
        notes=notes,
    )
    return Planned(preview, meta, stream)


def plan_close(
    intent: CloseStream,
    key: str,
    stream: Stream,
    owed: Decimal,
    balance: Decimal | None,
    now: float,
) -> Planned:
    """Close: pay what is owed, then stop (native ``close``; tranche: the unearned-tranche
    choice)."""
    b = RequestBuilder(key, prior_state=stream.state)
    notes: list[str] = []
    choices: tuple[CloseChoice, ...] = ()
    tranche_fee = None
    final = StreamState.CLOSED
    if stream.mode is StreamMode.NATIVE:
        pay = min(owed, stream.funded)
        refund = Decimal(0)
        if pay > 0:
            b.add(
                Op.STREAM_RELEASE_PARTIAL,
                stream.escrow_id,
                {"amount": to_wire(pay), "memo": stream.memo},
                pay,
                _release_meta(pay, Decimal(0), now),
            )
        if stream.escrow_id is not None and stream.funded - pay > 0:
            b.add(Op.STREAM_CLOSE, stream.escrow_id, {}, None, {"effect": StreamEffect.CLOSED})
            refund = stream.funded - pay
            notes.append(f"close refunds the remaining {format_usd(refund, dp=6)} to the payer")
        fees = fee_of(pay) if pay > 0 else Decimal(0)
        figures = _Figures(pay, fees, Decimal(0), owed - pay, refund)
    else:
        figures, funded_after, _ = _tranche_steps(b, stream, owed, now, keep_funded=False)
        tranche_fee = fee_of(stream.batch)
        if funded_after is not None and stream.escrow_id is not None:
            choices = tuple(CloseChoice)
            figures, final = _unearned_tranche(
                b, intent, stream.escrow_id, funded_after, figures, notes, now
            )
        if figures.owed_after > 0:
            notes.append(
                f"{format_usd(figures.owed_after, dp=6)} owed stays unpaid (less than a tranche)"
            )
    requests, meta = b.build(final_state=final)
    preview = _stream_preview(
        intent,
        key,
        stream,
        requests,
        figures,
        owed=owed,
        balance=balance,
        tranche_fee=tranche_fee,
        notes=notes,
        choices=choices,
    )
    return Planned(preview, meta, stream, begin=_closing if requests else _closed)


def _unearned_tranche(
    b: RequestBuilder,
    intent: CloseStream,
    escrow_id: str,
    funded: Decimal,
    figures: _Figures,
    notes: list[str],
    now: float,
) -> tuple[_Figures, StreamState]:
    """A tranche close with a funded tranche not earned in full: what the operator chose."""
    left = figures.owed_after
    if intent.unearned is None:
        notes.append(
            f"the funded tranche of {format_usd(funded, dp=6)} is not earned in full "
            f"({format_usd(left, dp=6)} owed): choose overpay, dispute or leave"
        )
    elif intent.unearned is CloseChoice.OVERPAY:
        b.add(Op.CLASSIC_RELEASE, escrow_id, None, funded, _release_meta(funded, Decimal(0), now))
        notes.append(f"overpays {format_usd(funded - left, dp=6)} beyond what is owed")
        return (
            replace(
                figures,
                released=figures.released + funded,
                fees=figures.fees + fee_of(funded),
                owed_after=Decimal(0),
            ),
            StreamState.CLOSED,
        )
    elif intent.unearned is CloseChoice.DISPUTE:
        b.add(
            Op.CLASSIC_DISPUTE,
            escrow_id,
            {"reason": intent.reason},
            None,
            {"effect": StreamEffect.DISPUTED},
        )
        notes.append(f"freezes {format_usd(funded, dp=6)} until the dispute is resolved by hand")
        return figures, StreamState.DISPUTED
    else:
        notes.append(
            f"sends nothing for the funded tranche: its timeout refunds you "
            f"{format_usd(funded - fee_of(funded), dp=6)} (less 1%)"
        )
    return figures, StreamState.CLOSED


def plan_faucet(intent: ClaimFaucet, key: str, balance: Decimal | None) -> Planned:
    """Claim the faucet's dollar."""
    b = RequestBuilder(key)
    body: JsonObject = {"agent_casino_id": intent.agent_id}
    if intent.referral_code:
        body["referral_code"] = intent.referral_code
    b.add(Op.FAUCET_CLAIM, None, body, FAUCET_GRANT, {})
    requests, metas = b.build()
    preview = preview_of(
        intent,
        key,
        intent.agent_id,
        requests,
        amount=FAUCET_GRANT,
        fee=Decimal(0),
        payee_nets=FAUCET_GRANT,
        dialect=None,
        balance=balance,
        change=FAUCET_GRANT,
        notes=(
            "one claim per agent, and one per IP address a day; 'not claimable' is not a failure",
        ),
    )
    return Planned(preview, metas)
