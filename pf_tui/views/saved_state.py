"""What the TUI's state file holds, and how a loaded one is read back: plain data, no Textual.

The state file (:attr:`Config.state_path`) keeps what the operator changed at run time: the
theme, each table tab's sort and filter, and the silences still in force. Layout::

    version = 1
    theme = "textual-dark"
    [tables.fleet]
    sort = "label"
    reverse = false
    filter = "trend"
    [[silences]]
    agent = "agent-1"
    rule = "stale_data"
    until = 1767272400.0

Tables are keyed by tab name. Files written before that keyed them by widget id
(``[tables.fleet-view]``); those are still read. Anything missing, misspelt or of the wrong type
is skipped, so an old or hand-edited file never stops the TUI; :mod:`pf_tui.tui.state_file` puts
what is left on screen (a theme or a column the app does not know is skipped there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

VERSION = 1
LEGACY_TABLE_SUFFIX = "-view"
"""How tables were keyed before: by the widget id of the tab (``fleet-view``)."""

SavedSilence = tuple[str, str, float]
"""``(agent id, rule, until)``: a silence of the Alerts tab, in epoch seconds."""


@dataclass(frozen=True, slots=True)
class TableState:
    """One table's sort and filter."""

    sort: str | None
    """The sort column (``None``: the tab's default)."""
    reverse: bool = False
    filter: str = ""


@dataclass(frozen=True, slots=True)
class SavedState:
    """Everything the state file keeps."""

    theme: str | None = None
    tables: Mapping[str, TableState] = field(default_factory=dict)
    """By tab name (``fleet``)."""
    silences: tuple[SavedSilence, ...] = ()

    def to_toml(self) -> dict[str, object]:
        """The mapping written to the file (TOML-ready)."""
        out: dict[str, object] = {"version": VERSION}
        if self.theme is not None:
            out["theme"] = self.theme
        out["tables"] = {
            tab: {"sort": table.sort, "reverse": table.reverse, "filter": table.filter}
            for tab, table in self.tables.items()
            if table.sort is not None
        }
        out["silences"] = [
            {"agent": agent, "rule": rule, "until": until} for agent, rule, until in self.silences
        ]
        return out

    @classmethod
    def from_toml(cls, data: Mapping[str, object], tabs: tuple[str, ...]) -> SavedState:
        """Read a loaded file: what is valid for the table tabs ``tabs``, nothing else."""
        theme = data.get("theme")
        return cls(
            theme=theme if isinstance(theme, str) else None,
            tables=_tables(data.get("tables"), tabs),
            silences=_silences(data.get("silences")),
        )


def _tables(raw: object, tabs: tuple[str, ...]) -> dict[str, TableState]:
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, TableState] = {}
    for tab in tabs:
        saved = raw.get(tab, raw.get(tab + LEGACY_TABLE_SUFFIX))
        if not isinstance(saved, Mapping):
            continue
        sort, reverse, text = saved.get("sort"), saved.get("reverse"), saved.get("filter")
        shown = text if isinstance(text, str) else ""
        if isinstance(sort, str) and isinstance(reverse, bool):
            out[tab] = TableState(sort, reverse, shown)
        else:  # a sort needs both its column and its direction
            out[tab] = TableState(None, filter=shown)
    return out


def _silences(raw: object) -> tuple[SavedSilence, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        # A time, not money: load_state reads TOML floats as Decimal.
        (entry["agent"], entry["rule"], float(entry["until"]))
        for entry in raw
        if isinstance(entry, Mapping)
        and isinstance(entry.get("agent"), str)
        and isinstance(entry.get("rule"), str)
        and isinstance(entry.get("until"), (int, float, Decimal))
    )
