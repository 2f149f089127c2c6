"""Which money actions Enter on an alert puts one key away: the ones the row offers."""

from __future__ import annotations

from decimal import Decimal

from pf_tui.views.alert_jump import suggested
from pf_tui.views.model import EscrowAction, EscrowView, Offer


def row(state: str, *offers: EscrowAction, dialect: str = "streaming") -> EscrowView:
    return EscrowView(
        key="ag_1/esc_1",
        agent_id="ag_1",
        agent_label="atlas",
        payee="birch",
        memo="",
        amount=Decimal("5"),
        released=Decimal("1"),
        remaining=Decimal("4"),
        state=state,
        dialect=dialect,
        escrow_id="esc_1",
        offers=tuple(Offer(action, "ag_1") for action in offers),
    )


def test_an_agents_streaming_escrow_offers_close_then_dispute() -> None:
    """No pf-tui stream on the row: close still comes first when the row offers it (an agent's
    own streaming escrow, its creator acting), as for a spend-rate alert on a pf-tui stream."""
    got = suggested(row("funded", EscrowAction.DISPUTE, EscrowAction.RELEASE, EscrowAction.CLOSE))
    assert got == (EscrowAction.CLOSE, EscrowAction.DISPUTE)


def test_a_classic_escrow_offers_dispute_only() -> None:
    got = suggested(row("funded", EscrowAction.RELEASE, EscrowAction.DISPUTE, dialect="classic"))
    assert got == (EscrowAction.DISPUTE,)


def test_a_finished_row_offers_nothing() -> None:
    assert suggested(row("released", EscrowAction.DISPUTE)) == ()
