"""A ``pf-tui serve`` app on a free loopback port, and a stand-in console for guard tests."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from pf_tui.secret import Secret
from pf_tui.serve.server import ServeOptions, build_app
from tests.daemon.helpers import free_port

TOKEN = "serve-test-token-0123456789abcdef"
# A console stand-in: says it is a Textual app, then waits for the quit packet on stdin.
FAKE_CONSOLE = (
    sys.executable,
    "-c",
    "import sys; print('__GANGLION__', flush=True); sys.stdin.buffer.read(1)",
)


@asynccontextmanager
async def serving(command: tuple[str, ...] = FAKE_CONSOLE, **kw: object) -> AsyncIterator[str]:
    """Serve on 127.0.0.1 (a free port) and yield the base URL."""
    port = free_port()
    options = ServeOptions(token=Secret(TOKEN), command=command, port=port, **kw)  # type: ignore[arg-type]
    runner = web.AppRunner(build_app(options), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
