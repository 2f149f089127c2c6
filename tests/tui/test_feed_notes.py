"""The feed rebuilds escrow rows when pf-tui learns something about an escrow (a new note),
even when no figure of that agent changed: a tranche listed before its lost create was
reconciled must not keep saying "pays payee" until some other figure moves."""

from __future__ import annotations

from decimal import Decimal as D

from pf_tui.api.models import Dialect, Escrow, EscrowStatus
from pf_tui.clock import FakeClock
from pf_tui.core.fleet.state import AgentInfo, FleetState
from pf_tui.core.polling.results import DataType, EscrowSnapshot, Snapshot
from pf_tui.views.feed import FleetFeed
from pf_tui.views.model import EscrowNote
from tests.tui.harness import POLL_INTERVALS


def test_a_new_note_rebuilds_rows_of_unchanged_agents() -> None:
    clock = FakeClock()
    fleet = FleetState(
        [AgentInfo("ag_0", "A0"), AgentInfo("ag_1", "A1")], intervals=POLL_INTERVALS, clock=clock
    )
    listed = Escrow(
        "esc_1",
        EscrowStatus.FUNDED,
        D(1),
        creator_id="ag_0",
        counterparty_id="ag_1",
        dialect=Dialect.STREAMING,
    )  # how the docs list shows a tranche
    fleet.apply(Snapshot("ag_0", DataType.ESCROWS, EscrowSnapshot((listed,)), clock.now(), 0.01))
    notes: dict[str, EscrowNote] = {}
    feed = FleetFeed(fleet, lambda: notes)
    (row,) = feed.build(clock.now()).escrows
    assert row.dialect == "streaming" and row.timeout_pays_payee

    notes = {"esc_1": EscrowNote(Dialect.CLASSIC, "$0.05/call")}  # the reconciled create
    (row,) = feed.build(clock.now(), changed=set()).escrows  # no agent's figures changed
    assert (row.dialect, row.timeout_pays_payee, row.rate) == ("classic", False, "$0.05/call")

    same = notes
    view = feed.build(clock.now(), changed=set())
    assert view.escrows[0] is row and notes is same  # nothing new: rows are not rebuilt
