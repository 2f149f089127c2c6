"""The footer: the keys of the tab on screen first, then the app's, as many as fit the width.

Textual's :class:`~textual.widgets.Footer` lists bindings in focus-chain order and lets the rest
run off the right edge, so on the Escrows tab at 80 columns the money keys never showed. This
footer keeps Textual's keys (same bindings, same click behaviour, dimmed when disabled) but
orders them: the focused tab's own keys (the money keys on Escrows, drill-down and the faucet
on Fleet), then help, quit and the brake, then the table and polling keys; a key that would not
fit whole is left out rather than cut (every key is on the ``?`` screen and in the palette). The
command palette key keeps its place on the right when there is room for it after help and quit.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer

APP_ORDER = (
    "help",
    "quit",
    "money_brake",
    # The Escrows tab's active/finished switch: after help, quit and the brake, which must fit
    # 80 columns beside the money keys (its title line names the key too).
    "toggle_finished",
    "command_palette",
    "whole_fleet",
    "cycle_sort",
    "sort_next",
    "filter",
    "refresh",
    "toggle_pause",
)
"""The app's keys (and the Escrows tab's view switch) in the order they are kept, after the
tab's own keys."""
PALETTE = "command_palette"


def _action(widget: Widget) -> str:
    return str(getattr(widget, "action", ""))


TAB_ACTIONS = frozenset({"drill", "acknowledge", "silence", "open"})
"""Actions bound on a tab's own view besides the money keys (Fleet: drill; Alerts: ack, silence,
go to)."""


def _is_tab_key(action: str) -> bool:
    return (action.startswith("money_") and action not in APP_ORDER) or action in TAB_ACTIONS


def rank(widget: Widget) -> tuple[int, int]:
    """Where a key goes: the tab's own keys first (in their order), then :data:`APP_ORDER`."""
    action = _action(widget)
    if _is_tab_key(action):
        return (0, 0)
    if action in APP_ORDER:
        return (1, APP_ORDER.index(action))
    return (2, 0)


def key_width(widget: Widget) -> int:
    """Cells a footer key takes in the compact style: key, space, description, margin."""
    key = str(getattr(widget, "key_display", ""))
    description = str(getattr(widget, "description", ""))
    if _action(widget) == PALETTE:
        return 1 + len(key) + 1 + len(description)  # its left border, no margin
    return len(key) + (1 + len(description) if description else 0) + 1


def fit(widgets: Iterable[Widget], width: int) -> list[Widget]:
    """The keys to show at ``width`` columns, in :func:`rank` order, none cut."""
    kept: list[Widget] = []
    used = 0
    for widget in sorted(widgets, key=rank):
        need = key_width(widget)
        if used + need <= width:
            kept.append(widget)
            used += need
    return kept


class KeysFooter(Footer):
    """Textual's footer in its compact style, ordered and fitted (see the module docstring)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, compact=True)
        self._width = 0

    def compose(self) -> ComposeResult:
        """Textual's footer keys, reordered and fitted to the terminal's width."""
        self._width = self.app.size.width
        yield from fit(super().compose(), self._width)

    def on_resize(self, event: events.Resize) -> None:
        """A new width may fit more (or fewer) keys."""
        if self.app.size.width != self._width:
            self.call_after_refresh(self.recompose)
