"""An :class:`ActionPreview` as the text a confirmation shows: exactly what will be sent.

Every request (method, path, JSON body, idempotency key), both parties by label and id, the
stream's rate, unit, budget and batch, the amount, the 1% fee, what the payee nets, the paying
agent's balance before and after, the dialect (and, for tranches, the fee each
tranche pays) and the intent's key. Ids, memos and paths come from the API or the operator, so
each goes through :func:`pf_tui.tui.sanitize.safe`; nothing here is markup.

Precision: budgets, funds and balances in cents (``$3.00``); what the API settles at its 6 dp
(rates, the 1% fees, what the payee nets, amounts released and owed) at up to 6 dp with the
trailing zeros after the cents dropped (``$0.004``, ``$0.40``), never float noise.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text

from pf_tui import usd
from pf_tui.core.money.escrows import EscrowStake
from pf_tui.core.money.types import (
    ActionKind,
    ActionPreview,
    ReleaseEscrow,
    StreamMode,
    StreamTerms,
    StreamUnit,
)
from pf_tui.tui.sanitize import safe
from pf_tui.usd import format_usd, format_usd6

UNIT_TEXT = {
    StreamUnit.CALL: "per call",
    StreamUnit.HOUR: "per hour",
    StreamUnit.DATA_POINT: "per data point",
}

TITLES: dict[ActionKind, str] = {
    ActionKind.OPEN_STREAM: "Open a stream",
    ActionKind.RELEASE_PARTIAL: "Release a partial payment",
    ActionKind.CLOSE_STREAM: "Close a stream",
    ActionKind.DISPUTE_ESCROW: "Dispute an escrow",
    ActionKind.MARK_COMPLETE: "Mark an escrow complete",
    ActionKind.CLAIM_FAUCET: "Claim the faucet",
    ActionKind.RELEASE_ESCROW: "Release an escrow",
    ActionKind.CLOSE_ESCROW: "Close an escrow",
    ActionKind.ADOPT_ESCROW: "Adopt an escrow as a stream",
    ActionKind.CREATE_ESCROW: "Create an escrow",
}
"""Dialog titles by intent kind."""


def preview_title(preview: ActionPreview) -> str:
    """The confirmation's title: by intent kind, and for a release of an escrow whether it is
    the whole of it (``Release an escrow in full``) or a part."""
    intent = preview.intent
    if isinstance(intent, ReleaseEscrow):
        return "Release an escrow in full" if intent.amount is None else "Release part of an escrow"
    return TITLES.get(preview.kind, "Money action")


def dialect_text(preview: ActionPreview) -> str:
    """In ``[api] escrow_dialect``'s words: ``streaming (one escrow, partial releases)``,
    ``classic (in tranches; each tranche pays its own 1% fee: $0.01)``, ``classic escrow``."""
    if preview.mode is StreamMode.TRANCHE:
        extra = (
            f"; each tranche pays its own 1% fee: {format_usd6(preview.tranche_fee)}"
            if preview.tranche_fee
            else ""
        )
        return f"classic (in tranches{extra})"
    if preview.mode is StreamMode.NATIVE:
        return "streaming (one escrow, partial releases)"
    if preview.dialect is None:
        return "faucet (no escrow)"
    return f"{preview.dialect.value} escrow"


def stake_rows(grid: Table, stake: EscrowStake, preview: ActionPreview) -> None:
    """The funds at stake in the escrow acted on (read fresh for this preview): what it was
    funded with, released and still holds, the 1% fee and what the payee nets on the rest, and
    what its timeout would do if nothing were done (unless a note already says it)."""
    grid.add_row(
        "In escrow",
        Text(
            f"{format_usd(stake.amount)}: released {format_usd6(stake.released)}, "
            f"remaining {format_usd6(stake.remaining)}"
        ),
    )
    if stake.remaining > 0:
        grid.add_row(
            "If released",
            Text(f"fee (1%) {format_usd6(stake.fee)}, payee nets {format_usd6(stake.payee_nets)}"),
        )
    sentence = stake.timeout.sentence(preview.created_at)
    if stake.timeout.moves_money and not any(sentence in note for note in preview.notes):
        left = Text(sentence)
        left.no_wrap = False
        grid.add_row("Left alone", left)


def party(agent_id: str, labels: Mapping[str, str]) -> Text:
    """``label (ag_...)`` for a watched agent, the id alone for any other (both untrusted)."""
    label = labels.get(agent_id)
    if not label or label == agent_id:
        return safe(agent_id)
    text = safe(label, limit=40)
    text.append(" (")
    text.append_text(safe(agent_id))
    text.append(")")
    return text


def _terms_rows(grid: Table, preview: ActionPreview, terms: StreamTerms) -> None:
    """Rate, unit, budget, batch; for an open, the fee and net over the whole budget."""
    grid.add_row("Rate", Text(f"{format_usd6(terms.rate)} {UNIT_TEXT[terms.unit]}"))
    budget = f"{format_usd(terms.budget)}"
    if preview.mode is StreamMode.TRANCHE:
        budget += f" in tranches of {format_usd(terms.batch)}"
    grid.add_row("Budget", Text(budget))
    if preview.kind is not ActionKind.OPEN_STREAM:
        return
    # Opening moves money into escrow only: the fee is paid on each release, not now.
    grid.add_row("Funds now", Text(format_usd(preview.amount)))
    if preview.mode is StreamMode.TRANCHE and preview.tranche_fee is not None:
        fee = f"{format_usd6(preview.tranche_fee)} per tranche"
    else:
        fee = "1% of each release"
    grid.add_row("Fee (1%)", Text(f"{fee}; {format_usd6(terms.fee_total)} on the whole budget"))
    grid.add_row("Payee nets", Text(f"{format_usd6(terms.net_total)} if all of it is released"))


def _figures(preview: ActionPreview, labels: Mapping[str, str]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    terms = preview.terms
    grid.add_row("Payer" if terms else "Agent", party(preview.agent_id, labels))
    if terms:
        grid.add_row("Payee", party(terms.payee, labels))
    if preview.stream_id:
        grid.add_row("Stream", safe(preview.stream_id))
    if preview.escrow_id:
        grid.add_row("Escrow", safe(preview.escrow_id))
    grid.add_row("Dialect", Text(dialect_text(preview)))
    if terms:
        _terms_rows(grid, preview, terms)
    if preview.stake is not None:
        stake_rows(grid, preview.stake, preview)
    moves = preview.amount > 0 or preview.kind is ActionKind.RELEASE_PARTIAL
    if preview.kind is not ActionKind.OPEN_STREAM and (moves or preview.stake is None):
        # A dispute, a complete or an adoption releases nothing: the funds at stake above say
        # what is in play, and no "Amount $0.00" suggests otherwise.
        grid.add_row("Amount", Text(format_usd6(preview.amount)))
        grid.add_row("Fee (1%)", Text(format_usd6(preview.fee)))
        grid.add_row("Payee nets", Text(format_usd6(preview.payee_nets)))
    if preview.owed is not None and preview.kind is not ActionKind.OPEN_STREAM:
        grid.add_row(
            "Owed now",
            Text(
                f"{format_usd6(preview.owed)}   stays owed after: {format_usd6(preview.owed_after)}"
            ),
        )
    if preview.refund:
        grid.add_row("Refund", Text(format_usd6(preview.refund)))
    grid.add_row(
        "Balance",
        Text(f"{format_usd(preview.balance_before)} -> {format_usd(preview.balance_after)}"),
    )
    grid.add_row("Idempotency", safe(preview.key))
    return grid


def requests_text(preview: ActionPreview) -> Text:
    """Each request in send order: ``1. POST /escrow/create  key ...`` then its JSON body."""
    out = Text(end="")
    if not preview.requests:
        out.append("nothing is sent", style="italic")
        return out
    for request in preview.requests:
        out.append(f"{request.seq}. {request.method} ", style="bold")
        out.append_text(safe(request.path))
        out.append("  Idempotency-Key ", style="dim")
        out.append_text(safe(request.key))
        out.append("\n   ")
        body = "(no body)" if request.body is None else usd.dumps(request.body)
        out.append_text(safe(body, limit=600))
        out.append("\n")
    out.rstrip()
    return out


def preview_renderable(preview: ActionPreview, labels: Mapping[str, str] | None = None) -> Table:
    """The whole confirmation body: figures, requests, notes; ``labels`` names watched agents."""
    outer = Table.grid(expand=True)
    outer.add_column(overflow="fold")
    outer.add_row(_figures(preview, labels or {}))
    outer.add_row(Text("\nWill send", style="bold"))
    body = requests_text(preview)
    body.overflow = "fold"
    body.no_wrap = False
    outer.add_row(body)
    if preview.notes:
        outer.add_row(Text("\nWhat happens", style="bold"))
        for note in preview.notes:
            line = Text("- ")
            line.append_text(safe(note))
            line.no_wrap = False
            outer.add_row(line)
    return outer
