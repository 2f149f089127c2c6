"""Release a partial payment and close a stream: the two forms that act on one of pf-tui's streams.

Release prefills the amount with what the stream owes now (editable; counted streams may give a
count instead). Close pays what is owed and stops; for a tranche stream whose funded tranche is
not earned in full it offers the three choices, each with its amounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RadioButton, RadioSet, Select, Static

from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import (
    ActionValidationError,
    CloseChoice,
    CloseStream,
    Intent,
    ReleasePartial,
    StreamMode,
)
from pf_tui.tui.dialogs.money.base import GuardedInput
from pf_tui.tui.dialogs.money.form import MoneyForm, MoneySelect, Previewer
from pf_tui.tui.sanitize import safe
from pf_tui.usd import fee_of, format_usd6, to_wire

DIALECT_OF = {StreamMode.NATIVE: "streaming", StreamMode.TRANCHE: "classic"}
"""A stream's mode in ``[api] escrow_dialect``'s words: the dialect of the escrows it holds."""


def stream_label(stream: Stream, labels: dict[str, str]) -> Text:
    """``st_.. -> payee  $0.01/call  paid $1.00 of $5.00  (open, streaming)``; the payee is
    untrusted."""
    text = safe(stream.id)
    text.append(" -> ")
    text.append_text(safe(labels.get(stream.payee, stream.payee), limit=24))
    text.append(
        f"  {format_usd6(stream.rate)}/{stream.unit.value}"
        f"  paid {format_usd6(stream.released)} of {format_usd6(stream.budget)}"
        f"  ({stream.state.value}, {DIALECT_OF[stream.mode]})"
    )
    return text


class _StreamForm(MoneyForm):
    """A form over one stream chosen from the live ones (preselected from the cursor)."""

    def __init__(
        self,
        previewer: Previewer,
        *,
        streams: Sequence[Stream],
        current: str | None,
        labels: dict[str, str],
        owed: Callable[[str], Decimal],
        opening_keys: Iterable[str] = (),
    ) -> None:
        super().__init__(previewer, opening_keys=opening_keys)
        self.streams = {s.id: s for s in streams}
        self.current = current if current in self.streams else (streams[0].id if streams else None)
        self.labels = labels
        self.owed = owed

    def stream_select(self) -> Select[str]:
        """The stream chooser."""
        options = [(stream_label(s, self.labels), s.id) for s in self.streams.values()]
        return MoneySelect(
            options,
            value=self.current or Select.NULL,
            allow_blank=self.current is None,
            id="money-stream-id",
        )

    def stream(self) -> Stream:
        """The chosen stream."""
        chosen = self.selected("money-stream-id")
        if not isinstance(chosen, str) or chosen not in self.streams:
            raise ActionValidationError("choose a stream", field="stream_id")
        return self.streams[chosen]


class ReleaseDialog(_StreamForm):
    """``ModalScreen[ActionPreview | None]`` for :class:`ReleasePartial`."""

    TITLE = "Release a partial payment"

    def fields(self) -> ComposeResult:
        """Stream, amount (prefilled from what is owed), count (counted units)."""
        yield self.row("Stream", self.stream_select())
        yield self.row("Amount $", GuardedInput(self._owed_text(self.current), id="money-amount"))
        yield self.row(
            "or count",
            GuardedInput(placeholder="units delivered (per call / data point)", id="money-count"),
        )
        yield Static("", id="money-owed-hint", classes="hint")

    def on_mount(self) -> None:
        """Start in the amount."""
        self._hint()
        self.query_one("#money-amount", GuardedInput).focus()

    def _owed_text(self, stream_id: str | None) -> str:
        if stream_id is None:
            return ""
        owed = self.owed(stream_id)
        return to_wire(owed) if owed > 0 else ""

    def _hint(self) -> None:
        stream = self.streams.get(self.current or "")
        if stream is None:
            return
        owed = self.owed(stream.id)
        left = stream.budget - stream.released
        hint = f"owed now {format_usd6(owed)}; budget left {format_usd6(left)}"
        if stream.mode is StreamMode.TRANCHE:
            hint += (
                f"; pays whole tranches of {format_usd6(stream.batch)}, each with its own 1% fee"
            )
        self.query_one("#money-owed-hint", Static).update(Text(hint))

    def on_select_changed(self, event: Select.Changed) -> None:
        """Another stream: prefill its owed amount."""
        if event.select.id == "money-stream-id" and isinstance(event.value, str):
            self.current = event.value
            self.query_one("#money-amount", GuardedInput).value = self._owed_text(event.value)
            self._hint()

    def build_intent(self) -> Intent:
        """:class:`ReleasePartial`: an amount wins over a count; both empty asks for one."""
        stream = self.stream()
        amount = self.value("money-amount")
        count = self.value("money-count")
        if not amount and not count:
            raise ActionValidationError("amount: enter an amount or a count", field="amount")
        return ReleasePartial(stream.id, count=count or None, amount=amount or None)


CHOICE_TEXT = {
    CloseChoice.OVERPAY: "overpay: release the funded tranche of {cur} in full (payee nets {net})",
    CloseChoice.DISPUTE: "dispute it: {cur} frozen until resolved by hand",
    CloseChoice.LEAVE: "leave it: send nothing; the timeout refunds you {net} (less 1%)",
}


class CloseDialog(_StreamForm):
    """``ModalScreen[ActionPreview | None]`` for :class:`CloseStream`."""

    TITLE = "Close a stream"

    def fields(self) -> ComposeResult:
        """Stream, count (counted units), the unearned-tranche choice (tranche) and a reason."""
        yield self.row("Stream", self.stream_select())
        yield self.row(
            "Count",
            GuardedInput(placeholder="units delivered since the last release", id="money-count"),
        )
        stream = self.streams.get(self.current or "")
        funded = (
            stream.funded
            if stream is not None and stream.mode is StreamMode.TRANCHE
            else Decimal(0)
        )
        net = format_usd6(funded - fee_of(funded))
        with RadioSet(id="money-unearned") as radios:
            radios.border_title = "If the funded tranche is not earned in full"
            radios.display = funded > 0
            for choice in CloseChoice:
                yield RadioButton(
                    CHOICE_TEXT[choice].format(cur=format_usd6(funded), net=net),
                    id=f"choice-{choice.value}",
                )
        reason = self.row(
            "Reason",
            GuardedInput(placeholder="for a dispute: at least 10 characters", id="money-reason"),
        )
        # Only the dispute choice of a tranche stream uses a reason: no field whose text is
        # ignored (a native close has nothing to dispute).
        reason.id = "money-reason-row"
        reason.display = funded > 0
        yield reason

    def on_mount(self) -> None:
        """Start in the count."""
        self.query_one("#money-count", GuardedInput).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Another stream: the choices (and whether they apply) follow its funded tranche."""
        if event.select.id != "money-stream-id" or not isinstance(event.value, str):
            return
        self.current = event.value
        stream = self.streams[event.value]
        funded = stream.funded if stream.mode is StreamMode.TRANCHE else Decimal(0)
        net = format_usd6(funded - fee_of(funded))
        radios = self.query_one("#money-unearned", RadioSet)
        radios.display = funded > 0
        self.query_one("#money-reason-row").display = funded > 0
        for choice in CloseChoice:
            radios.query_one(f"#choice-{choice.value}", RadioButton).label = CHOICE_TEXT[
                choice
            ].format(cur=format_usd6(funded), net=net)

    def _choice(self) -> CloseChoice | None:
        radios = self.query_one("#money-unearned", RadioSet)
        if not radios.display or radios.pressed_button is None:
            return None
        return CloseChoice(str(radios.pressed_button.id).removeprefix("choice-"))

    def build_intent(self) -> Intent:
        """:class:`CloseStream` with the chosen fate of an unearned tranche."""
        stream = self.stream()
        unearned = self._choice()
        return CloseStream(
            stream.id,
            count=self.value("money-count") or None,
            unearned=unearned,
            reason=self.value("money-reason") if unearned is CloseChoice.DISPUTE else "",
        )
