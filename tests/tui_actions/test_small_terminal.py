"""The money dialogs in an 80x24 SSH terminal: every dialog walked to its Confirm button (clicked
where it is drawn, so it must be on screen) and confirmed, the request reaching the simulator
once; the typed confirmation's focus, Escape on a preview keeping the form, Enter on a select."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Select

from pf_tui.core.money.types import StreamMode
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.dialogs.money.confirm import ConfirmMoneyDialog
from pf_tui.tui.dialogs.money.open import OpenStreamDialog
from tests.tui.harness import make_app, settle, wait_idle
from tests.tui_actions.helpers import (
    agent_ids,
    fill,
    last_seq,
    money_done,
    money_posts,
    open_stream,
    plain,
    show_escrow,
)

# Each walks a dialog through a real app at 80x24 (10-40 s apiece on a loaded 2-core machine):
# the slow set runs them, so the quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow

SMALL = (80, 24)


@asynccontextmanager
async def small(server: SimServer, folder: Path, **options: Any) -> AsyncIterator[Pilot[int]]:
    """The console at 80x24, every figure fresh."""
    app = make_app(server, folder, **options)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        yield pilot


def on_screen(app: PfApp, widget: Widget) -> bool:
    """The whole of ``widget`` is drawn: inside the terminal and inside every scroll view
    around it (a field scrolled out of view has no region, or one outside its scroll view)."""
    region = widget.region
    if not region.area or not app.screen.region.contains_region(region):
        return False
    return all(
        scroll.region.contains_region(region)
        for scroll in widget.ancestors
        if isinstance(scroll, VerticalScroll)
    )


async def press(app: PfApp, pilot: Pilot[int], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await wait_idle(app, pilot)


async def confirm_by_click(app: PfApp, pilot: Pilot[int]) -> int:
    """Click Confirm where it is drawn (it must be within 80x24), then wait for the send;
    the number of requests the preview planned."""
    assert isinstance(app.screen, ConfirmMoneyDialog), app.screen
    planned = len(app.screen.preview.requests)
    button = app.screen.query_one("#money-confirm")
    assert on_screen(app, button), button.region
    assert button.region.right <= SMALL[0]
    await pilot.click("#money-confirm")
    await wait_idle(app, pilot)
    await money_done(app, pilot)
    return planned


async def open_form(app: PfApp, pilot: Pilot[int]) -> None:
    """o on the Escrows tab, the payee picked from the list, rate and budget typed."""
    await press(app, pilot, "4", "o")
    assert isinstance(app.screen, OpenStreamDialog)
    # space opens the payee list, down moves off the blank prompt, Enter picks
    await press(app, pilot, "space", "down", "enter")
    fill(app, {"money-rate": "0.02", "money-budget": "3"})


DIALOGS = ("open", "release", "close", "dispute", "complete", "faucet")


@pytest.mark.parametrize("dialog", DIALOGS)
async def test_every_money_dialog_confirms_at_80x24(
    server: SimServer, tmp_path: Path, dialog: str
) -> None:
    async with small(server, tmp_path) as pilot:
        app = pilot.app
        assert isinstance(app, PfApp)
        if dialog in ("release", "close", "dispute", "complete"):
            mode = StreamMode.TRANCHE if dialog == "complete" else StreamMode.NATIVE
            stream = await open_stream(app, mode=mode, budget="3", batch="1")
            await show_escrow(app, pilot, str(stream.escrow_id))
        seq = last_seq(server.url)
        if dialog == "open":
            await open_form(app, pilot)
            await press(app, pilot, "enter")
        elif dialog == "release":
            await press(app, pilot, "l")
            fill(app, {"money-amount": "0.40"})
            await press(app, pilot, "enter")
        elif dialog == "close":
            await press(app, pilot, "x")
            assert not app.screen.query_one("#money-reason-row").display  # native: no reason
            fill(app, {"money-count": "2"})
            await press(app, pilot, "enter")
        elif dialog == "dispute":
            await press(app, pilot, "d", *"service never delivered", "enter")
        elif dialog == "complete":
            await press(app, pilot, "c")
        else:
            await press(app, pilot, "3", "f")
        planned = await confirm_by_click(app, pilot)
        posts = money_posts(server.url, seq)
        # each planned request reached the simulator once (a close pays what is owed, then stops)
        assert planned >= 1 and len(posts) == planned
        assert len({post["idempotency_key"] for post in posts}) == planned


async def test_open_form_scrolls_the_focused_field_into_view(
    server: SimServer, tmp_path: Path
) -> None:
    async with small(server, tmp_path) as pilot:
        app = pilot.app
        assert isinstance(app, PfApp)
        await press(app, pilot, "4", "o")
        seen = set()
        for _ in range(12):  # every field and both buttons, forwards
            focused = app.focused
            assert focused is not None and on_screen(app, focused), focused
            seen.add(focused.id)
            await press(app, pilot, "tab")
        assert {"money-mode", "money-memo", "money-preview-button"} <= seen


async def test_typed_confirmation_focuses_its_input(server: SimServer, tmp_path: Path) -> None:
    async with small(server, tmp_path, ui={"typed_confirm_usd": Decimal("0.25")}) as pilot:
        app = pilot.app
        assert isinstance(app, PfApp)
        stream = await open_stream(app, budget="3", batch="1")
        await show_escrow(app, pilot, str(stream.escrow_id))
        seq = last_seq(server.url)
        await press(app, pilot, "l")
        fill(app, {"money-amount": "0.40"})
        await press(app, pilot, "enter")
        assert isinstance(app.screen, ConfirmMoneyDialog) and app.screen.typed
        typed = app.screen.query_one("#money-typed", Input)
        assert app.focused is typed and on_screen(app, typed)
        await press(app, pilot, *"0.40", "enter")  # what is typed is kept; Enter confirms
        await money_done(app, pilot)
        assert len(money_posts(server.url, seq)) == 1


async def test_escape_on_the_preview_goes_back_to_the_form(
    server: SimServer, tmp_path: Path
) -> None:
    async with small(server, tmp_path) as pilot:
        app = pilot.app
        assert isinstance(app, PfApp)
        seq = last_seq(server.url)
        await open_form(app, pilot)
        form = app.screen
        fill(app, {"money-memo": "price feed", "money-batch": "1"})
        values = {w.id: w.value for w in form.query(Input)}
        payee = form.query_one("#money-payee-choice", Select).value
        await press(app, pilot, "enter")
        assert isinstance(app.screen, ConfirmMoneyDialog)
        await press(app, pilot, "escape")
        assert app.screen is form  # the same form, every value as typed
        assert {w.id: w.value for w in form.query(Input)} == values
        assert form.query_one("#money-payee-choice", Select).value == payee
        assert "not sent" in plain(form.query_one("#money-error"))
        await press(app, pilot, "enter")  # preview again, and this time confirm
        await confirm_by_click(app, pilot)
        assert len(money_posts(server.url, seq)) == 1


async def test_enter_on_a_select_picks_and_does_not_reopen(
    server: SimServer, tmp_path: Path
) -> None:
    async with small(server, tmp_path) as pilot:
        app = pilot.app
        assert isinstance(app, PfApp)
        await press(app, pilot, "4", "o")
        choice = app.screen.query_one("#money-payee-choice", Select)
        assert app.focused is choice
        await press(app, pilot, "space")  # space opens the list ...
        assert choice.expanded
        await press(app, pilot, "down", "enter")  # ... Enter picks and closes it
        assert not choice.expanded and choice.value in agent_ids(app)
        fill(app, {"money-rate": "0.02", "money-budget": "3"})
        await press(app, pilot, "enter")  # Enter on the closed select previews
        assert not choice.expanded
        assert isinstance(app.screen, ConfirmMoneyDialog)


async def test_empty_amount_says_what_to_type(server: SimServer, tmp_path: Path) -> None:
    async with small(server, tmp_path) as pilot:
        app = pilot.app
        assert isinstance(app, PfApp)
        await open_form(app, pilot)
        fill(app, {"money-rate": ""})
        await press(app, pilot, "enter")
        assert isinstance(app.screen, OpenStreamDialog)
        assert "e.g. 0.01" in plain(app.screen.query_one("#money-error"))
        assert app.focused is not None and app.focused.id == "money-rate"
