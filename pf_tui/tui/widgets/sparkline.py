"""Sparklines and progress bars as one line of Text, with an ASCII fallback."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.style import Style
from rich.text import Text

from pf_tui.tui.widgets.glyphs import BAR_ASCII, BAR_UNICODE, SPARK_ASCII, SPARK_UNICODE


def sparkline(
    values: Sequence[Decimal | float],
    width: int,
    *,
    ascii_only: bool = False,
    style: Style | str = "",
) -> Text:
    """The last ``width`` values scaled between their min and max; empty Text with fewer than 2."""
    if len(values) < 2 or width <= 0:
        return Text("", end="")
    glyphs = SPARK_ASCII if ascii_only else SPARK_UNICODE
    tail = [v if isinstance(v, Decimal) else Decimal(str(v)) for v in values[-width:]]
    low, high = min(tail), max(tail)
    span = high - low
    top = len(glyphs) - 1
    chars = "".join(
        glyphs[0 if span == 0 else int(((v - low) / span * top).to_integral_value())] for v in tail
    )
    return Text(chars, style=style, end="")


def progress_bar(
    done: Decimal, total: Decimal, width: int, *, ascii_only: bool = False, style: Style | str = ""
) -> Text:
    """A ``width``-cell bar filled in proportion ``done / total`` (clamped to 0..1)."""
    full, empty = BAR_ASCII if ascii_only else BAR_UNICODE
    if total <= 0 or width <= 0:
        return Text(empty * max(0, width), end="")
    ratio = min(Decimal(1), max(Decimal(0), done / total))
    filled = int((ratio * width).to_integral_value())
    text = Text(full * filled, style=style, end="")
    text.append(empty * (width - filled))
    return text
