"""A full disk, a read-only database and a database locked by another writer.

Each gets a clear error, the process keeps running, and a money action is refused rather than
sent unjournaled: the simulator's request log must show no POST that lacks a committed journal
row (the figure this records: 0 such POSTs). The full disk is real: a small tmpfs, mounted for
the test (root only: it is skipped, saying so, elsewhere).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pf_tui.core.money.engine import ActionEngine
from pf_tui.core.money.journal import JournalUnavailableError
from pf_tui.core.money.types import OpenStream
from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import Harness, last_seq, open_intent, posts


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer(host="127.0.0.1", port=0, seed=7, agents=4, motion=False, limits="off")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs at ``tmp_path/disk`` (needs root, as CI and the dev machines have)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root needed): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk says it is full; the file, to free it later."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512):  # big writes, then the last bytes that fit
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as info:
        (folder / "probe").write_bytes(b"\0" * 4096)
    assert info.value.errno == errno.ENOSPC
    return filler


@pytest.fixture(autouse=True)
def _fresh(sim: SimServer) -> None:
    httpx.post(f"{sim.url}/_sim/reset")


def intent(sim: SimServer) -> OpenStream:
    return open_intent(sim.url)


async def refused_and_nothing_sent(h: Harness, engine: ActionEngine, sim: SimServer) -> str:
    """Preview and execute a stream open; it must be refused with no POST reaching the server."""
    since = last_seq(sim.url)
    preview = await engine.preview(intent(sim))
    with pytest.raises(JournalUnavailableError) as info:
        await engine.execute(preview)
    assert posts(sim.url, since) == []  # POSTs without a committed journal row: 0
    return str(info.value)


async def test_a_full_disk_refuses_the_money_action(sim: SimServer, small_disk: Path) -> None:
    """Broken: an sqlite3 error escaped as a traceback (or, worse, the request went out first)."""
    async with Harness(sim.url, small_disk / "pf-tui.db") as h:
        filler = fill(small_disk)
        message = await refused_and_nothing_sent(h, h.engine, sim)
        assert "the disk is full" in message and "Nothing was sent" in message
        filler.unlink()
        since = last_seq(sim.url)
        result = await h.engine.execute(await h.engine.preview(intent(sim)))
        assert result.done and len(posts(sim.url, since)) == 1  # room again: it goes, once


async def test_a_read_only_database_refuses_the_money_action(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "pf-tui.db"
    async with Harness(sim.url, db) as h:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
        engine = ActionEngine(conn, h.wire, clock=h.clock)
        message = await refused_and_nothing_sent(h, engine, sim)
        assert "read-only" in message
        conn.close()


async def test_a_locked_database_refuses_the_money_action(sim: SimServer, tmp_path: Path) -> None:
    """Broken: the journal waited 30 s for the lock, freezing the console, then raised."""
    db = tmp_path / "pf-tui.db"
    async with Harness(sim.url, db) as h:
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            message = await refused_and_nothing_sent(h, h.engine, sim)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert "locked by another writer" in message
        result = await h.engine.execute(await h.engine.preview(intent(sim)))
        assert result.done


def test_the_daemon_keeps_running_on_a_broken_store_and_stops_pinging(tmp_path: Path) -> None:
    """Broken: a locked or full store raised out of the evaluation and ended the daemon; now the
    evaluation fails with one log line per cause, polling goes on, and the dead man's switch is
    not called until the store takes writes again."""
    import asyncio
    import logging
    from io import StringIO

    from pf_tui.clock import FakeClock
    from pf_tui.core.notify.deadman import DeadMan
    from pf_tui.daemon.logs import setup_logging
    from pf_tui.daemon.loop import Daemon, DaemonOptions
    from tests.daemon.test_daemon_offline import dead_config

    pings: list[str] = []

    def ping(request: httpx.Request) -> httpx.Response:
        pings.append(request.url.path)
        return httpx.Response(200)

    async def run() -> None:
        config = dead_config(tmp_path, "http://127.0.0.1:9/hook")
        stream = StringIO()
        handler = setup_logging(config, stream)
        clock = FakeClock()
        daemon = Daemon(config, clock, DaemonOptions())
        daemon.deadman = DeadMan(
            _secret("https://hc.example/ping/dm-CANARY-123456"),
            interval=1.0,
            transport=httpx.MockTransport(ping),
        )
        try:
            assert daemon.tick()
            await asyncio.sleep(0.05)
            assert len(pings) == 1
            other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            for _ in range(3):
                clock.advance(2)
                assert not daemon.tick()  # refused, not raised
            other.execute("ROLLBACK")
            other.close()
            await asyncio.sleep(0.05)
            assert len(pings) == 1  # no ping while the store was locked
            clock.advance(2)
            assert daemon.tick()
            await asyncio.sleep(0.05)
            assert len(pings) == 2
        finally:
            await daemon.close()
            logging.getLogger("pf_tui").removeHandler(handler)
        lines = [line for line in stream.getvalue().splitlines() if "not committed" in line]
        assert len(lines) == 1 and "database locked by another writer" in lines[0]
        assert "CANARY" not in stream.getvalue()

    asyncio.run(run())


def _secret(value: str):
    from pf_tui.secret import Secret

    return Secret(value)
