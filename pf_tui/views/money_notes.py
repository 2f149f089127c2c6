"""What the store knows that the server does not, read for the screen: :class:`MoneyNotes`.

One read of the journal and the stream book (a few indexed queries): the dialect and creator of
every escrow pf-tui created in the last 24 hours, its live streams with their whole-stream
figures, which escrows and streams have an action unsettled or on its way, and the brake. The
money desk reads it again when this process changed something and when another process on the
store committed (SQLite's ``PRAGMA data_version``), and hands the feed the same object while
nothing changed.
"""

from __future__ import annotations

from pf_tui.api.models import Dialect
from pf_tui.core.money.engine import ActionEngine
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import Op, StreamState
from pf_tui.usd import format_usd6
from pf_tui.views.model import EscrowNote, MoneyNotes, StreamNote

RECENT_S = 24 * 3600.0
"""pf-tui's own escrows are noted (and polled by id) for a day after they were created."""

Tracked = dict[str, dict[str, Dialect]]
"""Agent id -> {escrow id: the dialect it was created in}: what the poller reads by id."""


def stream_note(stream: Stream) -> StreamNote:
    """A stream record as the Escrows tab needs it."""
    return StreamNote(
        stream_id=stream.id,
        agent_id=stream.agent_id,
        payee=stream.payee,
        state=stream.state.value,
        mode=stream.mode.value,
        origin=stream.origin.value,
        budget=stream.budget,
        released=stream.released,
        rate=f"{format_usd6(stream.rate)}/{stream.unit.value}",
        memo=stream.memo,
        escrow_id=stream.escrow_id,
        held=stream.held(),
        last_release_at=stream.last_release_at,
        created_at=stream.created_at,
    )


def read_notes(engine: ActionEngine, now: float) -> tuple[MoneyNotes, Tracked]:
    """The notes for the screen, and the escrows the poller should read by id."""
    journal = engine.journal
    notes: dict[str, EscrowNote] = {}
    tracked: Tracked = {}
    for escrow_id, agent_id, op, _at in journal.created_since(now - RECENT_S):
        dialect = Dialect.CLASSIC if op is Op.CLASSIC_CREATE else Dialect.STREAMING
        notes[escrow_id] = EscrowNote(dialect, agent_id=agent_id)
        tracked.setdefault(agent_id, {})[escrow_id] = dialect
    unknown = _unknown(engine)
    sending = journal.unsettled_streams() | journal.unsettled_escrows()
    live: list[StreamNote] = []
    for stream in engine.streams():
        if stream.state.final:
            continue
        note = stream_note(stream)
        live.append(note)
        if stream.escrow_id is None:
            continue
        tracked.setdefault(stream.agent_id, {})[stream.escrow_id] = stream.dialect
        pending = ""
        if stream.id in unknown or stream.escrow_id in unknown:
            pending = "unknown"
        elif stream.id in sending or stream.state is StreamState.CLOSING:
            pending = "sending"
        notes[stream.escrow_id] = EscrowNote(
            stream.dialect, note.rate, agent_id=stream.agent_id, stream=note, pending=pending
        )
    for escrow_id in unknown:
        if escrow_id.startswith("esc_") and escrow_id not in notes:
            notes[escrow_id] = EscrowNote(pending="unknown")
    return MoneyNotes(notes, tuple(live), engine.brake()), tracked


def _unknown(engine: ActionEngine) -> set[str]:
    """Streams and escrows with a request whose outcome is not known (sent or unknown)."""
    rows = engine.journal.conn.execute(
        "SELECT stream_id, escrow_id FROM actions WHERE state IN ('sent', 'unknown')"
    ).fetchall()
    return {v for row in rows for v in row if v}
