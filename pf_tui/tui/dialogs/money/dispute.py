"""Dispute an escrow: the escrow under the cursor, and a reason of at least 10 characters."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from pf_tui.api.models import Dialect
from pf_tui.core.money.types import MIN_REASON_CHARS, ActionValidationError, DisputeEscrow, Intent
from pf_tui.tui.dialogs.money.base import GuardedInput
from pf_tui.tui.dialogs.money.form import MoneyForm, Previewer
from pf_tui.tui.sanitize import safe


class DisputeDialog(MoneyForm):
    """``ModalScreen[ActionPreview | None]`` for :class:`DisputeEscrow`."""

    TITLE = "Dispute an escrow"

    def __init__(
        self,
        previewer: Previewer,
        *,
        agent_id: str,
        escrow_id: str,
        dialect: Dialect,
        memo: str,
        stream_id: str | None = None,
        reason: str = "",
        intent: Callable[[str], Intent] | None = None,
        opening_keys: Iterable[str] = (),
    ) -> None:
        """``reason`` pre-fills the reason (a jump from an alert); the operator may edit it.
        ``intent``: the reason in, the row's intent out (:meth:`MoneyDesk.intent_for`, with the
        version of the row on screen); without it a :class:`DisputeEscrow` of these ids."""
        super().__init__(previewer, opening_keys=opening_keys)
        self.reason = reason
        self.agent_id = agent_id
        self.escrow_id = escrow_id
        self.dialect = dialect
        self.memo = memo
        self.stream_id = stream_id
        self.intent = intent

    def fields(self) -> ComposeResult:
        """What is disputed (untrusted ids and memo as text) and the reason."""
        about = Text("Escrow ", end="")
        about.append_text(safe(self.escrow_id))
        about.append(f" ({self.dialect.value}) of ")
        about.append_text(safe(self.agent_id))
        if self.stream_id:
            about.append(", stream ")
            about.append_text(safe(self.stream_id))
        about.append("\nMemo: ")
        about.append_text(safe(self.memo, limit=120))
        yield Static(about, classes="money-about")
        yield Static("Disputed funds stay frozen until resolved by hand.", classes="hint")
        yield self.row(
            "Reason",
            GuardedInput(
                self.reason,
                placeholder=f"at least {MIN_REASON_CHARS} characters",
                id="money-reason",
            ),
        )

    def on_mount(self) -> None:
        """Start in the reason."""
        self.query_one("#money-reason", GuardedInput).focus()

    def build_intent(self) -> Intent:
        """:class:`DisputeEscrow`; a short reason is refused here before the core sees it."""
        reason = " ".join(self.value("money-reason").split())
        if len(reason) < MIN_REASON_CHARS:
            raise ActionValidationError(
                f"reason: say why in at least {MIN_REASON_CHARS} characters (got {len(reason)})",
                field="reason",
            )
        if self.intent is not None:
            return self.intent(reason)
        # With the stream id the stream record ends ``disputed`` too, and a stream that moved under
        # the preview (a release landed) makes execute refuse it as stale.
        return DisputeEscrow(
            self.agent_id, self.escrow_id, reason, dialect=self.dialect, stream_id=self.stream_id
        )
