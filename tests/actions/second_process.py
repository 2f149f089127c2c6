"""A second pf-tui process on the same store, for the brake and lease tests.

Usage: ``python -m tests.actions.second_process SIM_URL DB_PATH COMMAND ARG``:

- ``try STREAM_ID``: preview and execute one release of the stream; print ``done``, or the name
  of the refusal's class and its message.
- ``hold STREAM_ID``: start that release with its send held at a gate; print ``holding <pid>``
  once the request is journaled and waiting, then wait for a line on stdin before letting it go
  (the test can also kill this process while it holds).
- ``reconcile -``: reconcile what the journal holds open, with the first send held at the gate
  the same way; then print each intent's state.

Everything printed is one line, flushed, so the test reads it as it happens.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pf_tui.core.money.types import ActionError, ReleasePartial

from .helpers import GatedWire, Harness

UNITS = 10


async def attempt(h: Harness, stream_id: str) -> None:
    try:
        preview = await h.engine.preview(ReleasePartial(stream_id, count=UNITS))
        result = await h.engine.execute(preview)
    except ActionError as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
        return
    print(result.state.value, flush=True)


async def hold(h: Harness, stream_id: str) -> None:
    gated = GatedWire(h.client, h.keys)
    h.engine.runner.wire = gated
    preview = await h.engine.preview(ReleasePartial(stream_id, count=UNITS))
    task = asyncio.create_task(h.engine.execute(preview))
    await gated.sending.wait()
    print(f"holding {os.getpid()}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    gated.gate.set()
    print((await task).state.value, flush=True)


async def reconcile(h: Harness, _arg: str) -> None:
    gated = GatedWire(h.client, h.keys)
    h.engine.runner.wire = gated
    task = asyncio.create_task(h.engine.reconcile())
    await gated.sending.wait()
    print(f"holding {os.getpid()}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    gated.gate.set()
    print(" ".join(r.state.value for r in await task), flush=True)


COMMANDS = {"try": attempt, "hold": hold, "reconcile": reconcile}


async def main(url: str, db: str, command: str, arg: str) -> None:
    async with Harness(url, Path(db)) as h:
        await COMMANDS[command](h, arg)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
