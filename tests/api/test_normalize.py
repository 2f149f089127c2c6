"""The normaliser: production and docs shapes give the same models; bad replies, typed errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui.api import normalize as norm
from pf_tui.api.errors import ResponseDecodeError
from pf_tui.api.models import Dialect, EscrowStatus
from pf_tui.usd import loads
from tests.api import fixtures as fx

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)


def _j(text: str) -> object:
    return loads(text)


class TestBothShapesAgree:
    def test_balance(self) -> None:
        prod = norm.balance(_j(fx.PROD_BALANCE))
        docs = norm.balance(_j(fx.DOCS_BALANCE))
        assert prod.balance_usd == docs.balance_usd == Decimal("1234.567891")
        assert prod.lifetime is not None and prod.lifetime.net_profit == Decimal("-10.25")
        assert [a.at for a in prod.recent_activity] == [JAN1, JAN1]
        assert prod.recent_activity[1].amount == Decimal(1)

    def test_casino_stats_percent_and_fraction(self) -> None:
        prod = norm.casino_stats(_j(fx.PROD_CASINO_STATS))
        docs = norm.casino_stats(_j(fx.DOCS_CASINO_STATS))
        assert prod.win_rate == docs.win_rate == Decimal("0.495")
        assert prod.total_bets == docs.total_bets == 120
        assert docs.bets_today == 7 and prod.bets_today is None
        assert prod.by_game[0].win_rate == Decimal("0.5")

    def test_bets_history_and_docs_recent(self) -> None:
        prod = norm.bets(_j(fx.PROD_BETS))
        docs = norm.bets(_j(fx.DOCS_RECENT))
        assert prod == docs
        assert prod[0].won is True and prod[0].amount_won == Decimal("3.98")
        assert prod[1].at == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)

    def test_positions_three_shapes(self) -> None:
        hl = norm.positions(_j(fx.PROD_POSITIONS_HL))
        db = norm.positions(_j(fx.PROD_POSITIONS_DB))
        docs = norm.positions(_j(fx.DOCS_POSITIONS))

        def common(p):  # the fields all three shapes carry
            return (p.pair, p.side, p.size_usd, p.entry_price, p.current_price, p.unrealized_pnl)

        assert (
            [common(p) for p in hl.items]
            == [common(p) for p in db.items]
            == [common(p) for p in docs.items]
        )
        assert hl.items[0] == db.items[0].__class__(
            **{**_asdict(db.items[0]), "source": "hyperliquid", "size": Decimal("0.001")}
        )
        assert (hl.source, db.source, docs.source) == ("hyperliquid", "database", "docs")
        assert hl.items[0].position_id == db.items[0].position_id == "pos_6f1c"
        assert db.items[0].liquidation_price == Decimal(80000) and db.items[0].leverage == Decimal(
            5
        )

    def test_pnl(self) -> None:
        prod = norm.pnl_history(_j(fx.PROD_PNL))
        docs = norm.pnl_history(_j(fx.DOCS_PNL))
        assert prod.net_pnl == docs.net_pnl == Decimal(12)
        assert prod.win_rate == Decimal("0.75")
        assert prod.chart[0].cumulative_pnl == Decimal(12)
        assert docs.max_drawdown_pct == Decimal("3.5")

    def test_drawdown_and_no_trades(self) -> None:
        assert norm.drawdown(_j(fx.PROD_DRAWDOWN)).max_drawdown_usd == Decimal("4.2")
        empty = norm.drawdown(_j(fx.PROD_DRAWDOWN_EMPTY))
        assert empty.max_drawdown_usd is None and empty.max_drawdown_pct is None

    def test_referrals_each_service_and_docs(self) -> None:
        casino = norm.referral_stats(_j(fx.PROD_CASINO_REFERRALS), "casino")
        trading = norm.referral_stats(_j(fx.PROD_TRADING_REFERRALS), "trading")
        wallet = norm.referral_stats(_j(fx.PROD_WALLET_REFERRALS), "wallet")
        docs = norm.referral_stats(_j(fx.DOCS_REFERRALS), "docs")
        assert (
            casino.total_referrals + trading.total_referrals + wallet.total_referrals
            == docs.total_referrals
        )
        assert casino.last_30_days_usd == Decimal("0.15") and wallet.available_usd == Decimal("0.5")
        assert docs.today == 1

    def test_escrow_classic_and_stream(self) -> None:
        classic = norm.escrow(_j(fx.PROD_ESCROW), Dialect.CLASSIC)
        stream = norm.escrow(_j(fx.DOCS_STREAM), Dialect.STREAMING)
        for name in (
            "escrow_id",
            "status",
            "amount",
            "description",
            "creator_id",
            "counterparty_id",
            "created_at",
            "auto_release_at",
        ):
            assert getattr(classic, name) == getattr(stream, name), name
        assert classic.status is EscrowStatus.FUNDED
        assert classic.auto_release_at == datetime(2026, 1, 2, tzinfo=UTC)
        assert classic.events[0].at == JAN1
        assert stream.remaining == Decimal(10) and stream.released == Decimal(0)

    def test_escrow_list_and_stats_and_wallet_and_errors(self) -> None:
        listed = norm.escrows(loads('{"escrows": [' + fx.DOCS_STREAM + "]}"))
        assert listed == (norm.escrow(_j(fx.DOCS_STREAM), Dialect.STREAMING),)
        stats = norm.escrow_stats(_j(fx.PROD_ESCROW_STATS))
        assert stats.total_commission_usd == Decimal("0.505")
        wallet = norm.wallet_balance(_j(fx.PROD_WALLET))
        assert wallet.total_usd == sum(b.usdc_balance for b in wallet.balances)
        assert norm.error_stats(_j(fx.DOCS_ERROR_STATS)).error_rate == Decimal("0.025")
        assert norm.ledger(_j(fx.PROD_LEDGER))[0].reference.startswith("esc_0123456789abcdef")

    def test_every_model_has_one_entry(self) -> None:
        from pf_tui.api import models

        top_level = {
            "Balance",
            "LedgerEntry",
            "CasinoStats",
            "Bet",
            "BetResult",
            "Registration",
            "FaucetClaim",
            "ReferralStats",
            "ErrorStats",
            "Positions",
            "Position",
            "PnlHistory",
            "Drawdown",
            "WalletBalance",
            "Escrow",
            "EscrowStats",
            "ClosedPosition",
        }
        assert {m.__name__ for m in norm.NORMALIZERS} == top_level
        assert all(hasattr(models, name) for name in top_level)


def _asdict(obj) -> dict:
    return {name: getattr(obj, name) for name in obj.__slots__}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("locked", EscrowStatus.FUNDED),
        ("funded", EscrowStatus.FUNDED),
        ("LOCKED", EscrowStatus.FUNDED),
        ("completed", EscrowStatus.COMPLETED),
        ("released", EscrowStatus.RELEASED),
        ("disputed", EscrowStatus.DISPUTED),
        ("refunded", EscrowStatus.REFUNDED),
        ("closed", EscrowStatus.CLOSED),
    ],
)
def test_status_aliases(status: str, expected: EscrowStatus) -> None:
    assert norm.escrow_status(status) is expected


class TestBadReplies:
    @pytest.mark.parametrize(
        ("reader", "reply", "field"),
        [
            (norm.balance, "{}", "balance_usd"),
            (norm.balance, '{"balance_usd": "ten"}', "balance_usd"),
            (norm.balance, '{"balance_usd": 1, "lifetime": 5}', "lifetime"),
            (norm.casino_stats, "{}", "lifetime"),
            (norm.casino_stats, '{"lifetime": {}}', "lifetime.total_bets"),
            (
                norm.casino_stats,
                '{"lifetime": {"total_bets": 1, "win_rate": 150}}',
                "lifetime.win_rate",
            ),
            (norm.positions, "{}", "positions"),
            (
                norm.positions,
                '{"positions": [{"coin": "BTC", "side": "long"}]}',
                "positions[0].position_id",
            ),
            (norm.positions, '{"positions": [7]}', "positions[0]"),
            (norm.bets, '{"bets": [{"id": "b", "amount": 1, "won": "yes"}]}', "bets[0].won"),
            (norm.pnl_history, "{}", "summary"),
            (norm.drawdown, "{}", "summary"),
            (norm.escrow, '{"escrow_id": "e", "amount_usd": 1}', "status"),
            (norm.escrow, '{"escrow_id": "e", "amount_usd": 1, "status": "weird"}', "status"),
            (norm.escrow, '{"escrow_id": "e", "status": "funded"}', "amount_usd"),
            (
                norm.escrow,
                '{"escrow_id": "e", "status": "funded", "amount": 1, "created_at": "soon"}',
                "created_at",
            ),
            (
                norm.escrows,
                '{"escrows": [{"escrow_id": "e", "status": "locked"}]}',
                "escrows[0].amount_usd",
            ),
            (norm.ledger, '{"entries": [{"amount": 1}]}', "entries[0].id"),
            (norm.wallet_balance, '{"balances": []}', "total_usd"),
            (norm.escrow_stats, '{"total_created": 1}', "total_released"),
            (norm.error_stats, "{}", "error_rate_pct"),
            (norm.bet_result, '{"bet_id": "b", "won": true, "amount_won": 1}', "new_balance"),
            (norm.registration, '{"agent_id": "ag_x"}', "api_key"),
            (norm.faucet_claim, "{}", "credited"),
            (norm.balance, "[]", None),
            (norm.balance, '{"balance_usd": true}', "balance_usd"),
        ],
    )
    def test_missing_or_bad_field_is_named(self, reader, reply, field) -> None:
        with pytest.raises(ResponseDecodeError) as info:
            reader(loads(reply))
        assert info.value.field == field
        if field:
            assert field in str(info.value)

    def test_unknown_keys_and_info_ignored(self) -> None:
        plain = norm.escrow_stats(_j(fx.PROD_ESCROW_STATS))
        noisy = norm.escrow_stats(
            loads(fx.PROD_ESCROW_STATS[:-1] + ', "_info": {"x": 1}, "zzz": null}')
        )
        assert plain == noisy


# --- property tests: money and time forms ---------------------------------------------------

amounts = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=6, allow_nan=False
)


@given(amounts)
def test_money_as_number_or_string_is_the_same(amount: Decimal) -> None:
    text = format(amount, "f")
    if text.startswith("-") and amount == 0:
        text = text[1:]
    as_number = norm.balance(loads('{"balance_usd": ' + text + "}")).balance_usd
    as_string = norm.balance(loads('{"usd": "' + text + '"}')).balance_usd
    assert as_number == as_string == Decimal(text)


@given(st.integers(min_value=0, max_value=4_000_000_000))
def test_time_forms_agree(seconds: int) -> None:
    iso = datetime.fromtimestamp(seconds, tz=UTC).isoformat()
    forms = [
        str(seconds),
        str(seconds * 1000) if seconds * 1000 > 10**12 else str(seconds),
        f'"{iso}"',
        f'"{iso.replace("+00:00", "Z")}"',
        f'"{seconds}"',
    ]
    times = {
        norm.escrow(
            loads('{"escrow_id": "e", "status": "funded", "amount": 1, "created_at": ' + form + "}")
        ).created_at
        for form in forms
    }
    assert times == {datetime.fromtimestamp(seconds, tz=UTC)}


@given(st.integers(min_value=0, max_value=100), st.booleans())
def test_win_rate_percent_and_fraction(percent: int, as_string: bool) -> None:
    frac = Decimal(percent) / 100
    pct = f'"{percent}"' if as_string else str(percent)
    prod = norm.casino_stats(loads('{"lifetime": {"total_bets": 1, "win_rate": ' + pct + "}}"))
    docs = norm.casino_stats(loads('{"win_rate": "' + format(frac, "f") + '"}'))
    assert prod.win_rate == docs.win_rate == frac
