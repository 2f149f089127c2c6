"""The escrow state machine with its two views: classic production, streaming docs (docs/api.md §3).

Internal statuses: funded, completed, released, disputed, refunded, closed. Docs shows funded and
completed as ``locked`` and refunded as ``closed``; classic shows closed as ``refunded``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from pf_tui.sim.model.accounts import Accounts, Agent
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.ids import Ids
from pf_tui.sim.model.num import ZERO, dstr, fee_of, iso, num, parse_amount, referrer_share
from pf_tui.usd import JSON

MIN_AMOUNT = Decimal("0.10")
OPEN = frozenset({"funded", "completed"})
TERMINAL = frozenset({"released", "disputed", "refunded", "closed"})
CLASSIC, DOCS = "classic", "docs"
_DOCS_STATUS = {"funded": "locked", "completed": "locked", "refunded": "closed"}
_CLASSIC_STATUS = {"closed": "refunded"}


@dataclass(slots=True, eq=False)
class Escrow:
    """One escrow; ``released`` is gross (fees come out of each release, on the payee's side)."""

    escrow_id: str
    dialect: str
    creator_id: str
    payee_id: str
    amount: Decimal
    description: str
    timeout_hours: int
    created_at: float
    auto_release_at: float
    referrer_id: str | None
    status: str = "funded"
    released: Decimal = ZERO
    refunded: Decimal = ZERO
    fees: Decimal = ZERO
    referral_paid: Decimal = ZERO
    completed_at: float | None = None
    released_at: float | None = None
    disputed_at: float | None = None
    closed_at: float | None = None
    reason: str | None = None
    events: list[tuple[str, str, str, float]] = field(default_factory=list)

    @property
    def held(self) -> Decimal:
        """What the escrow still holds (frozen forever once disputed)."""
        return self.amount - self.released - self.refunded

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.released if self.status in OPEN else ZERO


def _timeout_hours(raw: JSON) -> int:
    """Floored and clamped to 1..720; anything not a number means the default 24."""
    if isinstance(raw, bool) or raw is None:
        return 24
    try:
        value = Decimal(str(raw)) if not isinstance(raw, (int, Decimal)) else Decimal(raw)
        if not value.is_finite():
            return 24
        hours = math.floor(value)
    except (ArithmeticError, ValueError):
        return 24
    return max(1, min(720, hours))


class EscrowBook:
    """Every escrow, the totals ``/escrow/stats`` reports, and each transition's money moves."""

    def __init__(self, accounts: Accounts, ids: Ids) -> None:
        self.accounts = accounts
        self.ids = ids
        self.escrows: dict[str, Escrow] = {}
        self.total_created = 0
        self.total_released = 0
        self.total_disputed = 0
        self.volume = ZERO
        self.commission = ZERO
        self.version = 0

    def held_total(self) -> Decimal:
        return sum((e.held for e in self.escrows.values()), ZERO)

    # --- creation ----------------------------------------------------------------------------

    def create(
        self,
        creator: Agent,
        *,
        dialect: str,
        raw_amount: JSON,
        description: JSON,
        payee_id: JSON,
        raw_timeout: JSON,
        referral_code: JSON,
        at: float,
    ) -> Escrow:
        """Validate in production's order and lock ``amount`` from the creator's casino balance."""
        amount = parse_amount(raw_amount, field="amount")
        if amount < MIN_AMOUNT:
            raise ApiError(400, "invalid_amount", "amount must be at least 0.10")
        if dialect == CLASSIC:
            if not isinstance(description, str) or len(description.strip()) < 3:
                raise ApiError(
                    400, "invalid_description", "description must be at least 3 characters"
                )
        elif description is None:
            description = ""
        elif not isinstance(description, str):
            raise ApiError(400, "invalid_memo", "memo must be text")
        if not isinstance(payee_id, str) or not payee_id.startswith("ag_"):
            raise ApiError(400, "invalid_counterparty", "counterparty must be an agent id (ag_...)")
        if payee_id == creator.agent_id:
            raise ApiError(400, "self_escrow", "cannot open an escrow with yourself")
        payee = self.accounts.agents.get(payee_id)
        if payee is None:
            raise ApiError(404, "counterparty_not_found", f"no agent {payee_id}")
        if creator.casino < amount:
            raise ApiError(
                402, "insufficient_balance", "balance too low", balance=num(creator.casino)
            )
        referrer_id = creator.referred_by
        if isinstance(referral_code, str) and referral_code:
            ref = self.accounts.by_code.get(referral_code)
            referrer_id = ref.agent_id if ref is not None else None
        hours = _timeout_hours(raw_timeout)
        esc = Escrow(
            escrow_id=self._new_id(),
            dialect=dialect,
            creator_id=creator.agent_id,
            payee_id=payee_id,
            amount=amount,
            description=description,
            timeout_hours=hours,
            created_at=at,
            auto_release_at=at + hours * 3600,
            referrer_id=referrer_id,
        )
        self.escrows[esc.escrow_id] = esc
        creator.escrow_ids.append(esc.escrow_id)
        payee.escrow_ids.append(esc.escrow_id)
        self.accounts.post(
            creator,
            -amount,
            "escrow_lock",
            at,
            reason=f"escrow to {payee_id}",
            reference=f"{esc.escrow_id}:lock",
            service="escrow",
        )
        esc.events.append(("created", creator.agent_id, description[:200], at))
        self.total_created += 1
        self.volume += amount
        self.version += 1
        return esc

    def _new_id(self) -> str:
        escrow_id = self.ids.escrow()
        while escrow_id in self.escrows:
            escrow_id = self.ids.escrow()
        return escrow_id

    # --- transitions -------------------------------------------------------------------------

    def get(self, escrow_id: str) -> Escrow:
        esc = self.escrows.get(escrow_id)
        if esc is None:
            raise ApiError(404, "not_found", "escrow not found")
        return esc

    def _check(
        self, esc: Escrow, agent: Agent, who: str, dialect: str, states: frozenset[str]
    ) -> None:
        allowed = {
            "creator": (esc.creator_id,),
            "payee": (esc.payee_id,),
            "party": (esc.creator_id, esc.payee_id),
        }[who]
        if agent.agent_id not in allowed:
            raise ApiError(403, "forbidden", "you are not allowed to do that on this escrow")
        if esc.dialect != dialect or esc.status not in states:
            raise ApiError(409, "invalid_status", f"escrow is {self.status_in(esc, dialect)}")

    def status_in(self, esc: Escrow, dialect: str) -> str:
        table = _DOCS_STATUS if dialect == DOCS else _CLASSIC_STATUS
        return table.get(esc.status, esc.status)

    def complete(self, esc: Escrow, agent: Agent, at: float) -> None:
        self._check(esc, agent, "payee", CLASSIC, frozenset({"funded"}))
        esc.status = "completed"
        esc.completed_at = at
        esc.events.append(("completed", agent.agent_id, "", at))
        self.version += 1

    def _pay_out(
        self, esc: Escrow, gross: Decimal, to: Agent, type_: str, at: float, reason: str
    ) -> tuple[Decimal, Decimal, Decimal]:
        """Move ``gross`` out of the escrow: ``to`` gets gross - 1%, the referrer 15% of the fee."""
        acc = self.accounts
        fee = fee_of(gross)
        share = ZERO
        referrer = acc.agents.get(esc.referrer_id) if esc.referrer_id else None
        if referrer is not None and fee > 0:
            share = referrer_share(fee)
        net = gross - fee
        if net:
            acc.post(
                to,
                net,
                type_,
                at,
                reason=reason,
                reference=f"{esc.escrow_id}:{type_}",
                service="escrow",
            )
        if referrer is not None and share:
            acc.post(
                referrer,
                share,
                "referral",
                at,
                reason="escrow referral commission",
                reference=f"{esc.escrow_id}:referral",
                service="escrow",
            )
            referrer.referral_income.append((at, share))
        acc.house += fee - share
        esc.fees += fee
        esc.referral_paid += share
        self.commission += fee
        return net, fee, share

    def release(self, esc: Escrow, agent: Agent, at: float) -> dict[str, JSON]:
        self._check(esc, agent, "creator", CLASSIC, OPEN)
        gross = esc.held
        payee = self.accounts.agents[esc.payee_id]
        net, fee, share = self._pay_out(
            esc, gross, payee, "escrow_release", at, f"escrow from {esc.creator_id}"
        )
        esc.released += gross
        esc.status = "released"
        esc.released_at = at
        esc.events.append(("released", agent.agent_id, "", at))
        self.total_released += 1
        self.version += 1
        return {
            "escrow_id": esc.escrow_id,
            "status": "released",
            "amount_released": num(net),
            "commission": num(fee),
            "referral_commission": num(share),
            "counterparty_id": esc.payee_id,
        }

    def dispute(self, esc: Escrow, agent: Agent, reason: JSON, dialect: str, at: float) -> None:
        self._check(esc, agent, "party", dialect, OPEN)
        esc.status = "disputed"
        esc.disputed_at = at
        esc.reason = reason if isinstance(reason, str) else None
        esc.events.append(("disputed", agent.agent_id, esc.reason or "", at))
        self.total_disputed += 1
        self.version += 1

    def release_partial(self, esc: Escrow, agent: Agent, raw_amount: JSON, at: float) -> None:
        amount = parse_amount(raw_amount)
        if amount <= 0:
            raise ApiError(400, "invalid_amount", "amount must be more than 0")
        self._check(esc, agent, "creator", DOCS, frozenset({"funded"}))
        if amount > esc.held:
            raise ApiError(
                409,
                "exceeds_remaining",
                "amount is more than what remains",
                remaining=dstr(esc.held),
            )
        payee = self.accounts.agents[esc.payee_id]
        self._pay_out(esc, amount, payee, "escrow_release", at, f"stream from {esc.creator_id}")
        esc.released += amount
        esc.events.append(("partial_release", agent.agent_id, dstr(amount), at))
        if esc.held == 0:
            esc.status = "released"
            esc.released_at = at
            self.total_released += 1
        self.version += 1

    def close(self, esc: Escrow, agent: Agent, at: float) -> None:
        """Docs close: refund what remains to the creator in full (no fee on a refund)."""
        self._check(esc, agent, "creator", DOCS, frozenset({"funded"}))
        rest = esc.held
        creator = self.accounts.agents[esc.creator_id]
        if rest:
            self.accounts.post(
                creator,
                rest,
                "escrow_refund",
                at,
                reason="stream closed",
                reference=f"{esc.escrow_id}:refund",
                service="escrow",
            )
        esc.refunded += rest
        esc.status = "closed"
        esc.closed_at = at
        esc.events.append(("closed", agent.agent_id, "", at))
        self.version += 1

    def time_out(self, esc: Escrow, at: float) -> None:
        """Past ``auto_release_at``: classic refunds the creator 99%; docs pays out the rest."""
        if esc.status not in OPEN or at < esc.auto_release_at:
            return
        gross = esc.held
        if esc.dialect == DOCS:
            payee = self.accounts.agents[esc.payee_id]
            self._pay_out(esc, gross, payee, "escrow_release", at, "stream auto-release")
            esc.released += gross
            esc.status = "released"
            esc.released_at = at
            self.total_released += 1
            esc.events.append(("auto_released", "system", "", at))
        else:
            creator = self.accounts.agents[esc.creator_id]
            self._pay_out(esc, gross, creator, "escrow_refund", at, "escrow timed out")
            esc.refunded += gross
            esc.status = "refunded"
            esc.closed_at = at
            esc.events.append(("refunded", "system", "timeout", at))
        self.version += 1

    # --- views -------------------------------------------------------------------------------

    def classic_view(self, esc: Escrow, with_events: bool) -> dict[str, JSON]:
        fee = fee_of(esc.amount)
        out: dict[str, JSON] = {
            "escrow_id": esc.escrow_id,
            "status": self.status_in(esc, CLASSIC),
            "amount_usd": num(esc.amount),
            "commission_usd": num(fee),
            "net_to_counterparty": num(esc.amount - fee),
            "description": esc.description,
            "creator_id": esc.creator_id,
            "counterparty_id": esc.payee_id,
            "timeout_hours": esc.timeout_hours,
            "created_at": iso(esc.created_at),
            "auto_release_at": iso(esc.auto_release_at),
            "completed_at": iso(esc.completed_at) if esc.completed_at else None,
            "released_at": iso(esc.released_at) if esc.released_at else None,
            "disputed_at": iso(esc.disputed_at) if esc.disputed_at else None,
        }
        if with_events:
            out["events"] = [
                {"event": e, "actor_id": actor, "note": note, "created_at": int(t)}
                for e, actor, note, t in esc.events
            ]
        return out

    def docs_view(self, esc: Escrow) -> dict[str, JSON]:
        return {
            "escrow_id": esc.escrow_id,
            "status": self.status_in(esc, DOCS),
            "amount": dstr(esc.amount),
            "released": dstr(esc.released),
            "remaining": dstr(esc.remaining),
            "from_agent_id": esc.creator_id,
            "to_agent_id": esc.payee_id,
            "memo": esc.description,
            "created_at": iso(esc.created_at),
            "auto_release_at": iso(esc.auto_release_at),
        }

    def stats(self) -> dict[str, JSON]:
        return {
            "total_created": self.total_created,
            "total_released": self.total_released,
            "total_disputed": self.total_disputed,
            "total_volume_usd": num(self.volume),
            "total_commission_usd": num(self.commission),
        }
