"""Keeps the TUI's state file (theme, sorts, filters, silences) in step with the app.

What the file holds and how a loaded one is validated is :mod:`pf_tui.views.saved_state`; this
module reads it off the app and puts it back. The state is restored at start-up, saved shortly
after a change (checked every :data:`SAVE_EVERY_S`, so a burst of key presses is one write) and
on exit. Without a state path (:attr:`Config.state_path` ``None``, as in the demo) the keeper
restores and saves nothing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pf_tui.config import load_state, save_state
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.views.saved_state import SavedState, TableState

if TYPE_CHECKING:
    from pf_tui.tui.app import PfApp

log = logging.getLogger(__name__)

SAVE_EVERY_S = 1.0
"""How often the state is compared with what was last saved (the debounce)."""


class StateKeeper:
    """Restores the state file at start and keeps it in step with the app."""

    def __init__(self, app: PfApp, path: Path | None) -> None:
        self.app = app
        self.path = path
        """The state file (``None``: nothing is restored or saved)."""
        self.saved: SavedState | None = None
        """What the file holds now (as far as this process knows); ``None`` until restored."""
        self.saves = 0
        self._busy = False

    def start(self, *, every_s: float = SAVE_EVERY_S) -> None:
        """Restore the file once the tables have their columns, then watch for changes."""
        if self.path is None:
            return
        # After the first refresh every table has its columns, so a saved sort can be applied.
        self.app.call_after_refresh(self.restore)
        self.app.set_interval(every_s, self.tick, name="state-file")

    def _tables(self) -> dict[str, TableTab]:
        return {tab: view for tab, view in self.app.views.items() if isinstance(view, TableTab)}

    def collect(self) -> SavedState:
        """The app's saveable state now."""
        app = self.app
        tables = {
            tab: TableState(view.table.sort_column, view.table.reverse, view.table.filter_text)
            for tab, view in self._tables().items()
        }
        silences = tuple(
            (agent, rule, float(until))
            for (agent, rule), until in sorted(app.alert_log.silences(app.clock.now()).items())
        )
        return SavedState(str(app.theme), tables, silences)

    def apply(self, state: SavedState) -> None:
        """Put a loaded state back: a known theme, each table's sort and filter, the silences
        that have not expired."""
        app = self.app
        if state.theme is not None and state.theme in app.available_themes:
            app.theme = state.theme
        for tab, view in self._tables().items():
            saved = state.tables.get(tab)
            if saved is None:
                continue
            if saved.sort is not None:
                view.table.set_sort(saved.sort, saved.reverse)  # an unknown column is ignored
            if saved.filter:
                view.table.set_filter(saved.filter)
        app.alert_log.restore_silences(state.silences, app.clock.now())

    def restore(self) -> None:
        """Load the file and apply it (sorts are applied once the tables have their columns)."""
        if self.path is None:
            return
        data = load_state(self.path)
        if data:
            self.apply(SavedState.from_toml(data, tuple(self._tables())))
        self.saved = self.collect()

    async def tick(self) -> None:
        """Save in a worker thread if anything changed since the last save."""
        if self._busy or self.path is None or self.saved is None:
            return  # saving before the restore would overwrite the file with the defaults
        state = self.collect()
        if state == self.saved:
            return
        self._busy = True
        try:
            await asyncio.to_thread(save_state, self.path, state.to_toml())
        except (OSError, TypeError) as exc:
            log.warning("state file %s not saved: %s", self.path, exc)
            return
        finally:
            self._busy = False
        self.saved = state
        self.saves += 1

    def save_now(self) -> None:
        """Save synchronously (on exit); errors are logged, never raised."""
        if self.path is None or self.saved is None:
            return
        state = self.collect()
        if state == self.saved:
            return
        try:
            save_state(self.path, state.to_toml())
        except (OSError, TypeError) as exc:
            log.warning("state file %s not saved: %s", self.path, exc)
            return
        self.saved = state
        self.saves += 1
