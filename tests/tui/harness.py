"""A reproducible world for TUI tests: a seeded simulator that moved, then froze; a frozen clock.

The simulator starts paused at :data:`START`, runs its demo fleet for :data:`WARMUP_S` simulated
seconds (deterministic under the seed: positions open, bets land, streams start), then stops
moving. The app's wall clock is frozen at the simulator's time, so every age, countdown and
time on screen comes out the same on every run and machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pf_tui.clock import FrozenClock
from pf_tui.config import Config
from pf_tui.demo import fetch_demo_agents
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp

START = 1_767_268_800.0
"""2026-01-01T12:00:00Z."""
WARMUP_S = 900.0
SEED = 7
AGENTS = 8
SIZE = (120, 40)
POLL_INTERVALS = {
    "balance": 10,
    "positions": 5,
    "pnl": 3,
    "casino": 2,
    "referrals": 30,
    "escrows": 5,
    "errors": 5,
}
"""Seconds between polls of each figure, for a FleetState built by hand."""


@contextmanager
def frozen_sim(
    *, seed: int = SEED, agents: int = AGENTS, warmup_s: float = WARMUP_S
) -> Iterator[SimServer]:
    """A simulator on 127.0.0.1 that ran ``warmup_s`` of demo motion and then froze."""
    server = SimServer(
        host="127.0.0.1", port=0, seed=seed, agents=agents, motion=False, start_time=START
    )
    sim = server.sim
    sim.set_motion(True)
    sim.advance(warmup_s)
    sim.set_motion(False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    """One frozen simulator for a test module (reads do not change it; money tests open
    streams of their own)."""
    with frozen_sim() as sim:
        yield sim


@pytest.fixture
def steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Input cursors do not blink (``Input.cursor_blink`` off): a focused input always shows
    its cursor.

    The blink timer flips the cursor every half second, so a snapshot taken on a slow machine
    caught it in the other phase; the snapshot modules use this fixture on every test, so every
    run draws the same cell.
    """

    monkeypatch.setattr(Input, "cursor_blink", False)


def sim_now(server: SimServer) -> float:
    """The frozen simulator's time."""
    return server.sim.clock.now()


def make_app(
    server: SimServer,
    folder: Path,
    *,
    labels: dict[str, str] | None = None,
    keymap: dict[str, str] | None = None,
    ui: dict[str, Any] | None = None,
    state_path: Path | None = None,
    app_class: type[PfApp] = PfApp,
    **kwargs: Any,
) -> PfApp:
    """The console on the frozen simulator, its clock frozen at the simulator's time.

    Its store (and so its money journal and the daemon's alerts) is ``folder/store.db``, so no
    daemon or earlier run on this machine shows on screen, and pytest removes it with the
    test's ``tmp_path``. ``ui`` overrides ``[ui]`` settings (limits, keymap);
    ``state_path`` turns the state file on.
    """
    config = Config.demo(server.url, fetch_demo_agents(server.url), store_path=folder / "store.db")
    settings = dict(ui or {})
    if keymap:
        settings["keymap"] = tuple(keymap.items())
    config = replace(config, state_path=state_path, ui=replace(config.ui, **settings))
    if labels:
        config = replace(
            config, agents=tuple(replace(a, label=labels.get(a.id, a.label)) for a in config.agents)
        )
    kwargs.setdefault("clock", FrozenClock(sim_now(server)))
    kwargs.setdefault("age_tick_s", 0.1)
    return app_class(config, demo=True, tick_s=0.0, **kwargs)


@asynccontextmanager
async def settled(app: PfApp) -> AsyncIterator[Pilot[int]]:
    """Run ``app`` at :data:`SIZE` and wait until every agent has every figure."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        yield pilot


async def settle(app: PfApp, pilot: Pilot[int], *, within_s: float = 20.0) -> None:
    """Wait until every agent has every figure (nothing stale) and the screen caught up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        view = app.fleet_view
        if view.agents and not any(a.stale for a in view.agents):
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError("the fleet never became fresh")
    await wait_idle(app, pilot)


async def wait_idle(app: PfApp, pilot: Pilot[int]) -> None:
    """Let queued views, focus changes and animations finish.

    Under the frozen clock the engine posts nothing once every figure is in, so the app goes idle.
    """
    await pilot.pause(0.2)
    await pilot.wait_for_animation()
    await pilot.pause()
