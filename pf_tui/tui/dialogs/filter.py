"""The ``/`` filter prompt: returns the text to filter by, or ``None`` when cancelled."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class FilterDialog(ModalScreen[str | None]):
    """One input line; Enter applies (empty clears the filter), Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="filter.cancel", tooltip="Keep the current filter")
    ]

    def __init__(self, current: str, what: str) -> None:
        super().__init__()
        self._current = current
        self._what = what

    def compose(self) -> ComposeResult:
        """A prompt and the input."""
        with Vertical(id="filter-box") as box:
            box.border_title = f"Filter {self._what}"
            yield Static("Rows containing this text (any column); empty shows all.", classes="hint")
            yield Input(value=self._current, placeholder="text to match", id="filter-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: apply."""
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Escape: no change."""
        self.dismiss(None)
