"""A money preview as plain lines: what the console's confirmation dialog shows, for a terminal.

The same figures, in the same order, as :mod:`pf_tui.tui.dialogs.money.preview` (agent, stream,
escrow, dialect, amount, fee, what the payee nets, what is owed, the refund, the balance before
and after, the intent's key), then every request with its ``Idempotency-Key`` and JSON body, then
the consequences. Ids, paths, bodies and notes come from the API or the operator: each is escaped
(:func:`pf_tui.text.escape_text`). No Rich here.
"""

from __future__ import annotations

from pf_tui import usd
from pf_tui.core.money.types import ActionKind, ActionPreview, StreamMode
from pf_tui.text import escape_text
from pf_tui.usd import format_usd6

TITLES: dict[str, str] = {
    ActionKind.OPEN_STREAM.value: "Open a stream",
    ActionKind.RELEASE_PARTIAL.value: "Release a partial payment",
    ActionKind.CLOSE_STREAM.value: "Close a stream",
    ActionKind.DISPUTE_ESCROW.value: "Dispute an escrow",
    ActionKind.MARK_COMPLETE.value: "Mark an escrow complete",
    ActionKind.CLAIM_FAUCET.value: "Claim the faucet",
    ActionKind.RELEASE_ESCROW.value: "Release an escrow",
    ActionKind.CLOSE_ESCROW.value: "Close an escrow",
    ActionKind.ADOPT_ESCROW.value: "Adopt an escrow as a stream",
    ActionKind.CREATE_ESCROW.value: "Create an escrow",
}
"""Titles by intent kind, as the console's dialogs have them."""


def dialect_text(preview: ActionPreview) -> str:
    """The dialect line, worded as the console words it."""
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


def preview_lines(preview: ActionPreview) -> list[str]:
    """The whole confirmation, one string per line, safe for a terminal."""
    rows: list[tuple[str, str]] = [("Agent", escape_text(preview.agent_id))]
    if preview.stream_id:
        rows.append(("Stream", escape_text(preview.stream_id)))
    if preview.escrow_id:
        rows.append(("Escrow", escape_text(preview.escrow_id)))
    rows += [
        ("Dialect", dialect_text(preview)),
        ("Amount", format_usd6(preview.amount)),
        ("Fee (1%)", format_usd6(preview.fee)),
        ("Payee nets", format_usd6(preview.payee_nets)),
    ]
    if preview.owed is not None:
        rows.append(
            (
                "Owed now",
                f"{format_usd6(preview.owed)}   stays owed after: "
                f"{format_usd6(preview.owed_after)}",
            )
        )
    if preview.refund:
        rows.append(("Refund", format_usd6(preview.refund)))
    rows += [
        (
            "Balance",
            f"{format_usd6(preview.balance_before)} -> {format_usd6(preview.balance_after)}",
        ),
        ("Idempotency", escape_text(preview.key)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [TITLES.get(preview.kind.value, preview.kind.value), ""]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    lines += ["", "Will send"]
    if not preview.requests:
        lines.append("  nothing is sent")
    for request in preview.requests:
        lines.append(
            f"  {request.seq}. {request.method} {escape_text(request.path)}"
            f"  Idempotency-Key {escape_text(request.key)}"
        )
        body = "(no body)" if request.body is None else usd.dumps(request.body)
        lines.append(f"     {escape_text(body, limit=600)}")
    if preview.notes:
        lines += ["", "What happens"]
        lines += [f"  - {escape_text(note)}" for note in preview.notes]
    return lines
