"""The pf-tui console: wires the engine worker, the five tab views, the chrome and the keys.

Data goes up as messages (:class:`FleetUpdated` from the engine worker) and down as method
calls with one :class:`Frame`; only the tab on screen (and the status bar) draws each tick.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config
from pf_tui.core.polling.results import PollFailure
from pf_tui.text import one_line
from pf_tui.tui.alert_sync import AlertStoreSync
from pf_tui.tui.commands import ActionCommands
from pf_tui.tui.dialogs.filter import FilterDialog
from pf_tui.tui.dialogs.help import HelpScreen
from pf_tui.tui.dialogs.money.audit import MoneyStatus
from pf_tui.tui.dialogs.money.flow import MoneyFlows
from pf_tui.tui.format import Tones
from pf_tui.tui.gc_pacer import GcPacer
from pf_tui.tui.keymap import APP_BINDINGS, TABLE_TABS, TABS
from pf_tui.tui.messages import AgentChosen, FleetUpdated, PollFailed
from pf_tui.tui.state_file import StateKeeper
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.tui.tabs.escrows import EscrowsTab
from pf_tui.tui.tabs.fleet import FleetTab
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.overview import OverviewTab
from pf_tui.tui.tabs.positions import PositionsTab
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.glyphs import unicode_ok
from pf_tui.tui.widgets.status_bar import StatusBar
from pf_tui.views.alert_log import AlertLog
from pf_tui.views.feed import FleetFeed
from pf_tui.views.model import FleetView
from pf_tui.views.money_desk import ActionsBridge
from pf_tui.wiring import PollEngine, build_poll_engine

TICK_S = 0.25
"""Fastest the screen follows the poller: results arriving within a tick are drawn together."""
FILL_S = 2.0
"""For this long after start-up results are drawn within :data:`FILL_TICK_S`, not a whole tick."""
FILL_TICK_S = 0.03
AGE_TICK_S = 1.0
"""With no new results, ages and staleness still move on screen this often."""


class PfApp(MoneyFlows, App[int]):
    """The operator console for a fleet of Purple Flea agents."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "pf-tui"
    BINDINGS: ClassVar[list[Binding]] = APP_BINDINGS
    COMMANDS = App.COMMANDS | {ActionCommands}

    selected: reactive[str | None] = reactive(None)
    """The agent drilled into; ``None`` shows the whole fleet."""
    paused: reactive[bool] = reactive(False)
    """Whether polling is paused (``p``)."""

    def __init__(
        self,
        config: Config,
        *,
        demo: bool = False,
        read_only: bool = False,
        clock: Clock | None = None,
        engine: PollEngine | None = None,
        tick_s: float = TICK_S,
        age_tick_s: float = AGE_TICK_S,
    ) -> None:
        super().__init__()
        self.config = config
        self.demo = demo
        self.read_only = read_only or config.ui.read_only
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.engine = engine
        self.tick_s = tick_s
        self.age_tick_s = age_tick_s
        self.keymap_overrides: dict[str, str] = config.ui.keymap_dict
        self.alert_log = AlertLog()
        self.alert_sync: AlertStoreSync | None = None
        self.state_keeper: StateKeeper | None = None
        self.fleet_view: FleetView | None = None
        self.last_error = ""
        self.tones = Tones.plain()
        self.ascii_only = not unicode_ok()
        self.ticks = 0
        """Views drawn so far (tests and the benchmark wait on it)."""
        self.money = ActionsBridge(config, clock=self.clock, read_only=self.read_only)
        self.gc_pacer = GcPacer()

    # ---- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, the five tabs, status bar, footer."""
        yield Header(icon="$")
        with TabbedContent(initial="overview", id="tabs"):
            with TabPane("1 Overview", id="overview"):
                yield OverviewTab(id="overview-tab")
            with TabPane("2 Positions", id="positions"):
                yield PositionsTab(id="positions-tab")
            with TabPane("3 Fleet", id="fleet"):
                yield FleetTab(id="fleet-tab")
            with TabPane("4 Escrows", id="escrows"):
                yield EscrowsTab(id="escrows-tab")
            with TabPane("5 Alerts", id="alerts"):
                yield AlertsTab(id="alerts-tab")
        yield MoneyStatus(id="money-status")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Theme, keymap, titles; then start the engine worker."""
        theme = self.config.ui.theme
        if theme in self.available_themes:
            self.theme = theme
        else:
            self.notify(
                f"unknown theme {theme!r}; using {self.theme}", severity="warning", markup=False
            )
        self.tones = Tones.from_variables(self.theme_variables)
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self.set_keymap(self.keymap_overrides)
        environment = "demo" if self.demo else f"profile {self.config.profile}"
        self.sub_title = environment + ("  [READ-ONLY]" if self.read_only else "")
        self.run_engine()
        self.alert_sync = AlertStoreSync.start(self)  # the daemon's alerts and heartbeat
        self.state_keeper = StateKeeper.start(self)  # sorts, filters, theme, silences
        self.money_tick()  # start-up: settle what a lost reply or a crash left open

    def _on_theme_changed(self, _theme: object) -> None:
        self.tones = Tones.from_variables(self.theme_variables)
        self._draw()

    # ---- the engine worker ------------------------------------------------------------------

    @work(exclusive=True, group="engine", exit_on_error=False, name="engine")
    async def run_engine(self) -> None:
        """Poll forever: apply each batch to the fleet state and post the new view."""
        if self.engine is None:
            self.engine = build_poll_engine(self.config, self.clock)
        engine = self.engine
        feed = FleetFeed(engine.fleet, self.money.escrow_notes)
        poller = engine.poller
        poller.start()
        # Everything at once on start-up (bounded per host by the poller): every tab fills now,
        # not over the slowest interval the first-poll jitter would spread it across.
        poller.refresh_now()
        if self.paused:
            poller.pause()
        shown_at = self.clock.now()
        fill_until = time.monotonic() + FILL_S
        self.post_message(FleetUpdated(feed.build(shown_at, selected=self.selected)))
        try:
            while True:
                try:
                    results = await asyncio.wait_for(poller.batch(), timeout=self.age_tick_s)
                except TimeoutError:
                    results = []
                if results and self.tick_s > 0:
                    # While the screen fills, a short window: the first figures show at once.
                    filling = time.monotonic() < fill_until
                    await asyncio.sleep(min(self.tick_s, FILL_TICK_S) if filling else self.tick_s)
                    results += poller.drain()
                now = self.clock.now()
                if not results and now - shown_at < AGE_TICK_S:
                    continue  # nothing new and no age moved on: the screen stays as it is
                changed = engine.fleet.apply_many(results)
                failures = [r for r in results if isinstance(r, PollFailure)]
                if failures:
                    last = failures[-1]
                    text = one_line(f"{last.agent_id} {last.kind.value}: {last.error}")
                    feed.note_error(text)
                    self.post_message(PollFailed(text))
                shown_at = now
                self.post_message(FleetUpdated(feed.build(now, changed, selected=self.selected)))
        except asyncio.CancelledError:
            # Cancelled by close_engine (quit) or by shutdown: close_engine, which on_unmount
            # also calls, closes the pools. Closing here would itself be cancelled half-way by
            # a shutdown and leave sessions open.
            raise
        except BaseException:
            if self.engine is engine:
                self.engine = None
                await engine.aclose()
            raise

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's failure lands: shown in the status bar, never as a traceback."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.last_error = one_line(
                f"{event.worker.name} stopped: {type(error).__name__}: {error}"
            )
            self.notify(self.last_error, severity="error", markup=False, title="engine")
            self._draw_status()

    def on_poll_failed(self, message: PollFailed) -> None:
        """Remember the newest poll error for the status bar."""
        self.last_error = message.text

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        """A new view: feed the alert log, draw the tab on screen and the status bar."""
        self.fleet_view = message.view
        self.alert_log.observe(message.view)
        self.ticks += 1
        self._draw()
        self.money_tick()
        self.gc_pacer.after_frame()

    # ---- drawing ----------------------------------------------------------------------------

    @property
    def active_tab(self) -> str:
        """Id of the tab on screen."""
        return self.query_one(TabbedContent).active or "overview"

    def frame(self) -> Frame | None:
        """This moment's drawing context (``None`` before the first view)."""
        if self.fleet_view is None:
            return None
        return Frame(
            self.fleet_view,
            self.selected,
            self.clock.now(),
            self.tones,
            self.alert_log,
            self.ascii_only,
        )

    def _draw(self) -> None:
        frame = self.frame()
        if frame is None:
            return
        with self.batch_update():
            view = self.query_one(f"#{self.active_tab}-tab")
            view.show(frame)  # type: ignore[attr-defined]
            self._draw_status()
        firing = self.alert_log.firing_count()
        label = f"5 Alerts ({firing})" if firing else "5 Alerts"
        tab = self.query_one(TabbedContent).get_tab("alerts")
        if str(tab.label) != label:
            tab.label = label

    def _draw_status(self) -> None:
        view = self.fleet_view
        self.query_one(StatusBar).show(
            view.services if view else (),
            view.totals.updated_at if view else None,
            self.clock.now(),
            paused=self.paused,
            error=self.last_error,
            tones=self.tones,
        )

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        self._draw()
        tab = event.pane.id or ""
        if tab in TABLE_TABS:
            self.call_after_refresh(self._table().focus)

    def _table_view(self) -> TableTab | None:
        view = self.query_one(f"#{self.active_tab}-tab")
        return view if isinstance(view, TableTab) else None

    def _table(self) -> TableTab | None:  # pragma: no cover - thin
        view = self._table_view()
        return view.table if view is not None else None  # type: ignore[return-value]

    # ---- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer table, drill-down, alert and money actions only where they apply."""
        if action.startswith("money_"):
            return self.money_check(action)
        if action in ("filter", "sort_next", "sort_reverse"):
            return self.active_tab in TABLE_TABS
        if action == "drill":
            return self.active_tab == "fleet"
        if action == "back":
            return self.selected is not None
        if action in ("acknowledge_alert", "silence_alert"):
            return self.active_tab == "alerts"
        return True

    async def action_quit(self) -> None:
        """Stop polling and close every connection, then leave."""
        await self.close_engine()
        self.exit(0)

    async def close_engine(self, *, save_state: bool = True) -> None:
        """Stop the engine worker and close the client's pools (idempotent)."""
        self.workers.cancel_group(self, "engine")
        if save_state and self.state_keeper is not None:
            self.state_keeper.save_now()
        if self.alert_sync is not None:
            await self.alert_sync.aclose()
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.aclose()
        await self.money.aclose()
        self.gc_pacer.release()

    async def on_unmount(self) -> None:
        """Whatever way the app ends (quit key, signal, a test leaving ``run_test``), the pools
        and the store are closed and the garbage collector sees everything again. The state file
        is not saved here: the tables are already gone (it was saved as it changed, and on quit)."""
        await self.close_engine(save_state=False)

    def action_show_tab(self, tab: str) -> None:
        """Switch to ``tab``."""
        if tab in dict(TABS):
            self.query_one(TabbedContent).active = tab

    def action_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen(self.keymap_overrides))

    def action_refresh(self) -> None:
        """Poll every figure now."""
        if self.engine is not None:
            self.engine.poller.refresh_now()
        self.notify("refreshing every figure", timeout=2)

    def action_toggle_pause(self) -> None:
        """Pause or resume polling."""
        self.paused = not self.paused
        if self.engine is not None:
            (self.engine.poller.pause if self.paused else self.engine.poller.resume)()
        self._draw_status()

    def action_filter(self) -> None:
        """Ask for the filter text of the table on screen."""
        view = self._table_view()
        if view is None:
            return

        def apply(text: str | None) -> None:
            if text is not None:
                view.table.set_filter(text)
                frame = self.frame()
                if frame is not None:
                    view.retitle(frame)

        self.push_screen(FilterDialog(view.table.filter_text, view.NOUN), apply)

    def action_sort_next(self) -> None:
        """Sort the table on screen by its next column."""
        view = self._table_view()
        if view is not None:
            view.table.action_cycle_sort()

    def action_sort_reverse(self) -> None:
        """Reverse the sort of the table on screen."""
        view = self._table_view()
        if view is not None:
            view.table.action_reverse_sort()

    def action_drill(self) -> None:
        """Drill into the agent under the Fleet cursor."""
        key = self.query_one(FleetTab).table.cursor_key
        if key is not None:
            self.post_message(AgentChosen(key))

    def on_agent_chosen(self, message: AgentChosen) -> None:
        """Show one agent (or the fleet again) on every tab."""
        self.selected = message.agent_id
        self.refresh_bindings()
        if message.agent_id is not None:
            self.action_show_tab("overview")
        self._draw()

    def action_back(self) -> None:
        """Leave the agent; back to the Fleet tab."""
        self.post_message(AgentChosen(None))
        self.action_show_tab("fleet")

    def _alert_key(self) -> str | None:
        return self.query_one(AlertsTab).table.cursor_key

    def action_acknowledge_alert(self) -> None:
        """Acknowledge the alert under the cursor."""
        key = self._alert_key()
        if key is not None and self.alert_log.acknowledge(key):
            self._draw()

    def action_silence_alert(self) -> None:
        """Silence the (agent, rule) of the alert under the cursor for an hour."""
        key = self._alert_key()
        if key is not None and self.alert_log.silence(key, self.clock.now()):
            self.notify("silenced for 1h", timeout=2)
            self._draw()


def run_app(
    config: Config, *, demo: bool = False, read_only: bool = False, clock: Clock | None = None
) -> int:
    """Run the console until the operator quits; returns the exit code."""
    app = PfApp(config, demo=demo, read_only=read_only, clock=clock)
    result = app.run()
    return int(result or 0)
