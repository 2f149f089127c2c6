"""SVG snapshots of every money dialog and the audit view at 120x40 and at 80x24 (an SSH pane):
a fresh frozen simulator (seed 7), a frozen clock, fixed idempotency keys and operator, so
every run draws the same.

The same SVGs are kept under ``screenshots/actions/`` (a folder of their own, so the tab
screenshots' one-to-one check is untouched); ``test_screenshots_match_snapshots`` keeps the two in
step (``PF_TUI_WRITE_SCREENSHOTS=1`` copies the snapshots over).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import RadioButton

from pf_tui.api.models import Dialect
from pf_tui.core.money.types import StreamMode
from pf_tui.demo import fetch_demo_agents
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from tests.tui.harness import SIZE, frozen_sim, make_app, settle, wait_idle
from tests.tui_actions.helpers import (
    agent_escrows_on_screen,
    money_done,
    open_stream,
    show_escrow,
)
from tests.tui_actions.helpers import fill as fill_fields

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_snapshots"
SCREENSHOTS = ROOT / "screenshots" / "actions"


pytestmark = pytest.mark.usefixtures("steady_cursor", "fixed_keys", "fixed_operator")

SMALL = (80, 24)


@pytest.fixture(params=[SIZE, SMALL], ids=["120x40", "80x24"])
def size(request: pytest.FixtureRequest) -> tuple[int, int]:
    """Every snapshot at both sizes: 80x24 must show every dialog's buttons and borders."""
    size: tuple[int, int] = request.param
    return size


@pytest.fixture
def fresh() -> Iterator[SimServer]:
    """A fresh frozen simulator: escrow ids and balances come out the same on every run."""
    with frozen_sim() as sim:
        yield sim


@pytest.fixture
def fixed_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idempotency keys and stream ids from a counter, not the system's randomness."""
    counter = iter(range(1, 1_000_000))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=(0x5EED << 96) + next(counter)))


@pytest.fixture
def fixed_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal's operator is whoever runs the tests: the audit view shows this one instead."""
    monkeypatch.setenv("USER", "operator")
    monkeypatch.setenv("SSH_CLIENT", "192.0.2.7 50000 22")


@pytest.fixture
def lasting_toasts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toasts stay up until the screenshot. A snapshot that shows a toast otherwise depends on
    the machine's speed: the audit view's first "done" toast (4 s) expired before the screenshot
    on a loaded machine."""
    notify = PfApp.notify

    def lasting(self: PfApp, message: str, **options: Any) -> None:
        notify(self, message, **{**options, "timeout": 600})

    monkeypatch.setattr(PfApp, "notify", lasting)


Step = Callable[[PfApp, Any], Awaitable[None]]


def before(
    *,
    stream: StreamMode | None = None,
    keys: tuple[str, ...] = (),
    fill: dict[str, str] | None = None,
    then: tuple[str, ...] = (),
    tab: str = "4",
    extra: Step | None = None,
) -> Any:
    """Settle, maybe open a stream and put the cursor on it, press ``keys``, fill fields, then
    press ``then``."""

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle(app, pilot)
        if stream is not None:
            opened = await open_stream(app, mode=stream, budget="3", batch="1")
            await show_escrow(app, pilot, str(opened.escrow_id))
        else:
            await pilot.press(tab)
            await wait_idle(app, pilot)
        if extra is not None:
            await extra(app, pilot)
        for key in keys:
            await pilot.press(key)
            await wait_idle(app, pilot)
        fill_fields(app, fill or {})
        for key in then:
            await pilot.press(key)
            await wait_idle(app, pilot)
        await money_done(app, pilot)

    return run_before


def test_open_stream_dialog(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """o: the open-stream form, filled in (payee typed as an id)."""
    ids = [agent["agent_id"] for agent in fetch_demo_agents(fresh.url)]
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(
            keys=("o",),
            fill={
                "money-payee": ids[2],
                "money-rate": "0.02",
                "money-budget": "3",
                "money-batch": "1",
                "money-memo": "[bold]price feed[/bold]",
            },
        ),
    )


def test_release_dialog(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """l: the release form over a native stream, amount typed."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(stream=StreamMode.NATIVE, keys=("l",), fill={"money-amount": "0.40"}),
    )


def test_release_confirm(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """The confirmation: requests, fee, payee nets, balances, dialect, key; Cancel focused."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(
            stream=StreamMode.NATIVE, keys=("l",), fill={"money-amount": "0.40"}, then=("enter",)
        ),
    )


def test_typed_confirm(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """Above [ui] typed_confirm_usd the amount must be typed."""
    assert snap_compare(
        make_app(fresh, tmp_path, ui={"typed_confirm_usd": Decimal("0.25")}),
        terminal_size=size,
        run_before=before(
            stream=StreamMode.NATIVE, keys=("l",), fill={"money-amount": "0.40"}, then=("enter",)
        ),
    )


def test_close_tranche_dialog(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """x on a tranche stream: the three choices for the unearned tranche, with amounts."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(stream=StreamMode.TRANCHE, keys=("x",)),
    )


def test_close_tranche_confirm(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """Overpay chosen: one classic release, the tranche fee shown."""

    async def choose(app: PfApp, pilot: Any) -> None:
        await pilot.press("x")
        await wait_idle(app, pilot)
        app.screen.query_one("#choice-overpay", RadioButton).value = True
        app.screen.query_one("#money-count").focus()

    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(stream=StreamMode.TRANCHE, extra=choose, then=("enter",)),
    )


def test_dispute_dialog(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """d: the dispute form, a reason too short refused."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(stream=StreamMode.NATIVE, keys=("d", "s", "h", "o", "r", "t", "enter")),
    )


def test_complete_confirm(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """c on a tranche (a classic escrow between two watched agents): the payee marks it complete."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(stream=StreamMode.TRANCHE, keys=("c",)),
    )


def agent_escrow_step(dialect: Dialect, url: str) -> Step:
    """An escrow demo agent 0 created from its own code, under the cursor."""

    async def step(app: PfApp, pilot: Any) -> None:
        await agent_escrows_on_screen(app, pilot, url, dialect)

    return step


def test_release_in_full_confirm(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """l on a classic escrow an agent created: released whole, so straight to the confirmation,
    with the funds at stake and what its timeout would do instead."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(extra=agent_escrow_step(Dialect.CLASSIC, fresh.url), keys=("l",)),
    )


def test_adopt_dialog(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """t on a streaming escrow an agent created: the adopt form, a rate typed."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(
            extra=agent_escrow_step(Dialect.STREAMING, fresh.url),
            keys=("t",),
            fill={"money-rate": "0.01"},
        ),
    )


def test_finished_escrows(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """F on the Escrows tab: the escrows finished in the last 24 h, with their outcome."""
    assert snap_compare(
        make_app(fresh, tmp_path), terminal_size=size, run_before=before(keys=("F",))
    )


def test_faucet_confirm(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """f on the Fleet tab: the faucet claim for the agent under the cursor."""
    assert snap_compare(
        make_app(fresh, tmp_path), terminal_size=size, run_before=before(tab="3", keys=("f",))
    )


@pytest.mark.usefixtures("lasting_toasts")
def test_audit_view(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """A after an open, a release and a close: every journaled request, read-only."""

    async def act(app: PfApp, pilot: Any) -> None:
        for keys, fill in ((("l",), {"money-amount": "0.40"}), (("x",), {"money-count": "2"})):
            for key in keys:
                await pilot.press(key)
                await wait_idle(app, pilot)
            fill_fields(app, fill)
            await pilot.press("enter")
            await wait_idle(app, pilot)
            await pilot.press("y")
            await money_done(app, pilot)

    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(stream=StreamMode.NATIVE, extra=act, keys=("A",)),
    )


def test_brake_dialog(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """B with a native stream open: the stream it pauses and what its escrow's timeout still
    does, a reason typed, the word to type."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(
            stream=StreamMode.NATIVE, keys=("B",), fill={"money-reason": "incident 42"}
        ),
    )


async def engage_brake(app: PfApp, pilot: Any) -> None:
    """B, a reason, the word: the brake is on; then a poll, so the row shows its stream paused."""
    await pilot.press("B")
    await wait_idle(app, pilot)
    fill_fields(app, {"money-reason": "incident 42", "money-typed": "brake"})
    app.screen.query_one("#money-typed").focus()
    await pilot.press("enter")
    await wait_idle(app, pilot)
    assert app.desk.brake().engaged
    app.action_refresh()
    for _ in range(100):
        await pilot.pause(0.05)
        if any(e.state == "paused" for e in app.fleet_view.escrows):
            break
    app.clear_notifications()
    await wait_idle(app, pilot)


def test_brake_engaged(
    snap_compare: Any, fresh: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """The brake on: the header in the error colour says who engaged it, when and why; the
    stream's row is paused."""
    assert snap_compare(
        make_app(fresh, tmp_path),
        terminal_size=size,
        run_before=before(stream=StreamMode.NATIVE, extra=engage_brake),
    )


def test_screenshots_match_snapshots() -> None:
    """screenshots/actions/*.svg are the snapshot SVGs, byte for byte."""
    snapshots = sorted(SNAPSHOTS.glob("*.svg"))
    assert snapshots, "run the snapshot tests first (pytest tests/tui_actions --snapshot-update)"
    if os.environ.get("PF_TUI_WRITE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for stale in SCREENSHOTS.glob("*.svg"):
            stale.unlink()
        for snap in snapshots:
            shutil.copyfile(snap, SCREENSHOTS / snap.name.removeprefix("test_"))
    for snap in snapshots:
        shot = SCREENSHOTS / snap.name.removeprefix("test_")
        assert shot.exists(), f"{shot.name} missing: PF_TUI_WRITE_SCREENSHOTS=1 pytest {__file__}"
        assert shot.read_bytes() == snap.read_bytes(), f"{shot.name} is out of date"
    assert len(list(SCREENSHOTS.glob("*.svg"))) == len(snapshots)
