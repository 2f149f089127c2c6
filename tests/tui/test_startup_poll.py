"""The console polls from the moment it loads, before its widgets are built.

Measured in tmux (docs/performance.md, "Start-up"): with the engine started at mount, the first
poll's requests went out only after the five tabs were composed, and the first figures came a
whole frame after the first paint. The engine now starts at load. Its first view can then come
before the screen is mounted; the "every agent waiting" view the app posts at mount must not
land after it and blank the figures again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import ComposeResult
from textual.message import Message
from textual.widget import Widget

from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.messages import FleetUpdated
from tests.tui.harness import make_app, settle


class _Holdup(Widget):
    """Holds the app's mount until the engine has posted its first view (or 10 s)."""

    async def on_mount(self) -> None:
        app = self.app
        assert isinstance(app, Slow)
        try:
            async with asyncio.timeout(10):
                await app.first_view.wait()
        except TimeoutError:
            pass
        app.posted_before_mount = app._view_posted


class Slow(PfApp):
    """The console with a widget that takes until the first poll's view to mount."""

    posted_before_mount = False
    first_view: asyncio.Event
    waiting: list[bool]

    def post_message(self, message: Message) -> bool:
        if isinstance(message, FleetUpdated) and self._view_posted:
            self.first_view.set()  # the engine's first (it sets _view_posted, then posts)
        return super().post_message(message)

    def on_load(self) -> None:
        self.first_view = asyncio.Event()  # (Textual then runs PfApp.on_load: it walks the MRO)

    def compose(self) -> ComposeResult:
        self.waiting = []
        yield from super().compose()
        yield _Holdup()

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        super().on_fleet_updated(message)
        message.prevent_default()  # else Textual runs PfApp's handler again (it walks the MRO)
        self.waiting.append(all(a.updated_at is None for a in message.view.agents))


async def test_a_view_polled_before_mount_is_not_blanked_by_the_waiting_view(
    server: SimServer, tmp_path: Path
) -> None:
    app = make_app(server, tmp_path, app_class=Slow)
    assert isinstance(app, Slow)
    async with app.run_test() as pilot:
        await settle(app, pilot)
        assert app.posted_before_mount  # the engine polled while the widgets were mounting
        assert app.waiting, "no view was handled"
        assert not app.waiting[0], app.waiting  # the first view drawn has figures
        assert True not in app.waiting, app.waiting  # and none after it blanks them
