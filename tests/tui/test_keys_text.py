"""Every help, palette and footer string reads as written (nothing eaten as markup), and the
footer shows the keys of the tab on screen.

Before, ``[ui]`` vanished from the help's subtitle ("remap any id in  keymap") and ``[S]``,
``[P]``, ``[A]`` from the palette (an upper-case bracket is a style tag to Textual's markup).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from textual.content import Content
from textual.widget import Widget

from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.commands import ActionCommands, command_help, literal
from pf_tui.tui.dialogs.help import SUBTITLE, HelpScreen, help_table
from pf_tui.tui.keymap import EVERY_BINDING, TABLE_NAVIGATION, TABS, effective_keys
from pf_tui.tui.widgets.keys_footer import KeysFooter, key_width
from tests.tui.harness import make_app, settle, wait_idle

# Minutes of pilots and subprocesses on a 2-core machine: the slow set runs them (CI too), so
# the quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEYMAP = {"table.reverse": "R", "money.audit": "ctrl+a,A"}
"""A keymap with an upper-case key and two keys for one binding, as a user may write."""


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_every_help_row_reads_as_written() -> None:
    """The help table holds each binding's keys, name and text verbatim, and renders them all."""
    table = help_table(KEYMAP)
    rows = list(zip(*([str(c) for c in column.cells] for column in table.columns), strict=True))
    expected = [
        (effective_keys(b, KEYMAP), b.description, b.tooltip, b.id or "") for b in EVERY_BINDING
    ] + [(keys, "Table", what, "") for keys, what in TABLE_NAVIGATION]
    assert rows == expected
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(table)
    rendered = _plain(out.getvalue())
    for row in expected:
        for cell in row:
            for word in cell.split():
                assert word in rendered, (word, row)


def test_help_subtitle_keeps_its_brackets() -> None:
    assert "[ui] keymap" in SUBTITLE


@pytest.mark.parametrize("binding", EVERY_BINDING, ids=lambda b: b.id or b.key)
def test_every_palette_help_reads_as_written(binding: object) -> None:
    """The palette parses help as markup: what it shows must be exactly the text meant."""
    from textual.binding import Binding

    assert isinstance(binding, Binding)
    for keymap in ({}, KEYMAP):
        text = command_help(binding, keymap)
        assert Content.from_markup(literal(text)).plain == text


@pytest.mark.parametrize("text", ["[S]", "[ui] keymap", "[/]", "[@click=app.quit]x", "a[b][/b]"])
def test_literal_survives_any_bracket(text: str) -> None:
    assert Content.from_markup(literal(text)).plain == text


def _footer_keys(app: PfApp) -> list[Widget]:
    footer = app.query_one(KeysFooter)
    return [w for w in footer.children if hasattr(w, "key_display")]


def _footer_text(app: PfApp) -> list[str]:
    """Each footer key as the terminal shows it (rendered, so markup would show as eaten)."""
    out = []
    for widget in _footer_keys(app):
        rendered = widget.render()
        out.append(_plain(str(getattr(rendered, "plain", rendered))))
    return out


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_footer_shows_the_tabs_keys_whole(
    server: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """Escrows: its six money keys and the faucet; Fleet: the faucet; Alerts: ack and silence;
    and everywhere help and quit. Nothing cut: the keys fit the width.

    Breaking it looks like the money keys missing from the Escrows footer (as before), or a
    key pushed past the right edge.
    """
    app = make_app(server, tmp_path, keymap={"table.reverse": "R"})
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        expected = {
            "overview": {"? Help", "q Quit", "r Refresh", "p Pause polls"},
            "positions": {"? Help", "q Quit", "s Sort", "/ Filter"},
            "fleet": {"f Faucet", "? Help", "q Quit", "s Sort", "/ Filter"},
            "escrows": {
                "o Open",
                "l Release",
                "P Pause",
                "x Close",
                "d Dispute",
                "c Complete",
                "f Faucet",
                "? Help",
                "q Quit",
            },
            "alerts": {"a Ack", "m Silence 1h", "? Help", "q Quit"},
        }
        for number, (tab, _title) in enumerate(TABS, start=1):
            await pilot.press(str(number))
            await wait_idle(app, pilot)
            shown = _footer_text(app)
            assert expected[tab] <= set(shown), (tab, shown)
            assert sum(key_width(w) for w in _footer_keys(app)) <= size[0], (tab, shown)
        if size[0] >= 120:
            assert "^p Commands" in shown
            await pilot.press("4")
            await wait_idle(app, pilot)
            assert "F Finished" in _footer_text(app)


async def test_palette_commands_read_as_written(server: SimServer, tmp_path: Path) -> None:
    """On every tab, each command the palette offers shows its keys, upper case included."""
    app = make_app(server, tmp_path, keymap=KEYMAP)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        seen: set[str] = set()
        for number in range(1, len(TABS) + 1):
            await pilot.press(str(number))
            await wait_idle(app, pilot)
            provider = ActionCommands(app.screen)
            for command in provider.commands():
                shown = Content.from_markup(command.help).plain
                assert shown.endswith("]") and "  [" in shown, shown
                seen.add(shown)
        assert any(s.endswith("[R]") for s in seen)  # table.reverse, remapped to upper case
        assert any(s.endswith("[P]") for s in seen)  # money.pause on the Escrows tab
        assert any(s.endswith("[ctrl+a, A]") for s in seen)  # the audit view, two keys


async def test_help_screen_subtitle_on_screen(server: SimServer, tmp_path: Path) -> None:
    app = make_app(server, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await wait_idle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        svg = app.export_screenshot()  # what the terminal shows, spaces as &#160;
        assert SUBTITLE.replace(" ", "&#160;") in svg


def test_the_ways_out_are_documented() -> None:
    """q, ctrl+q and ctrl+c quit, and both the help screen (the quit row) and the README say so."""
    quit_binding = next(b for b in EVERY_BINDING if b.id == "app.quit")
    assert effective_keys(quit_binding, {}) == "q, ctrl+q, ctrl+c"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for words in ("ctrl+q", "ctrl+c", "SIGTERM", "SIGHUP"):
        assert words in readme, words
