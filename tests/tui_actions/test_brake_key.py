"""The stop-all brake on screen: `B` previews what engaging pauses, engages after a reason and the
typed word, the header says who engaged it, when and why, every money key refuses with one line,
a restart on the same store still shows it and still refuses, and `B` again lifts it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton
from textual.widgets._header import HeaderTitle

from pf_tui.core.money.types import StreamState
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.dialogs.money.brake import BrakeDialog
from pf_tui.tui.widgets.header import BRAKE_CLASS, ConsoleHeader
from tests.tui.harness import make_app, settled, wait_idle
from tests.tui_actions.helpers import fill, money_posts, plain, show_escrow, stream_on_screen

# Whole-app pilots of 10-30 s each on a 2-core machine: the slow set runs them (CI too), so the
# quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow


def header(app: PfApp) -> str:
    """The header's line as plain text."""
    return str(app.query_one(HeaderTitle).render())


def record_notes(app: PfApp) -> list[str]:
    """Every notification the app shows from now on, as plain text."""
    notes: list[str] = []
    notify = app.notify

    def recording(message: str, **options: Any) -> None:
        notes.append(message)
        notify(message, **options)

    app.notify = recording  # type: ignore[method-assign]
    return notes


async def confirm_brake(app: PfApp, pilot: Pilot[int], reason: str, word: str) -> None:
    """Reason, Enter (on to the typed word), the word, Enter."""
    fill(app, {"money-reason": reason})
    await pilot.press("enter")
    await wait_idle(app, pilot)
    assert app.focused is not None and app.focused.id == "money-typed"
    app.screen.query_one("#money-typed", Input).value = word
    await pilot.press("enter")
    await wait_idle(app, pilot)


async def test_engage_survives_a_restart_refuses_money_then_lifts(
    server: SimServer, tmp_path: Path
) -> None:
    async with stream_on_screen(server, tmp_path) as scene:
        app, pilot, stream = scene.app, scene.pilot, scene.stream
        assert "BRAKE" not in header(app)
        await pilot.press("B")
        await wait_idle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, BrakeDialog) and dialog.engage
        body = plain(dialog.query_one("#brake-preview"))
        assert "Pauses 1 open stream(s)" in body and stream.id in body
        # What the stream's escrow still does on its own, in the server's words.
        assert "pf-tui releases nothing more, but the server pays the payee" in body
        # A wrong word sends nothing and says why.
        fill(app, {"money-reason": "incident 42", "money-typed": "yes"})
        await dialog.run_action("confirm")
        await wait_idle(app, pilot)
        assert "type brake exactly" in plain(dialog.query_one("#money-error"))
        assert not app.desk.brake().engaged
        await confirm_brake(app, pilot, "incident 42", "brake")
        assert not app.screen.is_modal
        assert app.desk.engine.stream(stream.id).state is StreamState.PAUSED
        line = header(app)
        assert line.startswith("BRAKE ON since 12:15 UTC by ") and ": incident 42  B lifts" in line
        assert app.query_one(ConsoleHeader).has_class(BRAKE_CLASS)
        notes = record_notes(app)
        await pilot.press("x")
        await wait_idle(app, pilot)
        assert not app.screen.is_modal
        assert notes[-1].startswith("brake on since 12:15 UTC by ")
        assert "incident 42: nothing is sent until it is lifted (B lifts it)" in notes[-1]
        assert "\n" not in notes[-1]
        assert scene.posts() == []

    # A new console on the same store: the brake is still on, in the header and for the keys.
    again = make_app(server, tmp_path)
    async with settled(again) as pilot:
        assert "BRAKE ON" in header(again) and "incident 42" in header(again)
        await show_escrow(again, pilot, str(stream.escrow_id))
        notes = record_notes(again)
        for key in "lxd":
            await pilot.press(key)
            await wait_idle(again, pilot)
            assert not again.screen.is_modal, key
            assert notes[-1].startswith("brake on since"), key
        assert money_posts(scene.url, scene.seq) == []

        await pilot.press("B")
        await wait_idle(again, pilot)
        dialog = again.screen
        assert isinstance(dialog, BrakeDialog) and not dialog.engage
        body = plain(dialog.query_one("#brake-preview"))
        assert "incident 42" in body and "It paused 1 stream(s)" in body and stream.id in body
        dialog.query_one("#brake-resume-all", RadioButton).value = True
        dialog.query_one("#money-reason", Input).focus()
        await confirm_brake(again, pilot, "all clear", "lift")
        assert not again.desk.brake().engaged
        assert "BRAKE" not in header(again)
        assert not again.query_one(ConsoleHeader).has_class(BRAKE_CLASS)
        assert again.desk.engine.stream(stream.id).state is StreamState.OPEN  # resumed
        assert money_posts(scene.url, scene.seq) == []  # the brake itself sends nothing


async def test_cancel_changes_nothing(server: SimServer, tmp_path: Path) -> None:
    app = make_app(server, tmp_path)
    async with settled(app) as pilot:
        await pilot.press("B")
        await wait_idle(app, pilot)
        assert isinstance(app.screen, BrakeDialog)
        assert "No open stream to pause" in plain(app.screen.query_one("#brake-preview"))
        await pilot.press("escape")
        await wait_idle(app, pilot)
        assert not app.screen.is_modal
        assert not app.desk.brake().engaged
        assert "BRAKE" not in header(app)
