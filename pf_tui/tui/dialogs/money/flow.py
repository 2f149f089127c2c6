"""What every money key shares: guards, form, preview, confirmation, execution, report.

The keys live on the tabs they act on (the Escrows tab: open, release, pause, close, dispute,
complete and the faucet; the Fleet tab: the faucet; the app: the audit view), and each hands
what is under its cursor to the app's one :class:`MoneyFlow`. The flow checks the guards
(read-only, stale figures, a dialog already open, an action in flight on the stream), then walks
the operator through the form and the confirmation and runs :meth:`MoneyDesk.execute` in an app
worker. Reconciliation runs in its own exclusive worker at start-up and after every poll that
leaves something unsettled. Every outcome lands in a notification and, while unknown, in the
:class:`~pf_tui.tui.dialogs.money.audit.MoneyStatus` line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pf_tui.api.errors import PurpleFleaError
from pf_tui.api.models import Dialect
from pf_tui.core.money.keeper import BrakePreview
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
from pf_tui.tui.dialogs.money.brake import BrakeChoice, BrakeDialog, engage_text, lift_text
from pf_tui.tui.dialogs.money.confirm import ConfirmMoneyDialog
from pf_tui.tui.dialogs.money.dispute import DisputeDialog
from pf_tui.tui.dialogs.money.form import MoneyForm
from pf_tui.tui.dialogs.money.open import OpenStreamDialog
from pf_tui.tui.dialogs.money.preview import TITLES
from pf_tui.tui.dialogs.money.stream import CloseDialog, ReleaseDialog
from pf_tui.tui.keymap import BRAKE_BINDING, MONEY_BINDINGS, effective_keys
from pf_tui.usd import format_usd6
from pf_tui.views.model import EscrowView
from pf_tui.views.money_desk import MoneyDesk, escrow_record
from pf_tui.views.times import clock_time

if TYPE_CHECKING:
    from pf_tui.tui.app import PfApp


class MoneyFlow:
    """The money keys' steps for one app; the tabs call one method per key."""

    def __init__(self, app: PfApp, desk: MoneyDesk) -> None:
        self.app = app
        self.desk = desk
        self.dialog_open = False
        """A money form or confirmation is on screen: the money keys do nothing else meanwhile."""
        self.running = ""
        """The action being sent now (for the status line)."""
        self.reasons: dict[str, str] = {}
        """Dispute reasons pre-filled by a jump from an alert, by escrow id (used once)."""

    # ---- guards --------------------------------------------------------------------------------

    def key_state(self, tab: str, agent_id: str | None) -> bool | None:
        """``check_action`` of a money key bound on ``tab``, acting for ``agent_id``: False hides
        it (read-only, another tab on screen), None disables it (stale figures), True offers it."""
        if self.desk.read_only or self.app.active_tab != tab:
            return False
        return None if self.stale_reason(agent_id) else True

    def stale_reason(self, agent_id: str | None) -> str | None:
        """Why the money keys acting for ``agent_id`` (``None``: the agent drilled into) are off
        now: its balance or escrows are stale, or a service they need is down (``None``: on)."""
        app = self.app
        if not app.ticks:
            return "no figures yet"
        for service in app.fleet_view.services:
            if service.name in ("casino", "escrow") and service.state == "down":
                return f"the {service.name} service is down"
        return MoneyDesk.stale_reason(app.engine.fleet, self._agent(agent_id), app.clock.now())

    def _agent(self, agent_id: str | None) -> str | None:
        """The agent a key acts for: the one under the cursor, else the one drilled into."""
        return agent_id if agent_id is not None else self.app.selected

    def _can_start(self, agent_id: str | None) -> bool:
        if self.dialog_open:
            return False  # a mashed key while the dialog is opening: the one dialog is enough
        if self.desk.read_only:
            self._refuse("read-only: no money action is sent")
            return False
        braked = self.brake_refusal()
        if braked:
            self._refuse(braked)
            return False
        reason = self.stale_reason(agent_id)
        if reason:
            self._refuse(f"money keys are off: {reason}")
            return False
        return True

    def brake_refusal(self) -> str:
        """The one line a money key answers while the brake is on (empty when it is off)."""
        state = self.desk.brake()
        if not state.engaged:
            return ""
        since = clock_time(state.since, self.app.clock.now())
        return (
            f"brake on since {since} UTC by {state.operator}: {state.reason}: nothing is sent "
            f"until it is lifted ({self.brake_key()} lifts it)"
        )

    def brake_key(self) -> str:
        """The key that engages and lifts the brake, keymap applied."""
        return effective_keys(BRAKE_BINDING, self.app.keymap_overrides)

    def _refuse(self, message: str) -> None:
        self.app.notify(one_line(message), severity="warning", markup=False, title="money")

    def opening_keys(self, action: str) -> frozenset[str]:
        """The keys that run ``action`` (keymap applied): the dialog it opens swallows their
        auto-repeat."""
        for binding in MONEY_BINDINGS:
            if binding.action == action:
                keys = self.app.keymap_overrides.get(binding.id or "", binding.key)
                return frozenset(k.strip() for k in keys.split(","))
        return frozenset()

    def _labels(self) -> dict[str, str]:
        return {a.id: a.display_name for a in self.app.config.agents}

    # ---- the keys ------------------------------------------------------------------------------

    def open_stream(self, payer: str | None) -> None:
        """Open a stream from ``payer`` (the row's agent, else the one drilled into)."""
        if not self._can_start(payer):
            return
        agents = [
            (a.id, a.display_name) for a in self.app.config.agents if a.casino_key is not None
        ]
        keys = self.opening_keys("money_open")
        form = OpenStreamDialog(
            self.desk.preview,
            agents=agents,
            payer=self._agent(payer),
            modes=self.desk.modes(),
            opening_keys=keys,
        )
        self._form(form, keys)

    def release(self, escrow: EscrowView | None) -> None:
        """Pay what a stream owes (amount prefilled, editable); ``escrow``'s stream preselected."""
        self._stream_form("money_release", ReleaseDialog, escrow)

    def close(self, escrow: EscrowView | None) -> None:
        """Close a stream: pay what is owed, then stop."""
        self._stream_form("money_close", CloseDialog, escrow)

    def _stream_form(
        self,
        action: str,
        form: type[ReleaseDialog] | type[CloseDialog],
        escrow: EscrowView | None,
    ) -> None:
        if not self._can_start(escrow.agent_id if escrow else None):
            return
        streams = self.desk.live_streams()
        if not streams:
            self._refuse("no open stream: open one with the open-stream key first")
            return
        current = self.desk.stream_for_escrow(escrow.escrow_id if escrow else None)
        if current is not None and self.desk.engine.busy(current.id):
            self._refuse(f"an action on stream {current.id} is in flight or unsettled; wait for it")
            return
        keys = self.opening_keys(action)
        dialog = form(
            self.desk.preview,
            streams=streams,
            current=current.id if current else None,
            labels=self._labels(),
            owed=self.desk.engine.owed,
            opening_keys=keys,
        )
        self._form(dialog, keys)

    def pause(self, escrow: EscrowView | None) -> None:
        """Pause (or resume) the stream of ``escrow``: local, nothing is sent."""
        if not self._can_start(escrow.agent_id if escrow else None):
            return
        stream = self.desk.stream_for_escrow(escrow.escrow_id if escrow else None)
        if stream is None:
            self._refuse("the row under the cursor is not a pf-tui stream")
            return
        try:
            if stream.state is StreamState.PAUSED:
                self.desk.engine.resume(stream.id)
                self.app.notify(f"stream {stream.id} resumed", markup=False, timeout=3)
            else:
                self.desk.engine.pause(stream.id)
                self.app.notify(
                    f"stream {stream.id} paused: it owes nothing more until resumed",
                    markup=False,
                    timeout=3,
                )
        except ActionError as exc:
            self._refuse(str(exc))

    def dispute(self, escrow: EscrowView | None) -> None:
        """Dispute ``escrow`` (a reason is required)."""
        found = self._escrow_target(escrow)
        if found is None:
            return
        target, escrow_id = found
        stream = self.desk.stream_for_escrow(escrow_id)
        keys = self.opening_keys("money_dispute")
        form = DisputeDialog(
            self.desk.preview,
            agent_id=target.agent_id,
            escrow_id=escrow_id,
            dialect=stream.dialect if stream else Dialect(target.dialect),
            memo=target.memo,
            # A closed stream may still own a live escrow (a tranche left to its timeout): that
            # escrow can be disputed, as a plain escrow, without touching the finished record.
            stream_id=stream.id if stream and not stream.state.final else None,
            reason=self.reasons.pop(escrow_id, ""),
            opening_keys=keys,
        )
        self._form(form, keys)

    def complete(self, escrow: EscrowView | None) -> None:
        """As its payee (a watched agent), mark the classic ``escrow`` complete."""
        found = self._escrow_target(escrow)
        if found is None:
            return
        target, escrow_id = found
        record = escrow_record(self.app.engine.fleet, target.agent_id, escrow_id)
        payee = record.counterparty_id if record else None
        if target.dialect != Dialect.CLASSIC.value:
            self._refuse("only a classic escrow is marked complete")
            return
        if payee is None or payee not in self._labels():
            self._refuse("the payee of this escrow is not one of your agents")
            return
        self._direct(MarkComplete(payee, escrow_id), self.opening_keys("money_complete"))

    def _escrow_target(self, escrow: EscrowView | None) -> tuple[EscrowView, str] | None:
        """``escrow`` and its escrow id when a money key may act on it, else ``None`` after
        telling the operator."""
        if not self._can_start(escrow.agent_id if escrow else None):
            return None
        if escrow is None or escrow.escrow_id is None:
            # A stream between tranches holds no escrow: there is nothing to dispute or complete.
            self._refuse("put the cursor on an escrow first")
            return None
        return escrow, escrow.escrow_id

    def faucet(self, agent_id: str | None) -> None:
        """Claim the faucet's dollar for ``agent_id`` (else the agent drilled into)."""
        if not self._can_start(agent_id):
            return
        agent = self._agent(agent_id)
        if agent is None:
            self._refuse("put the cursor on an agent (Fleet or Escrows) or drill into one first")
            return
        self._direct(ClaimFaucet(agent), self.opening_keys("money_faucet"))

    def brake(self) -> None:
        """Engage the stop-all brake (a preview of what it pauses, a reason, the typed word), or
        lift it while it is on. Engaging is allowed read-only: it only stops money."""
        if self.dialog_open:
            return
        desk = self.desk
        desk.escrow_notes()  # the brake as the store has it now, whoever changed it
        state = desk.brake()
        now = self.app.clock.now()
        keys = self.opening_keys("money_brake")
        labels = self._labels()
        preview: BrakePreview | None = None
        if state.engaged:
            if desk.read_only:
                self._refuse("read-only: the brake is lifted from a console that acts")
                return
            paused = [
                s
                for s in desk.engine.streams()
                if s.id in state.streams and s.state is StreamState.PAUSED
            ]
            dialog = BrakeDialog(
                lift_text(state, paused, labels, now),
                engage=False,
                resumable=len(paused),
                opening_keys=keys,
            )
        else:
            try:
                preview = desk.preview_brake()
            except ActionError as exc:
                self._refuse(str(exc))
                return
            dialog = BrakeDialog(engage_text(preview, labels, now), engage=True, opening_keys=keys)

        def decided(choice: BrakeChoice | None) -> None:
            self.dialog_open = False
            if choice is None:
                self.app.notify("cancelled: the brake is unchanged", timeout=2)
                return
            try:
                if preview is None:
                    new = desk.lift_brake(choice.reason, resume=choice.resume)
                else:
                    new = desk.engage_brake(preview, choice.reason)
            except ActionError as exc:
                self._refuse(str(exc))
                return
            desk.escrow_notes()
            if new.engaged:
                count = len(new.streams)
                self.app.notify(
                    f"brake engaged: {count} stream(s) paused, every money action refused",
                    severity="warning",
                    markup=False,
                    timeout=6,
                )
            else:
                self.app.notify("brake lifted: money actions are allowed again", timeout=4)
            self.app.redraw()
            self.app.refresh_bindings()

        self.dialog_open = True
        self.app.push_screen(dialog, decided)

    def audit(self) -> None:
        """Show every journaled money action (read-only)."""
        if self.dialog_open:
            return
        self.app.push_screen(AuditScreen(self.desk.audit_rows(), self.app.tones))

    # ---- form, confirmation, execution ---------------------------------------------------------

    def _form(self, form: MoneyForm, keys: Iterable[str]) -> None:
        """Form, then confirmation (pushed by the form, over it), then execution.

        The confirmation sits on top of its form: Escape or Cancel there goes back to the form
        with every value as typed; only a confirmed preview closes the form and is sent.
        """
        self.dialog_open = True
        opening = frozenset(keys)
        # Enter previewed: a held Enter must not also confirm.
        form.confirm_with = lambda preview: self._confirm_dialog(preview, opening | {"enter"})

        def formed(preview: ActionPreview | None) -> None:
            self.dialog_open = False
            if preview is None:
                return
            self._send(preview)

        self.app.push_screen(form, formed)

    def _direct(self, intent: Intent, keys: Iterable[str]) -> None:
        """An action with nothing to fill in: preview in a worker, then the confirmation."""
        self.dialog_open = True  # set now, before the worker starts: mashed keys see it
        self.app.run_worker(
            self._preview(intent, frozenset(keys)),
            group="money",
            exit_on_error=False,
            name="money-preview",
        )

    async def _preview(self, intent: Intent, keys: frozenset[str]) -> None:
        try:
            preview = await self.desk.preview(intent)
        except (ActionError, PurpleFleaError) as exc:
            self.dialog_open = False
            self._refuse(str(exc))
            return
        self.app.call_later(self._confirm, preview, keys)

    def _confirm_dialog(self, preview: ActionPreview, keys: frozenset[str]) -> ConfirmMoneyDialog:
        return ConfirmMoneyDialog(
            preview,
            typed=self.desk.needs_typed_confirm(preview.amount),
            max_usd=self.desk.max_action_usd,
            labels=self._labels(),
            opening_keys=keys,
        )

    def _confirm(self, preview: ActionPreview, keys: frozenset[str]) -> None:
        """The confirmation of an action without a form (faucet, complete)."""

        def confirmed(ok: bool | None) -> None:
            self.dialog_open = False
            if not ok:
                self.app.notify("cancelled: nothing was sent", timeout=2)
                return
            self._send(preview)

        self.app.push_screen(self._confirm_dialog(preview, keys), confirmed)

    def _send(self, preview: ActionPreview) -> None:
        self.app.run_worker(
            self._execute(preview), group="money", exit_on_error=False, name="money-send"
        )

    async def _execute(self, preview: ActionPreview) -> None:
        self.running = (
            f"{TITLES.get(preview.kind, preview.kind.value)} {format_usd6(preview.amount)}"
        )
        self.show_status()
        try:
            result = await self.desk.execute(preview)
        except (ActionError, PurpleFleaError) as exc:
            self.app.notify(
                one_line(str(exc)), severity="error", markup=False, title="money: not sent"
            )
            return
        finally:
            self.running = ""
            self.show_status()
        self._report(preview, result)

    def _report(self, preview: ActionPreview, result: ActionResult) -> None:
        title = TITLES.get(preview.kind, preview.kind.value)
        what = f"{title} {format_usd6(preview.amount)} (key {preview.key[:8]})"
        if result.state is RequestState.DONE:
            self.app.notify(f"done: {what}", markup=False, timeout=4)
        elif result.state is RequestState.UNKNOWN:
            self.app.notify(
                f"unknown: {what}; reconciled on the next poll",
                severity="warning",
                markup=False,
                timeout=8,
            )
        else:
            self.app.notify(
                one_line(f"failed: {what}: {result.message}"),
                severity="error",
                markup=False,
                timeout=8,
            )
        self.app.refresh_bindings()

    # ---- after each poll -----------------------------------------------------------------------

    def tick(self) -> None:
        """After each poll and at start-up: reconcile what is unsettled, redraw the status line."""
        desk = self.desk
        if not desk.read_only and desk.journal_exists() and desk.unsettled_count():
            self.app.run_worker(
                self._reconcile(),
                group="money-reconcile",
                exclusive=True,
                exit_on_error=False,
                name="money-reconcile",
            )
        self.show_status()

    async def _reconcile(self) -> None:
        try:
            results = await self.desk.reconcile()
        except (ActionError, PurpleFleaError) as exc:
            self.app.notify(one_line(f"reconciliation: {exc}"), severity="warning", markup=False)
            return
        settled = [r for r in results if r.state is not RequestState.UNKNOWN]
        if settled:
            self.app.notify(f"reconciled {len(settled)} money action(s)", markup=False, timeout=4)
        self.show_status()

    def show_status(self) -> None:
        """Redraw the money status line (hidden when nothing is running or unknown)."""
        desk = self.desk
        unknown = desk.unsettled_count() if desk.journal_exists() else 0
        for line in self.app.query(MoneyStatus):
            line.show(self.running, unknown, desk.last_unknown, self.app.tones)
