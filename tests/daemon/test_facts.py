"""What the alert facts read from the store: open time-based streams and unknown money actions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.core.alerts.facts import (
    read_open_streams,
    read_unknown_actions,
    stream_interval,
)
from pf_tui.core.store.schema import migrate


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    migrate(db)
    yield db
    db.close()


def add_stream(
    conn: sqlite3.Connection,
    sid: str,
    *,
    state: str = "open",
    unit: str = "hour",
    batch: str | None = "0.5",
    last: float | None = None,
    since: float | None = None,
) -> None:
    conn.execute(
        "INSERT INTO streams (id, agent_id, payee, mode, dialect, rate, unit, budget, batch,"
        " state, last_release_at, active_since, created_at, updated_at) VALUES"
        " (?, 'ag_payer', 'ag_payee', 'tranche', 'classic', '2', ?, '10', ?, ?, ?, ?, 100, 100)",
        (sid, unit, batch, state, last, since),
    )


def test_open_streams_with_when_they_last_paid(conn: sqlite3.Connection) -> None:
    add_stream(conn, "st_paid", last=500.0, since=400.0)
    add_stream(conn, "st_fresh", since=400.0)  # never released: counts from when it accrues
    add_stream(conn, "st_new")  # nor accruing yet: counts from its creation
    add_stream(conn, "st_closed", state="closed", last=500.0)
    add_stream(conn, "st_counted", unit="call")  # paid per call: no interval to miss
    add_stream(conn, "st_nobatch", batch=None)
    # 0.5 USD a batch at 2 USD an hour: a release every 900 s
    (payer,) = read_open_streams(conn, 1000.0).items()
    assert payer[0] == "ag_payer"
    assert {(s.stream_id, s.payee, s.expected_interval_s, s.last_release_at) for s in payer[1]} == {
        ("st_paid", "ag_payee", 900.0, 500.0),
        ("st_fresh", "ag_payee", 900.0, 400.0),
        ("st_new", "ag_payee", 900.0, 100.0),
        ("st_counted", "ag_payee", None, 100.0),
        ("st_nobatch", "ag_payee", None, 100.0),
    }


def test_a_streams_spend_per_hour_is_what_it_paid_in_the_last_hour(
    conn: sqlite3.Connection,
) -> None:
    """Broken: there was no per-stream spend figure, so no per-stream spend rule could fire."""
    add_stream(conn, "st_paid", last=500.0)
    for n, (kind, amount, state, at) in enumerate(
        (
            ("release_partial", "1.5", "done", 4000.0),
            ("release", "2.25", "done", 7000.0),
            ("release", "9", "failed", 7000.0),  # refused: nothing moved
            ("release_partial", "4", "done", 100.0),  # over an hour ago
            ("create", "10", "done", 7000.0),  # funding is not paying the payee
        )
    ):
        conn.execute(
            "INSERT INTO actions (idempotency_key, kind, agent_id, stream_id, amount, state,"
            " created_at, updated_at) VALUES (?, ?, 'ag_payer', 'st_paid', ?, ?, ?, ?)",
            (f"k{n}", kind, amount, state, at, at),
        )
    (stream,) = read_open_streams(conn, 7200.0)["ag_payer"]
    assert stream.metrics["spend_usd_per_hour"] == Decimal("3.75")


def test_unknown_actions_by_agent(conn: sqlite3.Connection) -> None:
    for key, agent, state in (
        ("k1", "ag_1", "unknown"),
        ("k2", "ag_1", "done"),
        ("k3", "ag_2", "unknown"),
        ("k4", "ag_1", "unknown"),
    ):
        conn.execute(
            "INSERT INTO actions (idempotency_key, kind, agent_id, state, created_at, updated_at)"
            " VALUES (?, 'release', ?, ?, 0, 0)",
            (key, agent, state),
        )
    unknown = read_unknown_actions(conn)
    assert {agent: sorted(keys) for agent, keys in unknown.items()} == {
        "ag_1": ["k1", "k4"],
        "ag_2": ["k3"],
    }


def test_stream_interval_refuses_what_it_cannot_time() -> None:
    assert stream_interval("2", "hour", "0.5") == 900.0
    assert stream_interval("0", "hour", "0.5") is None
    assert stream_interval("2", "hour", "0") is None
    assert stream_interval("two", "hour", "0.5") is None
