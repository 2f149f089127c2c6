"""The pf-tui console: composes the tabs and the chrome, binds the app-wide keys, forwards.

Data goes up as messages (:class:`FleetUpdated`, posted by the engine worker for each view the
:class:`~pf_tui.views.ticker.Ticker` makes) and down as method calls with one :class:`Frame`;
only the tab on screen (and the status bar) draws each tick. The money keys live on the tabs
they act on and run through the app's :class:`~pf_tui.tui.dialogs.money.flow.MoneyFlow`; the
daemon's alerts (:class:`AlertStoreSync`), the jumps from an alert to its row
(:class:`AlertJumps`) and the state file (:class:`StateKeeper`) are kept by collaborators of
their own. Every collaborator is built here, before the app runs.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len
from rich.console import RenderableType
from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import BindingType
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane, Tabs
from textual.widgets import Tab as TabWidget
from textual.worker import Worker, WorkerState

from pf_tui import dataclass_code
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config
from pf_tui.poll_worker import console_engine
from pf_tui.text import one_line
from pf_tui.tui.alert_jumps import AlertJumps
from pf_tui.tui.alert_sync import AlertStoreSync
from pf_tui.tui.commands import ActionCommands
from pf_tui.tui.dialogs.filter import FilterDialog
from pf_tui.tui.dialogs.help import HelpScreen
from pf_tui.tui.dialogs.money.audit import MoneyStatus
from pf_tui.tui.dialogs.money.flow import MoneyFlow
from pf_tui.tui.format import Tones
from pf_tui.tui.gc_pacer import START_HOLD_S, GcPacer
from pf_tui.tui.keymap import APP_BINDINGS, TABLE_TABS, TABS, tab_label
from pf_tui.tui.messages import AgentChosen, FleetUpdated
from pf_tui.tui.signals import quit_on_signals
from pf_tui.tui.state_file import StateKeeper
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.tui.tabs.escrows import EscrowsTab
from pf_tui.tui.tabs.fleet import FleetTab
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.overview import OverviewTab
from pf_tui.tui.tabs.positions import PositionsTab
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.glyphs import unicode_ok
from pf_tui.tui.widgets.header import ConsoleHeader
from pf_tui.tui.widgets.keys_footer import KeysFooter
from pf_tui.tui.widgets.status_bar import StatusBar
from pf_tui.views.alert_log import AlertLog
from pf_tui.views.money_desk import MoneyDesk
from pf_tui.views.ticker import AGE_TICK_S, TICK_S, Ticker

TabView = OverviewTab | TableTab
"""What a tab shows: it draws itself from a :class:`Frame`."""


def relabel(tab: TabWidget, label: str, *, keep_width: bool = False) -> None:
    """Show ``label`` on ``tab``; one of the same width repaints the tab alone.

    ``Tab.label``'s setter lays the whole screen out again (``Static.update``'s default): at
    5,000 agents the Alerts tab's count changes nearly every tick, and that layout was most of
    the frame (docs/performance.md). The tab bar moves only when a label's width changes.
    ``keep_width``: a narrower label is padded to the width shown, so a count going down (100
    to 99) neither moves the tab bar nor lays the screen out; only a wider one does.
    """
    old = tab.label
    if keep_width and cell_len(label) < old.cell_length:
        label += " " * (old.cell_length - cell_len(label))
    if old.plain == label:
        return
    if old.cell_length != cell_len(label):
        tab.label = label
        return
    # HACK: textual 8.2.8's Tab keeps its label in ``_label`` (read by ``Tab.label``); the
    # setter is bypassed only to skip its layout, and its Relabelled message, which moves the
    # tab bar's underline, needed only when the width changed.
    tab._label = Content(label)
    Static.update(tab, tab._label, layout=False)


PACER_AFTER_DRAW_S = 0.002
"""How long after a frame is drawn the GC pacer runs (see :meth:`PfApp._display`)."""
DRAWN_WAIT_S = 0.1
"""The longest the ticker waits for a view's frame before the next part of a burst (a view that
changes nothing on screen draws none)."""
PACER_OVERDUE_S = 1.0
"""Ticks that have not let the pacer run for this long (they drew nothing, or came faster than
frames) run it anyway, once the screen is settled (see :meth:`PfApp._run_overdue_pacer`)."""
WARM_HTTP_S = 3.0
"""Seconds after mount when the HTTP stack (aiohttp, httpx) is imported in the background: the
first figures do without it (pf_tui/api/exchange.py), and the first money action or transport
error would otherwise pay about 0.2 s for it, on the spot."""
UNDRAWN_GRACE_S = 0.05
"""A tick still undrawn this long after its handler, with the screen settled, drew nothing: the
overdue pacer may run (a tick that does draw is on screen well within this)."""


class PfApp(App[int], inherit_bindings=False):
    """The operator console for a fleet of Purple Flea agents.

    Textual's own app bindings are not inherited: its ``ctrl+c`` only said "press ctrl+q", and
    its ``ctrl+q`` has no id to remap. ``app.quit`` binds q, ctrl+q and ctrl+c instead.
    """

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "pf-tui"
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS
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
        tick_s: float = TICK_S,
        age_tick_s: float = AGE_TICK_S,
    ) -> None:
        super().__init__()
        self.config = config
        self.demo = demo
        self.read_only = read_only or config.ui.read_only
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.keymap_overrides: dict[str, str] = config.ui.keymap_dict
        self.tones = Tones.plain()
        self.ascii_only = not unicode_ok()
        self.last_error = ""
        """The newest poll error, or why the engine stopped (the status bar shows it)."""
        self.ticks = 0
        """Views drawn so far (tests and the benchmark wait on it)."""
        self.engine = console_engine(config, self.clock)
        """Polling: inline, or in a worker process (``[polling] engine``, docs/architecture.md)."""
        self.desk = MoneyDesk(
            config,
            clock=self.clock,
            read_only=self.read_only,
            fleet=self.engine.fleet,
            track=self.engine.poller.set_tracked_escrows,
        )
        self.ticker = Ticker(
            self.engine,
            self.clock,
            notes=self.desk.escrow_notes,
            tick_s=tick_s,
            age_tick_s=age_tick_s,
            drawn=self._last_view_drawn,
        )
        self._view_posted = False
        """The engine has posted a view (the start-up's "every agent waiting" is then moot)."""
        self._view_drawn = asyncio.Event()
        """Set when the last view posted is on screen (see :meth:`_last_view_drawn`)."""
        self.fleet_view = self.ticker.view()
        """The newest view (before the first poll: every agent waiting)."""
        self.alert_log = AlertLog()
        self.alert_sync = AlertStoreSync(self)
        self.state_keeper = StateKeeper(self, config.state_path)
        self.money_flow = MoneyFlow(self, self.desk)
        # The command line turns the collector off for start-up; the pacer turns it back on.
        self.gc_pacer = GcPacer(resume_collector=not gc.isenabled())
        self._undrawn = False
        """A tick handled waits to be drawn (the pacer waits for it)."""
        self._undrawn_since = 0.0
        """When the oldest tick still waiting to be drawn was handled (the event loop's clock)."""
        self._pacer_ran = 0.0
        """When the pacer last ran (the event loop's clock)."""
        self._pacer_call: asyncio.TimerHandle | None = None
        self._overdue_call: asyncio.TimerHandle | None = None
        self.header: ConsoleHeader | None = None
        """The header (set by :meth:`compose`); detached once the app is leaving."""
        self.views: dict[str, TabView] = {}
        """The tab views by tab name (filled by :meth:`compose`)."""
        self.alert_jumps = AlertJumps(self)

    # ---- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, the five tabs, the money status line, status bar, footer."""
        self.views = {
            "overview": OverviewTab(id="overview-tab"),
            "positions": PositionsTab(id="positions-tab"),
            "fleet": FleetTab(self.money_flow, id="fleet-tab"),
            "escrows": EscrowsTab(self.money_flow, id="escrows-tab"),
            "alerts": AlertsTab(id="alerts-tab"),
        }
        self.header = ConsoleHeader(icon="$")
        yield self.header
        with TabbedContent(initial="overview", id="tabs"):
            for tab, _title in TABS:
                with TabPane(tab_label(tab), id=tab):
                    yield self.views[tab]
        yield MoneyStatus(id="money-status")
        yield StatusBar(id="status")
        yield KeysFooter()

    def on_load(self) -> None:
        """Start polling before the widgets are built: the first poll's requests are answered
        while the five tabs compose and lay out, so the first paint can carry live figures
        (docs/performance.md, "Start-up"). Its views queue until the screen is mounted."""
        self.run_engine()

    def on_mount(self) -> None:
        """Theme, keymap, titles; then the collaborators' timers."""
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
        # The tab bar never takes focus: each tab's keys (the money keys on Escrows and Fleet) are
        # bound on the tab's own view, so focus must stay inside the tab. Tabs switch with 1-5 or
        # a click, which need no focus.
        for tabs in self.query(Tabs):
            tabs.can_focus = False
        environment = "demo" if self.demo else f"profile {self.config.profile}"
        if self.config.shard is not None:
            environment += f"  shard {self.config.shard}"
        self.sub_title = environment + ("  [READ-ONLY]" if self.read_only else "")
        if not self._view_posted:
            # Every agent waiting, until the first poll's view (queued behind this one).
            self.post_message(FleetUpdated(self.fleet_view))
        self.alert_sync.start()  # the daemon's alerts and heartbeat
        self.state_keeper.start()  # sorts, filters, theme, silences
        self.money_flow.tick()  # start-up: settle what a lost reply or a crash left open
        # The collector back on by now even if no tick is ever drawn (gc_pacer, "Start-up").
        self.set_timer(START_HOLD_S, self.gc_pacer.end_start_hold)
        self.set_timer(WARM_HTTP_S, warm_http_stack)

    def _on_theme_changed(self, _theme: object) -> None:
        self.tones = Tones.from_variables(self.theme_variables)
        self.redraw()

    # ---- the engine worker ------------------------------------------------------------------

    @work(exclusive=True, group="engine", exit_on_error=False, name="engine")
    async def run_engine(self) -> None:
        """Poll forever: post each view the ticker makes."""
        try:
            async for view in self.ticker.views(lambda: self.selected):
                self._view_drawn.clear()
                self._view_posted = True
                self.post_message(FleetUpdated(view))
        except asyncio.CancelledError:
            # Cancelled by close_engine (quit) or by shutdown: close_engine, which on_unmount
            # also calls, closes the pools. Closing here would itself be cancelled half-way by
            # a shutdown and leave sessions open.
            raise
        except BaseException:
            await self.engine.aclose()
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

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        """A new view: feed the alert log, draw the tab on screen and the status bar."""
        view = message.view
        self.fleet_view = view
        if view.last_error:
            self.last_error = view.last_error
        if self.header is None or not self.header.is_attached:
            return  # the app is leaving: a view still queued has no screen left to draw on
        self.alert_log.observe(view)
        self.ticks += 1
        self.redraw()
        self.money_flow.tick()
        # Off the frame path: the pacer's work waits until this tick is on screen.
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._undrawn:
            self._undrawn, self._undrawn_since = True, now
        if not self._pacer_ran:
            self._pacer_ran = now  # the first tick: the clock starts here
        elif now - self._pacer_ran > PACER_OVERDUE_S and self._overdue_call is None:
            # Ticks that change nothing on screen, or that come faster than frames: the pacer
            # must not wait for ever (frozen objects, epochs).
            self._overdue_call = loop.call_later(UNDRAWN_GRACE_S, self._run_overdue_pacer)

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        """Output a screen update, then let the GC pacer follow the frame that drew a tick.

        ``call_after_refresh`` runs its callback when the screen is next idle with nothing to
        redraw, and that can come before the widgets a tick changed have asked for their
        redraw: measured at 1,000 agents over one 2-minute run and its fill, 776 of the pacer's
        runs landed inside a tick's frame, up to 35 ms each (``benchmarks/tui_frames.py``
        counts them). Ticks that change nothing on screen run it after
        :data:`PACER_OVERDUE_S` (:meth:`_run_overdue_pacer`).
        """
        # HACK: textual 8.2.8 outputs every screen update here and has no public hook for
        # "drawn"; tests/tui/test_pacer_after_frames.py fails if the pacer stops following it.
        super()._display(screen, renderable)
        if self._undrawn:
            self._undrawn = False
            self._view_drawn.set()
            if self._pacer_call is not None:
                self._pacer_call.cancel()
            # Not at once: a collection holds the interpreter for its whole length, and the
            # frame's bytes are still on their way to the terminal through the driver's writer
            # thread, which needs it for a moment.
            self._pacer_call = asyncio.get_running_loop().call_later(
                PACER_AFTER_DRAW_S, self._after_frame
            )

    async def _last_view_drawn(self) -> None:
        """Return once the last view the ticker made is on screen, or after
        :data:`DRAWN_WAIT_S` (a view that changes nothing on screen draws no frame)."""
        try:
            async with asyncio.timeout(DRAWN_WAIT_S):
                await self._view_drawn.wait()
        except TimeoutError:
            pass

    def _after_frame(self) -> None:
        self._pacer_call = None
        if self._undrawn or not self.is_running:
            return  # a newer tick waits to be drawn (its frame calls again), or the app left
        settled = self._screen_settled()
        if settled is None:
            return
        if not settled:
            # The update came before every widget the tick changed had asked to be redrawn:
            # the rest of the tick is still to come, and its frame calls again.
            self._undrawn = True
            return
        self._run_pacer()

    def _screen_settled(self) -> bool | None:
        """Whether the screen has nothing left to draw: no widget marked for a redraw, and no
        message queued for it (a widget's redraw reaches the screen as an ``Update`` message:
        measured at 5,000 agents, one update went out with 74 of a tick's messages still
        queued, and the pacer, run then, landed inside that tick's frame). ``None``: no
        screen."""
        try:
            screen = self.screen
        except ScreenStackError:
            return None
        # HACK: textual 8.2.8's "changes not drawn yet", and the screen's own message queue.
        return not screen._dirty_widgets and screen._message_queue.empty()

    def _run_overdue_pacer(self) -> None:
        """The pacer when ticks have kept it from running after their frames: once the screen
        is settled and any tick still undrawn has been so for :data:`UNDRAWN_GRACE_S` (it drew
        nothing). Never inside a frame: ``call_after_refresh``, used before, ran it when the
        screen went idle before a tick's widgets had asked to be redrawn."""
        self._overdue_call = None
        if not self.is_running:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._pacer_ran <= PACER_OVERDUE_S:
            return  # it ran after a frame meanwhile
        settled = self._screen_settled()
        if settled is None:
            return
        if not settled or (self._undrawn and now - self._undrawn_since < UNDRAWN_GRACE_S):
            self._overdue_call = loop.call_later(UNDRAWN_GRACE_S, self._run_overdue_pacer)
            return
        self._run_pacer()

    def _run_pacer(self) -> None:
        self._pacer_ran = asyncio.get_running_loop().time()
        try:
            self.gc_pacer.after_frame()
        except Exception as error:  # a bug in the pacer must not end the console: say it
            self.last_error = one_line(f"GC pacer: {type(error).__name__}: {error}")
            self._draw_status()

    # ---- drawing ----------------------------------------------------------------------------

    @property
    def active_tab(self) -> str:
        """Name of the tab on screen."""
        return self.query_one(TabbedContent).active or "overview"

    @property
    def active_view(self) -> TabView:
        """The view of the tab on screen."""
        return self.views[self.active_tab]

    def frame(self) -> Frame:
        """This moment's drawing context."""
        return Frame(
            self.fleet_view,
            self.selected,
            self.clock.now(),
            self.tones,
            self.alert_log,
            self.ascii_only,
        )

    def redraw(self) -> None:
        """Draw the tab on screen, the header's brake, the status bar and the Alerts tab's
        count."""
        if self.header is None or not self.header.is_attached:
            return  # the app is leaving: a redraw still queued (the alert sync's) has no screen
        with self.batch_update():
            self.active_view.show(self.frame())
            self.query_one(ConsoleHeader).show_brake(
                self.desk.brake(), self.clock.now(), self.money_flow.brake_key()
            )
            self._draw_status()
        firing = self.alert_log.firing_count()
        # While alerts fire, their count's width only grows: at 5,000 agents it swept from 0 past
        # 1,000 and back each alert cycle, and each narrowing laid the whole screen out (13-35 ms).
        relabel(
            self.query_one(TabbedContent).get_tab("alerts"),
            tab_label("alerts", firing),
            keep_width=firing > 0,
        )

    def _draw_status(self) -> None:
        view = self.fleet_view
        self.query_one(StatusBar).show(
            view.services,
            view.totals.updated_at,
            self.clock.now(),
            paused=self.paused,
            error=self.last_error,
            tones=self.tones,
            hint=self.alert_jumps.hint(),
        )

    @on(DataTable.RowHighlighted)
    def _cursor_moved(self, _event: DataTable.RowHighlighted) -> None:
        if self.alert_jumps.landed is not None:
            self._draw_status()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        self.redraw()
        view = self.views.get(event.pane.id or "")
        if isinstance(view, TableTab):
            self.call_after_refresh(view.table.focus)

    # ---- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer table, drill-down and alert actions only where they apply."""
        if action in ("filter", "sort_next", "sort_reverse"):
            return self.active_tab in TABLE_TABS
        if action == "drill":
            return self.active_tab == "fleet"
        if action == "whole_fleet":
            return self.selected is not None
        if action in ("acknowledge_alert", "silence_alert", "open_alert"):
            return self.active_tab == "alerts"
        return True

    async def action_quit(self) -> None:
        """Stop polling and close every connection, then leave."""
        await self.close_engine()
        self.exit(0)

    async def close_engine(self, *, save_state: bool = True) -> None:
        """Stop the engine worker and close the client's pools and the store (idempotent)."""
        for call in (self._pacer_call, self._overdue_call):
            if call is not None:
                call.cancel()
        self._pacer_call = self._overdue_call = None
        self.workers.cancel_group(self, "engine")
        if save_state:
            self.state_keeper.save_now()
        await self.alert_sync.aclose()
        await self.engine.aclose()
        await self.desk.aclose()
        self.gc_pacer.release()

    async def on_unmount(self) -> None:
        """Whatever way the app ends (quit key, signal, a test leaving ``run_test``), the pools
        and the store are closed and the garbage collector sees everything again. The state file
        is not saved here: the tables are already gone (it was saved as it changed, and on quit)."""
        await self.close_engine(save_state=False)

    def action_show_tab(self, tab: str) -> None:
        """Switch to ``tab``."""
        if tab in self.views:
            self.query_one(TabbedContent).active = tab

    def action_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen(self.keymap_overrides))

    def action_refresh(self) -> None:
        """Poll every figure now."""
        self.engine.poller.refresh_now()
        self.notify("refreshing every figure", timeout=2)

    def action_toggle_pause(self) -> None:
        """Pause or resume polling."""
        self.paused = not self.paused
        poller = self.engine.poller
        (poller.pause if self.paused else poller.resume)()
        self._draw_status()

    def _table_view(self) -> TableTab | None:
        view = self.active_view
        return view if isinstance(view, TableTab) else None

    def action_filter(self) -> None:
        """Ask for the filter text of the table on screen."""
        view = self._table_view()
        if view is None:
            return

        def apply(text: str | None) -> None:
            if text is not None:
                view.table.set_filter(text)
                view.retitle(self.frame())

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
        # The view on screen carries the history of the agent selected when it was built: the
        # chart shows the newly chosen one's now, not at the next tick.
        self.fleet_view = self.ticker.feed.with_selected(self.fleet_view, message.agent_id)
        self.refresh_bindings()
        if message.agent_id is not None:
            self.action_show_tab("overview")
        self.redraw()

    def action_whole_fleet(self) -> None:
        """Leave the agent; back to the Fleet tab."""
        self.post_message(AgentChosen(None))
        self.action_show_tab("fleet")

    def _alert_key(self) -> str | None:
        return self.query_one(AlertsTab).table.cursor_key

    def action_acknowledge_alert(self) -> None:
        """Acknowledge the alert under the cursor."""
        key = self._alert_key()
        if key is not None and self.alert_log.acknowledge(key):
            self.redraw()

    def action_silence_alert(self) -> None:
        """Silence the (agent, rule) of the alert under the cursor for an hour."""
        key = self._alert_key()
        if key is not None and self.alert_log.silence(key, self.clock.now()):
            self.notify("silenced for 1h", timeout=2)
            self.redraw()

    def action_open_alert(self) -> None:
        """Go to what the alert under the cursor is about (see :class:`AlertJumps`)."""
        key = self._alert_key()
        if key is not None:
            self.alert_jumps.open(key)

    def action_money_brake(self) -> None:
        """Engage the stop-all brake, or lift it while it is on."""
        self.money_flow.brake()

    def action_money_audit(self) -> None:
        """Show every journaled money action (read-only)."""
        self.money_flow.audit()


def warm_http_stack() -> threading.Thread:
    """Import the HTTP stack in a thread of its own (see :data:`WARM_HTTP_S`); the thread.

    A thread, so the console keeps drawing while it runs (the import takes the interpreter's
    lock in turns with it); Python's import lock makes a money action that needs the stack
    meanwhile wait for this import rather than run a second one. It then saves the dataclass
    code cache (pf_tui/dataclass_code.py) if this start compiled anything new, so a console
    that is later killed outright still starts faster next time."""
    thread = threading.Thread(target=_warm_up, name="pf-tui-warm-http", daemon=True)
    thread.start()
    return thread


def _warm_up() -> None:
    importlib.import_module("pf_tui.api.transport")
    dataclass_code.save()


def run_app(
    config: Config, *, demo: bool = False, read_only: bool = False, clock: Clock | None = None
) -> int:
    """Run the console until the operator quits (or a signal asks it to); the exit code."""
    app = PfApp(config, demo=demo, read_only=read_only, clock=clock)
    with quit_on_signals(app, last_resort=_demo_store_remover(config) if demo else None):
        result = app.run()
    return int(result or 0)


def _demo_store_remover(config: Config) -> Callable[[], None]:
    """Removes the demo's private store folder (``pf-tui-demo-*``) if a hang-up's quit stalls."""
    folder = config.store.path.parent

    def remove() -> None:
        if folder.name.startswith("pf-tui-demo-"):
            shutil.rmtree(folder, ignore_errors=True)

    return remove
