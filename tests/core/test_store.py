"""The SQLite store: migrations, WAL, batched writes, restart, retention, the journal connection."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest

from pf_tui.clock import FakeClock
from pf_tui.core.store.db import Sample, Store, StoreClosedError, default_path, transaction
from pf_tui.core.store.schema import SCHEMA_VERSION, migrate


def test_fresh_store_is_migrated_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        conn = store.connect()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"samples", "alerts", "outbox", "streams", "actions", "kv"} <= tables
        conn.close()


def test_journal_connection_commits_with_synchronous_full(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        j = store.journal_connection()
        assert j.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with transaction(j):
            j.execute(
                "INSERT INTO actions (idempotency_key, kind, agent_id, amount, state, created_at,"
                " updated_at) VALUES ('k1', 'release', 'ag_1', '0.10', 'journaled', 1, 1)"
            )
        with pytest.raises(sqlite3.IntegrityError):
            j.execute(
                "INSERT INTO actions (idempotency_key, kind, agent_id, state, created_at,"
                " updated_at) VALUES ('k1', 'release', 'ag_1', 'journaled', 2, 2)"
            )
        other = store.connect()
        assert other.execute("SELECT amount FROM actions").fetchall() == [("0.10",)]
        j.close()
        other.close()


def test_outbox_event_id_is_unique(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        c = store.connect()
        sql = (
            "INSERT INTO outbox (receiver, event_id, payload, next_attempt_at, created_at)"
            " VALUES ('webhook', 'e1', '{}', 0, 0)"
        )
        c.execute(sql)
        with pytest.raises(sqlite3.IntegrityError):
            c.execute(sql)
        c.close()


def test_migrate_refuses_a_newer_schema(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        migrate(conn)
    conn.close()


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    assert migrate(conn) == SCHEMA_VERSION
    assert migrate(conn) == SCHEMA_VERSION
    conn.close()


def test_history_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    written = [Sample("ag_a", "balance", float(t), D("10.000001") + t) for t in range(50)]
    written += [Sample("ag_b", "pnl", float(t), D(-t)) for t in range(5)]
    store = Store(path)
    store.put_samples(written)
    store.close()

    reopened = Store(path)
    hist = reopened.load_recent(per_metric=20)
    assert hist[("ag_a", "balance")] == [(s.t, s.value) for s in written[30:50]]
    assert hist[("ag_b", "pnl")] == [(float(t), D(-t)) for t in range(5)]
    assert reopened.load_recent(20, agents=["ag_b"]).keys() == {("ag_b", "pnl")}
    assert reopened.load_recent(20, agents=[]) == {}
    reopened.close()


def test_decimal_values_round_trip_exactly(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.put_samples(
            [Sample("a", "m", 1.0, D("0.1")), Sample("a", "m", 2.0, D("123456789.123456"))]
        )
        store.flush()
        assert [v for _, v in store.load_recent(10)[("a", "m")]] == [
            D("0.1"),
            D("123456789.123456"),
        ]


def test_value_at_and_kv(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.put_samples([Sample("a", "total_bets", t, D(t * 10)) for t in (1.0, 2.0, 3.0)])
        store.flush()
        assert store.value_at("a", "total_bets", 2.5) == D(20)
        assert store.value_at("a", "total_bets", 0.5) is None
        assert store.get_kv("x") is None
        store.set_kv("x", "1")
        store.set_kv("x", "2")
        assert store.get_kv("x") == "2"


def test_retention_prunes_old_samples(tmp_path: Path) -> None:
    clock = FakeClock(start=10_000.0)
    with Store(tmp_path / "s.db", retention_s=100.0, clock=clock) as store:
        store.put_samples(
            [Sample("a", "m", t, D(1)) for t in (9_800.0, 9_899.0, 9_950.0, 10_000.0)]
        )
        store.flush()
        assert store.prune() == 2
        assert [t for t, _ in store.load_recent(10)[("a", "m")]] == [9_950.0, 10_000.0]


async def test_async_api_does_not_block_and_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.put_samples([Sample("a", "m", float(i), D(i)) for i in range(3000)])
    await store.aflush()
    hist = await store.aload_recent(5000)
    assert len(hist[("a", "m")]) == 3000
    assert await store.aprune(now=1e12) == 3000
    await store.aclose()
    with pytest.raises(StoreClosedError):
        store.put_samples([Sample("a", "m", 1.0, D(1))])


def test_default_path_is_under_user_data_dir() -> None:
    """Broken: the store defaulted to pf-tui.sqlite3 while [store] path and the docs said
    pf-tui.db: two processes of one profile could open two different stores."""
    from pf_tui.config import default_store_path

    path = default_path()
    assert path == default_store_path() and path.name == "pf-tui.db"
    assert "pf-tui" in str(path.parent)


def test_a_new_store_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a usual umask: what SQLite alone would turn into 0644 and 0755
    try:
        path = tmp_path / "data" / "pf-tui" / "pf-tui.sqlite3"
        with Store(path) as store:
            conn = store.connect()
            conn.execute("INSERT INTO kv (key, value) VALUES ('k', 'v')")  # a -wal file now
            modes = {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in (tmp_path / "data", path.parent, path, Path(f"{path}-wal"))
            }
            conn.close()
    finally:
        os.umask(old)
    assert modes == {"data": 0o700, "pf-tui": 0o700, path.name: 0o600, f"{path.name}-wal": 0o600}


def test_many_connections_migrate_one_new_store_at_once(tmp_path: Path) -> None:
    """Two processes opening a new store both saw version 0 and the second failed with
    "table samples already exists": each step now reads the version under the write lock."""
    path = tmp_path / "new.db"
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_one() -> None:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            start.wait()
            migrate(conn)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_a_failed_migration_step_leaves_the_version_unchanged(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        conn.execute("CREATE TABLE samples (x)")  # the first step's table, already there
        with pytest.raises(sqlite3.OperationalError, match="already exists"):
            migrate(conn)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert not conn.in_transaction
    finally:
        conn.close()
