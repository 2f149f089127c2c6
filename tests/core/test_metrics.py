"""Derived figures against hand-computed answers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from pf_tui.api.models import (
    Activity,
    Balance,
    CasinoStats,
    Escrow,
    EscrowStatus,
    GameStats,
    PnlPoint,
    ReferralStats,
)
from pf_tui.core.fleet import derived as m
from pf_tui.core.polling.callstats import error_rate, latency_summary


def test_balance_and_total_pnl() -> None:
    assert m.balance_of(None) is None
    assert m.balance_of(Balance(D("12.345678"))) == D("12.345678")
    assert m.total_pnl(D("1.50"), D("-0.25")) == D("1.25")
    assert m.total_pnl(None, D("-0.25")) == D("-0.25")
    assert m.total_pnl(None, None) is None


def test_pnl_pct_against_initial_balance() -> None:
    assert m.pnl_pct(D("5"), D("200")) == D("2.5")
    assert m.pnl_pct(D("-30"), D("120")) == D("-25")
    assert m.pnl_pct(D("5"), D("0")) is None
    assert m.pnl_pct(None, D("10")) is None


def _chart(daily: list[str]) -> list[PnlPoint]:
    out, cum = [], D(0)
    for i, d in enumerate(daily):
        cum += D(d)
        out.append(PnlPoint(f"2026-01-{i + 1:02d}", D(d), cum))
    return out


def test_daily_returns_use_equity_at_start_of_day() -> None:
    # equity 100 -> +10 (10%) -> 110 -> -11 (-10%) -> 99 -> +9.9 (10%)
    assert m.daily_returns(_chart(["10", "-11", "9.9"]), D(100)) == pytest.approx([0.1, -0.1, 0.1])


def test_sharpe_hand_computed() -> None:
    # returns 0.1, -0.1, 0.1: mean 1/30, sample std 0.2/sqrt(3) -> sqrt(3)/6 * sqrt(365)
    got = m.rolling_sharpe(_chart(["10", "-11", "9.9"]), D(100))
    assert got == pytest.approx(math.sqrt(1095) / 6)
    assert got == pytest.approx(5.51513, rel=1e-5)


def test_sharpe_uses_last_seven_days_only() -> None:
    # An early huge loss outside the 7-day window must not count.
    chart = _chart(["-50"] + ["1", "2"] * 4)
    inside = chart[-7:]
    assert m.rolling_sharpe(chart, D(1000)) == pytest.approx(
        m.sharpe_ratio(m.daily_returns(inside, D(1000)))
    )


def test_sharpe_undefined_cases() -> None:
    assert m.sharpe_ratio([0.1]) is None
    assert m.sharpe_ratio([0.02, 0.02, 0.02]) is None


def test_max_drawdown_peak_to_trough() -> None:
    # equity 110, 105, 120, 108, 115: worst fall 120 -> 108 = 12 (10% of 120)
    dd = m.max_drawdown([D(10), D(5), D(20), D(8), D(15)], D(100))
    assert dd.max_drawdown_usd == D(12)
    assert dd.max_drawdown_pct == D(10)


def test_max_drawdown_from_initial_and_flat() -> None:
    dd = m.max_drawdown([D(-20), D(-50)], D(200))
    assert dd == m.DrawdownFigures(D(50), D(25), D(25))
    assert m.max_drawdown([D(1), D(2)], D(0)).max_drawdown_usd == D(0)
    assert m.max_drawdown([], D(0)).max_drawdown_pct is None


def test_dice_probability_matches_the_rules() -> None:
    assert m.dice_win_probability("under", D(50)) == D("0.5")
    assert m.dice_win_probability("over", D(50)) == D("0.4999")
    with pytest.raises(ValueError):
        m.dice_win_probability("sideways", D(5))


def test_win_rate_vs_expected_weights_games_by_bets() -> None:
    # 300 coin flips (p 0.5); 100 dice bets at $1 winning 25%, each win paid 3.98x -> p 0.25
    stats = CasinoStats(
        total_bets=400,
        win_rate=D("0.45"),
        by_game=(
            GameStats("coin-flip", 300, D(300), D("298.50"), D("-1.50"), D("0.5")),
            GameStats("dice", 100, D(100), D("99.50"), D("-0.50"), D("0.25")),
        ),
    )
    cmp = m.win_rate_vs_expected(stats)
    assert cmp.expected == pytest.approx((0.5 * 300 + 0.25 * 100) / 400)
    assert cmp.actual == pytest.approx(0.45)
    assert cmp.deviation == pytest.approx(0.45 - 0.4375)
    assert cmp.bets == 400


def test_win_rate_unknown_game_is_not_counted() -> None:
    stats = CasinoStats(by_game=(GameStats("roulette", 5, D(5), D(0), D(-5), D(0)),))
    cmp = m.win_rate_vs_expected(stats)
    assert cmp.expected is None and cmp.actual is None and cmp.deviation is None


def test_bets_today_docs_field_or_delta() -> None:
    assert m.bets_today(CasinoStats(bets_today=7, total_bets=100), 10) == 7
    assert m.bets_today(CasinoStats(total_bets=130), 100) == 30
    assert m.bets_today(CasinoStats(total_bets=130), None) is None


def test_latency_summary_is_nearest_rank_over_unsorted_samples() -> None:
    s = latency_summary([float(i) for i in range(100, 0, -1)], requests=200, errors=10)
    assert (s.p50, s.p95, s.p99) == (50.0, 95.0, 99.0)  # measured samples, never interpolated
    assert s.error_rate == pytest.approx(0.05)
    empty = latency_summary([], 0, 0)
    assert (empty.p50, empty.p95, empty.p99, empty.error_rate) == (None, None, None, None)
    assert error_rate(0, 0) is None


def _escrow(status: EscrowStatus) -> Escrow:
    return Escrow("esc_0000000000000000", status, D(1))


def test_escrow_dispute_rate() -> None:
    escrows = [
        _escrow(EscrowStatus.DISPUTED),
        _escrow(EscrowStatus.RELEASED),
        _escrow(EscrowStatus.FUNDED),
        _escrow(EscrowStatus.DISPUTED),
    ]
    assert m.escrow_dispute_rate(escrows) == pytest.approx(0.5)
    assert m.escrow_dispute_rate([]) is None
    # Settled escrows the poller's bound left out of the snapshot still count as seen.
    assert m.escrow_dispute_rate(escrows, also_seen=4) == pytest.approx(0.25)
    assert m.escrow_dispute_rate([], also_seen=3) == 0.0


def test_referral_counts_income_and_funnel() -> None:
    stats = [
        ReferralStats("casino", 10, D("1.25")),
        ReferralStats("trading", 4, D("0.50")),
        ReferralStats("wallet", 6, None),
    ]
    assert m.referral_count(stats) == 20
    assert m.referral_income(stats) == D("1.75")
    funnel = m.referral_funnel(stats)
    assert (funnel.registered, funnel.transacted) == (10, 6)
    assert funnel.conversion == pytest.approx(0.6)
    assert m.referral_funnel([]).conversion is None


def test_spend_rate_from_history_nets_out_pnl() -> None:
    # Over 2 h the balance fell 30 while P&L fell 10: 20 left the agent -> 10 USD/h.
    balances = [(0.0, D(100)), (3600.0, D(85)), (7200.0, D(70))]
    pnls = [(0.0, D(5)), (7200.0, D(-5))]
    assert m.spend_rate_from_history(balances, pnls) == D(10)
    # Money coming in is not spend.
    assert m.spend_rate_from_history([(0.0, D(1)), (3600.0, D(5))], []) == D(0)
    assert m.spend_rate_from_history([(0.0, D(1))], []) is None


def test_spend_rate_from_activity_window() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    acts = [
        Activity("escrow_lock", D("-2.50"), None, "", "escrow", now - timedelta(minutes=10)),
        Activity("withdrawal", D("-1.50"), None, "", "casino", now - timedelta(minutes=50)),
        Activity("bet", D("-9"), None, "", "casino", now - timedelta(minutes=5)),
        Activity("escrow_lock", D("-7"), None, "", "escrow", now - timedelta(hours=3)),
    ]
    assert m.spend_rate_from_activity(acts, now) == D(4)
    assert m.spend_rate_from_activity(acts, now, D(4)) == D("2.75")


def test_no_bets_means_no_win_rate_not_zero() -> None:
    # Production answers win_rate 0 for an agent that never played; that is not a 0% rate.
    cmp = m.win_rate_vs_expected(CasinoStats(total_bets=0, win_rate=D(0), by_game=()))
    assert cmp.actual is None and cmp.expected is None and cmp.bets == 0
