"""The status bar: connection state per service, data age, polling state, the last error.

Separators are appended unstyled, before the styled word they introduce: the SVG screenshots draw
each styled run as one ``<text>`` whose leading spaces were lost (``data 0slast error:``). After a
jump from an alert the line starts with the suggested key (``next: x close stream ...``).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from pf_tui.tui.format import Tones
from pf_tui.tui.sanitize import safe
from pf_tui.views.model import ServiceView
from pf_tui.views.times import age

_MARK = {"up": "ok", "degraded": "some failing", "down": "DOWN", "idle": "..."}


class StatusBar(Static):
    """One line at the bottom; the only place (with toasts) where errors are shown."""

    # One line, never wrapped: a long token (an error body, a key-sized id) must not push what
    # follows onto a second line that height 1 hides; it ends in an ellipsis instead.
    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._key: tuple[object, ...] | None = None

    def show(
        self,
        services: tuple[ServiceView, ...],
        updated_at: float | None,
        now: float,
        *,
        paused: bool,
        error: str,
        tones: Tones,
        hint: str = "",
    ) -> None:
        """Redraw with the given state (skipped when nothing visible changed); ``hint`` (the key
        suggested after a jump from an alert) comes first."""
        data_age = age(updated_at, now)
        key = (tuple((s.name, s.state) for s in services), data_age, paused, error, hint)
        if key == self._key:
            return
        self._key = key
        line = Text(end="", no_wrap=True, overflow="ellipsis")
        if hint:
            line.append("next: ", style=tones.muted)
            line.append_text(safe(hint, limit=200, style=tones.accent))
            line.append("  |  ")
        for service in services:
            style = {"up": tones.good, "degraded": tones.warn, "down": tones.bad}.get(
                service.state, tones.muted
            )
            line.append(f"{service.name} ", style=tones.muted)
            line.append(_MARK.get(service.state, service.state), style=style)
            line.append("  ")
        line.append("data ", style=tones.muted)
        line.append(data_age)
        if paused:
            line.append("  ")
            line.append("PAUSED", style=tones.warn)
        if error:
            line.append("  ")
            line.append("last error: ", style=tones.bad)
            line.append_text(safe(error, limit=160))
        self.update(line, layout=False)  # one line, always: no layout per tick
