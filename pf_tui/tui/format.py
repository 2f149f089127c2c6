"""Figures as short, styled Text for cells and cards: money, percents and plain figures.

Colours come from the running theme (:class:`Tones`, built from ``App.theme_variables``), so a
theme change recolours every figure and no hex code lives in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError

from pf_tui.usd import format_usd


@dataclass(frozen=True, slots=True)
class Tones:
    """Styles for gains, losses, warnings and quiet text, from the theme."""

    good: Style
    bad: Style
    warn: Style
    muted: Style
    accent: Style

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> Tones:
        """Build from ``App.theme_variables`` (``success``, ``error``, ``warning``, ...)."""

        def pick(name: str, fallback: str) -> Style:
            value = variables.get(name)
            if value:
                try:
                    return Style(color=Color.parse(value).rich_color)
                except ColorParseError:
                    # Relative values such as "auto 60%" need a background: use the fallback.
                    pass
            return Style.parse(fallback)

        return cls(
            good=pick("text-success", "green"),
            bad=pick("text-error", "red"),
            warn=pick("text-warning", "yellow"),
            muted=Style(dim=True),
            accent=pick("accent", "cyan"),
        )

    @classmethod
    def plain(cls) -> Tones:
        """ANSI-named tones, for use before an app (and its theme) exists."""
        return cls(
            good=Style.parse("green"),
            bad=Style.parse("red"),
            warn=Style.parse("yellow"),
            muted=Style.parse("dim"),
            accent=Style.parse("cyan"),
        )


def right(text: Text) -> Text:
    """``text`` aligned right in its cell (figures line up on their last digit)."""
    text.justify = "right"
    return text


def sign_style(value: Decimal | float | None, tones: Tones) -> Style | str:
    """Gain colour above zero, loss colour below, none at zero or unknown."""
    if value is None or value == 0:
        return ""
    return tones.good if value > 0 else tones.bad


def usd(value: Decimal | None, tones: Tones, *, signed: bool = False, dp: int = 2) -> Text:
    """``$1,234.50``; ``signed`` adds ``+`` and the gain/loss colour."""
    if value is None:
        return Text("-", style=tones.muted, end="")
    return Text(
        format_usd(value, sign=signed, dp=dp),
        style=sign_style(value, tones) if signed else "",
        end="",
    )


def number(value: Decimal | None, *, dp: int = 2) -> Text:
    """A plain figure (price, size, leverage) with ``dp`` places and thousands separators."""
    if value is None:
        return Text("-", end="")
    q = value.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)
    return Text(f"{q:,.{dp}f}", end="")


def pct(
    value: float | Decimal | None, tones: Tones | None = None, *, dp: int = 1, signed: bool = False
) -> Text:
    """A fraction 0..1 as ``12.5%``; with ``tones`` and ``signed``, coloured by sign."""
    if value is None:
        return Text("-", end="")
    shown = Decimal(str(value)) * 100
    q = shown.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)
    body = f"{q:+.{dp}f}%" if signed else f"{q:.{dp}f}%"
    style = sign_style(q, tones) if (tones and signed) else ""
    return Text(body, style=style, end="")
