"""PnlChart: a P&L chart packed into arrays reads back as the very points it was given."""

from __future__ import annotations

import pickle
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from pf_tui.api.models import PnlChart, PnlHistory, PnlPoint
from pf_tui.usd import PACK_ODD, pack

AMOUNTS = st.one_of(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6
    ),
    st.decimals(allow_nan=False, allow_infinity=False),  # any exponent, up to 28 digits
    st.sampled_from([Decimal("-0.00"), Decimal("1E+200"), Decimal("123456789012345678901")]),
)
POINTS = st.lists(st.builds(PnlPoint, st.text(max_size=12), AMOUNTS, AMOUNTS), max_size=35).map(
    tuple
)


def exact(points: object) -> list[tuple[str, str, str]]:
    """Each point as text: equal Decimals with other exponents (1.0, 1.00) or signs tell apart."""
    return [(p.date, str(p.daily_pnl), str(p.cumulative_pnl)) for p in points]  # type: ignore[attr-defined]


@given(POINTS, st.integers(min_value=-40, max_value=40), st.integers(min_value=-40, max_value=40))
@example(
    (PnlPoint("2026-12-01", Decimal("12.50"), Decimal("-0.0")),), -1, 1
)  # exponent and sign kept
def test_a_chart_reads_back_the_points_it_was_given(
    points: tuple[PnlPoint, ...], i: int, j: int
) -> None:
    """Breaking it (an amount packed without its exponent, a negative zero or an amount too long
    for 64 bits kept as a number, a slot off by one) fails here."""
    chart = PnlChart(points)
    assert len(chart) == len(points)
    assert exact(chart) == exact(points)
    assert exact(chart[i:j]) == exact(points[i:j])
    if -len(points) <= i < len(points):
        assert exact([chart[i]]) == exact([points[i]])
    else:
        try:
            chart[i]
        except IndexError:
            pass
        else:
            raise AssertionError("an index past the end read a point")
    assert chart == points and hash(chart) == hash(PnlChart(points))
    by_day = [(d, str(v)) for d, v in chart.cumulative_by_day()]
    assert by_day == [(d, c) for d, _, c in exact(points)]
    assert [chart.cumulative_on(day) for day in range(len(chart))] == list(
        chart.cumulative_by_day()
    )
    twin = PnlChart(points)  # packed alike: every day the same, but one kept as an object
    for day, point in enumerate(points):
        assert chart.same_day(twin, day) == (pack(point.cumulative_pnl)[1] != PACK_ODD)
    again = pickle.loads(pickle.dumps(PnlHistory(chart=points)))
    assert exact(again.chart) == exact(points)


def test_a_history_keeps_its_chart_packed_and_its_dates_shared() -> None:
    day = "2026-12-0" + "1"  # built at run time: not the same object as the literal below
    history = PnlHistory(chart=(PnlPoint(day, Decimal(1), Decimal(1)),))
    other = PnlHistory(chart=(PnlPoint("2026-12-01", Decimal(2), Decimal(3)),))
    assert type(history.chart) is PnlChart and type(PnlHistory().chart) is PnlChart
    assert history.chart[0].date is other.chart[0].date
    assert PnlChart([PnlPoint("d", Decimal("1.0"), Decimal(0))]) == PnlChart(
        [PnlPoint("d", Decimal("1.00"), Decimal(0))]
    )  # equal amounts, packed apart
