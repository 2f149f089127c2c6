"""Drive a journaled intent to a settled state: send, retry with the same key, reconcile.

docs/api.md §5 has the rules this follows.

The runner works from the journal alone, so the same code finishes an intent right after the
operator confirmed it and after a crash. Per request:

- ``journaled``: never left; send it.
- ``sent``/``unknown``: it may have executed. A classic ``create`` (production ignores the key) is
  looked up by its ``pf:`` tag among the escrows in the casino ledger; found means done, absent
  (with the ledger window still reaching back to before the send) means resend, otherwise it
  stays ``unknown`` with the evidence. Every other request is resent with the same key: the docs
  dialect and the faucet replay, and a classic release/complete/dispute that already happened
  answers 409, which a ``GET`` turns into "already done".
- 429 waits (``Retry-After`` or backoff) and resends; a lost reply, 5xx or garbled 2xx is an
  unknown outcome; any other 4xx is a refusal (``failed``: nothing moved), and the intent's later
  requests are ``skipped``.

Every wait goes through the injected clock.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal

from pf_tui.api.errors import (
    APIConnectionError,
    APIStatusError,
    ConflictError,
    InternalServerError,
    PurpleFleaError,
    RateLimitError,
    ResponseDecodeError,
)
from pf_tui.api.fields import timestamp
from pf_tui.api.models import Dialect, EscrowStatus
from pf_tui.clock import Clock
from pf_tui.core.money.journal import Journal, JournalRow, RequestMeta, StreamEffect
from pf_tui.core.money.routes import route
from pf_tui.core.money.streams import Stream, StreamBook
from pf_tui.core.money.types import (
    ActionKind,
    ActionResult,
    EscrowRef,
    JsonObject,
    Op,
    RequestOutcome,
    RequestState,
    StreamMode,
    StreamState,
)
from pf_tui.core.money.wire import MoneyWire

LEDGER_WINDOW = 50
"""The casino ledger shows the 50 newest rows (docs/api.md §2)."""
_ESCROW_ID = re.compile(r"^(esc_[0-9A-Za-z]+)")

_TARGET: dict[Op, frozenset[EscrowStatus]] = {
    Op.CLASSIC_RELEASE: frozenset({EscrowStatus.RELEASED}),
    Op.CLASSIC_COMPLETE: frozenset({EscrowStatus.COMPLETED}),
    Op.CLASSIC_DISPUTE: frozenset({EscrowStatus.DISPUTED}),
    Op.STREAM_DISPUTE: frozenset({EscrowStatus.DISPUTED}),
    Op.STREAM_CLOSE: frozenset({EscrowStatus.CLOSED}),
}
"""Where a 409 on a resend means "already done": the escrow already is in one of these states."""

Checkpoint = Callable[[str], None]
HELD_BY_BRAKE = "held by the brake: not sent; it goes out once the brake is lifted"


def tag_matches(text: str, tag: str) -> bool:
    """Whether ``text`` carries exactly ``tag`` (``pf:1a2b3c4d/1`` does not match ``.../12``)."""
    return re.search(rf"(?<!\S){re.escape(tag)}(?!\S)", text) is not None


class _Outcome(Exception):
    """Internal: the request settled (raised out of the retry loop)."""

    def __init__(self, state: RequestState) -> None:
        super().__init__(state.value)
        self.state = state


class IntentRunner:
    """Sends and reconciles journaled intents."""

    def __init__(
        self,
        journal: Journal,
        book: StreamBook,
        wire: MoneyWire,
        clock: Clock,
        *,
        max_attempts: int = 12,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        rng: random.Random | None = None,
        checkpoint: Checkpoint | None = None,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self.journal = journal
        self.book = book
        self.wire = wire
        self.clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.rng = rng or random.Random()
        self.checkpoint: Checkpoint = checkpoint or (lambda _name: None)
        self.may_send: Callable[[], bool] = may_send or (lambda: True)
        """False while the stop-all brake is on: checked before every send, so an intent that
        was running when the brake was engaged sends nothing more."""

    # ---- intents ------------------------------------------------------------------------------

    async def drive(self, intent: str) -> ActionResult:
        """Take every request of ``intent`` as far as it can go; the intent's state."""
        rows = self.journal.rows(intent)
        created = {r.seq: r.server_ref for r in rows if r.op.creates and r.server_ref}
        failed = False
        for row in rows:
            if failed:
                if row.state is RequestState.JOURNALED:
                    self.journal.mark(
                        row.key,
                        RequestState.SKIPPED,
                        self.clock.now(),
                        error="an earlier request of this action failed",
                    )
                continue
            if row.state is RequestState.DONE:
                continue
            if row.state in (RequestState.FAILED, RequestState.SKIPPED):
                failed = True
                continue
            state = await self._settle(row, created)
            if state is RequestState.DONE:
                done = self.journal.rows(intent)[row.seq - 1]
                if done.op.creates and done.server_ref:
                    created[row.seq] = done.server_ref
            elif state is RequestState.FAILED:
                failed = True
                self._revert_stream(row)
            else:
                break
        return self.result(intent)

    def result(self, intent: str) -> ActionResult:
        """The intent's state as the journal has it."""
        rows = self.journal.rows(intent)
        outcomes = tuple(
            RequestOutcome(r.seq, r.key, r.op, r.state, r.server_ref, r.response, r.error)
            for r in rows
        )
        states = {r.state for r in rows}
        if states <= {RequestState.DONE}:
            state, message = RequestState.DONE, "done"
        elif states & {RequestState.JOURNALED, RequestState.SENT, RequestState.UNKNOWN}:
            state = RequestState.UNKNOWN
            message = (
                "outcome not known yet: it is reconciled on the next poll "
                "(same key, never a new one)"
            )
            if not self.may_send():
                message = HELD_BY_BRAKE
        else:
            state = RequestState.FAILED
            message = next(
                (r.error for r in rows if r.state is RequestState.FAILED and r.error), "refused"
            )
        kind = rows[0].kind if rows else ActionKind.RELEASE_PARTIAL
        return ActionResult(intent, kind, state, outcomes, message)

    # ---- one request --------------------------------------------------------------------------

    async def _settle(self, row: JournalRow, created: Mapping[int, str]) -> RequestState:
        target = row.escrow
        if isinstance(target, EscrowRef):
            target = created.get(target.seq)
            if target is None:  # the earlier create is not done: nothing to act on yet
                return RequestState.UNKNOWN
        _service, _method, path = route(row.op, target)
        state = row.state
        # Whether a send of this request may have reached the server: one from before (a crash
        # or a lost reply) or one of the attempts below that ended unknown. Only then can a 409
        # "already claimed" be our own claim; before the first send it is somebody else's.
        may_have_run = state is not RequestState.JOURNALED
        last_error = "no attempt made"
        try:
            for attempt in range(self.max_attempts):
                if attempt:
                    await self._backoff(attempt - 1, None)
                if not self.may_send():
                    return await self._held(row, target, state)
                try:
                    if state is not RequestState.JOURNALED:
                        await self._reconcile_first(row, target, state)
                    meta = await self._before_send(row)
                    self.journal.mark(row.key, RequestState.SENT, self.clock.now(), meta=meta)
                    state = RequestState.SENT
                    self.checkpoint("after_journal")
                    reply = await self.wire.post(row.agent_id, row.planned(), path)
                    self.checkpoint("after_reply")
                    self._done(row, reply, note=None)
                except _Outcome:
                    raise
                except RateLimitError as exc:
                    last_error = str(exc)
                    if row.op is Op.FAUCET_CLAIM and exc.code == "ip_rate_limited":
                        self._fail(row, f"not claimable: {exc}")
                    await self._backoff(attempt, exc.retry_after)
                except ConflictError as exc:
                    last_error = str(exc)
                    if exc.code == "idempotency_in_flight":
                        may_have_run = True
                        continue
                    await self._conflict(row, target, exc, first=not may_have_run)
                except (APIConnectionError, InternalServerError, ResponseDecodeError) as exc:
                    last_error = str(exc)
                    state = RequestState.UNKNOWN
                    may_have_run = True
                except APIStatusError as exc:
                    self._fail(row, str(exc))
                except PurpleFleaError as exc:  # a missing key: nothing can be sent
                    self._fail(row, str(exc))
        except _Outcome as outcome:
            return outcome.state
        self.journal.mark(row.key, RequestState.UNKNOWN, self.clock.now(), error=last_error)
        return RequestState.UNKNOWN

    async def _held(self, row: JournalRow, target: str | None, state: RequestState) -> RequestState:
        """The brake is on: send nothing. A request that never left stays journaled; one that
        may have executed is settled by reads alone (a classic create by its tag, a transition
        by the escrow's state), else it stays unknown until the brake is lifted."""
        if state is RequestState.JOURNALED:
            return RequestState.JOURNALED
        try:
            if row.op is Op.CLASSIC_CREATE:
                found, _covered, _evidence = await self._find_by_tag(row)
                if found is not None:
                    self._done(
                        row, {"escrow_id": found, "reconciled_by": "tag"}, note="found by tag"
                    )
            targets = _TARGET.get(row.op)
            dialect = row.op.dialect
            if targets is not None and target is not None and dialect is not None:
                escrow = await self.wire.escrow(row.agent_id, target, dialect)
                if escrow.status in targets:
                    self._done(
                        row,
                        {"escrow_id": target, "status": escrow.status.value},
                        note="already done",
                    )
        except _Outcome as outcome:
            return outcome.state
        except PurpleFleaError as exc:
            self.journal.mark(row.key, RequestState.UNKNOWN, self.clock.now(), error=str(exc))
            return RequestState.UNKNOWN
        self.journal.mark(row.key, RequestState.UNKNOWN, self.clock.now(), error=HELD_BY_BRAKE)
        return RequestState.UNKNOWN

    async def _reconcile_first(
        self, row: JournalRow, target: str | None, state: RequestState
    ) -> None:
        """Before resending something that may have executed: settle it if it did."""
        if row.op is not Op.CLASSIC_CREATE:
            return  # resending with the same key is safe (replay, or 409 read as "already done")
        found, covered, evidence = await self._find_by_tag(row)
        if found is not None:
            self._done(row, {"escrow_id": found, "reconciled_by": "tag"}, note="found by its tag")
        if not covered:
            self.journal.mark(row.key, RequestState.UNKNOWN, self.clock.now(), error=evidence)
            raise _Outcome(RequestState.UNKNOWN)

    async def _before_send(self, row: JournalRow) -> RequestMeta | None:
        """For a classic create: the ledger ids before sending (how far the lookup must reach)."""
        if row.op is not Op.CLASSIC_CREATE:
            return None
        entries = await self.wire.ledger(row.agent_id)
        return {
            "ledger_ids": sorted(e.id for e in entries),
            "ledger_full": len(entries) >= LEDGER_WINDOW,
        }

    async def _find_by_tag(self, row: JournalRow) -> tuple[str | None, bool, str]:
        """``(escrow id or None, window covers the send, evidence)`` for a classic create."""
        entries = await self.wire.ledger(row.agent_id)
        before = set(row.meta.get("ledger_ids") or ())
        ids_now = {e.id for e in entries}
        covered = bool(before & ids_now) if before else len(entries) < LEDGER_WINDOW
        known = self.journal.known_escrows(row.agent_id)
        for entry in entries:
            if entry.type != "escrow_lock" or entry.id in before:
                continue
            match = _ESCROW_ID.match(entry.reference or "")
            if match is None or match.group(1) in known:
                continue
            if row.amount is not None and abs(entry.amount) != row.amount:
                continue
            escrow = await self.wire.escrow(row.agent_id, match.group(1), Dialect.CLASSIC)
            if row.tag and tag_matches(escrow.description, row.tag):
                return escrow.escrow_id, True, ""
        evidence = (
            f"no escrow tagged {row.tag} in the ledger's {len(entries)} newest rows, and the "
            "window no longer reaches back to when it was sent: check the balance before and "
            "after by hand"
        )
        return None, covered, evidence

    async def _conflict(
        self, row: JournalRow, target: str | None, exc: ConflictError, *, first: bool
    ) -> None:
        """409: "already done" when a GET shows the escrow in the request's target state. A
        faucet's ``already_claimed`` is our own claim only when an earlier send may have run
        (``first`` false): on a first send it is a refusal, and nothing was paid."""
        if row.op is Op.FAUCET_CLAIM and exc.code == "already_claimed":
            if first:
                self._fail(row, f"not claimable: {exc}; nothing was paid")
            self._done(
                row,
                {"credited": None, "note": "already_claimed"},
                note="already claimed (a lost reply)",
            )
        targets = _TARGET.get(row.op)
        dialect = row.op.dialect
        if targets is not None and target is not None and dialect is not None:
            escrow = await self.wire.escrow(row.agent_id, target, dialect)
            if escrow.status in targets:
                self._done(
                    row, {"escrow_id": target, "status": escrow.status.value}, note="already done"
                )
            self._fail(row, f"{exc} (the escrow is {escrow.status.value})")
        self._fail(row, str(exc))

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None and retry_after <= self.max_delay:
            delay = retry_after
        else:
            ceiling = min(self.max_delay, self.base_delay * (2.0 ** min(attempt, 30)))
            delay = self.rng.uniform(ceiling / 2, ceiling)
        await self.clock.sleep(delay)

    # ---- settling, with the stream effects in the same transaction ---------------------------

    def _fail(self, row: JournalRow, error: str) -> None:
        self.journal.mark(row.key, RequestState.FAILED, self.clock.now(), error=error)
        raise _Outcome(RequestState.FAILED)

    def _done(self, row: JournalRow, reply: JsonObject, *, note: str | None) -> None:
        now = self.clock.now()
        escrow_id = reply.get("escrow_id")
        server_ref = str(escrow_id) if row.op.creates and escrow_id else None
        if row.op is Op.FAUCET_CLAIM and reply.get("claim_id"):
            server_ref = str(reply["claim_id"])
        self.journal.mark(
            row.key,
            RequestState.DONE,
            now,
            response=reply,
            error=note,
            server_ref=server_ref,
            escrow_id=str(escrow_id) if escrow_id else None,
            also=lambda: self._apply(row, server_ref, now, reply),
        )
        raise _Outcome(RequestState.DONE)

    def _apply(
        self, row: JournalRow, new_escrow: str | None, now: float, reply: JsonObject
    ) -> None:
        """The stream bookkeeping of a done request (inside the journal's transaction)."""
        if row.stream_id is None:
            return
        stream = self.book.get(row.stream_id)
        meta = row.meta
        effect = meta.get("effect")
        if effect is not None:
            stream = _EFFECTS[StreamEffect(effect)](stream, row, new_escrow, now)
            if effect == StreamEffect.FUNDED:
                stream = replace(stream, timeout_at=_timeout_at(reply, stream, now))
        final = meta.get("final_state")
        if final:
            stream = replace(stream, state=StreamState(final), active_since=None)
        self.book.save(replace(stream, updated_at=max(stream.updated_at, now)))

    def _revert_stream(self, row: JournalRow) -> None:
        """A refused request: the stream goes back to where it was before the intent."""
        if row.stream_id is None:
            return
        prior = row.meta.get("prior_state")
        if not prior:
            return
        with self.journal.transaction():
            stream = self.book.get(row.stream_id)
            self.book.save(
                replace(
                    stream,
                    state=StreamState(prior),
                    updated_at=max(stream.updated_at, self.clock.now()),
                )
            )


def _timeout_at(reply: JsonObject, stream: Stream, now: float) -> float:
    """When a new escrow times out: the create reply's ``auto_release_at``; else (a create
    found by its tag) its timeout hours from now, which is at most the seconds the lookup took
    late."""
    try:
        at = timestamp(reply, "auto_release_at")
    except ResponseDecodeError:
        at = None
    return at.timestamp() if at is not None else now + stream.timeout_hours * 3600


# ---- what a done request does to its stream (one function per StreamEffect) ------------------


def _funded(stream: Stream, row: JournalRow, new_escrow: str | None, now: float) -> Stream:
    """A create is done: the stream's escrow is the new one; an open starts accruing time."""
    amount = Decimal(str(row.meta["amount"]))
    stream = replace(stream, escrow_id=new_escrow, funded=amount, updated_at=now)
    if (
        row.kind is ActionKind.OPEN_STREAM
        and stream.unit.time_based
        and stream.state is StreamState.OPEN
    ):
        stream = replace(stream, active_since=now)
    return stream


def _released(stream: Stream, row: JournalRow, new_escrow: str | None, now: float) -> Stream:
    """A release is done: what it paid leaves what is owed; a spent tranche is let go."""
    meta = row.meta
    stream = StreamBook.after_release(
        stream,
        Decimal(str(meta["amount"])),
        Decimal(str(meta["owed_left"])),
        float(meta["checkpoint"]),
    )
    if stream.mode is StreamMode.TRANCHE and stream.funded <= 0:
        stream = replace(stream, escrow_id=None, funded=Decimal(0))
    return stream


def _closed(stream: Stream, row: JournalRow, new_escrow: str | None, now: float) -> Stream:
    """A native close is done: the escrow holds nothing more."""
    return replace(stream, funded=Decimal(0), state=StreamState.CLOSED, active_since=None)


def _disputed(stream: Stream, row: JournalRow, new_escrow: str | None, now: float) -> Stream:
    """A dispute is done: the stream's money is frozen."""
    return replace(stream, state=StreamState.DISPUTED, active_since=None)


_EFFECTS: dict[StreamEffect, Callable[[Stream, JournalRow, str | None, float], Stream]] = {
    StreamEffect.FUNDED: _funded,
    StreamEffect.RELEASED: _released,
    StreamEffect.CLOSED: _closed,
    StreamEffect.DISPUTED: _disputed,
}
