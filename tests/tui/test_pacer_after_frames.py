"""The GC pacer's work follows the frame that draws a tick, never lands inside it.

``call_after_refresh`` ran the pacer when the screen was next idle with nothing to redraw, which
could come before the widgets a tick changed had asked for their redraw: measured at 1,000
agents, most of the pacer's collections ran between a tick's handler and its frame. The console
now runs the pacer after a screen update is output (``PfApp._display``).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import RenderableType
from textual import messages
from textual.app import App
from textual.screen import Screen

from pf_tui.sim.http.server import SimServer
from pf_tui.tui import app as app_module
from pf_tui.tui.app import PfApp
from pf_tui.tui.messages import FleetUpdated
from tests.tui.harness import make_app, settled, wait_idle


class Recording(PfApp):
    """The console, writing down in order each tick handled, each frame drawn and each pacer run."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.events: list[str] = []
        after_frame = self.gc_pacer.after_frame

        def recorded() -> None:
            self.events.append("pacer")
            after_frame()

        self.gc_pacer.after_frame = recorded  # type: ignore[method-assign]

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        super().on_fleet_updated(message)
        message.prevent_default()  # else Textual runs PfApp's handler again (it walks the MRO)
        self.events.append("tick")

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        self.events.append("draw")  # a screen update done (None: it had nothing to change)


def undrawn_at_pacer(events: list[str]) -> list[int]:
    """Where the pacer ran while a handled tick had not been drawn yet."""
    bad, undrawn = [], False
    for index, event in enumerate(events):
        if event == "tick":
            undrawn = True
        elif event == "draw":
            undrawn = False
        elif event == "pacer" and undrawn:
            bad.append(index)
    return bad


async def test_the_pacer_runs_only_after_the_tick_is_drawn(
    server: SimServer, tmp_path: Path
) -> None:
    app = make_app(server, tmp_path, app_class=Recording)
    assert isinstance(app, Recording)
    async with settled(app) as pilot:  # every figure's first poll: a tick or more
        # Three more ticks, each changing the status bar, so each has a frame to follow.
        for code in (500, 502, 503):
            app.post_message(
                FleetUpdated(replace(app.fleet_view, last_error=f"casino: HTTP {code}"))
            )
            await pilot.pause(0.1)
        await wait_idle(app, pilot)
    events = app.events
    # It runs after the last tick's frame (the screen's hook still fires in this Textual),
    # and never while a tick waits to be drawn.
    assert events.count("tick") >= 3, events
    last_tick = len(events) - 1 - events[::-1].index("tick")
    assert "pacer" in events[last_tick:], events
    assert undrawn_at_pacer(events) == [], events


class Unsignalled(Recording):
    """The console with its screen updates no longer reaching its hook (as if Textual stopped
    calling ``App._display``, or no tick ever drew anything)."""

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        App._display(self, screen, renderable)
        self.events.append("draw")


async def test_the_pacer_still_runs_when_no_frame_says_it_was_drawn(
    server: SimServer, tmp_path: Path
) -> None:
    app = make_app(server, tmp_path, app_class=Unsignalled)
    assert isinstance(app, Unsignalled)
    async with settled(app) as pilot:
        app.events.clear()
        for _ in range(8):  # 1.6 s of ticks
            app.post_message(FleetUpdated(app.fleet_view))
            await pilot.pause(0.2)
        events = list(app.events)
    assert events.count("tick") == 8, events
    assert "pacer" in events, events  # within a second of the last run: the GC stays paced


async def test_the_tickers_wait_ends_when_the_view_it_made_is_drawn(
    server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst split over several ticks waits for each view's frame before the next: the wait
    ends at that frame, not at its time limit (made long here)."""
    monkeypatch.setattr(app_module, "DRAWN_WAIT_S", 30.0)
    app = make_app(server, tmp_path, app_class=Recording)
    assert isinstance(app, Recording)
    async with settled(app):
        app.events.clear()
        app._view_drawn.clear()  # as the engine worker does before it posts a view
        app.post_message(FleetUpdated(replace(app.fleet_view, last_error="casino: HTTP 503")))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await app._last_view_drawn()
        waited = loop.time() - started
        events = list(app.events)
    assert waited < 5.0
    assert events[:2] == ["tick", "draw"], events  # handled, then its frame: then the wait ended


async def test_the_pacer_waits_for_redraws_still_queued_for_the_screen(
    server: SimServer, tmp_path: Path
) -> None:
    """A screen update can go out before every widget a tick changed has told the screen (each
    does so with an ``Update`` message): the pacer, due after that update, waits for the frame
    that draws the rest."""
    app = make_app(server, tmp_path, app_class=Recording)
    assert isinstance(app, Recording)
    async with settled(app) as pilot:
        app.events.clear()
        table = app.views["overview"]
        # The moment after a tick's first update went out, one of its redraws still queued.
        app.screen.post_message(messages.Update(table))
        app._undrawn = False
        app._after_frame()
        assert app.events == []  # not now: the table's redraw is still on its way
        assert app._undrawn  # the frame that draws it runs the pacer
        await pilot.pause(0.2)
        events = list(app.events)
    assert events[:2] == ["draw", "pacer"], events


async def test_an_overdue_pacer_runs_once_the_screen_is_settled_and_never_before(
    server: SimServer, tmp_path: Path
) -> None:
    """Ticks that kept the pacer from running after their frames run it once the screen has
    nothing left to draw, and a tick still undrawn has drawn nothing within the grace."""
    app = make_app(server, tmp_path, app_class=Unsignalled)  # no frame ever says "drawn"
    assert isinstance(app, Unsignalled)
    async with settled(app) as pilot:
        loop = asyncio.get_running_loop()
        app.events.clear()
        app._pacer_ran = loop.time() - 10  # long overdue
        # A tick handled a moment ago, not drawn yet: its frame may still come.
        app._undrawn, app._undrawn_since = True, loop.time()
        app._run_overdue_pacer()
        assert app.events == []
        # Drawn nothing for longer than the grace, but a redraw queued for the screen.
        app._undrawn_since = loop.time() - 10
        app.screen.post_message(messages.Update(app.views["overview"]))
        app._run_overdue_pacer()
        assert app.events == []
        await pilot.pause(0.3)  # the queue drains; the rescheduled call finds the screen settled
        events = list(app.events)
    assert events == ["draw", "pacer"], events  # the queued redraw drawn, then the pacer


async def test_a_console_started_with_the_collector_off_turns_it_on_after_its_first_frame(
    server: SimServer, tmp_path: Path
) -> None:
    """``pf-tui`` turns the collector off for start-up (a tenth of the demo's cold start); the
    console's pacer turns it back on once a tick is drawn. Left off, the session would run with
    no cyclic collection at all."""
    import gc

    gc.disable()
    try:
        app = make_app(server, tmp_path, app_class=Recording)
        assert isinstance(app, Recording) and app.gc_pacer.start_hold
        async with settled(app) as pilot:
            await wait_idle(app, pilot)
            # On a loaded machine the last ticks' frames can still be on their way: wait for the
            # pacer, but less than the hold's own timer (START_HOLD_S), which would also end it.
            for _ in range(30):
                if "pacer" in app.events:
                    break
                await pilot.pause(0.1)
            events = list(app.events)
            enabled = gc.isenabled()
        assert "pacer" in events and events.index("draw") < events.index("pacer"), events
        assert enabled and not app.gc_pacer.start_hold
    finally:
        gc.enable()


async def test_the_start_up_hold_ends_even_when_no_tick_is_ever_drawn(
    server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console whose pacer never runs (here: nothing ever reaches it) still gets its collector
    back, :data:`~pf_tui.tui.gc_pacer.START_HOLD_S` after it mounted."""
    import gc

    monkeypatch.setattr(app_module, "START_HOLD_S", 1.5)
    gc.disable()
    try:
        app = make_app(server, tmp_path)
        app.gc_pacer.after_frame = lambda: None  # type: ignore[method-assign]
        async with app.run_test() as pilot:
            early = gc.isenabled()  # mounted: the timer has started, not yet run
            await pilot.pause(2.0)
            late = gc.isenabled()
        assert not early and late
    finally:
        gc.enable()


async def test_the_console_warms_the_http_stack_a_moment_after_mount(
    server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[float] = []
    monkeypatch.setattr(app_module, "WARM_HTTP_S", 1.2)
    monkeypatch.setattr(app_module, "warm_http_stack", lambda: calls.append(1.0))
    app = make_app(server, tmp_path)
    async with app.run_test() as pilot:
        early = list(calls)
        await pilot.pause(2.0)
    assert early == [] and calls == [1.0]
