"""Signals end the console the way ``q`` does: state saved, pools and store closed, terminal back.

Without handlers, SIGTERM (``kill``, systemd) and SIGHUP (the terminal went away: ``tmux
kill-session``, a dropped SSH connection) killed the process where it stood: the terminal was
left in raw mode and a demo's temporary store stayed in /tmp. Here each of them, and SIGINT
sent from outside (in the console ``ctrl+c`` is a key, bound to quit), runs the app's quit
action on its event loop; the CLI then leaves its ``with`` blocks, which stop the demo's
simulator and remove its store.

A hang-up (SIGHUP with the terminal gone) needs more: Textual's output thread dies on the first
write that fails (EIO), after which its bounded queue blocks the shutdown for good. So the
standard streams are pointed at /dev/null first, and a watchdog makes sure the process ends:
if quitting has not finished within :data:`HANGUP_GRACE_S`, it runs the given clean-up (the
demo removes its store) and exits. A SIGHUP sent by hand to a live terminal quits like SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pf_tui.tui.app import PfApp

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
HANGUP_GRACE_S = 5.0
"""After a hang-up, how long quitting may take before the watchdog ends the process."""


@contextmanager
def quit_on_signals(app: PfApp, *, last_resort: Callable[[], None] | None = None) -> Iterator[None]:
    """While the block runs, SIGTERM, SIGHUP and SIGINT run ``app``'s quit action.

    ``last_resort`` runs if a hang-up's quit does not finish in time, just before the process
    exits (it must not need the event loop).
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP and _terminal_gone():
            _detach_terminal()
            _watchdog(last_resort)
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


def _terminal_gone() -> bool:
    """Whether the terminal hung up (a SIGHUP can also be sent by hand to a live one)."""
    try:
        poller = select.poll()
        poller.register(0, select.POLLIN)
        return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return True


def _detach_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null: writes to a hung-up terminal fail."""
    with suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)


def _watchdog(last_resort: Callable[[], None] | None) -> None:
    def expire() -> None:
        if last_resort is not None:
            with suppress(Exception):
                last_resort()
        os._exit(0)

    timer = threading.Timer(HANGUP_GRACE_S, expire)
    timer.daemon = True
    timer.start()
