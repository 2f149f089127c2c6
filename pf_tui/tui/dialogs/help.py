"""The ``?`` help screen: every binding with the keys that run it now (keymap applied)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from pf_tui.tui.keymap import EVERY_BINDING, TABLE_NAVIGATION, effective_keys

SUBTITLE = "esc closes; remap any id in [ui] keymap"
"""The help box's bottom line. Given as :class:`Content`, never markup: ``[ui]`` would be read
as a style tag and vanish."""


def help_table(keymap: dict[str, str]) -> Table:
    """Key, action and what it does, for every binding."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    # "What it does" keeps at least 28 cells: at 80 columns the other three give way (keys and
    # actions wrap; ids never do, they are what [ui] keymap takes).
    table.add_column("Keys", max_width=12)
    table.add_column("Action")
    table.add_column("What it does", ratio=1, width=28)
    table.add_column("Id", style="dim", no_wrap=True)
    for binding in EVERY_BINDING:
        table.add_row(
            Text(effective_keys(binding, keymap)),
            Text(binding.description),
            Text(binding.tooltip),
            Text(binding.id or ""),
        )
    for keys, what in TABLE_NAVIGATION:
        table.add_row(Text(keys), Text("Table"), Text(what), Text(""))
    return table


class HelpScreen(ModalScreen[None]):
    """Lists every key; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,question_mark",
            "dismiss_help",
            "Close",
            id="help.close",
            tooltip="Close the help",
        ),
    ]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self._keymap = keymap

    def compose(self) -> ComposeResult:
        """A titled, scrollable box with the key table."""
        with VerticalScroll(id="help-box") as box:
            box.border_title = Content("Keys")
            box.border_subtitle = Content(SUBTITLE)
            yield Static(help_table(self._keymap), id="help-table")

    def action_dismiss_help(self) -> None:
        """Close the help screen."""
        self.dismiss(None)
