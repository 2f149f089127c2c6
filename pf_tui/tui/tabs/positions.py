"""Positions tab: every open position of every agent (or of the drilled-into agent)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from pf_tui.tui import format as fmt
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.columns import Column, Cut
from pf_tui.tui.widgets.keyed_table import Row
from pf_tui.views.model import PositionView

# Agent labels and pair names are untrusted text of any length: the columns fit the terminal
# and cut a long (or hostile, escapes and all) name with a mark, so it never pushes the figures
# off the screen.
COLUMNS = (
    Column("agent", "Agent", cut=Cut.MIDDLE, min_width=12),
    Column("pair", "Pair", cut=Cut.END, min_width=12, max_width=24),
    Column("side", "Side"),
    Column("size", "Size $", numeric=True, priority=1),
    Column("entry", "Entry", numeric=True, priority=2),
    Column("current", "Current", numeric=True, priority=1),
    Column("upnl", "uP&L", numeric=True),
    Column("lev", "Lev", numeric=True, priority=3),
    Column("liq", "Liq. price", numeric=True, priority=2),
)
"""Who, what, which way and how it is doing never go; leverage goes first, then the liquidation
price and the entry."""


class PositionsTab(TableTab):
    """Open positions, keyed by agent and position id, diffed every tick."""

    COLUMNS = COLUMNS
    SORT = "upnl"
    NOUN = "open positions"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cache: dict[str, tuple[PositionView, Row]] = {}

    def rows(self, frame: Frame) -> Mapping[str, Row]:
        """One row per position, rebuilt only when the position's figures changed."""
        tones = frame.tones
        out: dict[str, Row] = {}
        cache: dict[str, tuple[PositionView, Row]] = {}
        for pos in frame.view.positions:
            if frame.selected is not None and pos.agent_id != frame.selected:
                continue
            hit = self._cache.get(pos.key)
            if hit is not None and hit[0] == pos:
                row = hit[1]
            else:
                side_style = tones.good if pos.side == "long" else tones.bad
                row = Row(
                    cells=(
                        safe(pos.agent_label),
                        safe(pos.pair),
                        safe(pos.side, style=side_style),
                        fmt.right(fmt.number(pos.size)),
                        fmt.right(fmt.number(pos.entry, dp=4)),
                        fmt.right(fmt.number(pos.current, dp=4)),
                        fmt.right(fmt.usd(pos.unrealized_pnl, tones, signed=True)),
                        fmt.right(
                            Text(f"{pos.leverage:g}x" if pos.leverage is not None else "-", end="")
                        ),
                        fmt.right(fmt.number(pos.liquidation, dp=4)),
                    ),
                    sort=(
                        pos.agent_label.lower(),
                        pos.pair.lower(),
                        pos.side,
                        pos.size,
                        pos.entry,
                        pos.current,
                        pos.unrealized_pnl,
                        pos.leverage,
                        pos.liquidation,
                    ),
                    search=f"{pos.agent_label} {pos.agent_id} {pos.pair} {pos.side}".lower(),
                )
            cache[pos.key] = (pos, row)
            out[pos.key] = row
        self._cache = cache
        return out
