"""Every key binding of the app, in one place, each with an id users can remap in config.

The App binds them all (so one list drives the Footer, the ``?`` help screen and the command
palette); ``[ui] keymap`` (binding id -> keys) is applied with ``App.set_keymap``.
"""

from __future__ import annotations

from textual.binding import Binding

TABS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("positions", "Positions"),
    ("fleet", "Fleet"),
    ("escrows", "Escrows"),
    ("alerts", "Alerts"),
)
"""Tab ids and titles, in order."""

TABLE_TABS = frozenset({"positions", "fleet", "escrows", "alerts"})

MONEY_BINDINGS: list[Binding] = [
    Binding(
        "o",
        "money_open",
        "Open stream",
        id="money.open",
        tooltip="Open a stream from this agent",
        show=False,
    ),
    Binding(
        "l",
        "money_release",
        "Release partial",
        id="money.release",
        tooltip="Pay what a stream owes (editable)",
        show=False,
    ),
    Binding(
        "P",
        "money_pause",
        "Pause/resume stream",
        id="money.pause",
        tooltip="Stop or restart a stream accruing",
        show=False,
    ),
    Binding(
        "x",
        "money_close",
        "Close stream",
        id="money.close",
        tooltip="Pay what is owed, then stop",
        show=False,
    ),
    Binding(
        "d",
        "money_dispute",
        "Dispute escrow",
        id="money.dispute",
        tooltip="Freeze this escrow (a reason is required)",
        show=False,
    ),
    Binding(
        "c",
        "money_complete",
        "Mark complete",
        id="money.complete",
        tooltip="As the payee, mark this escrow done",
        show=False,
    ),
    Binding(
        "f",
        "money_faucet",
        "Claim faucet",
        id="money.faucet",
        tooltip="Claim the faucet's $1 for this agent",
        show=False,
    ),
    Binding(
        "A",
        "money_audit",
        "Audit",
        id="money.audit",
        tooltip="Every journaled money action (read-only)",
        show=False,
    ),
]
"""Money actions (``check_action`` hides them in read-only mode and off their tabs)."""

APP_BINDINGS: list[Binding] = [
    Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave pf-tui"),
    Binding("question_mark", "help", "Help", id="app.help", tooltip="List every key"),
    Binding(
        "ctrl+p",
        "command_palette",
        "Commands",
        id="app.palette",
        tooltip="Search every action",
        show=False,
    ),
    *(
        Binding(
            str(i),
            f"show_tab('{tab}')",
            title,
            id=f"tab.{tab}",
            tooltip=f"Show the {title} tab",
            show=False,
        )
        for i, (tab, title) in enumerate(TABS, start=1)
    ),
    Binding("r", "refresh", "Refresh", id="app.refresh", tooltip="Poll every figure now"),
    Binding("p", "toggle_pause", "Pause", id="app.pause", tooltip="Pause or resume polling"),
    Binding(
        "slash",
        "filter",
        "Filter",
        id="table.filter",
        tooltip="Show only rows containing some text",
    ),
    Binding(
        "s",
        "sort_next",
        "Sort",
        id="table.sort",
        tooltip="Sort by the next column (again: reverse)",
    ),
    Binding(
        "S",
        "sort_reverse",
        "Reverse",
        id="table.reverse",
        tooltip="Reverse the sort order",
        show=False,
    ),
    Binding(
        "enter",
        "drill",
        "Open agent",
        id="fleet.drill",
        tooltip="Show only this agent on every tab",
        show=False,
    ),
    Binding(
        "escape", "back", "Whole fleet", id="app.back", tooltip="Leave the agent, back to the fleet"
    ),
    Binding(
        "a",
        "acknowledge_alert",
        "Ack",
        id="alerts.ack",
        tooltip="Acknowledge the alert under the cursor",
    ),
    Binding(
        "m",
        "silence_alert",
        "Silence 1h",
        id="alerts.silence",
        tooltip="Silence this agent and rule for an hour",
    ),
    *MONEY_BINDINGS,
]
"""Every binding, app-wide; ``check_action`` hides the ones that do not apply to the tab shown."""

TABLE_NAVIGATION: tuple[tuple[str, str], ...] = (
    ("up / down, page up / page down", "move the row cursor"),
    ("home / end", "first / last row"),
    ("click a column header", "sort by it (again: reverse)"),
)
"""DataTable's own keys, listed on the help screen."""


def effective_keys(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys that run ``binding`` after the user's keymap, as the user would type them."""
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(_pretty(k.strip()) for k in keys.split(","))


_PRETTY = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter"}


def _pretty(key: str) -> str:
    return _PRETTY.get(key, key)
