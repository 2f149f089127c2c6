"""What every money dialog shares: Escape cancels, auto-repeated opening keys are swallowed.

A held key (or a mashed one) must not type itself into the dialog it opened, nor press the
button that has focus: while the dialog is open, a run of presses of the key that opened it, each
within :data:`REPEAT_S` of the one before (the first counted from the dialog's mount), is ignored.
The run ends at the first other key, so typing the same letter later on purpose works.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from pf_tui.tui.sanitize import safe

REPEAT_S = 0.5
"""Presses of the opening key closer together than this are auto-repeat or mashing."""

ResultT = TypeVar("ResultT")


class RepeatGuard:
    """Decides whether a key press is a repeat of the key that opened a dialog."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = frozenset(keys)
        self.last: float | None = None
        self.active = bool(self.keys)

    def start(self, at: float) -> None:
        """The dialog is on screen from ``at`` (Textual's monotonic event time)."""
        self.last = at

    def swallow(self, event: events.Key) -> bool:
        """True for a repeat (and remember it); any other key ends the run for good."""
        if not self.active:
            return False
        if event.key in self.keys and (self.last is None or event.time - self.last < REPEAT_S):
            self.last = event.time
            return True
        self.active = False
        return False


class GuardedInput(Input):
    """An :class:`Input` that lets its money dialog swallow auto-repeated opening keys first."""

    def on_key(self, event: events.Key) -> None:
        """A repeat of the opening key is dropped before :class:`Input` would type it.

        Handlers run subclass first; ``prevent_default`` stops the dispatch before Input's own.
        """
        screen = self.screen
        if isinstance(screen, MoneyDialog) and screen.guard.swallow(event):
            event.stop()
            event.prevent_default()


class MoneyDialog(ModalScreen[ResultT]):
    """Base of the money dialogs: Escape cancels (dismisses with ``None``/``False``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="money.cancel",
            tooltip="Close without sending anything",
        )
    ]

    def __init__(self, *, cancel_result: ResultT, opening_keys: Iterable[str] = ()) -> None:
        """``cancel_result`` is what Escape (or Cancel) dismisses with: nothing is sent."""
        super().__init__()
        self.cancel_result = cancel_result
        self.guard = RepeatGuard(opening_keys)
        self._finished = False

    @on(events.Mount)
    def _start_guard(self, event: events.Mount) -> None:
        """Start the repeat window at the moment the dialog appears.

        A decorated handler, not ``on_mount``: Textual calls the ``on_mount`` of every class in
        the MRO itself, so the dialogs' own ``on_mount`` need not (and must not) call this one.
        """
        self.guard.start(event.time)

    async def on_key(self, event: events.Key) -> None:
        """Swallow repeats that reach the screen (focus on a button, not an input)."""
        if self.guard.swallow(event):
            event.stop()
            event.prevent_default()

    def finish(self, result: ResultT) -> None:
        """Dismiss once: a second confirm in the same breath is ignored."""
        if self._finished:
            return
        self._finished = True
        self.dismiss(result)

    def action_cancel(self) -> None:
        """Escape: nothing is sent."""
        self.finish(self.cancel_result)

    def show_error(self, message: str) -> None:
        """Put a refusal (core or input) under the form, as plain text."""
        line = self.query_one("#money-error", Static)
        line.update(safe(message, limit=300, style="bold"))
        line.display = True

    def hide_error(self) -> None:
        """The refusal no longer applies."""
        self.query_one("#money-error", Static).display = False


def error_line() -> Static:
    """The (hidden until needed) line where a dialog says why it refused."""
    line = Static(Text(""), id="money-error", classes="money-error")
    line.display = False
    return line
