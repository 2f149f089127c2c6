"""The last step of every money action: show exactly what will be sent, then confirm or cancel.

Cancel has focus (Enter on it, or Escape, sends nothing); ``y`` (id ``money.confirm``) confirms,
a key no money action opens a dialog with. From ``[ui] typed_confirm_usd`` up, the operator must
type the amount; above ``[ui] max_action_usd`` the dialog refuses outright.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Static

from pf_tui.core.money.types import ActionPreview
from pf_tui.tui.dialogs.money.base import GuardedInput, MoneyDialog, error_line
from pf_tui.tui.dialogs.money.preview import preview_renderable, preview_title
from pf_tui.usd import format_usd6

CONFIRM_KEY = "y"


class ConfirmMoneyDialog(MoneyDialog[bool]):
    """``True`` to send the preview, ``False`` (the default) to send nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *MoneyDialog.BINDINGS,
        Binding(
            CONFIRM_KEY,
            "confirm",
            "Confirm",
            id="money.confirm",
            tooltip="Send exactly what is shown",
        ),
    ]

    def __init__(
        self,
        preview: ActionPreview,
        *,
        typed: bool,
        max_usd: Decimal,
        labels: Mapping[str, str] | None = None,
        opening_keys: Iterable[str] = (),
    ) -> None:
        super().__init__(cancel_result=False, opening_keys=opening_keys)
        self.preview = preview
        self.labels = dict(labels or {})
        self.typed = typed
        self.max_usd = max_usd

    @property
    def expected(self) -> str:
        """The amount as the operator must type it."""
        return format_usd6(self.preview.amount).lstrip("$").replace(",", "")

    def compose(self) -> ComposeResult:
        """Title, what is sent, the typed confirmation (when needed) and the two buttons."""
        with Vertical(id="money-box", classes="money-box") as box:
            box.border_title = preview_title(self.preview)
            box.border_subtitle = "esc cancels"
            with VerticalScroll(id="money-preview"):
                yield Static(preview_renderable(self.preview, self.labels), id="money-preview-body")
            if self.typed:
                yield Static(
                    f"Over the typed-confirmation threshold: type {self.expected} to confirm.",
                    classes="hint",
                )
                yield GuardedInput(placeholder=f"type {self.expected}", id="money-typed")
            yield error_line()
            with Horizontal(classes="money-buttons"):
                yield Button("Cancel", id="money-cancel")
                yield Button(f"Confirm ({CONFIRM_KEY})", id="money-confirm", variant="error")

    def on_mount(self) -> None:
        """The typed confirmation's input has focus when there is one (Enter in it confirms
        once it matches); otherwise Cancel is the default."""
        if self.typed:
            self.query_one("#money-typed", Input).focus()
        else:
            self.query_one("#money-cancel", Button).focus()
        if self.preview.amount > self.max_usd:
            self.show_error(f"{self._over_limit()} ([ui] max_action_usd): refused, nothing is sent")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The two buttons."""
        event.stop()
        if event.button.id == "money-confirm":
            self.action_confirm()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the typed amount confirms (when it matches)."""
        event.stop()
        self.action_confirm()

    def action_confirm(self) -> None:
        """Confirm, unless the amount is over the limit or was not typed exactly."""
        if self.preview.amount > self.max_usd:
            self.show_error(f"{self._over_limit()}: refused")
            return
        if self.preview.needs_choice:
            self.show_error("choose what to do with the unearned tranche first")
            return
        # Character for character: the point is that the operator read the amount.
        if self.typed and self.query_one("#money-typed", Input).value.strip() != self.expected:
            self.show_error(f"type the amount exactly ({self.expected}) to confirm")
            self.query_one("#money-typed", Input).focus()
            return
        self.finish(True)

    def _over_limit(self) -> str:
        return (
            f"{format_usd6(self.preview.amount)} is over the limit of {format_usd6(self.max_usd)}"
        )
