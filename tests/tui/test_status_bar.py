"""The one-line status bar ends a long error with an ellipsis; it never wraps it out of sight."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pf_tui.tui.format import Tones
from pf_tui.tui.widgets.status_bar import StatusBar
from pf_tui.views.model import ServiceView


class _Bar(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")


async def test_a_long_token_ends_in_an_ellipsis_on_the_one_line() -> None:
    """Broken: the bar wrapped at the long token, so the visible line ended at ``HTTP 500:`` and
    the error itself sat on a second line that height 1 hides."""
    app = _Bar()
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(StatusBar)
        error = "HTTP 500: " + "t" * 200 + "\x1b[2J after"
        bar.show(
            (ServiceView("casino", "up"),),
            0.0,
            5.0,
            paused=False,
            error=error,
            tones=Tones.from_variables(app.theme_variables),
        )
        await pilot.pause()
        line = bar.render_line(0).text.rstrip()
        assert line.startswith("casino ok") and "HTTP 500: ttt" in line
        assert line.endswith("…")
        assert bar.render_line(1).text.strip() == ""  # nothing hidden below: there is no below
        bar.show(
            (ServiceView("casino", "up"),),
            0.0,
            5.0,
            paused=False,
            error="HTTP 500: boom \x1b[2J",
            tones=Tones.from_variables(app.theme_variables),
        )
        await pilot.pause()
        assert "boom \\x1b[2J" in bar.render_line(0).text  # a visible escape, not a space
