"""One SQLite file for everything pf-tui keeps: sample history, alert log, outbox, streams, journal.

Writes never block the event loop: samples go into a queue that a writer thread drains in batches
(one transaction per batch, ``synchronous=NORMAL`` under WAL, which is durable enough for history).
Reads run in :func:`asyncio.to_thread` for async callers and directly for tools. Money actions get
their own connection with ``synchronous=FULL`` (:meth:`Store.journal_connection`): the journal row
must be on disk before the request leaves (docs/design.md, Storage).
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config.paths import default_store_path
from pf_tui.core.store.schema import migrate
from pf_tui.files import make_private_dir

DEFAULT_RETENTION_S = 30 * 86_400.0
"""Samples older than this are pruned: ``[store] retention_days``' default, 30 days."""
_FLUSH = object()
_STOP = object()


def default_path() -> Path:
    """The store ``[store] path`` defaults to (:func:`pf_tui.config.default_store_path`: one
    name, ``pf-tui.db`` in the user data folder, whoever opens it)."""
    return default_store_path()


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one metric of one agent at unix time ``t``."""

    agent: str
    metric: str
    t: float
    value: Decimal


History = dict[tuple[str, str], list[tuple[float, Decimal]]]
"""``(agent, metric) -> [(t, value), ...]`` oldest first."""


def _create_private(path: Path) -> None:
    """Create the store file 0600 in a 0700 folder unless it exists.

    SQLite would create it with the umask's default (0644: the journal readable by anyone);
    it gives the ``-wal`` and ``-shm`` files the database file's mode, so they follow.
    """
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact anyway
    os.close(fd)


BUSY_TIMEOUT_S = 5.0
"""How long a write waits for another writer's lock (history writer, the console's thread)."""
EVAL_BUSY_TIMEOUT_S = 0.5
"""The daemon's evaluation connection waits less: it runs on the event loop every second, and a
store locked for good must cost a failed evaluation, not a frozen daemon."""
JOURNAL_BUSY_TIMEOUT_S = 2.0
"""The money journal runs on the console's event loop too: a locked store refuses the action
after this long rather than freezing the screen."""


def _open(
    path: str, *, synchronous: str = "NORMAL", busy_timeout_s: float = BUSY_TIMEOUT_S
) -> sqlite3.Connection:
    # Autocommit mode (isolation_level=None): transactions are explicit, so nothing is left open.
    conn = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class StoreClosedError(RuntimeError):
    """The store was closed; nothing more can be written."""


class Store:
    """The SQLite store: migrations on open, a batched sample writer, sync and async reads."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        retention_s: float = DEFAULT_RETENTION_S,
        clock: Clock = SYSTEM_CLOCK,
        batch_size: int = 2_000,
    ) -> None:
        target = Path(path) if path is not None else default_path()
        _create_private(target)
        self.path = target
        self.retention_s = retention_s
        self._clock = clock
        self._batch_size = batch_size
        self._read = _open(str(target))
        migrate(self._read)
        self._read_lock = threading.Lock()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._writer_error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, name="pf-tui-store", daemon=True)
        self._writer.start()

    # ---- connections for the other engines (alerts, notify, actions) ----------------------

    def connect(self, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
        """A new WAL connection in autocommit mode (``synchronous=NORMAL``), schema up to date."""
        return _open(str(self.path), busy_timeout_s=busy_timeout_s)

    def journal_connection(self) -> sqlite3.Connection:
        """A new connection whose commits are durable before they return (``synchronous=FULL``)."""
        return _open(str(self.path), synchronous="FULL", busy_timeout_s=JOURNAL_BUSY_TIMEOUT_S)

    # ---- sample writes (never block the caller) -------------------------------------------

    def put_samples(self, samples: Iterable[Sample]) -> None:
        """Queue samples for the writer thread; returns at once (safe from the event loop)."""
        if self._closed:
            raise StoreClosedError("the store is closed")
        rows = [(s.agent, s.metric, s.t, str(s.value)) for s in samples]
        if rows:
            self._queue.put(rows)

    def flush(self) -> None:
        """Block until every sample queued before this call is committed (sync tools, tests)."""
        if self._closed:
            return
        done = threading.Event()
        self._queue.put((_FLUSH, done))
        done.wait()
        if self._writer_error is not None:
            raise RuntimeError("the store's writer failed") from self._writer_error

    async def aflush(self) -> None:
        """:meth:`flush` without blocking the event loop."""
        await asyncio.to_thread(self.flush)

    def _write_loop(self) -> None:
        conn = _open(str(self.path))
        try:
            while True:
                item = self._queue.get()
                batch: list[tuple[str, str, float, str]] = []
                waiters: list[threading.Event] = []
                stop = False
                while True:
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, tuple) and item and item[0] is _FLUSH:
                        waiters.append(item[1])
                    elif isinstance(item, list):  # rows from put_samples
                        batch.extend(item)
                    if len(batch) >= self._batch_size:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    try:
                        with _transaction(conn):
                            conn.executemany(
                                "INSERT INTO samples (agent, metric, t, value) VALUES (?, ?, ?, ?)",
                                batch,
                            )
                    except sqlite3.Error as exc:  # a full disk must not kill the engine
                        self._writer_error = exc
                for waiter in waiters:
                    waiter.set()
                if stop:
                    return
        finally:
            conn.close()

    # ---- sample reads ---------------------------------------------------------------------

    def load_recent(self, per_metric: int, agents: Sequence[str] | None = None) -> History:
        """The last ``per_metric`` samples of every (agent, metric), oldest first."""
        sql = (
            "SELECT agent, metric, t, value FROM ("
            " SELECT agent, metric, t, value,"
            "  ROW_NUMBER() OVER (PARTITION BY agent, metric ORDER BY t DESC) AS rn"
            " FROM samples{where}) WHERE rn <= ? ORDER BY agent, metric, t"
        )
        params: list[object] = []
        where = ""
        if agents is not None:
            if not agents:
                return {}
            where = f" WHERE agent IN ({','.join('?' * len(agents))})"
            params.extend(agents)
        params.append(per_metric)
        out: History = {}
        with self._read_lock:
            rows = self._read.execute(sql.format(where=where), params).fetchall()
        for agent, metric, t, value in rows:
            out.setdefault((agent, metric), []).append((t, Decimal(value)))
        return out

    async def aload_recent(self, per_metric: int, agents: Sequence[str] | None = None) -> History:
        """:meth:`load_recent` in a thread."""
        return await asyncio.to_thread(self.load_recent, per_metric, agents)

    def value_at(self, agent: str, metric: str, t: float) -> Decimal | None:
        """The last value of ``metric`` at or before ``t`` (e.g. ``total_bets`` at UTC midnight)."""
        with self._read_lock:
            row = self._read.execute(
                "SELECT value FROM samples WHERE agent = ? AND metric = ? AND t <= ?"
                " ORDER BY t DESC LIMIT 1",
                (agent, metric, t),
            ).fetchone()
        return Decimal(row[0]) if row else None

    def prune(self, now: float | None = None) -> int:
        """Delete samples older than the retention; return how many went."""
        cutoff = (self._clock.now() if now is None else now) - self.retention_s
        with self._read_lock, _transaction(self._read):
            return self._read.execute("DELETE FROM samples WHERE t < ?", (cutoff,)).rowcount

    async def aprune(self, now: float | None = None) -> int:
        """:meth:`prune` in a thread."""
        return await asyncio.to_thread(self.prune, now)

    # ---- small key/values (e.g. day marks) ------------------------------------------------

    def get_kv(self, key: str) -> str | None:
        """A stored string, or ``None``."""
        with self._read_lock:
            return read_kv(self._read, key)

    def set_kv(self, key: str, value: str) -> None:
        """Store a string under ``key`` (replacing it)."""
        with self._read_lock, _transaction(self._read):
            write_kv(self._read, key, value)

    # ---- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Write what is queued, stop the writer and close the connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        with self._read_lock:
            self._read.close()

    async def aclose(self) -> None:
        """:meth:`close` in a thread."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_kv(conn: sqlite3.Connection, key: str) -> str | None:
    """The ``kv`` string under ``key`` on ``conn``, or ``None``."""
    row: tuple[str] | None = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def write_kv(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` on ``conn``, inside the caller's transaction if one is open."""
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


class _transaction:
    """``BEGIN IMMEDIATE`` .. ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


transaction = _transaction
"""Public alias: ``with transaction(conn): ...`` for the alerts, notify and actions engines."""
