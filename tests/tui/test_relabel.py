"""The Alerts tab's count: a label of the same width repaints the tab without laying the whole
screen out again (at 5,000 agents the count changes nearly every tick)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Tab, TabbedContent, TabPane

from pf_tui.tui.app import relabel


class TabsApp(App[None]):
    def compose(self) -> ComposeResult:
        with TabbedContent():
            yield TabPane("5 Alerts", id="alerts")


def layouts_of(tab: Tab) -> list[bool]:
    """Whether each refresh ``tab`` asks for from now on lays the screen out."""
    layouts: list[bool] = []
    refresh = tab.refresh

    def spy(*regions: object, layout: bool = False, **kwargs: bool) -> object:
        layouts.append(layout)
        return refresh(*regions, layout=layout, **kwargs)  # type: ignore[arg-type]

    tab.refresh = spy  # type: ignore[method-assign]
    return layouts


async def test_a_label_of_the_same_width_repaints_the_tab_without_a_layout() -> None:
    app = TabsApp()
    async with app.run_test(size=(40, 6)) as pilot:
        tab = app.query_one(TabbedContent).get_tab("alerts")
        layouts = layouts_of(tab)
        relabel(tab, "5 Alerts (1)")  # wider: the tab bar moves
        relabel(tab, "5 Alerts (2)")  # the same width: the tab alone
        relabel(tab, "5 Alerts (2)")  # unchanged: nothing
        assert layouts == [True, False]
        await pilot.pause()
        assert tab.label.plain == "5 Alerts (2)"
        assert "5 Alerts (2)" in "".join(s.text for s in tab.render_line(0))


async def test_a_count_going_down_keeps_the_tab_width_until_it_is_gone() -> None:
    """While alerts fire, the count's width only grows: 100 down to 99 pads the label instead of
    laying the screen out; no count at all gives the width back."""
    app = TabsApp()
    async with app.run_test(size=(40, 6)) as pilot:
        tab = app.query_one(TabbedContent).get_tab("alerts")
        layouts = layouts_of(tab)
        relabel(tab, "5 Alerts (100)", keep_width=True)  # wider: the tab bar moves
        relabel(tab, "5 Alerts (99)", keep_width=True)  # narrower: padded, the tab alone
        assert layouts == [True, False]
        assert tab.label.plain == "5 Alerts (99) "
        relabel(tab, "5 Alerts")  # nothing firing: the tab shrinks
        assert layouts == [True, False, True]
        await pilot.pause()
        assert tab.label.plain == "5 Alerts"
