"""What an escrow's money will do: its version, the funds at stake, and what its timeout does.

Pure functions over the polled :class:`~pf_tui.api.models.Escrow` (and, when no record has been
read yet, what pf-tui's own stream record holds), used by every caller that shows or acts on an
escrow: the previews, the console's rows, the alert rule and the command line
(docs/api.md §3, "The state machine both dialects show").

- :func:`escrow_version`: a digest of a polled record. A money action carries the version it was
  previewed from and is refused as stale when a fresh read differs.
- :func:`timeout_outcome`: what the server will do on its own when the escrow's timeout comes
  (a classic escrow refunds its creator less 1%; a streaming one pays its payee the rest less
  1%), and when. "Paused" in pf-tui only means pf-tui releases nothing more: the timeout still
  moves the money, and :meth:`TimeoutOutcome.sentence` says so.
- :func:`stake_of`: the funds at stake (amount, released, remaining, the 1% fee, what the payee
  nets) and the timeout outcome, for a preview.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pf_tui.api.models import Dialect, Escrow, EscrowStatus
from pf_tui.usd import fee_of, format_usd6

ZERO = Decimal(0)


def _text(value: object) -> str:
    """A field as canonical text (a Decimal without trailing zeros, a time as unix seconds)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return repr(value.timestamp())
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def escrow_version(escrow: Escrow) -> str:
    """A digest (16 hex) of everything in a polled record that an action's plan depends on.

    Two reads of an unchanged escrow give the same version whatever the shape's number format
    (``10`` and ``"10.00"``); a release, a complete, a dispute, a close or a timeout changes it.
    """
    fields = (
        escrow.escrow_id,
        escrow.dialect,
        escrow.status,
        escrow.amount,
        escrow.released,
        escrow.remaining,
        escrow.creator_id,
        escrow.counterparty_id,
        escrow.auto_release_at,
        escrow.completed_at,
        escrow.released_at,
        escrow.disputed_at,
    )
    text = "\x1f".join(_text(v) for v in fields)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def remaining_of(escrow: Escrow) -> Decimal:
    """What the escrow still holds for its parties (0 once it is terminal).

    Classic escrows pay out whole, so an open one holds its amount; a streaming one holds its
    ``remaining`` (amount less the gross released so far).
    """
    if escrow.status.terminal:
        return ZERO
    if escrow.remaining is not None:
        return escrow.remaining
    return escrow.amount - (escrow.released or ZERO)


def released_of(escrow: Escrow) -> Decimal:
    """Gross released to the payee so far (a classic read does not say until it is released)."""
    if escrow.released is not None:
        return escrow.released
    return escrow.amount if escrow.status is EscrowStatus.RELEASED else ZERO


class TimeoutMove(str, enum.Enum):
    """What the server does on its own when an escrow's timeout comes."""

    PAYS_PAYEE = "pays_payee"
    """Streaming: the rest goes to the payee, less 1%."""
    REFUNDS_CREATOR = "refunds_creator"
    """Classic: the amount goes back to the creator, less 1% (even after ``complete``)."""
    NOTHING = "nothing"
    """Terminal, or nothing held: no money moves any more."""
    FROZEN = "frozen"
    """Disputed: the funds stay frozen until resolved by hand; no timeout moves them."""


@dataclass(frozen=True, slots=True)
class HeldEscrow:
    """What pf-tui's own records say an escrow holds, for when no polled record is at hand
    (a stream's escrow before its first poll; the daemon's facts)."""

    escrow_id: str
    dialect: Dialect
    held: Decimal
    """Money in the escrow (native: its remaining; a tranche: the tranche)."""
    timeout_at: float | None
    """Unix time of the escrow's timeout (``None``: not known)."""
    creator_id: str
    payee_id: str


@dataclass(frozen=True, slots=True)
class TimeoutOutcome:
    """What the server will do with an escrow's money on its own, and when."""

    escrow_id: str | None
    dialect: Dialect | None
    move: TimeoutMove
    at: float | None
    """Unix time the money moves (``None`` when nothing moves on a timer, or it is not known)."""
    gross: Decimal
    """What leaves the escrow."""
    fee: Decimal
    """The 1% the service keeps of it."""
    net: Decimal
    """What the receiver gets."""
    to: str | None
    """The agent that receives it: the payee (streaming) or the creator (classic)."""
    paused: bool = False
    """pf-tui releases nothing more (the stream is paused, or the brake is on): the timeout is
    then the only thing that moves this money."""

    @property
    def moves_money(self) -> bool:
        """Whether the timeout will move money at all."""
        return self.move in (TimeoutMove.PAYS_PAYEE, TimeoutMove.REFUNDS_CREATOR) and self.gross > 0

    def seconds_left(self, now: float) -> float | None:
        """Seconds until the money moves (0 when due; ``None`` when it never will or unknown)."""
        if not self.moves_money or self.at is None:
            return None
        return max(0.0, self.at - now)

    @property
    def verb(self) -> str:
        """``pays the payee``, ``refunds the creator``, ``nothing more moves``, ``stays frozen``."""
        return _VERBS[self.move]

    @property
    def remedy(self) -> str:
        """What stops it: ``close it`` (streaming) or ``release or dispute it`` (classic)."""
        if self.move is TimeoutMove.PAYS_PAYEE:
            return "close it"
        if self.move is TimeoutMove.REFUNDS_CREATOR:
            return "release or dispute it"
        return ""

    def sentence(self, now: float) -> str:
        """The outcome in words, for a preview, a row, an alert or the command line.

        ``the server pays the payee $4.95 at 00:30 UTC (in 25m) unless you close it``;
        ``the server refunds the creator $0.99 at Mar 03 14:00 UTC (in 2d) unless you release or
        dispute it``; ``nothing more moves: the escrow is released``.
        """
        if self.move is TimeoutMove.FROZEN:
            return "the funds stay frozen until the dispute is resolved by hand"
        if not self.moves_money:
            return "nothing more moves on its own"
        amount = format_usd6(self.net)
        head = "pf-tui releases nothing more, but " if self.paused else ""
        if self.at is None:
            return f"{head}the server {self.verb} {amount} at its timeout unless you {self.remedy}"
        left = self.seconds_left(now) or 0.0
        when = "now (overdue)" if left <= 0 else f"at {clock_text(self.at, now)} (in {span(left)})"
        return f"{head}the server {self.verb} {amount} {when} unless you {self.remedy}"


_VERBS: dict[TimeoutMove, str] = {
    TimeoutMove.PAYS_PAYEE: "pays the payee",
    TimeoutMove.REFUNDS_CREATOR: "refunds the creator",
    TimeoutMove.NOTHING: "moves nothing more",
    TimeoutMove.FROZEN: "keeps the funds frozen",
}


def clock_text(at: float, now: float) -> str:
    """``00:30 UTC`` today, ``Mar 03 14:00 UTC`` on another day."""
    when = datetime.fromtimestamp(at, tz=UTC)
    if when.date() == datetime.fromtimestamp(now, tz=UTC).date():
        return when.strftime("%H:%M UTC")
    return when.strftime("%b %d %H:%M UTC")


def span(seconds: float) -> str:
    """``45s``, ``25m``, ``3h10m``, ``2d4h``: a countdown, whole units."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        hours, minutes = divmod(whole // 60, 60)
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(whole // 3600, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def _moved(dialect: Dialect, held: Decimal) -> tuple[TimeoutMove, Decimal, Decimal]:
    move = TimeoutMove.PAYS_PAYEE if dialect is Dialect.STREAMING else TimeoutMove.REFUNDS_CREATOR
    fee = fee_of(held) if held > 0 else ZERO
    return move, fee, held - fee


def timeout_outcome(
    escrow: Escrow | None, held: HeldEscrow | None = None, *, paused: bool = False
) -> TimeoutOutcome:
    """What the escrow's timeout will do, from its polled record (else from ``held``).

    The polled record wins: it is what the server holds. ``held`` (pf-tui's stream record) is the
    fallback before the escrow's first poll. With neither, nothing is known to move.
    """
    if escrow is not None:
        if escrow.status is EscrowStatus.DISPUTED:
            move, gross = TimeoutMove.FROZEN, remaining_of_disputed(escrow)
            return TimeoutOutcome(
                escrow.escrow_id, escrow.dialect, move, None, gross, ZERO, ZERO, None, paused
            )
        if escrow.status.terminal:
            return TimeoutOutcome(
                escrow.escrow_id,
                escrow.dialect,
                TimeoutMove.NOTHING,
                None,
                ZERO,
                ZERO,
                ZERO,
                None,
                paused,
            )
        gross = remaining_of(escrow)
        move, fee, net = _moved(escrow.dialect, gross)
        to = escrow.counterparty_id if move is TimeoutMove.PAYS_PAYEE else escrow.creator_id
        at = escrow.auto_release_at.timestamp() if escrow.auto_release_at else None
        return TimeoutOutcome(
            escrow.escrow_id, escrow.dialect, move, at, gross, fee, net, to, paused
        )
    if held is not None and held.held > 0:
        move, fee, net = _moved(held.dialect, held.held)
        to = held.payee_id if move is TimeoutMove.PAYS_PAYEE else held.creator_id
        return TimeoutOutcome(
            held.escrow_id, held.dialect, move, held.timeout_at, held.held, fee, net, to, paused
        )
    return TimeoutOutcome(
        held.escrow_id if held else None,
        held.dialect if held else None,
        TimeoutMove.NOTHING,
        None,
        ZERO,
        ZERO,
        ZERO,
        None,
        paused,
    )


def remaining_of_disputed(escrow: Escrow) -> Decimal:
    """What a disputed escrow keeps frozen: the amount less what was released before."""
    return escrow.amount - released_of(escrow)


@dataclass(frozen=True, slots=True)
class EscrowStake:
    """The funds at stake in one escrow, as a preview shows them."""

    escrow_id: str
    dialect: Dialect
    status: EscrowStatus
    creator_id: str | None
    payee_id: str | None
    amount: Decimal
    released: Decimal
    """Gross released to the payee so far."""
    remaining: Decimal
    """What the escrow still holds (frozen, when disputed)."""
    fee: Decimal
    """1% of ``remaining``: what releasing the rest costs the payee."""
    payee_nets: Decimal
    """``remaining`` less the fee: what the payee gets if the rest is released."""
    timeout: TimeoutOutcome
    version: str
    """:func:`escrow_version` of the record these figures come from."""


def stake_of(escrow: Escrow, *, paused: bool = False) -> EscrowStake:
    """The funds at stake in ``escrow`` and what its timeout will do."""
    if escrow.status is EscrowStatus.DISPUTED:
        remaining = remaining_of_disputed(escrow)
    else:
        remaining = remaining_of(escrow)
    fee = fee_of(remaining) if remaining > 0 else ZERO
    return EscrowStake(
        escrow_id=escrow.escrow_id,
        dialect=escrow.dialect,
        status=escrow.status,
        creator_id=escrow.creator_id,
        payee_id=escrow.counterparty_id,
        amount=escrow.amount,
        released=released_of(escrow),
        remaining=remaining,
        fee=fee,
        payee_nets=remaining - fee,
        timeout=timeout_outcome(escrow, paused=paused),
        version=escrow_version(escrow),
    )
