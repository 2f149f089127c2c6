"""The stop-all brake's dialog: what engaging (or lifting) it does, a reason, a typed word.

Engaging lists every stream it pauses and what each one's escrow will still do on its own (the
brake stops pf-tui, not the server's timeouts), the streams already paused and the actions whose
outcome is unknown. Lifting shows who engaged it, when and why, and the streams it paused, with
the choice to keep them paused or resume them. Either way the operator gives a reason and types
the word (``brake`` / ``lift``) to confirm; Escape or Cancel changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from pf_tui.core.money.brake import BrakeState
from pf_tui.core.money.escrows import TimeoutOutcome
from pf_tui.core.money.keeper import BrakePreview
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.validate import MIN_BRAKE_REASON_CHARS
from pf_tui.tui.dialogs.money.base import GuardedInput, MoneyDialog, error_line
from pf_tui.tui.sanitize import safe
from pf_tui.usd import format_usd, format_usd6
from pf_tui.views.times import clock_time

ENGAGE_WORD = "brake"
LIFT_WORD = "lift"


@dataclass(frozen=True, slots=True)
class BrakeChoice:
    """What the operator confirmed: the reason, and (lifting) whether to resume the streams."""

    reason: str
    resume: bool = False


def stream_line(stream: Stream, labels: Mapping[str, str]) -> Text:
    """``st_1  payer -> payee  $0.05/call  paid $1.00 of $5.00  (open)``; labels untrusted."""
    # No run starts with spaces (the SVG screenshots lose them): the indent stands alone and
    # the gap after the bold id is bold too.
    text = Text("  ", end="")
    text.append_text(safe(stream.id, style="bold"))
    text.append("  ", style="bold")
    text.append_text(safe(labels.get(stream.agent_id, stream.agent_id), limit=24))
    text.append(" -> ")
    text.append_text(safe(labels.get(stream.payee, stream.payee), limit=24))
    text.append(
        f"  {format_usd6(stream.rate)}/{stream.unit.value}"
        f"  paid {format_usd(stream.released)} of {format_usd(stream.budget)}"
        f"  ({stream.state.value})"
    )
    return text


def engage_text(preview: BrakePreview, labels: Mapping[str, str], now: float) -> Text:
    """What engaging the brake does now, stream by stream."""
    outcomes = dict(preview.outcomes)
    text = Text(end="")
    text.append(
        "Every pf-tui process on this store (console, daemon, command line) refuses every new "
        "money action until the brake is lifted. It survives restarts.\n"
    )
    if preview.pauses:
        text.append(f"\nPauses {len(preview.pauses)} open stream(s):\n", style="bold")
        _streams(text, preview.pauses, outcomes, labels, now)
    else:
        text.append("\nNo open stream to pause.\n")
    if preview.already_paused:
        text.append(f"\nAlready paused ({len(preview.already_paused)}):\n", style="bold")
        _streams(text, preview.already_paused, outcomes, labels, now)
    if preview.unsettled:
        text.append(
            f"\n{preview.unsettled} action(s) with an unknown outcome are settled by reads only "
            "while the brake is on.\n"
        )
    text.append("\nThe brake stops pf-tui, not the server: the timeouts above still act.")
    return text


def _streams(
    text: Text,
    streams: Sequence[Stream],
    outcomes: Mapping[str, TimeoutOutcome],
    labels: Mapping[str, str],
    now: float,
) -> None:
    for stream in streams:
        text.append_text(stream_line(stream, labels))
        text.append("\n")
        outcome = outcomes.get(stream.id)
        if outcome is not None:
            text.append("    ")
            text.append(f"{outcome.sentence(now)}\n", style="dim")


def lift_text(
    state: BrakeState, paused: Sequence[Stream], labels: Mapping[str, str], now: float
) -> Text:
    """Who engaged the brake, when and why, and the streams its engagement paused."""
    text = Text(end="")
    text.append("Engaged ", style="bold")
    text.append(f"since {clock_time(state.since, now)} UTC by ")
    text.append_text(safe(state.operator or "?", limit=40))
    text.append(": ")
    text.append_text(safe(state.reason, limit=200))
    text.append("\n\nLifting it lets every pf-tui process on this store send money again.\n")
    if paused:
        text.append(f"\nIt paused {len(paused)} stream(s):\n", style="bold")
        for stream in paused:
            text.append_text(stream_line(stream, labels))
            text.append("\n")
    else:
        text.append("\nIt paused no stream that is still paused.\n")
    return text


class BrakeDialog(MoneyDialog["BrakeChoice | None"]):
    """``ModalScreen[BrakeChoice | None]``: engage or lift the stop-all brake."""

    BINDINGS: ClassVar[list[BindingType]] = [*MoneyDialog.BINDINGS]

    def __init__(
        self,
        body: Text,
        *,
        engage: bool,
        resumable: int = 0,
        opening_keys: Iterable[str] = (),
    ) -> None:
        """``body`` is :func:`engage_text` or :func:`lift_text`; ``resumable``: streams lifting
        could resume (the resume choice shows only when there are some)."""
        super().__init__(cancel_result=None, opening_keys=opening_keys)
        self.body = body
        self.engage = engage
        self.resumable = resumable
        self.word = ENGAGE_WORD if engage else LIFT_WORD

    def compose(self) -> ComposeResult:
        """The preview, the resume choice (lifting), the reason, the typed word, the buttons."""
        with Vertical(id="money-box", classes="money-box") as box:
            box.border_title = "Engage the stop-all brake" if self.engage else "Lift the brake"
            box.border_subtitle = "esc cancels"
            with VerticalScroll(id="money-preview"):
                yield Static(self.body, id="brake-preview")
            if not self.engage and self.resumable:
                with RadioSet(id="brake-resume"):
                    yield RadioButton("keep them paused (resume each with P)", value=True)
                    yield RadioButton(
                        f"resume the {self.resumable} stream(s) it paused", id="brake-resume-all"
                    )
            yield Horizontal(
                Static("Reason", classes="money-label"),
                GuardedInput(placeholder="why, for the audit", id="money-reason"),
                classes="money-row",
            )
            yield Static(f"Type {self.word} to confirm.", classes="hint")
            yield GuardedInput(placeholder=f"type {self.word}", id="money-typed")
            yield error_line()
            with Horizontal(classes="money-buttons"):
                yield Button("Cancel", id="money-cancel")
                label = "Engage brake" if self.engage else "Lift brake"
                yield Button(label, id="money-confirm", variant="error")

    def on_mount(self) -> None:
        """Start in the reason."""
        self.query_one("#money-reason", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The two buttons."""
        event.stop()
        if event.button.id == "money-confirm":
            self.action_confirm()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the reason goes on to the typed word; Enter there confirms."""
        event.stop()
        if event.input.id == "money-reason":
            self.query_one("#money-typed", Input).focus()
        else:
            self.action_confirm()

    @property
    def resume(self) -> bool:
        """Lifting: whether the streams it paused accrue again."""
        for button in self.query("#brake-resume-all").results(RadioButton):
            return button.value
        return False

    def action_confirm(self) -> None:
        """Confirm once the reason is long enough and the word typed exactly."""
        reason = " ".join(self.query_one("#money-reason", Input).value.split())
        if len(reason) < MIN_BRAKE_REASON_CHARS:
            self.show_error(f"reason: say why in at least {MIN_BRAKE_REASON_CHARS} characters")
            self.query_one("#money-reason", Input).focus()
            return
        typed = self.query_one("#money-typed", Input)
        if typed.value.strip().lower() != self.word:
            self.show_error(f"type {self.word} exactly to confirm")
            typed.focus()
            return
        self.finish(BrakeChoice(reason, self.resume))
