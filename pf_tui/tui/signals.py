"""Signals end the console the way ``q`` does: state saved, pools and store closed, terminal back.

Without handlers, SIGTERM (``kill``, systemd) and SIGHUP (the terminal went away: ``tmux
kill-session``, a dropped SSH connection) killed the process where it stood: the terminal was
left in raw mode and a demo's temporary store stayed in /tmp. Here each of them, and SIGINT
sent from outside (in the console ``ctrl+c`` is a key, bound to quit), runs the app's quit
action on its event loop; the CLI then leaves its ``with`` blocks, which stop the demo's
simulator and remove its store.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pf_tui.tui.app import PfApp


SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@contextmanager
def quit_on_signals(app: PfApp) -> Iterator[None]:
    """While the block runs, SIGTERM, SIGHUP and SIGINT run ``app``'s quit action."""

    def handler(signum: int, frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # The app's loop is not running (start-up or shut-down): leave the ordinary way,
            # through the CLI's KeyboardInterrupt handling and its with blocks.
            raise KeyboardInterrupt from None
        # A Python signal handler runs between two bytecodes of the loop's thread; scheduling
        # through the thread-safe call wakes the loop and runs quit as an ordinary task.
        loop.call_soon_threadsafe(app.call_later, app.action_quit)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
