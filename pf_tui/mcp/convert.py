"""The facade's reads and outcomes as the MCP tools' typed results (:mod:`pf_tui.mcp.models`).

Every string that came from the API, another agent or the operator's file is escaped here, once
(:func:`pf_tui.text.escape_text`), and every message passes the config's redactor; money becomes
the exact decimal's text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pf_tui.config.model import AgentConfig
from pf_tui.core.money.escrows import timeout_outcome
from pf_tui.core.money.streams import Stream
from pf_tui.mcp.models import (
    AgentSummary,
    EscrowEvent,
    EscrowInfo,
    MoneyResult,
    RequestInfo,
    StreamInfo,
)
from pf_tui.ops.outcome import Outcome
from pf_tui.ops.session import AgentBalance, EscrowRow
from pf_tui.secret import Redactor
from pf_tui.text import escape_text


def money(value: Decimal | None) -> str | None:
    """The exact decimal as text (``None`` stays ``None``)."""
    return None if value is None else format(value, "f")


def text(value: str | None) -> str | None:
    """Untrusted text with visible escapes (``None`` stays ``None``)."""
    return None if value is None else escape_text(value)


def when(value: datetime | None) -> str | None:
    """An ISO 8601 time, or ``None``."""
    return None if value is None else value.isoformat()


def agent_summary(
    agent: AgentConfig, balance: AgentBalance | None, redactor: Redactor, *, writable: bool
) -> AgentSummary:
    """One agent and its balance as read (``balance`` ``None``: it has no casino key)."""
    if balance is None:
        error: str | None = "no casino key configured: its balance is not read"
        value = None
    else:
        error = None if balance.error is None else escape_text(redactor.scrub(balance.error))
        value = balance.balance
    return AgentSummary(
        agent_id=escape_text(agent.id),
        label=escape_text(agent.label),
        strategy=escape_text(agent.strategy),
        balance_usd=money(value),
        error=error,
        writable=writable,
    )


def escrow_info(row: EscrowRow, now: float, *, events: bool = False) -> EscrowInfo:
    """One escrow row of a fleet read at ``now`` (its event history only when ``events``)."""
    e = row.escrow
    return EscrowInfo(
        escrow_id=escape_text(e.escrow_id),
        dialect=row.dialect.value,
        status=e.status.value,
        role=row.role,
        agent_id=escape_text(row.agent_id),
        creator_id=text(e.creator_id),
        counterparty_id=text(e.counterparty_id),
        amount=format(e.amount, "f"),
        released=money(e.released),
        remaining=money(e.remaining),
        commission=money(e.commission),
        net_to_counterparty=money(e.net_to_counterparty),
        description=escape_text(e.description),
        timeout_hours=e.timeout_hours,
        created_at=when(e.created_at),
        auto_release_at=when(e.auto_release_at),
        stream_id=row.stream_id,
        on_timeout=timeout_outcome(e).sentence(now),
        events=[
            EscrowEvent(
                event=escape_text(ev.event),
                actor_id=text(ev.actor_id),
                note=text(ev.note),
                at=when(ev.at),
            )
            for ev in e.events
        ]
        if events
        else [],
    )


def stream_info(stream: Stream) -> StreamInfo:
    """A pf-tui stream record."""
    return StreamInfo(
        stream_id=stream.id,
        payee=escape_text(stream.payee),
        mode=stream.mode.value,
        state=stream.state.value,
        rate=format(stream.rate, "f"),
        unit=stream.unit.value,
        budget=format(stream.budget, "f"),
        released=format(stream.released, "f"),
        escrow_id=text(stream.escrow_id),
    )


def money_result(outcome: Outcome, operator: str, redactor: Redactor) -> MoneyResult:
    """A write tool's outcome, from the facade's stable JSON form (already escaped)."""
    data: dict[str, Any] = outcome.to_json()
    return MoneyResult(
        status=str(data["status"]),
        message=redactor.scrub(str(data["message"] or "")),
        reason=data["reason"],
        key=data["key"],
        idempotency_key=data["idempotency_key"],
        replayed=bool(data["replayed"]),
        kind=data["kind"],
        agent_id=data["agent_id"],
        escrow_id=data["escrow_id"],
        stream_id=data["stream_id"],
        amount=data["amount"],
        fee=data["fee"],
        payee_nets=data["payee_nets"],
        operator=escape_text(operator),
        requests=[
            RequestInfo(
                seq=int(r["seq"]),
                op=str(r["op"]),
                method=r["method"],
                path=r["path"],
                idempotency_key=str(r["idempotency_key"]),
                state=str(r["state"]),
                escrow_id=r["escrow_id"],
                error=None if r["error"] is None else redactor.scrub(str(r["error"])),
            )
            for r in data["requests"]
        ],
    )
