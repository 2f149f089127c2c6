"""A reproducible world for TUI tests: a seeded simulator that moved, then froze, and a frozen clock.

The simulator starts paused at :data:`START`, runs its demo fleet for :data:`WARMUP_S` simulated
seconds (deterministic under the seed: positions open, bets land, streams start), then stops
moving. The app's wall clock is frozen at the simulator's time, so every age, countdown and
time on screen comes out the same on every run and machine.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

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


def sim_now(server: SimServer) -> float:
    """The frozen simulator's time."""
    return server.sim.clock.now()


def make_app(
    server: SimServer,
    *,
    labels: dict[str, str] | None = None,
    keymap: dict[str, str] | None = None,
    store_path: Path | None = None,
    state_path: Path | None = None,
    **kwargs: Any,
) -> PfApp:
    """The console on the frozen simulator, its clock frozen at the simulator's time.

    Each app gets a store of its own (a fresh temporary file unless ``store_path`` says), so no
    daemon or earlier run on this machine shows on screen; ``state_path`` turns the state file on.
    """
    if store_path is None:
        store_path = Path(tempfile.mkdtemp(prefix="pf-tui-test-")) / "store.db"
    config = Config.demo(server.url, fetch_demo_agents(server.url), store_path=store_path)
    if state_path is not None:
        config = replace(config, state_path=state_path)
    if keymap:
        config = replace(config, ui=replace(config.ui, keymap=tuple(keymap.items())))
    if labels:
        config = replace(
            config, agents=tuple(replace(a, label=labels.get(a.id, a.label)) for a in config.agents)
        )
    kwargs.setdefault("clock", FrozenClock(sim_now(server)))
    kwargs.setdefault("age_tick_s", 0.1)
    return PfApp(config, demo=True, tick_s=0.0, **kwargs)


async def settle(app: PfApp, pilot: Any, *, timeout: float = 20.0) -> None:
    """Wait until every agent has every figure (nothing stale) and the screen caught up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        view = app.fleet_view
        if view is not None and view.agents and not any(a.stale for a in view.agents):
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError("the fleet never became fresh")
    await wait_idle(app, pilot)


async def wait_idle(app: PfApp, pilot: Any) -> None:
    """Let queued views, focus changes and animations finish.

    Under the frozen clock the engine posts nothing once every figure is in, so the app goes idle.
    """
    await pilot.pause(0.2)
    await pilot.wait_for_animation()
    await pilot.pause()


def steady_cursor(monkeypatch: Any) -> None:
    """Input cursors stop blinking: a focused input always shows its cursor.

    The blink timer flips the cursor every half second, so a snapshot taken on a slow machine
    caught it in the other phase; snapshots call this so every run draws the same cell.
    """
    from textual.widgets import Input

    def keep_visible(self: Input) -> None:
        self._cursor_visible = True

    monkeypatch.setattr(Input, "_toggle_cursor", keep_visible)
