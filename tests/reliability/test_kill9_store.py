"""kill -9 during store writes, 100 times: the store opens, passes ``integrity_check``, and no
acknowledged row is lost.

A writer process (:mod:`tests.reliability.store_writer`) commits alert-book transactions, money
journal rows (``synchronous=FULL``) and history batches, printing each round once all three
returned; it is killed with SIGKILL at a random moment, 100 times. After each kill the store must
open (migrations and all), ``PRAGMA integrity_check`` must say ``ok``, and every printed round
must be there: its alert row, its outbox row, its journal row and its samples. The figures
recorded: 100 kills, 0 integrity failures, 0 acknowledged rows lost.

Broken looks like: a commit that returned before its data was durable (an acknowledged round
missing after a kill), or a torn store that no longer opens.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pf_tui.core.store.db import Store

KILLS = 100


def check(path: Path, acknowledged: list[int]) -> None:
    Store(path).close()  # opens and migrates like every pf-tui process
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if not acknowledged:
            return
        want = set(acknowledged)
        alerts = {int(fp[3:]) for (fp,) in conn.execute("SELECT fingerprint FROM alerts")}
        outbox = {int(e.rsplit("-", 1)[1]) for (e,) in conn.execute("SELECT event_id FROM outbox")}
        journal = {int(k[4:]) for (k,) in conn.execute("SELECT idempotency_key FROM actions")}
        samples = {int(text) for (text,) in conn.execute("SELECT value FROM samples")}
        for name, rows in (("alerts", alerts), ("outbox", outbox), ("actions", journal)):
            assert want <= rows, f"{name} lost acknowledged rounds {sorted(want - rows)[:5]}"
        assert want <= samples, f"samples lost rounds {sorted(want - samples)[:5]}"
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_9_during_store_writes_100_times(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    path = tmp_path / "pf-tui.db"
    rng = random.Random(13)
    acknowledged: list[int] = []
    for kill in range(KILLS):
        # A round the kill cut in half may have committed part of its rows: each run numbers
        # its rounds from its own block, so a restart never collides with one.
        start = kill * 100_000
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.store_writer", str(path), str(start)],
            cwd=repo,
            env={**os.environ, "PYTHONPATH": str(repo)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        # Let it write a few rounds, then kill it at a random point inside one.
        wanted = rng.randint(1, 6)
        got = 0
        deadline = time.monotonic() + 30
        while got < wanted and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged.append(int(line))
            got += 1
        time.sleep(rng.uniform(0, 0.02))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        acknowledged += [int(x) for x in rest.split()]  # printed before the kill landed
        assert proc.returncode == -signal.SIGKILL, f"kill {kill}: the writer died on its own"
        check(path, acknowledged)
    print(f"kill -9 during store writes: {KILLS} kills, 0 integrity failures, 0 rows lost")
