"""What an escrow's timeout will do, checked against what the simulator's state machine does.

Hypothesis drives one escrow of either dialect through random transitions (partial releases,
complete, close, dispute, a full release), reads it back through its dialect's view exactly as
the client normalises it, asks :func:`timeout_outcome` what the timeout will do, runs the timeout
and compares: who receives money, how much, and that nothing moves when it said nothing would.
A wrong dialect rule (a classic timeout paying the payee, a fee left out) fails here.

The version digest is checked as a property too: the same facts in either number shape give one
version, and any change of a field an action depends on gives another.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pf_tui.api import normalize
from pf_tui.api.models import Dialect, Escrow, EscrowStatus
from pf_tui.core.money.escrows import (
    HeldEscrow,
    TimeoutMove,
    escrow_version,
    stake_of,
    timeout_outcome,
)
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.escrow import CLASSIC, DOCS
from pf_tui.sim.model.state import Simulator
from pf_tui.usd import fee_of

START = 1_767_268_800.0

OPS = st.lists(st.sampled_from(["partial", "complete", "close", "dispute", "release"]), max_size=5)


def fresh_sim() -> Simulator:
    return Simulator(seed=3, agents=2, motion=False, start_time=START, wall=lambda: START)


def read(sim: Simulator, escrow_id: str, dialect: Dialect) -> Escrow:
    """The escrow as the client sees it through its own dialect's routes."""
    book = sim.escrows
    esc = book.escrows[escrow_id]
    if dialect is Dialect.CLASSIC:
        return normalize.escrow(book.classic_view(esc, True), Dialect.CLASSIC)
    return normalize.escrow(book.docs_view(esc), Dialect.STREAMING)


@settings(max_examples=60, deadline=None)
@given(
    dialect=st.sampled_from([Dialect.CLASSIC, Dialect.STREAMING]),
    cents=st.integers(min_value=10, max_value=5000),
    ops=OPS,
    parts=st.lists(st.integers(min_value=1, max_value=400), min_size=5, max_size=5),
)
def test_the_timeout_does_what_the_outcome_said(
    dialect: Dialect, cents: int, ops: list[str], parts: list[int]
) -> None:
    sim = fresh_sim()
    creator, payee = sim.fleet.members[0], sim.fleet.members[1]
    amount = Decimal(cents) / 100
    esc = sim.create_escrow(
        creator,
        dialect=CLASSIC if dialect is Dialect.CLASSIC else DOCS,
        raw_amount=amount,
        description="property test",
        payee_id=payee.agent_id,
        raw_timeout=1,
        referral_code=None,
    )
    book = sim.escrows
    for op, part in zip(ops, parts, strict=False):
        try:
            if op == "partial":
                book.release_partial(esc, creator, str(Decimal(part) / 100), START)
            elif op == "complete":
                book.complete(esc, payee, START)
            elif op == "close":
                book.close(esc, creator, START)
            elif op == "dispute":
                book.dispute(esc, creator, "property", esc.dialect, START)
            else:
                book.release(esc, creator, START)
        except ApiError:
            pass  # a transition the state machine refuses: the escrow is unchanged
    seen = read(sim, esc.escrow_id, dialect)
    outcome = timeout_outcome(seen)
    stake = stake_of(seen)
    balances = {a.agent_id: a.casino for a in (creator, payee)}
    sim.advance(3600 + 1)
    moved = {a.agent_id: a.casino - balances[a.agent_id] for a in (creator, payee)}
    if outcome.moves_money:
        assert outcome.at == seen.auto_release_at.timestamp()  # type: ignore[union-attr]
        assert outcome.to is not None
        # The receiver nets exactly what was said; the other party gets nothing.
        assert moved[outcome.to] == outcome.net
        assert sum(moved.values()) == outcome.net
        assert outcome.gross == outcome.net + outcome.fee == stake.remaining
        assert outcome.fee == fee_of(outcome.gross)
        expected = (
            TimeoutMove.PAYS_PAYEE
            if dialect is Dialect.STREAMING
            else (TimeoutMove.REFUNDS_CREATOR)
        )
        assert outcome.move is expected
        assert outcome.to == (payee.agent_id if dialect is Dialect.STREAMING else creator.agent_id)
    else:
        assert sum(moved.values()) == 0
        assert outcome.move is (
            TimeoutMove.FROZEN if seen.status is EscrowStatus.DISPUTED else TimeoutMove.NOTHING
        )
    # The version moves with the state the timeout changed (unless nothing could change).
    after = read(sim, esc.escrow_id, dialect)
    assert (escrow_version(after) != escrow_version(seen)) == outcome.moves_money


MONEY = st.decimals(min_value=Decimal("0.10"), max_value=Decimal(10_000), places=2)
WHEN = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@st.composite
def escrows(draw: st.DrawFn) -> Escrow:
    amount = draw(MONEY)
    released = draw(st.decimals(min_value=0, max_value=amount, places=2))
    dialect = draw(st.sampled_from(list(Dialect)))
    return Escrow(
        escrow_id="esc_" + draw(st.text("0123456789abcdef", min_size=16, max_size=16)),
        status=draw(st.sampled_from(list(EscrowStatus))),
        amount=amount,
        released=released if dialect is Dialect.STREAMING else None,
        remaining=amount - released if dialect is Dialect.STREAMING else None,
        creator_id="ag_" + "1" * 12,
        counterparty_id="ag_" + "2" * 12,
        auto_release_at=draw(WHEN),
        dialect=dialect,
    )


@given(escrows())
def test_one_version_per_set_of_facts_whatever_the_number_shape(escrow: Escrow) -> None:
    as_text = replace(
        escrow,
        amount=escrow.amount.quantize(Decimal("0.000001")),
        released=None if escrow.released is None else escrow.released.quantize(Decimal("0.01")),
        description="memo text is not a fact an action depends on",
    )
    assert escrow_version(as_text) == escrow_version(escrow)


@given(
    escrows(),
    st.sampled_from(["status", "amount", "released", "remaining", "auto_release_at", "dialect"]),
)
def test_any_change_an_action_depends_on_gives_another_version(escrow: Escrow, field: str) -> None:
    changed = {
        "status": lambda e: replace(
            e,
            status=EscrowStatus.DISPUTED
            if e.status is not EscrowStatus.DISPUTED
            else EscrowStatus.FUNDED,
        ),
        "amount": lambda e: replace(e, amount=e.amount + Decimal("0.01")),
        "released": lambda e: replace(e, released=(e.released or Decimal(0)) + Decimal("0.01")),
        "remaining": lambda e: replace(e, remaining=(e.remaining or Decimal(0)) + Decimal("0.01")),
        "auto_release_at": lambda e: replace(
            e,
            auto_release_at=e.auto_release_at + timedelta(seconds=1),  # type: ignore[operator]
        ),
        "dialect": lambda e: replace(
            e,
            dialect=Dialect.CLASSIC if e.dialect is Dialect.STREAMING else Dialect.STREAMING,
        ),
    }[field](escrow)
    assert escrow_version(changed) != escrow_version(escrow)


def test_without_a_record_the_streams_own_figures_say_it() -> None:
    """Before its escrow's first poll, a stream's record is what is known: a paused native
    stream of $5 with a timeout at 00:30 pays the payee $4.95 then, unless it is closed."""
    held = HeldEscrow(
        "esc_" + "a" * 16, Dialect.STREAMING, Decimal(5), START + 1800, "ag_a", "ag_b"
    )
    outcome = timeout_outcome(None, held, paused=True)
    assert (outcome.move, outcome.net, outcome.to) == (
        TimeoutMove.PAYS_PAYEE,
        Decimal("4.95"),
        "ag_b",
    )
    assert outcome.sentence(START) == (
        "pf-tui releases nothing more, but the server pays the payee $4.95 at 12:30 UTC (in 30m) "
        "unless you close it"
    )
    classic = replace(held, dialect=Dialect.CLASSIC, held=Decimal(1))
    assert timeout_outcome(None, classic).sentence(START + 3600) == (
        "the server refunds the creator $0.99 now (overdue) unless you release or dispute it"
    )
    assert not timeout_outcome(None, None).moves_money
