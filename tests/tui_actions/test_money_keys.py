"""Pilot tests of the money keys: confirm, cancel, typed confirmation, limits, read-only, stale
figures, key mashing, and each dialog's requests checked in the simulator's request log."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, RadioSet

from pf_tui.clock import FrozenClock
from pf_tui.core.money.types import RequestState, StreamMode, StreamState
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.commands import ActionCommands
from pf_tui.tui.dialogs.money.audit import AuditScreen, MoneyStatus
from pf_tui.tui.dialogs.money.base import REPEAT_S
from pf_tui.tui.dialogs.money.confirm import ConfirmMoneyDialog
from pf_tui.tui.dialogs.money.dispute import DisputeDialog
from pf_tui.tui.dialogs.money.open import OpenStreamDialog
from pf_tui.tui.dialogs.money.stream import CloseDialog, ReleaseDialog
from pf_tui.tui.tabs.escrows import EscrowsTab
from pf_tui.views.model import EscrowView
from tests.tui.harness import make_app, settled, sim_now, wait_idle
from tests.tui_actions.helpers import (
    agent_ids,
    balance,
    burst,
    fill,
    last_seq,
    money_done,
    money_posts,
    open_stream,
    plain,
    show_escrow,
    stream_on_screen,
)

# Minutes of pilots and subprocesses on a 2-core machine: the slow set runs them (CI too), so
# the quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow


def error_text(app: PfApp) -> str:
    """What the dialog on screen says under its form."""
    return plain(app.screen.query_one("#money-error"))


async def release_dialog(app: PfApp, pilot: Pilot[int], amount: str) -> None:
    """``l``, then the amount, then Enter: the confirmation (or the form's refusal) is on screen."""
    await pilot.press("l")
    await wait_idle(app, pilot)
    assert isinstance(app.screen, ReleaseDialog)
    fill(app, {"money-amount": amount})
    await pilot.press("enter")
    await wait_idle(app, pilot)


async def confirm(app: PfApp, pilot: Pilot[int]) -> None:
    """``y`` on the confirmation, then wait for the money workers to finish."""
    await pilot.press("y")
    await wait_idle(app, pilot)
    await money_done(app, pilot)


class TestRelease:
    async def test_confirm_sends_exactly_the_preview_once(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            payee_before = balance(server, stream.payee)
            await release_dialog(app, pilot, "0.50")
            dialog = app.screen
            assert isinstance(dialog, ConfirmMoneyDialog)
            assert app.focused is not None and app.focused.id == "money-cancel"  # the default
            shown = plain(dialog.query_one("#money-preview-body"))
            preview = dialog.preview
            assert preview.amount == Decimal("0.50") and preview.fee == Decimal("0.005")
            for text in (
                preview.key,
                "release-partial",
                "$0.005",
                "$0.495",
                "streaming",
                '"amount"',
            ):
                assert text in shown, text
            await confirm(app, pilot)
            assert scene.paths() == [f"/escrow/api/v1/escrow/{stream.escrow_id}/release-partial"]
            assert balance(server, stream.payee) - payee_before == Decimal("0.495")
            assert app.desk.engine.result(preview.key).done
            assert app.desk.engine.stream(stream.id).released == Decimal("0.50")

    async def test_the_rows_show_what_the_release_did_at_once(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """Once a release is done, both parties' escrows and balances are polled again: the
        row's Paid and the payee's balance are the server's new figures, not the ones read
        before it (no poll of its own comes on the frozen simulator)."""
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream

            def row() -> EscrowView:
                return next(e for e in app.fleet_view.escrows if e.escrow_id == stream.escrow_id)

            def payee_balance() -> Decimal | None:
                return next(a.balance for a in app.fleet_view.agents if a.agent_id == stream.payee)

            assert row().released == Decimal(0)
            shown_before = payee_balance()
            await release_dialog(app, pilot, "0.50")
            await confirm(app, pilot)
            for _ in range(100):
                if row().released and payee_balance() != shown_before:
                    break
                await pilot.pause(0.05)
            assert row().released == Decimal("0.50")
            assert row().remaining == Decimal("4.50")
            assert payee_balance() == balance(server, stream.payee)

    async def test_cancel_and_escape_send_nothing(self, server: SimServer, tmp_path: Path) -> None:
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot = scene.app, scene.pilot
            await release_dialog(app, pilot, "0.50")
            await pilot.click("#money-cancel")
            await wait_idle(app, pilot)
            assert not isinstance(app.screen, ConfirmMoneyDialog)
            await release_dialog(app, pilot, "0.50")
            await pilot.press("escape")
            await wait_idle(app, pilot)
            assert not isinstance(app.screen, ConfirmMoneyDialog)
            assert scene.posts() == []
            assert [r.op for r in app.desk.audit_rows()] == ["stream_create"]

    async def test_typed_confirmation_needs_the_amount(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        ui = {"typed_confirm_usd": Decimal("0.40")}
        async with stream_on_screen(server, tmp_path, ui=ui) as scene:
            app, pilot = scene.app, scene.pilot
            await release_dialog(app, pilot, "0.50")
            assert isinstance(app.screen, ConfirmMoneyDialog) and app.screen.typed
            typed = app.screen.query_one("#money-typed", Input)
            assert app.focused is typed  # what is typed lands in the input, not on Cancel
            # Enter opened this confirmation: another Enter within REPEAT_S of it is taken for a
            # held or mashed key and swallowed (base.RepeatGuard). Wait that out, so the Enter
            # below is a deliberate one however fast the machine is.
            await pilot.pause(REPEAT_S + 0.1)
            await pilot.press("enter")  # nothing typed yet: refused, focus stays in the input
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog)
            assert "type the amount exactly" in error_text(app)
            assert app.focused is typed
            for wrong in ("0.5", "0.49", "$0.50"):  # exactly as shown, nothing else
                typed.value = ""
                await pilot.press(*wrong, "enter")
                await wait_idle(app, pilot)
                assert isinstance(app.screen, ConfirmMoneyDialog), wrong
            assert scene.posts() == []
            typed.value = ""
            await pilot.press(*"0.50", "enter")
            await wait_idle(app, pilot)
            await money_done(app, pilot)
            assert len(scene.posts()) == 1

    async def test_over_the_limit_is_refused_before_any_request(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        ui = {"max_action_usd": Decimal("1"), "typed_confirm_usd": Decimal("1")}
        async with stream_on_screen(server, tmp_path, mode=StreamMode.TRANCHE, ui=ui) as scene:
            app = scene.app
            await release_dialog(app, scene.pilot, "1.50")
            assert isinstance(app.screen, ReleaseDialog)
            assert "over the limit" in error_text(app)
            assert scene.posts() == []
            assert len(app.desk.audit_rows()) == 1  # the open only


class TestGuards:
    async def test_read_only_hides_and_refuses_every_money_action(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        app = make_app(server, tmp_path, read_only=True)
        async with settled(app) as pilot:
            await pilot.press("4")
            await wait_idle(app, pilot)
            escrows = app.query_one(EscrowsTab)
            for action in (
                "money_open",
                "money_release",
                "money_pause",
                "money_close",
                "money_dispute",
                "money_complete",
                "money_faucet",
            ):
                assert escrows.check_action(action, ()) is False, action
            assert app.check_action("money_audit", ()) is True
            seq = last_seq(server.url)
            for key in "olxdcfP":
                await pilot.press(key)
                await wait_idle(app, pilot)
                assert not app.screen.is_modal
            offered = [command.name for command in ActionCommands(app.screen).commands()]
            assert "Refresh" in offered
            assert not {"Release partial", "Open stream"} & set(offered)
            assert money_posts(server.url, seq) == []

    async def test_stale_figures_disable_the_money_keys(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        clock = FrozenClock(sim_now(server))
        async with stream_on_screen(server, tmp_path, clock=clock) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            escrows = app.query_one(EscrowsTab)
            assert escrows.check_action("money_release", ()) is True
            clock.at += 3600  # an hour with no poll: every figure is stale
            assert escrows.check_action("money_release", ()) is None
            assert "stale" in str(app.money_flow.stale_reason(stream.agent_id))
            await pilot.press("l")
            await wait_idle(app, pilot)
            assert not app.screen.is_modal

    async def test_money_keys_still_work_after_shift_tab(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """The money keys are bound on the tab's view: focus must not escape to the tab bar,
        where they would silently do nothing."""
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot = scene.app, scene.pilot
            await pilot.press("shift+tab")
            await wait_idle(app, pilot)
            await pilot.press("l")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ReleaseDialog)

    async def test_key_mashing_gives_one_dialog_and_one_execution(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot = scene.app, scene.pilot
            await burst(app, pilot, "l", 10)
            await wait_idle(app, pilot)
            assert sum(isinstance(s, ReleaseDialog) for s in app.screen_stack) == 1
            amount = app.screen.query_one("#money-amount", Input)
            assert "l" not in amount.value
            amount.value = "0.25"
            await burst(app, pilot, "enter", 10)
            await wait_idle(app, pilot)
            # Enter repeats did not cancel the confirmation they opened.
            assert sum(isinstance(s, ConfirmMoneyDialog) for s in app.screen_stack) == 1
            await burst(app, pilot, "y", 10)
            await wait_idle(app, pilot)
            await money_done(app, pilot)
            assert len(scene.posts()) == 1
            assert [r.op for r in app.desk.audit_rows()] == ["release_partial", "stream_create"]

    async def test_second_action_on_a_stream_in_flight_is_refused(
        self, server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            monkeypatch.setattr(app.desk.engine, "busy", lambda stream_id: stream_id == stream.id)
            notes: list[str] = []
            monkeypatch.setattr(app, "notify", lambda message, **_: notes.append(str(message)))
            await pilot.press("l")
            await wait_idle(app, pilot)
            assert not app.screen.is_modal
            assert any("in flight" in n for n in notes)


class TestDialogs:
    async def test_open_stream_dialog(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("4")
            await wait_idle(app, pilot)
            ids = agent_ids(app)
            seq = last_seq(server.url)
            await pilot.press("o")
            await wait_idle(app, pilot)
            dialog = app.screen
            assert isinstance(dialog, OpenStreamDialog)
            fill(
                app,
                {
                    "money-payee": ids[2],
                    "money-rate": "0.02",
                    "money-budget": "3",
                    "money-memo": "[bold]data feed[/bold]",
                },
            )
            dialog.query_one("#money-budget").focus()
            await pilot.press("enter")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog)
            assert "[bold]data feed[/bold]" in plain(app.screen.query_one("#money-preview-body"))
            await confirm(app, pilot)
            assert [p["path"] for p in money_posts(server.url, seq)] == ["/escrow/api/v1/escrow"]
            (stream,) = app.desk.engine.streams()
            assert stream.payee == ids[2] and stream.budget == Decimal("3")

    async def test_dispute_needs_a_reason(self, server: SimServer, tmp_path: Path) -> None:
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            await pilot.press("d")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, DisputeDialog)
            await pilot.press(*"too short", "enter")
            await wait_idle(app, pilot)
            assert "at least 10 characters" in error_text(app)
            await pilot.press(*" - work never delivered", "enter")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog)
            await confirm(app, pilot)
            assert scene.paths() == [f"/escrow/api/v1/escrow/{stream.escrow_id}/dispute"]
            assert app.desk.audit_rows()[0].state == "done"
            # The stream record follows its escrow: disputed, and no key acts on it any more.
            assert app.desk.engine.stream(stream.id).state is StreamState.DISPUTED

    async def test_close_native_stream(self, server: SimServer, tmp_path: Path) -> None:
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            await pilot.press("x")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, CloseDialog)
            await pilot.press(*"4", "enter")  # four calls at $0.05 owed
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog)
            assert app.screen.preview.amount == Decimal("0.20")
            await confirm(app, pilot)
            base = f"/escrow/api/v1/escrow/{stream.escrow_id}"
            assert scene.paths() == [f"{base}/release-partial", f"{base}/close"]
            assert app.desk.engine.stream(stream.id).state is StreamState.CLOSED

    async def test_close_tranche_offers_the_three_choices(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        async with stream_on_screen(server, tmp_path, mode=StreamMode.TRANCHE, budget="3") as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            await pilot.press("x")
            await wait_idle(app, pilot)
            dialog = app.screen
            assert isinstance(dialog, CloseDialog)
            radios = dialog.query_one("#money-unearned", RadioSet)
            assert radios.display
            shown = " ".join(str(b.label) for b in radios.query(RadioButton))
            assert "$1.00" in shown and "$0.99" in shown
            dialog.query_one("#money-count").focus()
            await pilot.press("enter")
            await wait_idle(app, pilot)
            assert "choose what to do" in error_text(app)
            dialog.query_one("#choice-overpay", RadioButton).value = True
            dialog.query_one("#money-count").focus()
            await pilot.press("enter")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog)
            assert "each tranche pays its own 1% fee" in plain(
                app.screen.query_one("#money-preview-body")
            )
            await confirm(app, pilot)
            assert scene.paths() == [f"/escrow/escrow/release/{stream.escrow_id}"]

    async def test_faucet_and_audit(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("3")
            await wait_idle(app, pilot)
            seq = last_seq(server.url)
            await pilot.press("f")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog)
            assert app.screen.preview.requests[0].path == "/faucet/claim"
            await confirm(app, pilot)
            assert [p["path"] for p in money_posts(server.url, seq)] == ["/faucet/faucet/claim"]
            await pilot.press("A")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, AuditScreen)
            rows = app.screen.rows
            assert len(rows) == 1 and rows[0].op == "faucet_claim" and rows[0].operator
            assert rows[0].state in ("done", "failed")  # 'not claimable' is journaled as refused
            await pilot.press("escape")
            await wait_idle(app, pilot)
            assert not app.screen.is_modal
            assert not app.query_one(MoneyStatus).display


class TestOutcomes:
    @pytest.mark.slow
    async def test_lost_reply_shows_unknown_until_reconciled(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """Every attempt of the release answered 503: the console says ``unknown`` (status line,
        audit) instead of done or failed, since a 503 does not prove nothing happened; once the
        service is back the next poll reconciles it to done with one execution on the server."""
        async with stream_on_screen(server, tmp_path) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            path = f"/escrow/api/v1/escrow/{stream.escrow_id}/release-partial"
            rule = {"route": path, "method": "POST", "kind": "error", "status": 503, "rate": 1}
            faults = f"{server.url}/_sim/faults"
            (await asyncio.to_thread(httpx.post, faults, json=rule, timeout=10)).raise_for_status()
            try:
                await release_dialog(app, pilot, "0.40")
                dialog = app.screen
                assert isinstance(dialog, ConfirmMoneyDialog)
                preview = dialog.preview
                await confirm(app, pilot)
                assert app.desk.engine.result(preview.key).state is RequestState.UNKNOWN
                status = app.query_one(MoneyStatus)
                assert status.display and "1 money action(s) unknown" in plain(status)
                assert app.desk.audit_rows()[0].state == "unknown"
            finally:
                (await asyncio.to_thread(httpx.delete, faults, timeout=10)).raise_for_status()
            app.action_refresh()  # the next poll reconciles
            for _ in range(100):
                await pilot.pause(0.05)
                if app.desk.engine.result(preview.key).done:
                    break
            await wait_idle(app, pilot)
            assert app.desk.engine.result(preview.key).done
            assert not app.query_one(MoneyStatus).display
            executed = [p for p in scene.posts() if p["path"] == path and p["executed"]]
            assert len(executed) == 1, (
                executed
            )  # resent with the same key: replayed, not paid twice
            assert app.desk.engine.stream(stream.id).released == Decimal("0.40")

    async def test_tranche_escrow_shows_classic_and_its_refund(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """The docs list shows a tranche as a stream object; the Escrows tab still says what it is:
        classic, and its timeout refunds the payer (it does not pay the payee)."""
        async with stream_on_screen(server, tmp_path, mode=StreamMode.TRANCHE) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            row = next(e for e in app.fleet_view.escrows if e.escrow_id == stream.escrow_id)
            assert row.dialect == "classic" and not row.timeout_pays_payee
            assert row.rate == "$0.05/call"
            native = await open_stream(app, mode=StreamMode.NATIVE)
            await show_escrow(app, pilot, str(native.escrow_id))
            row = next(e for e in app.fleet_view.escrows if e.escrow_id == native.escrow_id)
            assert row.dialect == "streaming" and row.timeout_pays_payee

    async def test_payee_marks_a_tranche_complete(self, server: SimServer, tmp_path: Path) -> None:
        """c on a tranche between two watched agents: one ``complete`` sent with the payee's key;
        the money stays in escrow until the payer releases it."""
        async with stream_on_screen(server, tmp_path, mode=StreamMode.TRANCHE) as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            payee_before = balance(server, stream.payee)
            await pilot.press("c")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog)
            assert app.screen.preview.agent_id == stream.payee
            await confirm(app, pilot)
            posts = scene.posts()
            assert [p["path"] for p in posts] == [f"/escrow/escrow/complete/{stream.escrow_id}"]
            assert posts[0]["agent_id"] == stream.payee
            assert balance(server, stream.payee) == payee_before

    @pytest.mark.slow
    async def test_tranche_left_to_its_timeout_can_still_be_disputed(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """Close a tranche stream choosing "leave": the stream is closed but its funded tranche is
        live on the server; d disputes that escrow as a plain classic escrow."""
        async with stream_on_screen(server, tmp_path, mode=StreamMode.TRANCHE, budget="3") as scene:
            app, pilot, stream = scene.app, scene.pilot, scene.stream
            await pilot.press("x")
            await wait_idle(app, pilot)
            app.screen.query_one("#choice-leave", RadioButton).value = True
            app.screen.query_one("#money-count").focus()
            await pilot.press("enter")
            await wait_idle(app, pilot)
            await confirm(app, pilot)
            assert app.desk.engine.stream(stream.id).state.final
            await show_escrow(app, pilot, str(stream.escrow_id))
            seq = last_seq(server.url)
            await pilot.press("d")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, DisputeDialog)
            await pilot.press(*"payee stopped delivering", "enter")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, ConfirmMoneyDialog), error_text(app)
            await confirm(app, pilot)
            assert [p["path"] for p in money_posts(server.url, seq)] == [
                f"/escrow/escrow/dispute/{stream.escrow_id}"
            ]
