"""The header: the app's name and environment, and the stop-all brake while it is engaged.

While the brake is on the whole line turns the error colour and leads with who engaged it,
when and why (``BRAKE ON since 14:03 UTC by ops: incident 42  B lifts``); the environment follows
it and is what an 80-column terminal cuts first. The reason is text another process may have
written: it is shown as text (visible escapes, never markup).

No run of styled text starts with a space: the SVG screenshots draw each run as one ``<text>``
and its leading space was lost there (the header read ``pf-tui— demo``).
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Header
from textual.widgets._header import HeaderTitle

from pf_tui.core.money.brake import BRAKE_OFF, BrakeState
from pf_tui.text import one_line
from pf_tui.views.times import clock_time

BRAKE_CLASS = "-brake"
BRAKE_ON = "BRAKE ON"


def title_content(title: str, sub_title: str) -> Content:
    """``pf-tui — demo``: the title, a dim dash, the dim sub-title."""
    if not sub_title:
        return Content(title)
    return Content.assemble(title, " ", ("—", "dim"), " ", (sub_title, "dim"))


def brake_text(brake: BrakeState, now: float, lift_key: str) -> str:
    """``BRAKE ON since 14:03 UTC by ops: incident 42  B lifts`` (empty when off); the operator
    and the reason as one line with visible escapes."""
    if not brake.engaged:
        return ""
    since = clock_time(brake.since, now)
    who = one_line(brake.operator or "?", limit=40)
    why = one_line(brake.reason, limit=120)
    return f"{BRAKE_ON} since {since} UTC by {who}: {why}  {lift_key} lifts"


class ConsoleHeader(Header):
    """Textual's header with pf-tui's title line and the brake (see the module docstring)."""

    DEFAULT_CSS = """
    ConsoleHeader.-brake {
        background: $error;
        color: $text;
        text-style: bold;
    }
    ConsoleHeader.-brake HeaderClockSpace {
        display: none;
    }
    """

    def __init__(self, *, icon: str | None = None, id: str | None = None) -> None:
        super().__init__(icon=icon, id=id)
        self.brake = BRAKE_OFF
        self._brake_line = ""

    def format_title(self) -> Content:
        """The brake first while it is on, then the title and environment."""
        base = title_content(self.screen_title, self.screen_sub_title)
        if not self._brake_line:
            return base
        # One run in the header's own (bold, error) style: a run of its own after a space
        # would lose the space in the screenshots.
        return Content.assemble(self._brake_line, "  ", base)

    def show_brake(self, brake: BrakeState, now: float, lift_key: str) -> None:
        """Redraw for ``brake`` (nothing happens when the line would not change)."""
        line = brake_text(brake, now, lift_key)
        if line == self._brake_line and brake == self.brake:
            return
        self.brake, self._brake_line = brake, line
        self.set_class(brake.engaged, BRAKE_CLASS)
        for title in self.query(HeaderTitle):
            title.update(self.format_title())
