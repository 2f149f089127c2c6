"""Times, ages and durations as the screen writes them: plain text, always UTC.

No styling here (the TUI colours these strings where it draws them, in :mod:`pf_tui.tui.format`),
so the views package and the daemon's alert rows can share them without Rich or Textual.
"""

from __future__ import annotations

from datetime import UTC, datetime


def age(updated_at: float | None, now: float) -> str:
    """``4s``, ``3m``, ``2h``, ``5d`` since ``updated_at``; ``-`` when never."""
    if updated_at is None:
        return "-"
    seconds = max(0, int(now - updated_at))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def duration(seconds: float) -> str:
    """How long something has been open: ``42s``, ``6m40s``, ``2h05m``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def clock_time(at: float | None, now: float) -> str:
    """``14:00`` today, ``Mar 03 14:00`` on another day; ``-`` when unknown."""
    if at is None:
        return "-"
    when = datetime.fromtimestamp(at, tz=UTC)
    today = datetime.fromtimestamp(now, tz=UTC).date()
    if when.date() == today:
        return when.strftime("%H:%M")
    return when.strftime("%b %d %H:%M")


def short_stamp(at: float) -> str:
    """``01-01 12:15:00``: month, day and time to the second, without the year."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%m-%d %H:%M:%S")


def date(at: float) -> str:
    """``2026-01-01``."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d")


def ms(value: float | None) -> str:
    """Milliseconds, no decimals: ``42 ms``; ``-`` when unknown."""
    return "-" if value is None else f"{value:.0f} ms"
