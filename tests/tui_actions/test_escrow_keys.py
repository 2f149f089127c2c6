"""Pilot tests of the Escrows tab's keys on escrows the agents created themselves (not through
pf-tui), in both dialects, against the simulator: each key acts as the row offers, with one
execution on the server, or says in one line why not; an escrow changed since its preview is
refused as stale with nothing sent; the finished escrows stay in view (``F``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pf_tui.api.models import Dialect
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.dialogs.money.confirm import ConfirmMoneyDialog
from pf_tui.tui.dialogs.money.dispute import DisputeDialog
from pf_tui.tui.dialogs.money.escrow import AdoptDialog, EscrowReleaseDialog
from pf_tui.tui.tabs.escrows import EscrowsTab, timeout_text
from pf_tui.views.model import EscrowView
from tests.actions.helpers import agent_post, agents
from tests.tui.harness import make_app, settled, wait_idle
from tests.tui_actions.helpers import (
    agent_escrows_on_screen,
    assert_centered,
    balance,
    fill,
    last_seq,
    money_done,
    money_posts,
    plain,
)
from tests.tui_actions.helpers import show_escrow as show

CLASSIC = "/escrow/escrow"
STREAMING = "/escrow/api/v1/escrow"


@dataclass
class Desk:
    """A settled console on the Escrows tab, the notices it showed, the simulator's url."""

    app: PfApp
    pilot: Pilot[int]
    url: str
    notes: list[str]

    async def escrows(self, dialect: Dialect, count: int = 1, **options: Any) -> list[str]:
        """Escrows agent 0 creates from its own code (agent 1 the payee), all on screen; the
        first under the cursor (created together: see :func:`agent_escrows_on_screen`)."""
        ids = await agent_escrows_on_screen(
            self.app, self.pilot, self.url, dialect, count, **options
        )
        self.notes.clear()
        return ids

    async def escrow(self, dialect: Dialect, **options: Any) -> str:
        """One escrow agent 0 creates from its own code, under the cursor."""
        return (await self.escrows(dialect, **options))[0]

    async def show(self, escrow_id: str) -> None:
        """The escrow's row under the cursor."""
        await show(self.app, self.pilot, escrow_id)
        self.notes.clear()

    async def until(self, escrow_id: str, done: Callable[[EscrowView], bool]) -> EscrowView:
        """Poll until the escrow's row satisfies ``done`` (at most 10 s); it is under the cursor."""
        self.app.action_refresh()
        for _ in range(200):
            await self.pilot.pause(0.05)
            row = next((e for e in self.app.fleet_view.escrows if e.escrow_id == escrow_id), None)
            if row is not None and done(row):
                break
        else:
            raise AssertionError(f"escrow {escrow_id}'s row never changed as expected")
        await show(self.app, self.pilot, escrow_id)
        self.notes.clear()
        return self.row(escrow_id)

    def row(self, escrow_id: str) -> EscrowView:
        """The escrow's row as the tab last drew it."""
        row = self.app.query_one(EscrowsTab).cursor_escrow()
        assert row is not None and row.escrow_id == escrow_id
        return row

    async def press(self, *keys: str) -> None:
        for key in keys:
            await self.pilot.press(key)
            await wait_idle(self.app, self.pilot)

    async def confirm(self) -> None:
        """``y`` on the confirmation, then wait for the money workers."""
        assert isinstance(self.app.screen, ConfirmMoneyDialog)
        await self.press("y")
        await money_done(self.app, self.pilot)

    def refused(self, *words: str) -> None:
        """No dialog opened, and the one-line notice says ``words``."""
        assert not self.app.screen.is_modal
        assert self.notes, "no notice"
        line = self.notes[-1]
        assert "\n" not in line and "open one" not in line
        for word in words:
            assert word in line, (word, line)
        self.notes.clear()


@asynccontextmanager
async def desk(server: SimServer, folder: Path) -> AsyncIterator[Desk]:
    app = make_app(server, folder)
    async with settled(app) as pilot:
        notes: list[str] = []
        notify = app.notify

        def keep(message: str, **options: Any) -> None:
            notes.append(str(message))
            notify(message, **options)

        app.notify = keep  # type: ignore[method-assign]
        await pilot.press("4")
        await wait_idle(app, pilot)
        yield Desk(app, pilot, server.url, notes)


def executed(url: str, since: int) -> list[tuple[str, str]]:
    """(path, acting agent) of each money request the server executed since ``since``."""
    return [(p["path"], p["agent_id"]) for p in money_posts(url, since) if p["executed"]]


def preview_text(app: PfApp) -> str:
    return plain(app.screen.query_one("#money-preview-body"))


@pytest.mark.slow
async def test_every_key_on_an_agents_classic_escrow(server: SimServer, tmp_path: Path) -> None:
    """Release in full (creator), complete (payee), dispute, adopt; close and pause say why not."""
    fleet = [a["agent_id"] for a in await asyncio.to_thread(agents, server.url)]
    creator, payee = fleet[0], fleet[1]
    async with desk(server, tmp_path) as d:
        escrow_id, second, third = await d.escrows(Dialect.CLASSIC, 3, amount="2")
        row = d.row(escrow_id)
        assert (row.dialect, row.state, row.amount) == ("classic", "funded", Decimal(2))
        await d.press("x")
        d.refused("classic", "no close", "release it (l)")
        await d.press("P")
        d.refused("pause acts on a pf-tui stream", "adopt it as a stream first (t)")
        # l: a classic escrow is released whole, so it goes straight to its confirmation.
        seq = last_seq(d.url)
        payee_before = balance(server, payee)
        await d.press("l")
        assert isinstance(d.app.screen, ConfirmMoneyDialog)
        assert d.app.screen.preview.intent.version == row.version
        shown = preview_text(d.app)
        for text in ("$2.00: released $0.00, remaining $2", "payee nets $1.98", "classic escrow"):
            assert text in shown, text
        await d.confirm()
        assert executed(d.url, seq) == [(f"{CLASSIC}/release/{escrow_id}", creator)]
        assert balance(server, payee) - payee_before == Decimal("1.98")

        # c: as the payee; then d, as the row's agent (a party).
        escrow_id = second
        await d.show(escrow_id)
        seq = last_seq(d.url)
        await d.press("c")
        assert "refunds the creator" in preview_text(d.app)
        await d.confirm()
        assert executed(d.url, seq) == [(f"{CLASSIC}/complete/{escrow_id}", payee)]
        await d.until(escrow_id, lambda r: r.state == "completed")
        await d.press("c")
        d.refused("already complete")
        seq = last_seq(d.url)
        await d.press("d")
        assert isinstance(d.app.screen, DisputeDialog)
        await d.press(*"work never delivered", "enter")
        await d.confirm()
        assert executed(d.url, seq) == [(f"{CLASSIC}/dispute/{escrow_id}", creator)]

        # t: adopted as a (classic, one-tranche) stream; nothing is sent.
        escrow_id = third
        await d.show(escrow_id)
        seq = last_seq(d.url)
        await d.press("t")
        assert isinstance(d.app.screen, AdoptDialog)
        assert_centered(d.app)
        fill(d.app, {"money-rate": "0.01"})
        await d.press("enter")
        await d.confirm()
        assert executed(d.url, seq) == []
        (stream,) = [s for s in d.app.desk.live_streams() if s.escrow_id == escrow_id]
        assert stream.origin.value == "adopted" and stream.payee == payee


@pytest.mark.slow
async def test_every_key_on_an_agents_streaming_escrow(server: SimServer, tmp_path: Path) -> None:
    """Release part, close, dispute, adopt then pause (the notice says what the server will
    still do); complete says why not."""
    creator = (await asyncio.to_thread(agents, server.url))[0]["agent_id"]
    async with desk(server, tmp_path) as d:
        escrow_id, second = await d.escrows(Dialect.STREAMING, 2, amount="2")
        assert d.row(escrow_id).dialect == "streaming"
        await d.press("c")
        d.refused("streaming", "only a classic escrow is marked complete")
        seq = last_seq(d.url)
        await d.press("l")
        assert isinstance(d.app.screen, EscrowReleaseDialog)
        assert_centered(d.app)
        fill(d.app, {"money-amount": "0.50"})
        await d.press("enter")
        assert "$0.50" in preview_text(d.app) and "$1.50 stays in the escrow" in preview_text(d.app)
        await d.confirm()
        assert executed(d.url, seq) == [(f"{STREAMING}/{escrow_id}/release-partial", creator)]
        row = await d.until(escrow_id, lambda r: r.released == Decimal("0.50"))
        assert row.remaining == Decimal("1.50")
        seq = last_seq(d.url)
        await d.press("x")
        assert "$1.50" in preview_text(d.app)
        await d.confirm()
        assert executed(d.url, seq) == [(f"{STREAMING}/{escrow_id}/close", creator)]

        escrow_id = second
        await d.show(escrow_id)
        seq = last_seq(d.url)
        await d.press("d")
        await d.press(*"work never delivered", "enter")
        shown = preview_text(d.app)
        assert "Amount" not in shown and "In escrow" in shown  # not "Amount $0.00"
        await d.confirm()
        assert executed(d.url, seq) == [(f"{STREAMING}/{escrow_id}/dispute", creator)]

        escrow_id = await d.escrow(Dialect.STREAMING, amount="5", timeout_hours=1)
        await d.press("t")
        fill(d.app, {"money-rate": "0.05"})
        await d.press("enter")
        await d.confirm()
        await d.until(escrow_id, lambda r: r.stream_state == "open")
        await d.press("P")
        assert not d.app.screen.is_modal
        assert re.search(
            r"paused: pf-tui releases nothing more, but the server pays the payee "
            r"\$4\.95 at \d\d:\d\d UTC \(in [\dhm]+\) unless you close it",
            d.notes[-1],
        ), d.notes
        row = await d.until(escrow_id, lambda r: r.state == "paused")
        cell = timeout_text(row, d.app.clock.now())
        assert re.fullmatch(r"pays payee \$4\.95 in [\d:]+", cell), cell
        table = d.app.query_one(EscrowsTab).table
        assert cell in [str(c) for c in table.get_row_at(table.cursor_row)]


async def test_an_escrow_changed_since_its_preview_is_refused(
    server: SimServer, tmp_path: Path
) -> None:
    """The payee's own code marks the escrow complete while the release's confirmation is on
    screen: confirming sends nothing and says the escrow changed."""
    fleet = await asyncio.to_thread(agents, server.url)
    async with desk(server, tmp_path) as d:
        escrow_id = await d.escrow(Dialect.CLASSIC)
        await d.press("l")
        assert isinstance(d.app.screen, ConfirmMoneyDialog)
        path = f"/escrow/escrow/complete/{escrow_id}"
        key = fleet[1]["keys"]["casino"]
        await asyncio.to_thread(agent_post, d.url, path, key, {})
        seq = last_seq(d.url)
        await d.confirm()
        assert money_posts(d.url, seq) == []
        assert any("changed since the preview" in n and "nothing was sent" in n for n in d.notes)
        assert [r.state for r in d.app.desk.audit_rows()] == []  # never journaled


async def test_finished_escrows_toggle(server: SimServer, tmp_path: Path) -> None:
    """F shows the escrows finished in the last 24 h with their outcome, and back."""
    async with desk(server, tmp_path) as d:
        tab = d.app.query_one(EscrowsTab)
        active = tab.table.row_count
        finished = d.app.fleet_view.finished_escrows
        assert finished and all(e.finished and e.outcome for e in finished)
        await d.press("F")
        assert tab.finished and tab.table.row_count == len(finished)
        title = plain(tab.query_one(".tab-title"))
        assert f"{len(finished)} finished escrows in the last 24 h | F: active" in title
        headers = [str(c.label) for c in tab.table.columns.values()]
        assert "Outcome" in " ".join(headers) and "At timeout" not in " ".join(headers)
        cells = [str(c) for r in range(tab.table.row_count) for c in tab.table.get_row_at(r)]
        assert any(re.fullmatch(r"closed, \$[\d.]+ back \d\d:\d\d", c) for c in cells), cells
        await d.press("l")
        d.refused("its money moves no more")
        await d.press("F")
        assert not tab.finished and tab.table.row_count == active
        assert f"F: finished ({len(finished)} in 24 h)" in plain(tab.query_one(".tab-title"))
