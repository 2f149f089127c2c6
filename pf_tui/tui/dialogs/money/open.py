"""Open a stream: payer, payee (from the fleet or a typed ``ag_`` id), rate and unit, budget,
batch, timeout, memo and mode (native or tranche, as the dialect allows)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import ComposeResult
from textual.widgets import Select

from pf_tui.core.money.types import (
    ActionValidationError,
    Intent,
    OpenStream,
    StreamMode,
    StreamUnit,
)
from pf_tui.tui.dialogs.money.base import GuardedInput
from pf_tui.tui.dialogs.money.form import MoneyForm, MoneySelect, Previewer, choice_label

UNITS: tuple[tuple[str, StreamUnit], ...] = (
    ("per call", StreamUnit.CALL),
    ("per hour", StreamUnit.HOUR),
    ("per data point", StreamUnit.DATA_POINT),
)
MODE_LABELS = {
    StreamMode.NATIVE: "streaming: one escrow, partial releases",
    StreamMode.TRANCHE: "classic: in tranches, one funded ahead, 1% per tranche",
}


class OpenStreamDialog(MoneyForm):
    """``ModalScreen[ActionPreview | None]`` for :class:`OpenStream`."""

    TITLE = "Open a stream"

    def __init__(
        self,
        previewer: Previewer,
        *,
        agents: Sequence[tuple[str, str]],
        payer: str | None,
        modes: Sequence[StreamMode],
        opening_keys: Iterable[str] = (),
    ) -> None:
        super().__init__(previewer, opening_keys=opening_keys)
        self.agents = list(agents)
        """``(agent_id, label)`` of every watched agent."""
        self.payer = (
            payer if payer in {a for a, _ in agents} else (agents[0][0] if agents else None)
        )
        self.modes = tuple(modes)

    def fields(self) -> ComposeResult:
        """Payer, payee, rate/unit, budget, batch, timeout, memo, mode."""
        options = [(choice_label(label, agent), agent) for agent, label in self.agents]
        payees = [o for o in options if o[1] != self.payer]
        yield self.row(
            "Payer",
            MoneySelect(
                options,
                value=self.payer or Select.NULL,
                allow_blank=self.payer is None,
                id="money-agent-id",
            ),
        )
        yield self.row(
            "Payee", MoneySelect(payees, prompt="choose from the fleet", id="money-payee-choice")
        )
        yield self.row(
            "or id", GuardedInput(placeholder="ag_... (overrides the choice)", id="money-payee")
        )
        yield self.row(
            "Rate $", GuardedInput(placeholder="e.g. 0.01 (dollars per unit)", id="money-rate")
        )
        yield self.row(
            "Unit",
            MoneySelect(
                [(label, unit) for label, unit in UNITS],
                value=StreamUnit.CALL,
                allow_blank=False,
                id="money-unit",
            ),
        )
        yield self.row(
            "Budget $", GuardedInput(placeholder="e.g. 5.00 (at least 0.10)", id="money-budget")
        )
        yield self.row(
            "Batch $",
            GuardedInput(
                placeholder="tranche: e.g. 1.00 (>= 0.10); empty: the budget", id="money-batch"
            ),
        )
        yield self.row("Timeout h", GuardedInput("24", id="money-timeout-hours"))
        yield self.row(
            "Memo", GuardedInput(placeholder="what the payee is paid for", id="money-memo")
        )
        yield self.row(
            "Mode",
            MoneySelect(
                [(MODE_LABELS[m], m) for m in self.modes],
                value=self.modes[0],
                allow_blank=False,
                id="money-mode",
            ),
        )

    def on_mount(self) -> None:
        """Start in the payee choice."""
        self.query_one("#money-payee-choice", Select).focus()

    def build_intent(self) -> Intent:
        """:class:`OpenStream` from the fields (amounts stay text: the core parses them)."""
        payer = self.selected("money-agent-id")
        if not isinstance(payer, str):
            raise ActionValidationError("payer: choose the paying agent", field="agent_id")
        payee = self.value("money-payee") or self.selected("money-payee-choice")
        if not isinstance(payee, str) or not payee:
            raise ActionValidationError("payee: choose an agent or type an ag_ id", field="payee")
        timeout = self.value("money-timeout-hours") or "24"
        if not (timeout.isascii() and timeout.isdigit()) or len(timeout) > 4:
            raise ActionValidationError("timeout: 1 to 720 hours", field="timeout_hours")
        # An empty amount is not a silent error: say what to type (placeholders are hints).
        if not self.value("money-rate"):
            raise ActionValidationError(
                "rate: type the price per unit in dollars, e.g. 0.01", field="rate"
            )
        budget = self.value("money-budget")
        if not budget:
            raise ActionValidationError(
                "budget: type the most this stream may pay, in dollars (at least 0.10), e.g. 5.00",
                field="budget",
            )
        unit = self.selected("money-unit")
        mode = self.selected("money-mode")
        return OpenStream(
            agent_id=payer,
            payee=payee,
            rate=self.value("money-rate"),
            unit=unit if isinstance(unit, StreamUnit) else StreamUnit.CALL,
            budget=budget,
            batch=self.value("money-batch") or budget,
            memo=self.query_one("#money-memo", GuardedInput).value,
            mode=mode if isinstance(mode, StreamMode) else StreamMode.NATIVE,
            timeout_hours=int(timeout),
        )
