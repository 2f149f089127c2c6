"""The money keys' flows inside the app: guard, form, preview, confirm, execute, report.

:class:`MoneyFlows` is mixed into :class:`~pf_tui.tui.app.PfApp`. Each money action checks its
guards (read-only, stale figures, a dialog already open, an action in flight on the stream), then
a worker walks the operator through the form and the confirmation and runs
:meth:`ActionsBridge.execute`. Reconciliation runs in its own exclusive worker at start-up and
after every poll that leaves something unsettled. Every outcome lands in a notification and, while
unknown, in the :class:`~pf_tui.tui.dialogs.money.audit.MoneyStatus` line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual import work

from pf_tui.api.errors import PurpleFleaError
from pf_tui.api.models import Dialect
from pf_tui.core.money.types import (
    ActionError,
    ActionPreview,
    ActionResult,
    ClaimFaucet,
    Intent,
    MarkComplete,
    RequestState,
    StreamState,
)
from pf_tui.text import one_line
from pf_tui.tui.dialogs.money.audit import AuditScreen, MoneyStatus
from pf_tui.tui.dialogs.money.confirm import ConfirmMoneyDialog
from pf_tui.tui.dialogs.money.dispute import DisputeDialog
from pf_tui.tui.dialogs.money.form import MoneyForm
from pf_tui.tui.dialogs.money.open import OpenStreamDialog
from pf_tui.tui.dialogs.money.preview import TITLES
from pf_tui.tui.dialogs.money.stream import CloseDialog, ReleaseDialog
from pf_tui.tui.keymap import MONEY_BINDINGS
from pf_tui.usd import format_usd6
from pf_tui.views.model import EscrowView
from pf_tui.views.money_desk import ActionsBridge, escrow_record

ESCROW_TAB_ACTIONS = frozenset(
    {
        "money_open",
        "money_release",
        "money_pause",
        "money_close",
        "money_dispute",
        "money_complete",
    }
)
"""Money actions offered on the Escrows tab only; the faucet is offered on Fleet too."""


class MoneyFlows:
    """Money actions for :class:`PfApp` (a mixin: it uses the app's widgets and workers)."""

    money: ActionsBridge
    money_dialog_open: bool = False
    """A money form or confirmation is on screen: the money keys do nothing else meanwhile."""
    money_running: str = ""
    """The action being sent now (for the status line)."""

    # ---- guards --------------------------------------------------------------------------------

    def money_check(self, action: str) -> bool | None:
        """``check_action`` for money actions: False hides (read-only, wrong tab), None disables (stale)."""
        app: Any = self
        if action == "money_audit":
            return True
        if self.money.read_only:
            return False
        tab = app.active_tab
        if action in ESCROW_TAB_ACTIONS and tab != "escrows":
            return False
        if action == "money_faucet" and tab not in ("escrows", "fleet"):
            return False
        return None if self.money_stale_reason() else True

    def money_stale_reason(self) -> str | None:
        """Why the money keys are off now: the target agent's balance or escrows are stale, or a
        service they need is down (``None``: they are on)."""
        app: Any = self
        view = app.fleet_view
        if view is None:
            return "no figures yet"
        for service in view.services:
            if service.name in ("casino", "escrow") and service.state == "down":
                return f"the {service.name} service is down"
        engine = app.engine
        return ActionsBridge.stale_reason(
            engine.fleet if engine else None, self._money_agent(), app.clock.now()
        )

    def _money_escrow(self) -> EscrowView | None:
        app: Any = self
        if app.active_tab != "escrows" or app.fleet_view is None:
            return None
        from pf_tui.tui.tabs.escrows import EscrowsTab

        key = app.query_one(EscrowsTab).table.cursor_key
        for escrow in app.fleet_view.escrows:
            if escrow.key == key:
                return escrow
        return None

    def _money_agent(self) -> str | None:
        """The agent a money key acts for: the escrow row's, the Fleet row's, or the one drilled into."""
        app: Any = self
        escrow = self._money_escrow()
        if escrow is not None:
            return escrow.agent_id
        if app.active_tab == "fleet":
            from pf_tui.tui.tabs.fleet import FleetTab

            key = app.query_one(FleetTab).table.cursor_key
            if key is not None:
                return str(key)
        return app.selected  # type: ignore[no-any-return]

    def _money_keys(self, action: str) -> frozenset[str]:
        app: Any = self
        for binding in MONEY_BINDINGS:
            if binding.action == action:
                keys = app.keymap_overrides.get(binding.id or "", binding.key)
                return frozenset(k.strip() for k in keys.split(","))
        return frozenset()

    def _money_refuse(self, message: str) -> None:
        app: Any = self
        app.notify(one_line(message), severity="warning", markup=False, title="money")

    def _money_can_start(self) -> bool:
        if self.money_dialog_open:
            return False  # a mashed key while the dialog is opening: the one dialog is enough
        if self.money.read_only:
            self._money_refuse("read-only: no money action is sent")
            return False
        reason = self.money_stale_reason()
        if reason:
            self._money_refuse(f"money keys are off: {reason}")
            return False
        return True

    def _labels(self) -> dict[str, str]:
        app: Any = self
        return {a.id: a.display_name for a in app.config.agents}

    # ---- the actions -------------------------------------------------------------------------

    def action_money_open(self) -> None:
        """Open a stream from the agent under the cursor (or the one drilled into)."""
        if not self._money_can_start():
            return
        app: Any = self
        agents = [(a.id, a.display_name) for a in app.config.agents if a.casino_key is not None]
        keys = self._money_keys("money_open")
        self._money_flow(
            lambda: OpenStreamDialog(
                self.money.preview,
                agents=agents,
                payer=self._money_agent(),
                modes=self.money.modes(),
                opening_keys=keys,
            ),
            keys,
        )

    def _stream_flow(self, action: str, form: type[ReleaseDialog] | type[CloseDialog]) -> None:
        if not self._money_can_start():
            return
        streams = self.money.live_streams()
        if not streams:
            self._money_refuse("no open stream: open one with the open-stream key first")
            return
        escrow = self._money_escrow()
        current = self.money.stream_for_escrow(escrow.escrow_id if escrow else None)
        if current is not None and self.money.engine.busy(current.id):
            self._money_refuse(
                f"an action on stream {current.id} is in flight or unsettled; wait for it"
            )
            return
        keys = self._money_keys(action)
        labels = self._labels()
        self._money_flow(
            lambda: form(
                self.money.preview,
                streams=streams,
                current=current.id if current else None,
                labels=labels,
                owed=lambda stream_id: self.money.engine.owed(stream_id),
                opening_keys=keys,
            ),
            keys,
        )

    def action_money_release(self) -> None:
        """Pay what a stream owes (amount prefilled, editable)."""
        self._stream_flow("money_release", ReleaseDialog)

    def action_money_close(self) -> None:
        """Close a stream: pay what is owed, then stop."""
        self._stream_flow("money_close", CloseDialog)

    def action_money_pause(self) -> None:
        """Pause (or resume) the stream under the cursor: local, nothing is sent."""
        if not self._money_can_start():
            return
        escrow = self._money_escrow()
        stream = self.money.stream_for_escrow(escrow.escrow_id if escrow else None)
        if stream is None:
            self._money_refuse("the row under the cursor is not a pf-tui stream")
            return
        app: Any = self
        try:
            if stream.state is StreamState.PAUSED:
                self.money.engine.resume(stream.id)
                app.notify(f"stream {stream.id} resumed", markup=False, timeout=3)
            else:
                self.money.engine.pause(stream.id)
                app.notify(
                    f"stream {stream.id} paused: it owes nothing more until resumed",
                    markup=False,
                    timeout=3,
                )
        except ActionError as exc:
            self._money_refuse(str(exc))

    def _money_escrow_target(self) -> EscrowView | None:
        """The escrow under the cursor for a money key, or ``None`` after telling the operator why not."""
        if not self._money_can_start():
            return None
        escrow = self._money_escrow()
        if escrow is None:
            self._money_refuse("put the cursor on an escrow first")
        return escrow

    def action_money_dispute(self) -> None:
        """Dispute the escrow under the cursor (a reason is required)."""
        escrow = self._money_escrow_target()
        if escrow is None:
            return
        escrow_id = escrow.escrow_id
        stream = self.money.stream_for_escrow(escrow_id)
        keys = self._money_keys("money_dispute")
        self._money_flow(
            lambda: DisputeDialog(
                self.money.preview,
                agent_id=escrow.agent_id,
                escrow_id=escrow_id,
                dialect=stream.dialect if stream else Dialect(escrow.dialect),
                # A closed stream may still own a live escrow (a tranche left to its timeout): that
                # escrow can be disputed, as a plain escrow, without touching the finished record.
                memo=escrow.memo,
                stream_id=stream.id if stream and not stream.state.final else None,
                opening_keys=keys,
            ),
            keys,
        )

    def action_money_complete(self) -> None:
        """As the payee (a watched agent), mark the classic escrow under the cursor complete."""
        escrow = self._money_escrow_target()
        if escrow is None:
            return
        app: Any = self
        escrow_id = escrow.escrow_id
        record = escrow_record(app.engine.fleet if app.engine else None, escrow.agent_id, escrow_id)
        payee = record.counterparty_id if record else None
        if escrow.dialect != Dialect.CLASSIC.value:
            self._money_refuse("only a classic escrow is marked complete")
            return
        if payee is None or payee not in self._labels():
            self._money_refuse("the payee of this escrow is not one of your agents")
            return
        self._money_direct(MarkComplete(payee, escrow_id), self._money_keys("money_complete"))

    def action_money_faucet(self) -> None:
        """Claim the faucet's dollar for the agent under the cursor (or drilled into)."""
        if not self._money_can_start():
            return
        agent = self._money_agent()
        if agent is None:
            self._money_refuse(
                "put the cursor on an agent (Fleet or Escrows) or drill into one first"
            )
            return
        self._money_direct(ClaimFaucet(agent), self._money_keys("money_faucet"))

    def action_money_audit(self) -> None:
        """Show every journaled money action (read-only)."""
        app: Any = self
        if self.money_dialog_open:
            return
        app.push_screen(AuditScreen(self.money.audit_rows(), app.tones))

    # ---- workers -------------------------------------------------------------------------------

    def _money_direct(self, intent: Intent, keys: Iterable[str]) -> None:
        """An action with nothing to fill in: preview in a worker, then straight to the confirmation."""
        self.money_dialog_open = True  # set now, before the worker starts: mashed keys see it
        self._money_preview_direct(intent, frozenset(keys))

    @work(group="money", exit_on_error=False, name="money-preview")
    async def _money_preview_direct(self, intent: Intent, keys: frozenset[str]) -> None:
        try:
            preview = await self.money.preview(intent)
        except (ActionError, PurpleFleaError) as exc:
            self.money_dialog_open = False
            self._money_refuse(str(exc))
            return
        app: Any = self
        app.call_later(self._money_confirm, preview, keys)

    def _money_flow(self, make_form: Callable[[], MoneyForm], keys: Iterable[str]) -> None:
        """Form, then confirmation, then execution; each step starts when the last one closed."""
        app: Any = self
        self.money_dialog_open = True
        opening = frozenset(keys)

        def formed(preview: ActionPreview | None) -> None:
            if preview is None:
                self.money_dialog_open = False
                return
            # After the form is popped: pushed from the callback, the pop would take the new one.
            app.call_later(self._money_confirm, preview, opening | {"enter"})

        app.push_screen(make_form(), formed)

    def _money_confirm(self, preview: ActionPreview, keys: frozenset[str]) -> None:
        app: Any = self

        def confirmed(ok: bool | None) -> None:
            self.money_dialog_open = False
            if not ok:
                app.notify("cancelled: nothing was sent", timeout=2)
                return
            self._money_send(preview)

        app.push_screen(
            ConfirmMoneyDialog(
                preview,
                typed=self.money.needs_typed_confirm(preview.amount),
                max_usd=self.money.max_action_usd,
                opening_keys=keys,
            ),
            confirmed,
        )

    @work(group="money", exit_on_error=False, name="money-send")
    async def _money_send(self, preview: ActionPreview) -> None:
        await self._money_execute(preview)

    async def _money_execute(self, preview: ActionPreview) -> None:
        app: Any = self
        self.money_running = (
            f"{TITLES.get(preview.kind, preview.kind.value)} {format_usd6(preview.amount)}"
        )
        self.money_status()
        try:
            result = await self.money.execute(preview)
        except (ActionError, PurpleFleaError) as exc:
            app.notify(one_line(str(exc)), severity="error", markup=False, title="money: not sent")
            return
        finally:
            self.money_running = ""
            self.money_status()
        self._money_report(preview, result)

    def _money_report(self, preview: ActionPreview, result: ActionResult) -> None:
        app: Any = self
        what = f"{TITLES.get(preview.kind, preview.kind.value)} {format_usd6(preview.amount)} (key {preview.key[:8]})"
        if result.state is RequestState.DONE:
            app.notify(f"done: {what}", markup=False, timeout=4)
        elif result.state is RequestState.UNKNOWN:
            app.notify(
                f"unknown: {what}; reconciled on the next poll",
                severity="warning",
                markup=False,
                timeout=8,
            )
        else:
            app.notify(
                one_line(f"failed: {what}: {result.message}"),
                severity="error",
                markup=False,
                timeout=8,
            )
        app.refresh_bindings()

    def money_tick(self) -> None:
        """After each poll (and at start-up): reconcile what is unsettled, redraw the status line."""
        if (
            not self.money.read_only
            and self.money.journal_exists()
            and self.money.unsettled_count()
        ):
            self._money_reconcile()
        self.money_status()

    @work(exclusive=True, group="money-reconcile", exit_on_error=False, name="money-reconcile")
    async def _money_reconcile(self) -> None:
        app: Any = self
        try:
            results = await self.money.reconcile()
        except (ActionError, PurpleFleaError) as exc:
            app.notify(one_line(f"reconciliation: {exc}"), severity="warning", markup=False)
            return
        settled = [r for r in results if r.state is not RequestState.UNKNOWN]
        if settled:
            app.notify(f"reconciled {len(settled)} money action(s)", markup=False, timeout=4)
        self.money_status()

    def money_status(self) -> None:
        """Redraw the money status line (hidden when nothing is running or unknown)."""
        app: Any = self
        unknown = self.money.unsettled_count() if self.money.journal_exists() else 0
        for line in app.query(MoneyStatus):
            line.show(self.money_running, unknown, self.money.last_unknown, app.tones)
