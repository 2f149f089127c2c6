"""Run one money action and kill this process with SIGKILL at an injected point (crash tests).

Usage: ``python -m tests.actions.crash_driver SIM_URL DB_PATH STREAM_ID`` with ``PF_CRASH_AT``
one of ``before_journal``, ``after_journal`` (journaled, before the send), ``after_send`` (the
server executed, the reply not yet seen) or ``after_reply`` (reply in hand, before the journal
update).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from pf_tui.core.money.types import JsonObject, PlannedRequest, ReleasePartial
from pf_tui.core.money.wire import ClientWire

from .helpers import Harness

UNITS = 10


def die() -> None:
    """The crash: no cleanup, no flush, no finally blocks."""
    os.kill(os.getpid(), signal.SIGKILL)


class KillAfterSend(ClientWire):
    """The request reaches the server and executes; the process dies before it sees the reply."""

    async def post(self, agent_id: str, request: PlannedRequest, path: str) -> JsonObject:
        reply = await super().post(agent_id, request, path)
        die()
        return reply


async def main(url: str, db: str, stream_id: str) -> None:
    point = os.environ.get("PF_CRASH_AT", "")

    def checkpoint(name: str) -> None:
        if name == point:
            die()

    h = Harness(url, Path(db), checkpoint=checkpoint)
    if point == "after_send":
        h.engine.runner.wire = KillAfterSend(h.client, h.keys)
    preview = await h.engine.preview(ReleasePartial(stream_id, count=UNITS))
    print(preview.key, flush=True)
    await h.engine.execute(preview)
    await h.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
