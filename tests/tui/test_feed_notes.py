"""The Escrows tab's facts as the feed builds them from the poll and the money desk's notes.

- A new note rebuilds escrow rows even when no figure of that agent changed: a tranche listed
  before its lost create was reconciled must not keep saying "pays payee" until some other
  figure moves.
- A row's state merges the server's and pf-tui's (a paused stream reads ``paused``, not
  ``funded``; an unsettled action ``unknown``), a stream's budget, paid and remaining cover the
  whole stream (not the tranche its current escrow holds), and what the timeout does is said
  even while paused.
- Finished escrows stay in ``finished_escrows`` with their outcome and amounts for 24 hours,
  after the poll stops listing them, then go.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from pf_tui.api.models import Dialect, Escrow, EscrowStatus
from pf_tui.clock import FakeClock
from pf_tui.core.fleet.state import AgentInfo, FleetState
from pf_tui.core.money.brake import BrakeState
from pf_tui.core.money.escrows import HeldEscrow, TimeoutMove
from pf_tui.core.polling.results import DataType, EscrowSnapshot, Snapshot
from pf_tui.views.escrow_rows import FINISHED_BUDGET, FINISHED_PER_AGENT, finished_per_agent
from pf_tui.views.feed import FleetFeed
from pf_tui.views.model import EscrowAction, EscrowNote, MoneyNotes, RowState, StreamNote
from tests.tui.harness import POLL_INTERVALS

HOUR = 3600.0


def _fleet(clock: FakeClock) -> FleetState:
    return FleetState(
        [AgentInfo("ag_0", "A0"), AgentInfo("ag_1", "A1")], intervals=POLL_INTERVALS, clock=clock
    )


def _poll(fleet: FleetState, clock: FakeClock, *escrows: Escrow) -> None:
    fleet.apply(Snapshot("ag_0", DataType.ESCROWS, EscrowSnapshot(escrows), clock.now(), 0.01))


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def test_a_new_note_rebuilds_rows_of_unchanged_agents() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    listed = Escrow(
        "esc_1",
        EscrowStatus.FUNDED,
        D(1),
        creator_id="ag_0",
        counterparty_id="ag_1",
        dialect=Dialect.STREAMING,
    )  # how the docs list shows a tranche
    _poll(fleet, clock, listed)
    notes = MoneyNotes()
    feed = FleetFeed(fleet, lambda: notes)
    (row,) = feed.build(clock.now()).escrows
    assert row.dialect == "streaming" and row.timeout_pays_payee

    notes = MoneyNotes({"esc_1": EscrowNote(Dialect.CLASSIC, "$0.05/call")})  # reconciled create
    (row,) = feed.build(clock.now(), changed=set()).escrows  # no agent's figures changed
    assert (row.dialect, row.timeout_pays_payee, row.rate) == ("classic", False, "$0.05/call")
    assert row.timeout is not None and row.timeout.move is TimeoutMove.REFUNDS_CREATOR

    same = notes
    view = feed.build(clock.now(), changed=set())
    assert view.escrows[0] is row and notes is same  # nothing new: rows are not rebuilt


def _tranche_stream(state: str, timeout_at: float) -> StreamNote:
    """A $3 tranche stream from A0 to A1 with $1 paid; its current tranche holds $1."""
    return StreamNote(
        stream_id="st_1",
        agent_id="ag_0",
        payee="ag_1",
        state=state,
        mode="tranche",
        origin="opened",
        budget=D(3),
        released=D(1),
        rate="$0.50/hour",
        memo="compute",
        escrow_id="esc_2",
        held=HeldEscrow("esc_2", Dialect.CLASSIC, D(1), timeout_at, "ag_0", "ag_1"),
        last_release_at=None,
        created_at=0.0,
    )


def test_a_paused_tranche_stream_reads_paused_with_whole_stream_figures() -> None:
    """Breaking the merge shows ``funded`` for a paused stream (what issue 11 measured), and
    breaking the whole-stream figures shows the tranche's ``$1.00 $0.00 $1.00``."""
    clock = FakeClock()
    fleet = _fleet(clock)
    now = clock.now()
    tranche = Escrow(
        "esc_2",
        EscrowStatus.FUNDED,
        D(1),
        creator_id="ag_0",
        counterparty_id="ag_1",
        auto_release_at=_at(now + 2 * HOUR),
        dialect=Dialect.CLASSIC,
    )
    _poll(fleet, clock, tranche)
    stream = _tranche_stream("paused", now + 2 * HOUR)
    notes = MoneyNotes(
        {"esc_2": EscrowNote(Dialect.CLASSIC, stream.rate, "ag_0", stream)}, (stream,)
    )
    (row,) = FleetFeed(fleet, lambda: notes).build(now).escrows
    assert row.state == RowState.PAUSED.value
    assert (row.amount, row.released, row.remaining) == (D(3), D(1), D(2))
    assert row.timeout is not None and row.timeout.paused
    assert row.timeout.move is TimeoutMove.REFUNDS_CREATOR and row.timeout.net == D("0.99")
    assert row.next_at == now + 2 * HOUR
    assert "pf-tui releases nothing more" in row.timeout.sentence(now)
    assert {o.action for o in row.offers} >= {EscrowAction.RESUME, EscrowAction.CLOSE}
    assert row.version is not None


def test_a_stream_between_tranches_still_has_a_row() -> None:
    """No polled escrow stands for it yet: the row comes from pf-tui's record alone, which
    says what its tranche holds and what that tranche's timeout does."""
    clock = FakeClock()
    fleet = _fleet(clock)
    _poll(fleet, clock)
    stream = _tranche_stream("open", clock.now() + HOUR)
    notes = MoneyNotes({}, (stream,))
    (row,) = FleetFeed(fleet, lambda: notes).build(clock.now()).escrows
    assert (row.stream_id, row.amount, row.released, row.remaining) == ("st_1", D(3), D(1), D(2))
    assert row.state == RowState.FUNDED.value  # by pf-tui's record, before the first poll
    assert row.timeout is not None and row.timeout.move is TimeoutMove.REFUNDS_CREATOR
    assert row.timeout.net == D("0.99") and row.next_at == clock.now() + HOUR


def test_the_brake_pauses_every_row_and_an_unsettled_action_reads_unknown() -> None:
    clock = FakeClock()
    fleet = _fleet(clock)
    now = clock.now()
    listed = Escrow(
        "esc_3",
        EscrowStatus.FUNDED,
        D(5),
        released=D(0),
        remaining=D(5),
        creator_id="ag_0",
        counterparty_id="ag_1",
        auto_release_at=_at(now + HOUR),
        dialect=Dialect.STREAMING,
    )
    _poll(fleet, clock, listed)
    brake = BrakeState(True, now, "ops", "incident")
    notes = MoneyNotes({"esc_3": EscrowNote(pending="unknown")}, (), brake)
    view = FleetFeed(fleet, lambda: notes).build(now)
    (row,) = view.escrows
    assert view.brake.engaged
    assert row.state == RowState.UNKNOWN.value and row.offers == ()
    assert row.timeout is not None and row.timeout.paused
    assert row.timeout.move is TimeoutMove.PAYS_PAYEE and row.timeout.net == D("4.95")


def test_finished_escrows_stay_24h_with_their_outcome() -> None:
    """Breaking the keep makes a released escrow vanish once the list no longer shows it (the
    "0 active escrows" issue 11 measured)."""
    clock = FakeClock()
    fleet = _fleet(clock)
    now = clock.now()
    done = Escrow(
        "esc_4",
        EscrowStatus.RELEASED,
        D(2),
        creator_id="ag_0",
        counterparty_id="ag_1",
        released_at=_at(now),
        dialect=Dialect.CLASSIC,
    )
    _poll(fleet, clock, done)
    feed = FleetFeed(fleet, lambda: MoneyNotes())
    view = feed.build(now)
    assert view.escrows == ()
    (row,) = view.finished_escrows
    assert row.finished and row.state == RowState.RELEASED.value and row.remaining == 0
    assert row.outcome == "released to the payee: $2.00 (less 1%)"
    assert row.finished_at == now

    clock.advance(23 * HOUR)
    _poll(fleet, clock)  # the poll no longer lists it
    assert [r.key for r in feed.build(clock.now()).finished_escrows] == ["ag_0/esc_4"]
    clock.advance(2 * HOUR)
    assert feed.build(clock.now()).finished_escrows == ()


@pytest.mark.parametrize("agents", [2, 1_000])
def test_an_agents_finished_rows_are_bounded_and_what_it_still_lists_stays(agents: int) -> None:
    """A busy agent finishes escrows all day: past its bound the rows longest finished of those
    its list no longer shows are dropped (each kept 24 hours, the console grew for as long as it
    ran), while every finished escrow the latest poll still lists is kept. The bound is
    FINISHED_PER_AGENT in a small fleet, fewer in a large one (finished_per_agent)."""
    bound = finished_per_agent(agents)
    clock = FakeClock()
    infos = [AgentInfo(f"ag_{n}", f"A{n}") for n in range(agents)]
    fleet = FleetState(infos, intervals=POLL_INTERVALS, clock=clock)
    feed = FleetFeed(fleet, lambda: MoneyNotes())

    def done(n: int) -> Escrow:
        at = _at(clock.now())
        return Escrow(f"esc_{n}", EscrowStatus.RELEASED, D(1), creator_id="ag_0", released_at=at)

    for n in range(3 * FINISHED_PER_AGENT):  # one finished a minute, each listed once only
        _poll(fleet, clock, done(n))
        feed.build(clock.now())
        clock.advance(60)
    kept = [r.key for r in feed.build(clock.now()).finished_escrows]
    newest = [f"ag_0/esc_{n}" for n in reversed(range(3 * FINISHED_PER_AGENT))]
    assert kept == newest[:bound]  # the most recently finished, newest first

    # A poll listing more finished escrows than any bound shows every one of them.
    listed = [done(1000 + n) for n in range(FINISHED_PER_AGENT + 5)]
    _poll(fleet, clock, *listed)
    kept = [r.key for r in feed.build(clock.now()).finished_escrows]
    assert sorted(kept) == sorted(f"ag_0/{e.escrow_id}" for e in listed)


def test_a_large_fleet_keeps_fewer_finished_rows_an_agent() -> None:
    """Ten finished rows an agent are 50,000 rows at 5,000 agents, which the benchmark's fleet
    reaches after about two hours: past FINISHED_BUDGET rows for the fleet, each agent keeps
    fewer of the rows its list no longer shows, at least one."""
    assert finished_per_agent(2) == finished_per_agent(500) == FINISHED_PER_AGENT
    assert finished_per_agent(1_000) == 5
    assert finished_per_agent(5_000) == finished_per_agent(50_000) == 1
    assert finished_per_agent(0) == FINISHED_PER_AGENT
    for agents in (1_000, 5_000):
        assert finished_per_agent(agents) * agents <= FINISHED_BUDGET
