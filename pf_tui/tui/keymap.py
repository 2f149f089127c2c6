"""Every key binding of the console, in one place, each with an id users can remap in config.

The app binds :data:`APP_BINDINGS`; the money keys are bound on the tabs they act on (the
Escrows tab binds :data:`ESCROW_BINDINGS` and :data:`FAUCET_BINDING`, the Fleet tab the faucet),
the brake and the audit view on the app. :data:`EVERY_BINDING` lists them all, in the order the
``?`` help screen and the command palette show them. ``[ui] keymap`` (binding id -> keys) is
applied with ``App.set_keymap``, which reaches the tabs' bindings too.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

TABS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("positions", "Positions"),
    ("fleet", "Fleet"),
    ("escrows", "Escrows"),
    ("alerts", "Alerts"),
)
"""Tab ids and titles, in order: the number key of a tab is its place here."""

TABLE_TABS = frozenset({"positions", "fleet", "escrows", "alerts"})


def tab_label(tab: str, count: int = 0) -> str:
    """What the tab bar shows: ``3 Fleet``; with a count, ``5 Alerts (2)``."""
    number = next(n for n, (name, _) in enumerate(TABS, start=1) if name == tab)
    label = f"{number} {dict(TABS)[tab]}"
    return f"{label} ({count})" if count else label


ESCROW_BINDINGS: list[Binding] = [
    Binding(
        "o",
        "money_open",
        "Open",
        id="money.open",
        tooltip="Open a stream from this agent",
    ),
    Binding(
        "l",
        "money_release",
        "Release",
        id="money.release",
        tooltip="Release: what a stream owes, part of a streaming escrow, a classic one whole",
    ),
    Binding(
        "P",
        "money_pause",
        "Pause",
        id="money.pause",
        tooltip="Pause or resume a stream's accrual",
    ),
    Binding(
        "x",
        "money_close",
        "Close",
        id="money.close",
        tooltip="Close a stream or a streaming escrow: pay what is owed, refund the rest",
    ),
    Binding(
        "d",
        "money_dispute",
        "Dispute",
        id="money.dispute",
        tooltip="Freeze this escrow (a reason is required)",
    ),
    Binding(
        "c",
        "money_complete",
        "Complete",
        id="money.complete",
        tooltip="As the payee, mark a classic escrow done",
    ),
    Binding(
        "t",
        "money_adopt",
        "Adopt",
        id="money.adopt",
        tooltip="Track an agent's escrow as a pf-tui stream (rate, unit)",
        # Not in the footer: with it, Quit no longer fits 80 columns on the Escrows tab. The
        # help and the palette list it, and a pause refused on an agent's escrow names its key.
        show=False,
    ),
]
"""Money keys of the Escrows tab: they act on the escrow under its cursor and show in the footer
there (``check_action`` hides them in read-only mode and dims them while the figures they need
are stale). Each acts as the row offers (:attr:`EscrowView.offers`): a key the row does not
offer says in one line why (which party acts, which dialect). Their descriptions are short so
the tab's keys fit an 80-column footer."""

FINISHED_BINDING = Binding(
    "F",
    "toggle_finished",
    "Finished",
    id="escrows.finished",
    tooltip="Show the escrows finished in the last 24 h, or the active ones again",
)
"""Bound on the Escrows tab: switch between active and finished escrows (not a money key, so
read-only mode keeps it)."""

FAUCET_BINDING = Binding(
    "f",
    "money_faucet",
    "Faucet",
    id="money.faucet",
    tooltip="Claim $1 for an agent with no deposits",
)
"""Bound on the Fleet and Escrows tabs: the faucet for the agent under the cursor."""

AUDIT_BINDING = Binding(
    "A",
    "money_audit",
    "Audit",
    id="money.audit",
    tooltip="Every journaled money action (read-only)",
    show=False,
)
"""Bound on the app: the audit view opens from any tab, read-only mode included."""

BRAKE_BINDING = Binding(
    "B",
    "money_brake",
    "Brake",
    id="money.brake",
    tooltip="Stop all money (again: lift the brake)",
)
"""Bound on the app: the stop-all brake from any tab (engage, or lift while it is on)."""

MONEY_BINDINGS: tuple[Binding, ...] = (
    *ESCROW_BINDINGS,
    FAUCET_BINDING,
    BRAKE_BINDING,
    AUDIT_BINDING,
)

CONSOLE_BINDINGS: list[Binding] = [
    Binding(
        "q,ctrl+q,ctrl+c",
        "quit",
        "Quit",
        id="app.quit",
        tooltip="Leave pf-tui (a demo removes its store)",
    ),
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
    Binding("p", "toggle_pause", "Pause polls", id="app.pause", tooltip="Pause or resume polling"),
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
        tooltip="Sort by the next column",
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
        "escape",
        "whole_fleet",
        "Whole fleet",
        id="app.back",
        tooltip="Leave the agent, back to the fleet",
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
    Binding(
        "enter",
        "open_alert",
        "Go to",
        id="alerts.open",
        tooltip="Go to the agent, escrow or stream of this alert",
        show=False,
    ),
]
"""The app's own keys (``check_action`` hides the ones that do not apply to the tab shown)."""

APP_BINDINGS: list[BindingType] = [*CONSOLE_BINDINGS, BRAKE_BINDING, AUDIT_BINDING]
"""What the app binds."""

EVERY_BINDING: tuple[Binding, ...] = (*CONSOLE_BINDINGS, *MONEY_BINDINGS, FINISHED_BINDING)
"""Every key of the console, wherever it is bound, in help order."""

TABLE_NAVIGATION: tuple[tuple[str, str], ...] = (
    ("up / down, page up / page down", "move the row cursor"),
    ("ctrl+home / ctrl+end", "first / last row"),
    ("home / end", "scroll to the first / last column"),
    ("click a column header", "sort by it (again: reverse)"),
)
"""DataTable's own keys, listed on the help screen as DataTable does them (``home``/``end``
scroll sideways; ``ctrl+home``/``ctrl+end`` go to the first/last row)."""


def effective_keys(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys that run ``binding`` after the user's keymap, as the user would type them."""
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(_pretty(k.strip()) for k in keys.split(","))


_PRETTY = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter"}


def _pretty(key: str) -> str:
    return _PRETTY.get(key, key)
