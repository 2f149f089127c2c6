"""Which escrows the poller finds for an agent, and the dialect it reads each one in.

On an in-memory source and a fake clock: the streaming list gives streaming escrows (no read of
their own), the ledger gives classic ones (read through the classic routes), a list that 404s
leaves the ledger alone, the ledger walk runs on its own slow tier unless the balance poll shows
an escrow move, referral rows name no escrow of the agent's, and what leaves view is forgotten.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pf_tui.api.models import Activity, Dialect, Escrow, EscrowStatus, LedgerEntry
from pf_tui.clock import FakeClock
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.fetch import (
    JUST_SETTLED_S,
    KEEP_SETTLED,
    LEDGER_EVERY_S,
    SETTLED_BUDGET,
    Fetcher,
    PollTarget,
    settled_per_agent,
)
from pf_tui.core.polling.poller import Poller
from pf_tui.core.polling.results import DataType, EscrowSnapshot
from tests.core.fakes import FakeSource, new_calls
from tests.core.test_poller_schedule import INTERVALS, per_agent, run_until

AGENT = "ag_0"
STREAM = "esc_" + "a" * 16
CLASSIC = "esc_" + "b" * 16
OLD = "esc_" + "c" * 16
REFERRED = "esc_" + "d" * 16


def lock(row: str, escrow_id: str, kind: str = "escrow_lock") -> LedgerEntry:
    return LedgerEntry(row, kind, Decimal(-1), None, "", f"{escrow_id}:{kind}", "escrow", None)


def make(dialect: str = "auto") -> tuple[Poller, FakeSource, dict]:
    clock = FakeClock()
    calls = new_calls()
    source = FakeSource(clock, AGENT, calls)
    target = PollTarget(AGENT, source, escrow_dialect=dialect)
    poller = Poller([target], intervals=INTERVALS, clock=clock, seed=1)
    return poller, source, calls


def last_escrows(poller: Poller) -> tuple[Escrow, ...]:
    snaps = [r for r in poller.drain() if r.kind is DataType.ESCROWS]
    value = snaps[-1].value
    assert isinstance(value, EscrowSnapshot)
    return value.escrows


async def test_each_escrow_is_read_in_the_dialect_that_created_it() -> None:
    """A streaming escrow listed by the list keeps its stream object; a classic one found only in
    the ledger is read through the classic routes. Listing every escrow as streaming (the old
    per-service rule) would read CLASSIC through the streaming view and fail here."""
    poller, source, _ = make()
    source.listed = (Escrow(STREAM, EscrowStatus.FUNDED, Decimal(5), dialect=Dialect.STREAMING),)
    source.ledger_rows = (lock("1", STREAM), lock("2", CLASSIC), lock("3", REFERRED, "referral"))
    async with poller:
        await run_until(poller._clock, 6.0)  # type: ignore[attr-defined]
    found = {e.escrow_id: e.dialect for e in last_escrows(poller)}
    assert found == {STREAM: Dialect.STREAMING, CLASSIC: Dialect.CLASSIC}
    # Only the classic one needed a read of its own, through the classic routes; the streaming
    # one came with the list, and the referral row named no escrow of the agent's.
    assert source.reads and set(source.reads) == {(CLASSIC, Dialect.CLASSIC)}


async def test_no_list_means_the_ledger_alone_for_the_rest_of_the_run() -> None:
    poller, source, calls = make()
    source.listed = None  # production: 404
    source.ledger_rows = (lock("1", CLASSIC),)
    async with poller:
        await run_until(poller._clock, 21.0)  # type: ignore[attr-defined]
    assert len(calls["streams"]) == 1  # asked once, then never again
    assert {e.escrow_id: e.dialect for e in last_escrows(poller)} == {CLASSIC: Dialect.CLASSIC}


async def test_the_ledger_is_walked_on_a_slow_tier_unless_the_balance_shows_an_escrow_move() -> (
    None
):
    """Without a hint the ledger is read on the first escrow poll and then every 30 s; an escrow
    move in the balance's recent activity brings the next read forward to the next escrow poll.
    Reading it on every escrow poll (one call per agent every 5 s) fails the first half."""
    poller, source, calls = make()
    source.listed = ()
    clock = poller._clock  # type: ignore[attr-defined]
    async with poller:
        await run_until(clock, 6.0)  # the first escrow poll (within its 5 s interval) is done
        assert len(per_agent(calls, "ledger", AGENT)) == 1
        source.ledger_rows = (lock("1", CLASSIC),)
        at = datetime(2026, 1, 1, tzinfo=UTC)
        source.activity = (Activity("escrow_lock", Decimal(-1), None, "", "escrow", at),)
        await run_until(clock, 6.0 + 16)  # a balance poll (10 s), then an escrow poll (5 s)
        assert clock.monotonic() < LEDGER_EVERY_S  # so the slow tier did not do it
        assert len(per_agent(calls, "ledger", AGENT)) == 2
        assert CLASSIC in {e.escrow_id for e in last_escrows(poller)}
        # The same hint again is no news: the next read waits for the slow tier.
        reads = len(per_agent(calls, "ledger", AGENT))
        await run_until(clock, clock.monotonic() + 12)
        assert len(per_agent(calls, "ledger", AGENT)) == reads


AT = datetime(2026, 1, 1, tzinfo=UTC)


def escrow_move(amount: int, after: int | None = None, reason: str = "") -> Activity:
    """An escrow lock the balance poll shows, stamped with the one second :data:`AT`."""
    balance_after = None if after is None else Decimal(after)
    return Activity("escrow_lock", Decimal(-amount), balance_after, reason, "escrow", AT)


async def walked(
    poller: Poller, source: FakeSource, rows: tuple[LedgerEntry, ...], shown: tuple[Activity, ...]
) -> None:
    """The first escrow poll, then a balance poll showing ``shown`` and the walk it brings."""
    clock = poller._clock  # type: ignore[attr-defined]
    await run_until(clock, 6.0)
    source.ledger_rows, source.activity = rows, shown
    await run_until(clock, 6.0 + 16)


async def walked_again(
    poller: Poller,
    source: FakeSource,
    calls: dict,
    rows: tuple[LedgerEntry, ...],
    shown: tuple[Activity, ...],
) -> list[float]:
    """What the balance shows next, 16 s on (a balance poll and an escrow poll): the walks."""
    clock = poller._clock  # type: ignore[attr-defined]
    source.ledger_rows, source.activity = rows, shown
    await run_until(clock, clock.monotonic() + 16)
    return per_agent(calls, "ledger", AGENT)


async def test_a_second_escrow_made_in_the_same_second_is_news_too() -> None:
    """The server stamps moves to the second. The hint was the newest move's time alone, so an
    escrow locked in the same second as one the last walk covered brought no walk forward, and
    stayed off screen for up to 30 s (LEDGER_EVERY_S)."""
    poller, source, calls = make()
    source.listed = ()
    async with poller:
        await walked(poller, source, (lock("1", CLASSIC),), (escrow_move(1),))
        reads = len(per_agent(calls, "ledger", AGENT))
        assert CLASSIC in {e.escrow_id for e in last_escrows(poller)}
        # A second lock, stamped with the same second: the next escrow poll walks the ledger.
        rows = (lock("2", OLD), lock("1", CLASSIC))
        walks = await walked_again(poller, source, calls, rows, (escrow_move(1), escrow_move(2)))
        assert len(walks) == reads + 1
        assert walks[-1] - walks[-2] < LEDGER_EVERY_S  # the hint, not the slow tier
        assert OLD in {e.escrow_id for e in last_escrows(poller)}


async def test_a_move_of_the_same_second_is_news_even_as_the_window_slides() -> None:
    """The balance shows the last few moves only: one of the walked second's moves leaving the
    window as a new one of that second enters keeps the count, and must still be news."""
    poller, source, calls = make()
    source.listed = ()
    first, second, third = (escrow_move(n, 100 - n) for n in (1, 2, 3))
    async with poller:
        await walked(poller, source, (lock("2", OLD), lock("1", CLASSIC)), (second, first))
        reads = len(per_agent(calls, "ledger", AGENT))
        rows = (lock("3", REFERRED), lock("2", OLD), lock("1", CLASSIC))
        # first scrolled out: still two moves that second
        walks = await walked_again(poller, source, calls, rows, (third, second))
        assert len(walks) == reads + 1 and walks[-1] - walks[-2] < LEDGER_EVERY_S
        # Only a covered move left: no news, the next walk waits for the slow tier.
        source.activity = (second,)
        clock = poller._clock  # type: ignore[attr-defined]
        await run_until(clock, clock.monotonic() + 12)
        assert len(per_agent(calls, "ledger", AGENT)) == reads + 1


async def test_two_alike_moves_in_one_second_are_two_moves() -> None:
    """Two locks of the same amount in one second, with no balance after them (or one the
    balance came back to), look alike: a set of the moves held one, and the second escrow
    waited for the slow tier."""
    poller, source, calls = make()
    source.listed = ()
    move = escrow_move(1, reason="escrow to B")
    async with poller:
        await walked(poller, source, (lock("1", CLASSIC),), (move,))
        reads = len(per_agent(calls, "ledger", AGENT))
        rows = (lock("2", OLD), lock("1", CLASSIC))
        walks = await walked_again(poller, source, calls, rows, (move, move))
        assert len(walks) == reads + 1 and walks[-1] - walks[-2] < LEDGER_EVERY_S
        assert OLD in {e.escrow_id for e in last_escrows(poller)}


async def test_news_of_a_second_stays_news_when_its_move_leaves_the_window_first() -> None:
    """A poll shows a new move of the walked second, and the next poll, before the walk, no
    longer does (it left the window, or the server listed that second's moves in another
    order): the walk is still due."""
    poller, source, _calls = make()
    source.listed = ()
    a, b, c = (escrow_move(n, 100 - n) for n in (1, 2, 3))
    fetcher = poller._fetcher  # type: ignore[attr-defined]
    async with poller:
        await walked(poller, source, (lock("2", OLD), lock("1", CLASSIC)), (b, a))
        assert not fetcher._ledger_due(AGENT)
    for shown in ((c, b, a), (b, a)):
        source.activity = shown
        await fetcher._hinting(AGENT, source.balance)
    assert fetcher._ledger_due(AGENT)


async def test_terminal_escrows_are_forgotten_once_out_of_view() -> None:
    """A finished escrow is read once while in view, and dropped from memory when it leaves the
    ledger's window, so a long run does not grow without bound."""
    poller, source, calls = make("classic")
    source.escrows[OLD] = Escrow(OLD, EscrowStatus.RELEASED, Decimal(1), dialect=Dialect.CLASSIC)
    source.ledger_rows = (lock("1", OLD),)
    clock = poller._clock  # type: ignore[attr-defined]
    async with poller:
        await run_until(clock, LEDGER_EVERY_S - 1)
        assert OLD in {e.escrow_id for e in last_escrows(poller)}
        assert len(calls["escrow"]) == 1
        source.ledger_rows = (lock("2", CLASSIC),)  # OLD scrolled out of the 50 newest rows
        await run_until(clock, 2 * LEDGER_EVERY_S + 6)  # the next ledger read, wherever the
        # first escrow poll fell in its interval (first polls are spread over it)
    fetcher = poller._fetcher  # type: ignore[attr-defined]
    assert OLD not in fetcher._terminal[AGENT]
    assert {e.escrow_id for e in last_escrows(poller)} == {CLASSIC}


async def test_a_long_stream_history_keeps_the_newest_settled_and_every_live_one() -> None:
    """The streaming list names every stream an agent was ever party to. The snapshot keeps
    every live and disputed escrow, every one pf-tui's journal knows, and only the newest
    KEEP_SETTLED of the rest (released, refunded, closed): a busy fleet's memory grew for as long
    as the console ran. Keeping the oldest, or dropping a live, disputed or journaled one, fails."""
    start = datetime(2026, 12, 1, tzinfo=UTC)

    def stream(n: int, status: EscrowStatus, minutes: int | None = None) -> Escrow:
        created = start + timedelta(minutes=n if minutes is None else minutes)
        return Escrow(
            f"esc_{n:016x}", status, Decimal(1), created_at=created, dialect=Dialect.STREAMING
        )

    settled = (EscrowStatus.RELEASED, EscrowStatus.REFUNDED, EscrowStatus.CLOSED)
    history = [stream(n, settled[n % 3]) for n in range(40)]
    live = [stream(100, EscrowStatus.FUNDED), stream(101, EscrowStatus.COMPLETED)]
    disputed_old = stream(0x200, EscrowStatus.DISPUTED, minutes=-3 * 24 * 60)
    poller, source, _ = make("streaming")
    journaled = history[2]  # old and settled, but pf-tui's own action: followed to its end
    poller.set_tracked_escrows({AGENT: {journaled.escrow_id: Dialect.STREAMING}})
    source.listed = tuple(reversed([*history, *live, disputed_old]))
    async with poller:
        await run_until(poller._clock, 6.0)  # type: ignore[attr-defined]
    snaps = [r for r in poller.drain() if r.kind is DataType.ESCROWS]
    snapshot = snaps[-1].value
    assert isinstance(snapshot, EscrowSnapshot)
    ids = [e.escrow_id for e in snapshot.escrows]
    # Left out, but counted as seen (the dispute rate's denominator): the 40 settled less the
    # newest KEEP_SETTLED and the journaled one.
    assert snapshot.settled_left_out == len(history) - KEEP_SETTLED - 1
    newest_settled = [e.escrow_id for e in reversed(history)][:KEEP_SETTLED]
    assert [i for i in ids if i in newest_settled] == newest_settled  # newest first, all kept
    assert {e.escrow_id for e in live} <= set(ids)
    assert disputed_old.escrow_id in ids and journaled.escrow_id in ids
    assert len(ids) == KEEP_SETTLED + len(live) + 2

    # A script's one-shot read (pf-tui escrow list / show) keeps every escrow listed.
    clock = FakeClock()
    fetcher = Fetcher(clock, CallStats(clock), max_concurrency=4, keep_settled=None)
    target = PollTarget(AGENT, source, escrow_dialect="streaming")
    read = await fetcher.fetch(target, DataType.ESCROWS)
    assert isinstance(read, EscrowSnapshot) and len(read.escrows) == len(source.listed)


async def test_a_long_stream_that_ends_after_newer_ones_still_shows_how_it_ended() -> None:
    """The bound keeps the newest settled escrows by creation, and a long stream is older than
    the short ones that settled before it: once it ends it stays in the snapshot for
    JUST_SETTLED_S (the console keeps its finished row), and only then is left out. Without
    that, the stream vanished from view the poll it closed, its ending never shown."""
    start = datetime(2026, 12, 1, tzinfo=UTC)

    def stream(n: int, status: EscrowStatus) -> Escrow:
        created = start + timedelta(minutes=n)
        return Escrow(
            f"esc_{n:016x}", status, Decimal(1), created_at=created, dialect=Dialect.STREAMING
        )

    newer = [stream(10 + n, EscrowStatus.RELEASED) for n in range(KEEP_SETTLED + 2)]
    poller, source, _ = make("streaming")
    source.listed = (*reversed(newer), stream(0, EscrowStatus.FUNDED))
    clock = poller._clock  # type: ignore[attr-defined]
    async with poller:
        await run_until(clock, 6.0)
        assert f"esc_{0:016x}" in {e.escrow_id for e in last_escrows(poller)}
        source.listed = (*reversed(newer), stream(0, EscrowStatus.CLOSED))
        await run_until(clock, 12.0)
        ended = {e.escrow_id: e.status for e in last_escrows(poller)}
        assert ended.get(f"esc_{0:016x}") is EscrowStatus.CLOSED
        await run_until(clock, 12.0 + JUST_SETTLED_S + 6.0)
        assert f"esc_{0:016x}" not in {e.escrow_id for e in last_escrows(poller)}


def test_a_large_fleet_keeps_fewer_settled_escrows_an_agent() -> None:
    """Five settled escrows an agent were 25,000 at 5,000 agents, each in the console twice
    (the snapshot's escrow and its finished row): past SETTLED_BUDGET for the fleet, a poller
    keeps fewer an agent, at least one."""
    assert settled_per_agent(8) == settled_per_agent(2_000) == KEEP_SETTLED
    assert settled_per_agent(5_000) == 2
    assert settled_per_agent(20_000) == settled_per_agent(100_000) == 1
    for agents in (1, 8, 2_000, 2_001, 5_000):
        assert settled_per_agent(agents) * agents <= max(SETTLED_BUDGET, agents)
    clock = FakeClock()
    calls = new_calls()
    big = [PollTarget(f"ag_{n}", FakeSource(clock, f"ag_{n}", calls)) for n in range(5_000)]
    assert Poller(big, clock=clock)._fetcher._keep_settled == 2
    assert Poller(big[:8], clock=clock)._fetcher._keep_settled == KEEP_SETTLED
