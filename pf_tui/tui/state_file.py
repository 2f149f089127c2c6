"""The TUI's run-time state file: what the operator changed (theme, sorts, filters, silences).

DESIGN.md, Config: the TUI saves what the operator changes at run time with tomli-w to a state
file beside the config (:attr:`Config.state_path`; ``None``, as in the demo, saves nothing). It is
restored at start-up, saved shortly after a change (checked every :data:`SAVE_EVERY_S`, so a burst
of key presses is one write) and on exit. Silences that expired while the TUI was closed are
dropped on load.

Layout::

    version = 1
    theme = "textual-dark"
    [tables.fleet-view]
    sort = "label"
    reverse = false
    filter = "trend"
    [[silences]]
    agent = "agent-1"
    rule = "stale_data"
    until = 1767272400.0
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

from pf_tui.config import load_state, save_state

log = logging.getLogger(__name__)

SAVE_EVERY_S = 1.0
"""How often the state is compared with what was last saved (the debounce)."""
VERSION = 1


def collect(app: Any) -> dict[str, Any]:
    """The app's saveable state as a TOML-ready mapping."""
    from pf_tui.tui.tabs.table_tab import TableTab

    tables: dict[str, Any] = {}
    for view in app.query(TableTab):
        if view.id is None:
            continue
        table = view.table
        tables[view.id] = {
            "sort": table.sort_column,
            "reverse": bool(table.reverse),
            "filter": table.filter_text,
        }
    now = app.clock.now()
    silences = [
        {"agent": agent, "rule": rule, "until": float(until)}
        for (agent, rule), until in sorted(app.alert_log.silences(now).items())
    ]
    return {"version": VERSION, "theme": str(app.theme), "tables": tables, "silences": silences}


def apply(app: Any, state: dict[str, Any]) -> None:
    """Put a loaded state back: theme, each table's sort and filter, the unexpired silences.

    Anything missing, misspelt or of the wrong type is skipped: an old or hand-edited file never
    stops the TUI.
    """
    from pf_tui.tui.tabs.table_tab import TableTab

    theme = state.get("theme")
    if isinstance(theme, str) and theme in app.available_themes:
        app.theme = theme
    tables = state.get("tables")
    if isinstance(tables, dict):
        for view in app.query(TableTab):
            saved = tables.get(view.id or "")
            if not isinstance(saved, dict):
                continue
            sort, reverse = saved.get("sort"), saved.get("reverse")
            if isinstance(sort, str) and isinstance(reverse, bool):
                view.table.set_sort(sort, reverse)
            text = saved.get("filter")
            if isinstance(text, str) and text:
                view.table.set_filter(text)
    silences = state.get("silences")
    if isinstance(silences, list):
        app.alert_log.restore_silences(
            (
                # A time, not money: load_state reads TOML floats as Decimal.
                (s["agent"], s["rule"], float(s["until"]))
                for s in silences
                if isinstance(s, dict)
                and isinstance(s.get("agent"), str)
                and isinstance(s.get("rule"), str)
                and isinstance(s.get("until"), (int, float, Decimal))
            ),
            app.clock.now(),
        )


class StateKeeper:
    """Restores the state file at start and keeps it in step with the app."""

    def __init__(self, app: Any, path: Path) -> None:
        self.app = app
        self.path = path
        self.saved: dict[str, Any] | None = None
        """What the file holds now (as far as this process knows)."""
        self.saves = 0
        self._busy = False

    @classmethod
    def start(cls, app: Any, *, every_s: float = SAVE_EVERY_S) -> StateKeeper | None:
        """Restore ``app.config.state_path`` and watch for changes; ``None`` when no path is set."""
        path = app.config.state_path
        if path is None:
            return None
        keeper = cls(app, Path(path))
        # After the first refresh every table has its columns, so a saved sort can be applied.
        app.call_after_refresh(keeper.restore)
        app.set_interval(every_s, keeper.tick, name="state-file")
        return keeper

    def restore(self) -> None:
        """Load the file and apply it (sorts are applied once the tables have their columns)."""
        state = load_state(self.path)
        if state:
            apply(self.app, state)
        self.saved = collect(self.app)

    async def tick(self) -> None:
        """Save in a worker thread if anything changed since the last save."""
        if self._busy or self.saved is None:
            return  # saving before the restore would overwrite the file with the defaults
        state = collect(self.app)
        if state == self.saved:
            return
        self._busy = True
        try:
            await asyncio.to_thread(save_state, self.path, state)
        except (OSError, TypeError) as exc:
            log.warning("state file %s not saved: %s", self.path, exc)
            return
        finally:
            self._busy = False
        self.saved = state
        self.saves += 1

    def save_now(self) -> None:
        """Save synchronously (on exit); errors are logged, never raised."""
        if self.saved is None:
            return
        state = collect(self.app)
        if state == self.saved:
            return
        try:
            save_state(self.path, state)
        except (OSError, TypeError) as exc:
            log.warning("state file %s not saved: %s", self.path, exc)
            return
        self.saved = state
        self.saves += 1
