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

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pf_tui.api.errors import PurpleFleaError
from pf_tui.api.models import Dialect
from pf_tui.core.money.keeper import BrakePreview
from pf_tui.core.money.types import (
    ActionError,
    ActionPreview,
    ActionResult,
    ClaimFaucet,
    Intent,
    RequestState,
    StreamState,
)
from pf_tui.core.polling.results import DataType
from pf_tui.text import one_line
from pf_tui.tui.dialogs.money.audit import AuditScreen, MoneyStatus
from pf_tui.tui.dialogs.money.brake import BrakeChoice, BrakeDialog, engage_text, lift_text
from pf_tui.tui.dialogs.money.confirm import ConfirmMoneyDialog
from pf_tui.tui.dialogs.money.dispute import DisputeDialog
from pf_tui.tui.dialogs.money.escrow import AdoptDialog, EscrowReleaseDialog
from pf_tui.tui.dialogs.money.form import MoneyForm
from pf_tui.tui.dialogs.money.open import OpenStreamDialog
from pf_tui.tui.dialogs.money.preview import preview_title
from pf_tui.tui.dialogs.money.stream import CloseDialog, ReleaseDialog
from pf_tui.tui.keymap import BRAKE_BINDING, MONEY_BINDINGS, effective_keys
from pf_tui.usd import format_usd6
from pf_tui.views.model import EscrowAction, EscrowView, Offer, RowState
from pf_tui.views.money_desk import MoneyDesk
from pf_tui.views.times import clock_time

if TYPE_CHECKING:
    from pf_tui.tui.app import PfApp

AFTER_ACTION = (DataType.ESCROWS, DataType.BALANCE)
"""What a money action can change for each agent party to it: polled again once it ran."""


class MoneyFlow:
    """The money keys' steps for one app; the tabs call one method per key."""

    def __init__(self, app: PfApp, desk: MoneyDesk) -> None:
        self.app = app
        self.desk = desk
        self.dialog_open = False
        """A money form or confirmation is on screen: the money keys do nothing else meanwhile."""
        self.running = ""
        """The action being sent now (for the status line)."""
        self._status_lines: list[MoneyStatus] = []
        """The status lines found in the DOM (looked up again only once one is gone: the
        query walks every widget, and this runs every tick)."""
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
        """Release, as the row offers: what a pf-tui stream owes (amount prefilled, editable);
        part or all of a streaming escrow (a form); a classic escrow whole (its confirmation)."""
        row = self._row_for(escrow, EscrowAction.RELEASE_PART, EscrowAction.RELEASE)
        if row is None:
            return
        keys = self.opening_keys("money_release")
        if _live(row):
            self._stream_form("money_release", ReleaseDialog, row)
        elif _offers(row, EscrowAction.RELEASE_PART):
            form = EscrowReleaseDialog(
                self.desk.preview, row=row, intent=self._row_intent(row), opening_keys=keys
            )
            self._form(form, keys)
        else:
            self._row_direct(row, EscrowAction.RELEASE, keys)

    def close(self, escrow: EscrowView | None) -> None:
        """Close, as the row offers: a pf-tui stream pays what is owed then stops (a form); a
        streaming escrow refunds what it holds to its creator (its confirmation)."""
        row = self._row_for(escrow, EscrowAction.CLOSE)
        if row is None:
            return
        if _live(row):
            self._stream_form("money_close", CloseDialog, row)
        else:
            self._row_direct(row, EscrowAction.CLOSE, self.opening_keys("money_close"))

    def _stream_form(
        self,
        action: str,
        form: type[ReleaseDialog] | type[CloseDialog],
        row: EscrowView,
    ) -> None:
        """The stream's own form, its stream preselected among the live ones."""
        if row.stream_id is not None and self.desk.engine.busy(row.stream_id):
            self._refuse(
                f"an action on stream {row.stream_id} is in flight or unsettled; wait for it"
            )
            return
        keys = self.opening_keys(action)
        dialog = form(
            self.desk.preview,
            streams=self.desk.live_streams(),
            current=row.stream_id,
            labels=self._labels(),
            owed=self.desk.engine.owed,
            opening_keys=keys,
        )
        self._form(dialog, keys)

    def pause(self, escrow: EscrowView | None) -> None:
        """Pause (or resume) the row's pf-tui stream: local, nothing is sent. The notice says
        what the server will still do with the escrow's money on its own."""
        row = self._row_for(escrow, EscrowAction.PAUSE, EscrowAction.RESUME)
        if row is None:
            return
        try:
            if _offers(row, EscrowAction.RESUME):
                stream = self.desk.resume(row)
                self.app.notify(f"stream {stream.id} resumed", markup=False, timeout=3)
            else:
                stream = self.desk.pause(row)
                self.app.notify(
                    one_line(f"stream {stream.id} paused: {self.paused_sentence(row)}"),
                    markup=False,
                    timeout=10,
                )
        except ActionError as exc:
            self._refuse(str(exc))

    def paused_sentence(self, row: EscrowView) -> str:
        """What the server still does with a paused stream's escrow, and when: ``pf-tui
        releases nothing more, but the server pays the payee $4.95 at 00:30 UTC (in 29m) unless
        you close it``."""
        if row.timeout is None:
            return "pf-tui releases nothing more until you resume it"
        return replace(row.timeout, paused=True).sentence(self.app.clock.now())

    def dispute(self, escrow: EscrowView | None) -> None:
        """Dispute the row's escrow as the party its offer names (a reason is required)."""
        row = self._row_for(escrow, EscrowAction.DISPUTE)
        if row is None:
            return
        offer = _offers(row, EscrowAction.DISPUTE)
        if offer is None or row.escrow_id is None:
            return
        keys = self.opening_keys("money_dispute")
        row_intent = self._row_intent(row)
        form = DisputeDialog(
            self.desk.preview,
            agent_id=offer.agent_id,
            escrow_id=row.escrow_id,
            dialect=Dialect(row.dialect),
            memo=row.memo,
            stream_id=row.stream_id if _live(row) else None,
            reason=self.reasons.pop(row.escrow_id, ""),
            intent=lambda reason: row_intent(EscrowAction.DISPUTE, reason=reason),
            opening_keys=keys,
        )
        self._form(form, keys)

    def complete(self, escrow: EscrowView | None) -> None:
        """As its payee (a watched agent), mark the row's classic escrow complete."""
        row = self._row_for(escrow, EscrowAction.COMPLETE)
        if row is not None:
            self._row_direct(row, EscrowAction.COMPLETE, self.opening_keys("money_complete"))

    def adopt(self, escrow: EscrowView | None) -> None:
        """As its creator, track the row's escrow as a pf-tui stream (rate and unit)."""
        row = self._row_for(escrow, EscrowAction.ADOPT)
        if row is None:
            return
        keys = self.opening_keys("money_adopt")
        form = AdoptDialog(
            self.desk.preview, row=row, intent=self._row_intent(row), opening_keys=keys
        )
        self._form(form, keys)

    # ---- what a row offers -----------------------------------------------------------------

    def _row_for(self, escrow: EscrowView | None, *actions: EscrowAction) -> EscrowView | None:
        """``escrow`` when it offers one of ``actions`` and a money key may act now, else
        ``None`` after saying why in one line."""
        if not self._can_start(escrow.agent_id if escrow else None):
            return None
        if escrow is None:
            self._refuse("put the cursor on an escrow first")
            return None
        if not any(_offers(escrow, a) for a in actions):
            self._refuse(self.why_not(escrow, actions[0]))
            return None
        return escrow

    def _row_intent(self, row: EscrowView) -> Callable[..., Intent]:
        """The desk's intent for ``row`` (with its version), one action at a time."""

        def intent(action: EscrowAction, **fields: Any) -> Intent:
            return self.desk.intent_for(row, action, **fields)

        return intent

    def _row_direct(self, row: EscrowView, action: EscrowAction, keys: Iterable[str]) -> None:
        """An action on the row with nothing to fill in: straight to its confirmation."""
        try:
            intent = self.desk.intent_for(row, action)
        except ActionError as exc:
            self._refuse(str(exc))
            return
        self._direct(intent, keys)

    def _key(self, action: str) -> str:
        """The first key that runs ``action``, for a message (``t``)."""
        keys = sorted(self.opening_keys(action))
        return keys[0] if keys else action

    def why_not(self, row: EscrowView, action: EscrowAction) -> str:
        """Why ``row`` does not offer ``action``, in one line: which party acts, which dialect."""
        what = f"escrow {row.escrow_id}" if row.escrow_id else f"stream {row.stream_id}"
        state = RowState(row.state)
        if state.finished:
            return f"{what} is {row.state}: its money moves no more"
        if state is RowState.UNKNOWN:
            return f"an action on {what} has an unknown outcome: wait for it to be reconciled"
        if state is RowState.CLOSING:
            return f"{what} is closing: wait for the close to settle"
        if action in (EscrowAction.PAUSE, EscrowAction.RESUME):
            adopt = (
                f": adopt it as a stream first ({self._key('money_adopt')})"
                if _offers(row, EscrowAction.ADOPT)
                else ""
            )
            return f"pause acts on a pf-tui stream; {what} is not one{adopt}"
        if row.escrow_id is None:
            return f"{what} holds no escrow between tranches: nothing to {action.value}"
        creator = row.creator or str(row.creator_id)
        if action is EscrowAction.COMPLETE:
            if row.dialect != Dialect.CLASSIC.value:
                return f"{what} is streaming: only a classic escrow is marked complete"
            if row.status == "completed":
                return f"{what} is already complete: its creator ({creator}) releases it"
            return f"only the payee ({row.payee}) marks {what} complete: not one of your agents"
        if action is EscrowAction.ADOPT and _live(row):
            return f"{what} already backs pf-tui stream {row.stream_id}"
        if action is not EscrowAction.DISPUTE and row.creator_id not in self._labels():
            verb = _VERB.get(action, action.value)
            return f"only the creator ({creator}) may {verb} {what}: not one of your agents"
        if action is EscrowAction.CLOSE and row.dialect == Dialect.CLASSIC.value:
            return (
                f"{what} is classic: it has no close; release it "
                f"({self._key('money_release')}) or dispute it ({self._key('money_dispute')})"
            )
        verb = _VERB.get(action, action.value)
        return f"{verb} does not apply to {what} ({row.state}, {row.dialect})"

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
        self.running = f"{preview_title(preview)} {format_usd6(preview.amount)}"
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
        if result.state is RequestState.DONE:
            self._refresh_parties(preview)
        self._report(preview, result)

    def _refresh_parties(self, preview: ActionPreview) -> None:
        """Poll the balance and escrows of each fleet agent a done action touched, now: the
        rows show what the money did at once, not an escrow poll later. (An unknown outcome is
        settled by the reconciliation the next poll starts, on the poller's own rhythm: asking
        at once would resend into the failure that made it unknown.)"""
        ids = {preview.escrow_id, preview.stream_id} - {None}
        parties = {preview.agent_id}
        for row in self.app.fleet_view.escrows:
            if row.escrow_id in ids or row.stream_id in ids:
                parties.update(p for p in (row.creator_id, row.payee_id) if p is not None)
        poller = self.app.engine.poller
        for agent_id in sorted(parties):
            poller.refresh(agent_id, AFTER_ACTION)

    def _report(self, preview: ActionPreview, result: ActionResult) -> None:
        title = preview_title(preview)
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
        if not self._status_lines or not all(line.is_attached for line in self._status_lines):
            self._status_lines = list(self.app.query(MoneyStatus))
        for line in self._status_lines:
            line.show(self.running, unknown, desk.last_unknown, self.app.tones)


_LIVE = ("open", "paused", "closing")
_VERB = {
    EscrowAction.RELEASE: "release",
    EscrowAction.RELEASE_PART: "release",
    EscrowAction.CLOSE: "close",
    EscrowAction.ADOPT: "adopt",
    EscrowAction.DISPUTE: "dispute",
    EscrowAction.COMPLETE: "complete",
}


def _live(row: EscrowView) -> bool:
    """The row is a live pf-tui stream (its release and close are the stream's)."""
    return row.stream_id is not None and row.stream_state in _LIVE


def _offers(row: EscrowView, action: EscrowAction) -> Offer | None:
    """The row's offer of ``action`` (``None``: not offered)."""
    return next((o for o in row.offers if o.action is action), None)
