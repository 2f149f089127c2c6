"""The shared shape of the money forms: fields, then Enter asks the core for a preview.

A form is a ``ModalScreen[ActionPreview | None]``: Enter (or the Preview button) builds the
intent from the fields and awaits the core's :meth:`ActionEngine.preview`; a refusal (bad amount,
over the limit, read-only, an action in flight) is shown under the form and nothing is sent. The
preview it returns goes on to :class:`~pf_tui.tui.dialogs.money.confirm.ConfirmMoneyDialog`.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select

from pf_tui.core.money.types import ActionError, ActionPreview, ActionValidationError, Intent
from pf_tui.tui.dialogs.money.base import MoneyDialog, error_line
from pf_tui.tui.sanitize import safe

Previewer = Callable[[Intent], Awaitable[ActionPreview]]
"""The money desk's ``preview``: an intent in, the exact requests out (or a typed refusal)."""


def choice_label(label: str, value: str) -> Text:
    """``label (ag_...)`` for a Select option, both untrusted."""
    text = safe(label, limit=40)
    if label != value:
        text.append(" (")
        text.append_text(safe(value))
        text.append(")")
    return text


T = TypeVar("T")


class MoneySelect(Select[T]):
    """A :class:`Select` in a money form: space or the arrows open its list (Enter in the list
    picks), and Enter on the closed select previews, as on every other field, instead of
    reopening the list it was just picked from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "preview", "Preview", show=False),
    ]

    async def action_preview(self) -> None:
        """Enter: the form's preview."""
        screen = self.screen
        if isinstance(screen, MoneyForm):
            await screen.submit()


class MoneyForm(MoneyDialog["ActionPreview | None"]):
    """Base of the forms; subclasses compose fields and turn them into an intent."""

    TITLE = "Money action"

    def __init__(self, previewer: Previewer, *, opening_keys: Iterable[str] = ()) -> None:
        super().__init__(cancel_result=None, opening_keys=opening_keys)
        self.previewer = previewer
        self.busy = False
        self.confirming = False
        """A confirmation is on top of this form (Enters queued behind it must not push more)."""
        self.confirm_with: Callable[[ActionPreview], ModalScreen[bool]] | None = None
        """Makes the confirmation pushed over this form (the flow sets it). With it, the form
        closes with a preview only once confirmed; Escape there comes back here, values kept.
        Without it, the form closes with the preview as soon as the core returns it."""

    def compose(self) -> ComposeResult:
        """The box: the subclass's fields, the error line, Cancel and Preview."""
        with Vertical(id="money-box", classes="money-box money-form") as box:
            box.border_title = self.TITLE
            box.border_subtitle = "enter previews; space opens a list; esc cancels"
            # The fields scroll (an 80x24 terminal shows a few at a time); the error line and
            # the buttons stay under them, always on screen.
            with VerticalScroll(id="money-fields"):
                yield from self.fields()
            yield error_line()
            with Horizontal(classes="money-buttons"):
                yield Button("Cancel", id="money-cancel")
                yield Button("Preview (enter)", id="money-preview-button", variant="primary")

    @abc.abstractmethod
    def fields(self) -> ComposeResult:
        """The form's labelled inputs."""

    @abc.abstractmethod
    def build_intent(self) -> Intent:
        """The intent the fields describe (raise :class:`ActionValidationError` on a bad field)."""

    @staticmethod
    def row(label: str, widget: Widget) -> Horizontal:
        """One labelled field."""
        return Horizontal(Label(label, classes="money-label"), widget, classes="money-row")

    def value(self, field_id: str) -> str:
        """An input's text."""
        return self.query_one(f"#{field_id}", Input).value.strip()

    def selected(self, field_id: str) -> object:
        """A select's value (``None`` when blank)."""
        value = self.query_one(f"#{field_id}", Select).value
        return None if value is Select.NULL else value

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        """Cancel or Preview."""
        event.stop()
        if event.button.id == "money-preview-button":
            await self.submit()
        else:
            self.action_cancel()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any field previews."""
        event.stop()
        await self.submit()

    async def submit(self) -> None:
        """Build the intent, ask the core for the preview; close with it or show why not."""
        if self.busy or self.confirming or self._finished:
            return  # a mashed Enter: the one preview (or confirmation) is enough
        self.busy = True
        try:
            intent = self.build_intent()
            preview = await self.previewer(intent)
        except ActionError as exc:
            self.show_error(str(exc))
            field = getattr(exc, "field", None) if isinstance(exc, ActionValidationError) else None
            self._focus_field(field)
            return
        finally:
            self.busy = False
        if preview.needs_choice:
            self.show_error(
                "choose what to do with the funded tranche the payee has not earned in full"
            )
            self._focus_field("unearned")
            return
        if self.confirm_with is None:
            self.finish(preview)
            return
        self.hide_error()
        self.confirming = True
        self.app.push_screen(self.confirm_with(preview), lambda ok: self._confirmed(preview, ok))

    def _confirmed(self, preview: ActionPreview, ok: bool | None) -> None:
        """Confirmed: close with the preview (the flow sends it). Not: back to the form."""
        self.confirming = False
        if ok:
            self.finish(preview)
        else:
            self.show_error("not sent: change what you need and preview again; esc closes")

    def _focus_field(self, field: str | None) -> None:
        if not field:
            return
        for widget in self.query(f"#money-{field.replace('_', '-')}"):
            widget.focus()
            return
