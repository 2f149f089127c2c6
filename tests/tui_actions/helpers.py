"""Helpers to drive the money keys: a stream opened and shown, the simulator's request log."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from pf_tui import usd
from pf_tui.api.models import Dialect
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import OpenStream, StreamMode, StreamUnit
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.tabs.escrows import EscrowsTab
from tests.actions.helpers import agent_escrow
from tests.tui.harness import make_app, settled, wait_idle


def plain(widget: Any) -> str:
    """What a Static shows, as plain text (its Rich renderable printed without colour)."""
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.export_text()


async def burst(app: PfApp, pilot: Pilot[int], key: str, times: int) -> None:
    """``times`` presses of ``key`` in one burst, as a terminal delivers auto-repeat: every event
    is stamped before the first is handled, so they arrive microseconds apart however busy the
    machine is (``pilot.press`` handles each key before making the next, which on a loaded
    machine can space them wider than a repeat and turn a mash into typing)."""
    presses = [events.Key(key, key if len(key) == 1 else None) for _ in range(times)]
    for press in presses:
        app.post_message(press)
    await pilot.pause()


def fill(app: PfApp, values: Mapping[str, str]) -> None:
    """Set the inputs of the dialog on screen, by id, as if the operator had typed them."""
    for field, value in values.items():
        app.screen.query_one(f"#{field}", Input).value = value


def money_posts(url: str, since_seq: int = 0) -> list[dict[str, Any]]:
    """Money-moving requests the simulator logged after ``since_seq`` (no reads, no controls)."""
    reply = httpx.get(f"{url}/_sim/requests?since_seq={since_seq}", timeout=10)
    reply.raise_for_status()
    return [r for r in usd.loads(reply.content)["requests"] if r.get("method") == "POST"]


def last_seq(url: str) -> int:
    """The newest logged request's sequence number (0 when none)."""
    reply = httpx.get(f"{url}/_sim/requests", timeout=10)
    reply.raise_for_status()
    rows = usd.loads(reply.content)["requests"]
    return int(rows[-1]["seq"]) if rows else 0


def agent_ids(app: PfApp) -> list[str]:
    """The watched agents, in config order."""
    return [a.id for a in app.config.agents]


async def open_stream(
    app: PfApp,
    *,
    budget: str = "5",
    batch: str = "1",
    rate: str = "0.05",
    mode: StreamMode = StreamMode.NATIVE,
    payer: int = 0,
    payee: int = 1,
) -> Stream:
    """A stream opened through the money desk (no dialog), for tests of the other keys."""
    ids = agent_ids(app)
    preview = await app.desk.preview(
        OpenStream(
            ids[payer],
            ids[payee],
            rate,
            StreamUnit.CALL,
            budget,
            batch,
            memo="test stream",
            mode=mode,
        )
    )
    result = await app.desk.execute(preview)
    assert result.done, result
    assert preview.stream_id is not None
    return app.desk.engine.stream(preview.stream_id)


async def show_escrow(app: PfApp, pilot: Pilot[int], escrow_id: str) -> None:
    """Poll, show the Escrows tab and put the cursor on ``escrow_id``'s row."""
    app.action_refresh()
    view = app.query_one(EscrowsTab)
    for _ in range(100):
        await pilot.pause(0.05)
        if any(e.escrow_id == escrow_id for e in app.fleet_view.escrows):
            break
    await pilot.press("4")
    await wait_idle(app, pilot)
    table = view.table
    for row in range(table.row_count):
        table.move_cursor(row=row)
        if (table.cursor_key or "").endswith("/" + escrow_id):
            # The refresh's two-second toast would be on screen or gone depending on how fast this
            # machine is; the snapshots are about the dialogs, so it goes now.
            app.clear_notifications()
            await wait_idle(app, pilot)
            return
    raise AssertionError(f"escrow {escrow_id} not shown")


def balance(server: SimServer, agent_id: str) -> Decimal:
    """An agent's casino balance in the simulator's own state."""
    reply = httpx.get(f"{server.url}/_sim/state", timeout=10)
    for agent in usd.loads(reply.content)["agents"]:
        if agent["agent_id"] == agent_id:
            return Decimal(str(agent["casino_usd"]))
    raise KeyError(agent_id)


async def money_done(app: PfApp, pilot: Pilot[int]) -> None:
    """Wait (at most 10 s) until no money worker is running, then let the screen catch up."""
    for _ in range(200):
        if not any(w.group == "money" and not w.is_finished for w in app.workers):
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError("a money action never finished")
    await wait_idle(app, pilot)


@dataclass(frozen=True)
class StreamScene:
    """A settled console with a stream of its own, its escrow under the Escrows tab's cursor."""

    app: PfApp
    pilot: Pilot[int]
    stream: Stream
    url: str
    seq: int
    """The simulator's newest logged request once the scene was set: what the test sends after."""

    def posts(self) -> list[dict[str, Any]]:
        """Money-moving requests sent since the scene was set."""
        return money_posts(self.url, self.seq)

    def paths(self) -> list[str]:
        """Their paths, in order."""
        return [post["path"] for post in self.posts()]


@asynccontextmanager
async def stream_on_screen(
    server: SimServer,
    folder: Path,
    *,
    mode: StreamMode = StreamMode.NATIVE,
    budget: str = "5",
    batch: str = "1",
    **app_options: Any,
) -> AsyncIterator[StreamScene]:
    """The opening of most money-key tests: the console settled on ``server`` with its store in
    ``folder``, a stream opened through the desk, its escrow shown under the cursor."""
    app = make_app(server, folder, **app_options)
    async with settled(app) as pilot:
        stream = await open_stream(app, mode=mode, budget=budget, batch=batch)
        await show_escrow(app, pilot, str(stream.escrow_id))
        yield StreamScene(app, pilot, stream, server.url, last_seq(server.url))


async def agent_escrows_on_screen(
    app: PfApp, pilot: Pilot[int], url: str, dialect: Dialect, count: int = 1, **options: Any
) -> list[str]:
    """Escrows demo agent 0 creates from its own code (not through pf-tui; agent 1 the payee),
    all polled and on the Escrows tab, the first under the cursor.

    A classic escrow is found in its creator's ledger, walked when a balance poll shows an
    escrow move the last walk did not cover (a frozen simulator stamps every move with the same
    second: the hint counts the moves of that second too)."""
    ids = [
        (await asyncio.to_thread(agent_escrow, url, dialect, **options))[0] for _ in range(count)
    ]
    # A refresh polls the balance and the escrows at once: the walk may need a second one.
    for _ in range(50):
        app.action_refresh()
        await pilot.pause(0.2)
        if {e.escrow_id for e in app.fleet_view.escrows}.issuperset(ids):
            break
    await show_escrow(app, pilot, ids[0])
    return ids


def assert_centered(app: PfApp) -> None:
    """The dialog on screen sits in the middle over the dimmed tab, not at the top-left over a
    blank screen (where the header, and the brake it shows, were hidden)."""
    screen = app.screen
    styles = screen.styles
    assert (styles.align_horizontal, styles.align_vertical) == ("center", "middle"), screen
    assert styles.background.a < 1, screen  # the tab shows through
    (box,) = screen.children
    left, right = box.region.x, screen.size.width - box.region.right
    above, below = box.region.y, screen.size.height - box.region.bottom
    assert abs(left - right) <= 1 and abs(above - below) <= 1, (box.region, screen.size)
