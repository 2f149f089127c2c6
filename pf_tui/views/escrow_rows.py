"""One Escrows-tab row from the server's record of an escrow and pf-tui's record of it.

Pure functions, used by :class:`~pf_tui.views.feed.FleetFeed`:

- :func:`escrow_row`: an escrow's row. Its state merges the server's state with pf-tui's
  (:func:`merged_state`: a paused stream reads ``paused``, an action whose outcome is not known
  ``unknown``, a close on its way ``closing``); a stream's budget, paid and remaining cover the
  whole stream (every tranche), not the escrow holding its current tranche; what the timeout
  will do comes from :func:`~pf_tui.core.money.escrows.timeout_outcome`.
- :func:`stream_row`: a live stream that holds no escrow now (a tranche stream between
  tranches), so no stream is ever off the screen.
- :func:`offers_for`: which actions a row allows and which agent's key acts.
- :class:`FinishedRows`: finished escrows kept for 24 hours with their outcome and amounts.
- :func:`intent_for`: the intent behind a row's offered action, carrying the row's version.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import replace
from decimal import Decimal

from pf_tui.api.models import Dialect, Escrow, EscrowStatus
from pf_tui.core.money.brake import BrakeState
from pf_tui.core.money.escrows import (
    escrow_version,
    released_of,
    remaining_of,
    stake_of,
    timeout_outcome,
)
from pf_tui.core.money.types import (
    ActionValidationError,
    AdoptEscrow,
    CloseChoice,
    CloseEscrow,
    CloseStream,
    DisputeEscrow,
    Intent,
    MarkComplete,
    ReleaseEscrow,
    ReleasePartial,
    StreamUnit,
)
from pf_tui.usd import format_usd6
from pf_tui.views.model import (
    EscrowAction,
    EscrowNote,
    EscrowView,
    Offer,
    RowState,
    StreamNote,
)

FINISHED_KEEP_S = 24 * 3600.0
"""Finished escrows stay on view this long after their money stopped moving."""
FINISHED_PER_AGENT = 10
"""Finished rows kept per agent at most, counting those its latest escrow snapshot still lists
(always kept) and, up to this, the most recently finished of those it no longer lists. A busy
fleet finishes hundreds of escrows a minute (about 450 in the 5,000-agent benchmark): kept for
24 hours each, the console's memory grew for as long as it ran."""
FINISHED_BUDGET = 5_000
"""Finished rows the fleet keeps beyond what its snapshots list: :data:`FINISHED_PER_AGENT` an
agent up to 500 agents, fewer (at least one) in a larger fleet. At 5,000 agents, ten an agent
was 50,000 rows, reached after about two hours of the benchmark's fleet (estimated at 1.5 KB a
row, some 75 MB; not measured) for a view no operator reads to its end."""


def finished_per_agent(agents: int) -> int:
    """How many finished rows each of ``agents`` agents keeps (see :data:`FINISHED_BUDGET`)."""
    return max(1, min(FINISHED_PER_AGENT, FINISHED_BUDGET // max(1, agents)))


ZERO = Decimal(0)
_LIVE_STREAM = ("open", "paused", "closing")

Label = Callable[[str | None], str]
"""An agent id as the screen names it (a watched agent's label, else its id; ``-`` for none)."""


def merged_state(escrow: Escrow | None, note: EscrowNote, stream: StreamNote | None) -> RowState:
    """The row's state: the server's when its money stopped moving, else pf-tui's where it says
    more (an unsettled action, a close on its way, a paused stream)."""
    if escrow is not None and escrow.status.terminal:
        return RowState(escrow.status.value)
    if note.pending == "unknown":
        return RowState.UNKNOWN
    live = stream if stream is not None and stream.state in _LIVE_STREAM else None
    if live is not None and live.state == "closing":
        return RowState.CLOSING
    if live is not None and live.state == "paused":
        return RowState.PAUSED
    if escrow is None:
        # Not polled yet (a tranche just funded): pf-tui's own record says what it holds, and
        # the row says so rather than flickering through "unknown" until the next poll.
        return RowState.FUNDED if live is not None and live.escrow_id else RowState.OPEN
    if escrow.status is EscrowStatus.COMPLETED:
        return RowState.COMPLETED
    return RowState.FUNDED


def offers_for(
    *,
    state: RowState,
    dialect: Dialect,
    status: EscrowStatus | None,
    creator: str | None,
    payee: str | None,
    row_agent: str,
    stream: StreamNote | None,
    watched: Container[str],
) -> tuple[Offer, ...]:
    """What can be done to a row, and by whose key.

    Nothing while an action is unsettled or once the money stopped moving. A live pf-tui stream
    offers its own release, close, pause or resume (its books follow), a dispute and, as the
    classic payee, complete. An escrow of the agents' own offers release (all, or part of a
    streaming one), close (streaming) and adoption to its creator, complete to the payee of a
    classic one, and a dispute to either party.
    """
    if state.finished or state in (RowState.UNKNOWN, RowState.CLOSING):
        return ()
    out: list[Offer] = []
    live = stream if stream is not None and stream.state in _LIVE_STREAM else None
    open_escrow = status in (EscrowStatus.FUNDED, EscrowStatus.COMPLETED)
    disputer = row_agent if row_agent in (creator, payee) else (creator or payee)
    if live is not None:
        payer = live.agent_id
        out += [Offer(EscrowAction.RELEASE_PART, payer), Offer(EscrowAction.CLOSE, payer)]
        flip = EscrowAction.RESUME if live.state == "paused" else EscrowAction.PAUSE
        out.append(Offer(flip, payer))
    elif open_escrow and creator is not None and creator in watched:
        out.append(Offer(EscrowAction.RELEASE, creator))
        if dialect is Dialect.STREAMING and status is EscrowStatus.FUNDED:
            out += [Offer(EscrowAction.RELEASE_PART, creator), Offer(EscrowAction.CLOSE, creator)]
        out.append(Offer(EscrowAction.ADOPT, creator))
    if (
        open_escrow
        and dialect is Dialect.CLASSIC
        and status is EscrowStatus.FUNDED
        and payee is not None
        and payee in watched
    ):
        out.append(Offer(EscrowAction.COMPLETE, payee))
    if open_escrow and disputer is not None and disputer in watched:
        out.append(Offer(EscrowAction.DISPUTE, disputer))
    return tuple(out)


def finished_at(escrow: Escrow, first_seen: float) -> float:
    """When an escrow's money stopped moving: the server's time for it where the shape says
    (released, disputed; a timeout at its time), else when pf-tui first saw it finished."""
    for at in (escrow.released_at, escrow.disputed_at):
        if at is not None:
            return at.timestamp()
    if escrow.status is EscrowStatus.REFUNDED and escrow.auto_release_at is not None:
        return min(first_seen, escrow.auto_release_at.timestamp())
    return first_seen


def outcome_text(escrow: Escrow, first_seen: float) -> str:
    """What happened to a finished escrow's money, in words, with its amounts."""
    released = released_of(escrow)
    status = escrow.status
    by_timeout = (
        escrow.auto_release_at is not None
        and finished_at(escrow, first_seen) >= escrow.auto_release_at.timestamp()
    )
    if status is EscrowStatus.RELEASED:
        how = " by its timeout" if by_timeout else ""
        return f"released to the payee{how}: {format_usd6(released)} (less 1%)"
    if status is EscrowStatus.REFUNDED:
        return f"refunded to the creator by its timeout: {format_usd6(escrow.amount)} (less 1%)"
    if status is EscrowStatus.CLOSED:
        back = escrow.amount - released
        return f"closed: {format_usd6(released)} paid, {format_usd6(back)} back to the creator"
    frozen = escrow.amount - released
    return f"disputed: {format_usd6(frozen)} frozen until resolved by hand"


def escrow_row(
    agent_id: str,
    escrow: Escrow,
    note: EscrowNote,
    *,
    label: Label,
    watched: Container[str],
    brake: BrakeState,
    first_seen: float,
) -> EscrowView:
    """The row of one escrow of ``agent_id`` (the creator when watched, else the payee)."""
    stream = note.stream
    live = stream if stream is not None and stream.state in _LIVE_STREAM else None
    dialect = note.dialect or escrow.dialect
    if note.dialect is not None and note.dialect is not escrow.dialect:
        escrow = replace(escrow, dialect=note.dialect)  # the journal knows what pf-tui created
    state = merged_state(escrow, note, stream)
    paused = brake.engaged or state is RowState.PAUSED
    stake = stake_of(escrow, paused=paused)
    timeout = stake.timeout
    if live is not None:
        amount, released = live.budget, live.released
        remaining = max(ZERO, live.budget - live.released)
    else:
        amount, released, remaining = escrow.amount, released_of(escrow), remaining_of(escrow)
    finished = state.finished
    return EscrowView(
        key=f"{agent_id}/{escrow.escrow_id}",
        agent_id=agent_id,
        agent_label=label(agent_id),
        payee=label(escrow.counterparty_id),
        memo=escrow.description,
        amount=amount,
        released=released,
        remaining=remaining if not finished else ZERO,
        state=state.value,
        dialect=dialect.value,
        rate=note.rate,
        next_at=timeout.at,
        timeout_pays_payee=dialect is Dialect.STREAMING,
        escrow_id=escrow.escrow_id,
        creator_id=escrow.creator_id,
        payee_id=escrow.counterparty_id,
        creator=label(escrow.creator_id),
        status=escrow.status.value,
        stream_id=stream.stream_id if stream is not None else None,
        stream_state=stream.state if stream is not None else "",
        mode=stream.mode if stream is not None else "",
        origin=stream.origin if stream is not None else "",
        stake=stake,
        timeout=timeout,
        version=escrow_version(escrow),
        pending=note.pending,
        finished_at=finished_at(escrow, first_seen) if finished else None,
        outcome=outcome_text(escrow, first_seen) if finished else "",
        offers=offers_for(
            state=state,
            dialect=dialect,
            status=escrow.status,
            creator=escrow.creator_id,
            payee=escrow.counterparty_id,
            row_agent=agent_id,
            stream=stream,
            watched=watched,
        ),
    )


def stream_row(
    stream: StreamNote, note: EscrowNote, *, label: Label, brake: BrakeState
) -> EscrowView:
    """The row of a live stream no polled escrow stands for: between tranches, or its escrow not
    read yet (then what its timeout does comes from pf-tui's record of the escrow)."""
    state = merged_state(None, note, stream)
    paused = brake.engaged or stream.state == "paused"
    timeout = timeout_outcome(None, stream.held, paused=paused)
    dialect = Dialect.STREAMING if stream.mode == "native" else Dialect.CLASSIC
    offers = offers_for(
        state=state,
        dialect=dialect,
        status=None,
        creator=stream.agent_id,
        payee=stream.payee,
        row_agent=stream.agent_id,
        stream=stream,
        watched=(),
    )
    return EscrowView(
        key=f"{stream.agent_id}/{stream.escrow_id or stream.stream_id}",
        agent_id=stream.agent_id,
        agent_label=label(stream.agent_id),
        payee=label(stream.payee),
        memo=stream.memo,
        amount=stream.budget,
        released=stream.released,
        remaining=max(ZERO, stream.budget - stream.released),
        state=state.value,
        dialect=dialect.value,
        rate=stream.rate,
        next_at=timeout.at,
        timeout_pays_payee=dialect is Dialect.STREAMING,
        escrow_id=stream.escrow_id,
        creator_id=stream.agent_id,
        payee_id=stream.payee,
        creator=label(stream.agent_id),
        stream_id=stream.stream_id,
        stream_state=stream.state,
        mode=stream.mode,
        origin=stream.origin,
        timeout=timeout,
        pending=note.pending,
        offers=offers,
    )


class FinishedRows:
    """Finished escrow rows per agent, kept :data:`FINISHED_KEEP_S` after their money stopped
    moving, even once the server's list or the ledger no longer shows them (at most
    :func:`finished_per_agent` an agent, or what its snapshot lists if more)."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, EscrowView]] = {}
        self._first_seen: dict[str, float] = {}

    def first_seen(self, key: str, now: float) -> float:
        """When ``key`` was first seen finished (``now`` the first time it is asked)."""
        return self._first_seen.setdefault(key, now)

    def keep(
        self,
        agent_id: str,
        rows: Iterable[EscrowView],
        now: float,
        per_agent: int = FINISHED_PER_AGENT,
    ) -> None:
        """Remember ``agent_id``'s finished rows of this rebuild; drop what is past keeping (by
        age, and past ``per_agent`` the longest finished no longer listed)."""
        kept = self._rows.setdefault(agent_id, {})
        listed = set()
        for row in rows:
            kept[row.key] = row
            listed.add(row.key)
        self.prune(now, agent_id)
        surplus = len(kept) - max(per_agent, len(listed))
        if surplus > 0:
            remembered = sorted(
                (k for k in kept if k not in listed), key=lambda k: kept[k].finished_at or 0.0
            )
            for key in remembered[:surplus]:
                del kept[key]
                self._first_seen.pop(key, None)

    def prune(self, now: float, agent_id: str | None = None) -> None:
        """Drop rows finished more than :data:`FINISHED_KEEP_S` ago."""
        agents = [agent_id] if agent_id is not None else list(self._rows)
        for agent in agents:
            rows = self._rows.get(agent, {})
            for key in [
                k for k, r in rows.items() if now - (r.finished_at or now) > FINISHED_KEEP_S
            ]:
                del rows[key]
                self._first_seen.pop(key, None)

    def forget(self, agent_id: str) -> None:
        """The agent left the fleet."""
        for key in self._rows.pop(agent_id, {}):
            self._first_seen.pop(key, None)

    def rows(self, agents: Iterable[str]) -> tuple[EscrowView, ...]:
        """Every kept row of ``agents``, the most recently finished first."""
        out = [r for a in agents for r in self._rows.get(a, {}).values()]
        return tuple(sorted(out, key=lambda r: (-(r.finished_at or 0.0), r.key)))

    def keys(self, agent_id: str) -> set[str]:
        """The keys kept for ``agent_id``."""
        return set(self._rows.get(agent_id, {}))


def intent_for(
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
    """The intent behind ``action`` on ``row``, acting as the agent its offer names and carrying
    the row's version, so the engine acts on what the operator saw (pause and resume are no
    intents: :meth:`MoneyDesk.pause`).

    A live stream's release and close are the stream's (its books follow); an escrow of the
    agents' own is released, closed, disputed, completed or adopted as itself.
    """
    offer = next((o for o in row.offers if o.action is action), None)
    if offer is None:
        raise ActionValidationError(f"{action.value} does not apply to this row ({row.state})")
    dialect = Dialect(row.dialect)
    live = row.stream_id is not None and row.stream_state in _LIVE_STREAM
    escrow_id = row.escrow_id or ""
    version = row.version
    if action is EscrowAction.RELEASE_PART and live:
        return ReleasePartial(str(row.stream_id), count=count, amount=amount)
    if action is EscrowAction.CLOSE and live:
        return CloseStream(str(row.stream_id), count=count, unearned=unearned, reason=reason)
    if action in (EscrowAction.RELEASE, EscrowAction.RELEASE_PART):
        part = amount if action is EscrowAction.RELEASE_PART else None
        return ReleaseEscrow(offer.agent_id, escrow_id, dialect, part, version)
    if action is EscrowAction.CLOSE:
        return CloseEscrow(offer.agent_id, escrow_id, version, dialect)
    if action is EscrowAction.COMPLETE:
        return MarkComplete(offer.agent_id, escrow_id, version, dialect)
    if action is EscrowAction.DISPUTE:
        stream_id = row.stream_id if live else None
        return DisputeEscrow(offer.agent_id, escrow_id, reason, dialect, stream_id, version)
    if action is EscrowAction.ADOPT:
        if rate is None or unit is None:
            raise ActionValidationError("adopting needs a rate and a unit", field="rate")
        return AdoptEscrow(offer.agent_id, escrow_id, dialect, rate, unit, version)
    raise ActionValidationError(f"{action.value} sends nothing: pause and resume are local")
