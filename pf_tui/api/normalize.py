"""The one normalising layer: production and docs shapes (docs/api.md §2-§3) onto the models.

One entry per model (:data:`NORMALIZERS`); each takes the decoded JSON (``pf_tui.usd.loads``, so
numbers are ``Decimal``/``int``) and returns a frozen model, or raises
:class:`~pf_tui.api.errors.ResponseDecodeError` naming the field that is missing or wrong. Both
shapes of a figure go through the same entry, which tells them apart by the keys they carry:

- money: JSON number (production) or string (docs), both to ``Decimal``;
- rates: production percents (``win_rate``, ``*_pct``) and docs fractions, both to fractions;
- positions: hyperliquid snake_case, database camelCase, docs ``items[{pair, ...}]``;
- escrow statuses: docs ``locked`` is ``funded``; times ISO, epoch seconds or epoch ms;
- ``_info`` and every unknown key are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from pf_tui.api import fields as f
from pf_tui.api.errors import ResponseDecodeError
from pf_tui.api.models import (
    Activity,
    Balance,
    Bet,
    BetResult,
    CasinoStats,
    ChainBalance,
    ClosedPosition,
    Dialect,
    Drawdown,
    ErrorStats,
    Escrow,
    EscrowEvent,
    EscrowStats,
    EscrowStatus,
    FaucetClaim,
    GameStats,
    LedgerEntry,
    Lifetime,
    PnlChart,
    PnlHistory,
    Position,
    Positions,
    ReferralStats,
    Registration,
    WalletBalance,
)
from pf_tui.usd import JSON, plain_wire_money

__all__ = [
    "NORMALIZERS",
    "balance",
    "bet_result",
    "bets",
    "casino_stats",
    "closed_position",
    "drawdown",
    "error_stats",
    "escrow",
    "escrow_stats",
    "escrow_status",
    "escrows",
    "faucet_claim",
    "ledger",
    "obj_reply",
    "opened_position",
    "pnl_history",
    "positions",
    "referral_stats",
    "registration",
    "wallet_balance",
]

_STATUS_WORD = re.compile(r"[a-z_]{1,24}")
"""What an escrow status looks like: shown in an error only when it has this shape."""
_STATUS_ALIASES: dict[str, EscrowStatus] = {
    "funded": EscrowStatus.FUNDED,
    "locked": EscrowStatus.FUNDED,
    "completed": EscrowStatus.COMPLETED,
    "released": EscrowStatus.RELEASED,
    "disputed": EscrowStatus.DISPUTED,
    "refunded": EscrowStatus.REFUNDED,
    "closed": EscrowStatus.CLOSED,
}


def obj_reply(data: JSON) -> dict[str, JSON]:
    """A reply that only has to be a JSON object (classic escrow transitions, read back after)."""
    return f.obj(data)


def _sub(data: dict[str, JSON], key: str) -> dict[str, JSON]:
    return f.obj(data.get(key), key) if key in data else {}


# --- casino -------------------------------------------------------------------------------


def _activity(row: JSON, path: str) -> Activity:
    row = f.obj(row, path)
    return Activity(
        type=f.opt_text(row, "type", path) or "",
        amount=f.money(row, "amount", path),
        balance_after=f.opt_money(row, ("balance_after", "balanceAfter"), path),
        reason=f.opt_text(row, "reason", path) or "",
        service=f.opt_text(row, "service", path) or "",
        at=f.timestamp(row, ("at", "created_at", "createdAt"), path),
    )


def balance(data: JSON) -> Balance:
    """Casino ``/auth/balance`` (``balance_usd``) or docs ``/wallet/balance`` (``usd``)."""
    data = f.obj(data)
    if not f.has(data, "balance_usd") and f.has(data, "usd"):
        return Balance(balance_usd=f.money(data, "usd"), agent_id=f.opt_text(data, "agent_id"))
    life = _sub(data, "lifetime")
    lifetime = None
    if life:
        lifetime = Lifetime(
            total_deposited=f.opt_money(life, "total_deposited", "lifetime"),
            total_withdrawn=f.opt_money(life, "total_withdrawn", "lifetime"),
            total_wagered=f.opt_money(life, "total_wagered", "lifetime"),
            total_won=f.opt_money(life, "total_won", "lifetime"),
            net_profit=f.opt_money(life, "net_profit", "lifetime"),
        )
    rows = f.items(data, "recent_activity", required=False)
    return Balance(
        balance_usd=f.money(data, "balance_usd"),
        agent_id=f.opt_text(data, "agent_id"),
        lifetime=lifetime,
        recent_activity=tuple(_activity(r, f"recent_activity[{i}]") for i, r in enumerate(rows)),
    )


def _ledger_entry(row: JSON, path: str) -> LedgerEntry:
    row = f.obj(row, path)
    return LedgerEntry(
        id=f.text(row, "id", path),
        type=f.opt_text(row, "type", path) or "",
        amount=f.money(row, "amount", path),
        balance_after=f.opt_money(row, ("balanceAfter", "balance_after"), path),
        reason=f.opt_text(row, "reason", path) or "",
        reference=f.opt_text(row, "reference", path) or "",
        service=f.opt_text(row, "service", path) or "",
        at=f.timestamp(row, ("at", "createdAt", "created_at"), path),
    )


def ledger(data: JSON) -> tuple[LedgerEntry, ...]:
    """Casino ``/auth/ledger``: ``entries[...]``, newest first as sent."""
    rows = f.items(f.obj(data), "entries")
    return tuple(_ledger_entry(r, f"entries[{i}]") for i, r in enumerate(rows))


ESCROW_MOVES = frozenset({"escrow_lock", "escrow_release", "escrow_refund"})
"""Ledger rows that make the agent a party of the escrow they name (creator: lock and refund;
payee: release). ``referral`` rows name escrows the agent is only the referrer of."""


def escrow_moves(data: JSON) -> tuple[LedgerEntry, ...]:
    """The escrow moves among casino ``/auth/ledger``'s rows (every row is still checked).

    All the poller looks for in a ledger; the poll client keeps the model of each route's last
    reply, and at 5,000 agents fifty rows each were tens of MB kept for a handful of escrows.
    """
    return tuple(e for e in ledger(data) if e.service == "escrow" and e.type in ESCROW_MOVES)


def _game(row: JSON, path: str) -> GameStats:
    row = f.obj(row, path)
    return GameStats(
        game=f.text(row, "game", path),
        bets=f.opt_int(row, "bets", path) or 0,
        wagered=f.opt_money(row, "wagered", path) or Decimal(0),
        won=f.opt_money(row, "won", path) or Decimal(0),
        net=f.opt_money(row, "net", path) or Decimal(0),
        win_rate=f.percent_rate(row, ("win_rate", "win_rate_pct"), path),
    )


def casino_stats(data: JSON) -> CasinoStats:
    """Casino ``/stats/me`` (percent win rate) or docs ``/casino/stats`` (a fraction)."""
    data = f.obj(data)
    if "lifetime" not in data:
        if not f.has(data, ("win_rate", "bets_today")):
            raise ResponseDecodeError("field lifetime: missing", field="lifetime")
        return CasinoStats(
            total_bets=f.opt_int(data, "total_bets"),
            total_wagered=f.opt_money(data, "total_wagered"),
            total_won=f.opt_money(data, "total_won"),
            net_profit=f.opt_money(data, "net_profit"),
            win_rate=f.fraction_rate(data, "win_rate"),
            bets_today=f.opt_int(data, "bets_today"),
        )
    life = f.obj(data["lifetime"], "lifetime")
    games = f.items(data, "by_game", required=False)
    return CasinoStats(
        total_bets=f.integer(life, "total_bets", "lifetime"),
        total_wagered=f.opt_money(life, "total_wagered", "lifetime"),
        total_won=f.opt_money(life, "total_won", "lifetime"),
        net_profit=f.opt_money(life, "net_profit", "lifetime"),
        win_rate=f.percent_rate(life, ("win_rate", "win_rate_pct"), "lifetime"),
        by_game=tuple(_game(g, f"by_game[{i}]") for i, g in enumerate(games)),
    )


def _bet(row: JSON, path: str) -> Bet:
    row = f.obj(row, path)
    amount = f.money(row, "amount", path)
    amount_won = f.opt_money(row, "amount_won", path) or Decimal(0)
    net = f.opt_money(row, "net", path)
    return Bet(
        id=f.text(row, ("id", "bet_id"), path),
        game=f.opt_text(row, "game", path) or "",
        amount=amount,
        amount_won=amount_won,
        multiplier=f.opt_money(row, ("multiplier", "payout_multiplier"), path),
        won=f.boolean(row, "won", path),
        net=net if net is not None else amount_won - amount,
        at=f.timestamp(row, ("at", "created_at", "createdAt"), path),
    )


def bets(data: JSON) -> tuple[Bet, ...]:
    """Casino ``/bets/history`` or docs ``/casino/recent``: ``bets[...]``."""
    rows = f.items(f.obj(data), "bets")
    return tuple(_bet(r, f"bets[{i}]") for i, r in enumerate(rows))


def bet_result(data: JSON) -> BetResult:
    """Reply of ``POST /games/coin-flip`` and ``/games/dice``."""
    data = f.obj(data)
    return BetResult(
        bet_id=f.text(data, ("bet_id", "id")),
        won=f.boolean(data, "won"),
        amount_won=f.money(data, "amount_won"),
        new_balance=f.money(data, "new_balance"),
        payout_multiplier=f.opt_money(data, ("payout_multiplier", "multiplier")),
    )


def registration(data: JSON) -> Registration:
    """Reply of casino ``POST /auth/register``."""
    data = f.obj(data)
    return Registration(
        agent_id=f.text(data, "agent_id"),
        api_key=f.text(data, "api_key"),
        referral_code=f.opt_text(data, "referral_code"),
        balance=f.opt_money(data, "balance") or Decimal(0),
    )


def faucet_claim(data: JSON) -> FaucetClaim:
    """Reply of ``POST /faucet/claim`` (200)."""
    data = f.obj(data)
    return FaucetClaim(
        credited=f.money(data, "credited"),
        claim_id=f.opt_text(data, "claim_id"),
        agent_id=f.opt_text(data, "agent_id"),
    )


def referral_stats(data: JSON, service: str) -> ReferralStats:
    """Production ``/referral/stats`` (casino, trading or wallet) or docs ``/referrals/stats``."""
    data = f.obj(data)
    if not f.has(data, "total_referrals") and f.has(data, "total"):
        return ReferralStats(
            service=service,
            total_referrals=f.integer(data, "total"),
            today=f.opt_int(data, "today"),
        )
    return ReferralStats(
        service=service,
        total_referrals=f.integer(data, "total_referrals"),
        total_earned_usd=f.opt_money(data, "total_earned_usd"),
        last_30_days_usd=f.opt_money(data, "last_30_days_usd"),
        available_usd=f.opt_money(data, "available_usd"),
        today=f.opt_int(data, "today"),
    )


def error_stats(data: JSON) -> ErrorStats:
    """Docs ``/agent/error-stats``: ``error_rate_pct`` (percent) or ``error_rate`` (fraction)."""
    data = f.obj(data)
    rate = f.percent_rate(data, "error_rate_pct")
    if rate is None:
        rate = f.fraction_rate(data, "error_rate")
    if rate is None:
        raise ResponseDecodeError("field error_rate_pct: missing", field="error_rate_pct")
    return ErrorStats(
        error_rate=rate, requests=f.opt_int(data, "requests"), errors=f.opt_int(data, "errors")
    )


# --- trading ------------------------------------------------------------------------------


def _position(row: JSON, path: str, source: str, index: int) -> Position:
    row = f.obj(row, path)
    if "pair" in row:  # docs aggregate item
        pair = f.text(row, "pair", path)
        side = f.text(row, "side", path)
        return Position(
            position_id=f.opt_text(row, ("position_id", "id"), path) or f"{pair}/{side}/{index}",
            pair=pair,
            side=side,
            size_usd=f.opt_money(row, ("size_usd", "size"), path),
            entry_price=f.opt_money(row, "entry_price", path),
            current_price=f.opt_money(row, "current_price", path),
            unrealized_pnl=f.opt_money(row, ("pnl_usd", "unrealized_pnl"), path),
            source="docs",
        )
    # hyperliquid (snake_case) and database (camelCase, plus a few snake_case extras) alike
    coin = f.opt_text(row, "coin", path)
    ticker = f.opt_text(row, "ticker", path) or coin
    if ticker is None:
        where = f"{path}.coin" if path else "coin"
        raise ResponseDecodeError(f"field {where}: missing", field=where)
    return Position(
        position_id=f.text(row, ("position_id", "id"), path),
        pair=ticker,
        side=f.text(row, "side", path),
        size_usd=f.opt_money(row, ("size_usd", "sizeUsd"), path),
        entry_price=f.opt_money(row, ("entry_price", "entryPrice"), path),
        current_price=f.opt_money(row, ("current_price", "currentPrice"), path),
        unrealized_pnl=f.opt_money(row, ("unrealized_pnl", "unrealizedPnl"), path),
        leverage=f.opt_money(row, "leverage", path),
        liquidation_price=f.opt_money(row, ("liquidation_price", "liquidationPrice"), path),
        size=f.opt_money(row, "size", path),
        source=source,
    )


def positions(data: JSON) -> Positions:
    """Trading ``/trade/positions`` (either ``source``) or docs ``/trading/positions``."""
    data = f.obj(data)
    if "positions" not in data and "items" in data:
        rows = f.items(data, "items")
        return Positions(
            items=tuple(_position(r, f"items[{i}]", "docs", i) for i, r in enumerate(rows)),
            source="docs",
        )
    rows = f.items(data, "positions")
    source = f.opt_text(data, "source") or "hyperliquid"
    return Positions(
        items=tuple(_position(r, f"positions[{i}]", source, i) for i, r in enumerate(rows)),
        source=source,
    )


def opened_position(data: JSON) -> Position:
    """Reply of trading ``POST /trade/open``: the new position (bare, or under ``position``)."""
    data = f.obj(data)
    if isinstance(data.get("position"), dict):
        return _position(data["position"], "position", "hyperliquid", 0)
    return _position(data, "", "hyperliquid", 0)


def closed_position(data: JSON) -> ClosedPosition:
    """Reply of trading ``POST /trade/close``."""
    data = f.obj(data)
    return ClosedPosition(
        position_id=f.text(data, ("position_id", "id")),
        coin=f.opt_text(data, "coin"),
        exit_price=f.opt_money(data, "exit_price"),
        realized_pnl=f.opt_money(data, "realized_pnl"),
        fee=f.opt_money(data, "fee"),
        net_pnl=f.opt_money(data, "net_pnl"),
    )


def pnl_history(data: JSON) -> PnlHistory:
    """Trading ``/trade/pnl-history`` (``summary`` + ``chart``) or docs ``/portfolio/pnl``."""
    data = f.obj(data)
    if "summary" not in data and "chart" not in data:
        if not f.has(data, "total_usd"):
            raise ResponseDecodeError("field summary: missing", field="summary")
        return PnlHistory(
            net_pnl=f.money(data, "total_usd"),
            max_drawdown_pct=f.opt_money(data, "max_drawdown_pct"),
        )
    summary = _sub(data, "summary")
    chart = f.items(data, "chart", required=False)
    points: list[tuple[str, Decimal, Decimal]] = []
    for i, row in enumerate(chart):
        # 30 rows a reply, most of them the same every poll: the plain production row is read
        # inline (the same values the readers below would return); anything else takes them.
        if type(row) is dict:
            date = row.get("date")
            daily = plain_wire_money(row.get("daily_pnl"))
            cumulative = plain_wire_money(row.get("cumulative_pnl"))
            if type(date) is str and daily is not None and cumulative is not None:
                points.append((date, daily, cumulative))
                continue
        path = f"chart[{i}]"
        row = f.obj(row, path)
        points.append(
            (
                f.text(row, "date", path),
                f.money(row, "daily_pnl", path),
                f.money(row, "cumulative_pnl", path),
            )
        )
    return PnlHistory(
        net_pnl=f.opt_money(summary, "net_pnl", "summary"),
        total_pnl=f.opt_money(summary, "total_pnl", "summary"),
        total_fees=f.opt_money(summary, "total_fees", "summary"),
        total_trades=f.opt_int(summary, "total_trades", "summary"),
        win_rate=f.percent_rate(summary, "win_rate_pct", "summary"),
        chart=PnlChart.of_rows(points),
        max_drawdown_pct=f.opt_money(summary, "max_drawdown_pct", "summary"),
    )


def drawdown(data: JSON) -> Drawdown:
    """Trading ``/trade/drawdown``: ``summary{...}``, or ``{message}`` when there are no trades."""
    data = f.obj(data)
    if "summary" not in data:
        if "message" in data:
            return Drawdown()
        raise ResponseDecodeError("field summary: missing", field="summary")
    summary = f.obj(data["summary"], "summary")
    return Drawdown(
        max_drawdown_usd=f.opt_money(summary, "max_drawdown_usd", "summary"),
        max_drawdown_pct=f.opt_money(summary, "max_drawdown_pct", "summary"),
    )


def wallet_balance(data: JSON) -> WalletBalance:
    """Wallet ``/wallet/usdc-balance``: ``total_usd`` and ``balances[{chain, ...}]``."""
    data = f.obj(data)
    rows = f.items(data, "balances", required=False)
    chains = []
    for i, row in enumerate(rows):
        path = f"balances[{i}]"
        row = f.obj(row, path)
        chains.append(
            ChainBalance(
                chain=f.text(row, "chain", path),
                address=f.opt_text(row, ("wallet_address", "address"), path) or "",
                usdc_balance=f.money(row, ("usdc_balance", "balance"), path),
            )
        )
    return WalletBalance(total_usd=f.money(data, "total_usd"), balances=tuple(chains))


# --- escrow -------------------------------------------------------------------------------


def escrow_status(value: JSON, path: str = "status") -> EscrowStatus:
    """A status of either dialect as the canonical state (``locked`` is ``funded``)."""
    if not isinstance(value, str):
        raise ResponseDecodeError(
            f"field {path}: missing" if value is None else f"field {path}: not text", field=path
        )
    status = _STATUS_ALIASES.get(value.strip().lower())
    if status is None:
        # A status is a short word; anything else is described, never quoted (it may be a key).
        word = value.strip()
        shown = repr(word) if _STATUS_WORD.fullmatch(word) else f.shape(value)
        raise ResponseDecodeError(f"field {path}: unknown status {shown}", field=path)
    return status


def _event(row: JSON, path: str) -> EscrowEvent:
    row = f.obj(row, path)
    return EscrowEvent(
        event=f.text(row, ("event", "type"), path),
        actor_id=f.opt_text(row, "actor_id", path),
        note=f.opt_text(row, "note", path),
        at=f.timestamp(row, ("created_at", "at"), path),
    )


def escrow(data: JSON, dialect: Dialect = Dialect.CLASSIC) -> Escrow:
    """An escrow in the classic shape (``amount_usd``) or a docs stream object (``amount``)."""
    data = f.obj(data)
    events = f.items(data, "events", required=False)
    timeout = f.opt_int(data, ("timeout_hours", "auto_release_hours"))
    return Escrow(
        escrow_id=f.text(data, ("escrow_id", "id")),
        status=escrow_status(data.get("status")),
        amount=f.money(data, ("amount_usd", "amount")),
        released=f.opt_money(data, ("released", "amount_released")),
        remaining=f.opt_money(data, "remaining"),
        commission=f.opt_money(data, ("commission_usd", "commission")),
        net_to_counterparty=f.opt_money(data, "net_to_counterparty"),
        description=f.opt_text(data, ("description", "memo")) or "",
        creator_id=f.opt_text(data, ("creator_id", "from_agent_id")),
        counterparty_id=f.opt_text(data, ("counterparty_id", "to_agent_id")),
        timeout_hours=timeout,
        created_at=f.timestamp(data, "created_at"),
        auto_release_at=f.timestamp(data, "auto_release_at"),
        completed_at=f.timestamp(data, "completed_at"),
        released_at=f.timestamp(data, "released_at"),
        disputed_at=f.timestamp(data, "disputed_at"),
        dialect=dialect,
        events=tuple(_event(e, f"events[{i}]") for i, e in enumerate(events)),
    )


def escrows(data: JSON, dialect: Dialect = Dialect.STREAMING) -> tuple[Escrow, ...]:
    """Docs ``GET /api/v1/escrows``: ``escrows[<stream object>...]``."""
    rows = f.items(f.obj(data), "escrows")
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(escrow(row, dialect))
        except ResponseDecodeError as exc:
            path = f"escrows[{i}]" + (f".{exc.field}" if exc.field else "")
            raise ResponseDecodeError(
                f"field {path}: {exc.message.split(': ', 1)[-1]}", field=path
            ) from None
    return tuple(out)


def escrow_stats(data: JSON) -> EscrowStats:
    """Escrow ``/escrow/stats``."""
    data = f.obj(data)
    return EscrowStats(
        total_created=f.integer(data, "total_created"),
        total_released=f.integer(data, "total_released"),
        total_disputed=f.integer(data, "total_disputed"),
        total_volume_usd=f.money(data, "total_volume_usd"),
        total_commission_usd=f.money(data, "total_commission_usd"),
    )


NORMALIZERS: dict[type, Callable[..., object]] = {
    Balance: balance,
    LedgerEntry: ledger,
    CasinoStats: casino_stats,
    Bet: bets,
    BetResult: bet_result,
    Registration: registration,
    FaucetClaim: faucet_claim,
    ReferralStats: referral_stats,
    ErrorStats: error_stats,
    Positions: positions,
    Position: opened_position,
    ClosedPosition: closed_position,
    PnlHistory: pnl_history,
    Drawdown: drawdown,
    WalletBalance: wallet_balance,
    Escrow: escrow,
    EscrowStats: escrow_stats,
}
"""The one entry per top-level model (list replies map their item model to the list reader)."""
