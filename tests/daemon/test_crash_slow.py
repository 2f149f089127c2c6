"""kill -9 of the delivering process 5 times while 1,000 alerts go out: nothing lost, duplicates
only for sends in flight at a kill (one webhook POST; one Telegram digest, which holds several
alerts since a chat is paced at one message a second)."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pf_tui.sim.http.server import SimServer

from .helpers import webhook_sink

KILLS = 5
TOTAL = 1000
ACTION = re.compile(r"act-\d{2}-\d{3}")


def actions_in(text: str) -> set[str]:
    """The alerts one Telegram message carries, by action id (a digest line names its action in
    the label and again in the description, so ids are counted once per message)."""
    return set(ACTION.findall(text))


@pytest.mark.slow
def test_kill_9_five_times_loses_nothing(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    with SimServer(seed=1, agents=1, motion=False) as sim, webhook_sink() as sink:
        httpx.delete(f"{sim.url}/telegram/_sent")
        args = [
            sys.executable,
            "-m",
            "tests.daemon.crash_worker",
            str(tmp_path / "s.db"),
            f"{sim.url}/telegram",
            sink.url,
        ]

        def telegram_count() -> int:
            """Alerts delivered to Telegram so far (a digest carries many)."""
            sent = httpx.get(f"{sim.url}/telegram/_sent").json()["result"]
            return sum(len(actions_in(m["text"])) for m in sent)

        kills = 0
        while True:
            proc = subprocess.Popen(args, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)})
            if kills < KILLS:
                target = (kills + 1) * TOTAL // (KILLS + 2)
                deadline = time.monotonic() + 60
                while (len(sink.event_ids()) < target or telegram_count() < target // 2) and (
                    proc.poll() is None and time.monotonic() < deadline
                ):
                    time.sleep(0.02)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    continue
            assert proc.wait(timeout=120) == 0
            break
        ids = sink.event_ids()
        texts = [m["text"] for m in httpx.get(f"{sim.url}/telegram/_sent").json()["result"]]
    assert kills == KILLS
    unique = set(ids)
    assert len(unique) == TOTAL  # lost = 0, each event id arrived
    dupes = sum(n - 1 for n in collections.Counter(ids).values())
    assert dupes <= kills  # only the one send in flight at each kill may repeat
    seen = [a for t in texts for a in actions_in(t)]
    assert len(set(seen)) == TOTAL  # every alert reached the chat
    biggest = max(len(actions_in(t)) for t in texts)
    assert len(seen) - TOTAL <= kills * biggest  # repeats: at most the digest in flight per kill
