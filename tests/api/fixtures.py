"""Hand-written replies in the production and docs shapes (docs/api.md §2-§3): the same facts.

Production money is JSON numbers, docs money strings; production rates are percents, docs
fractions; every reply carries an ``_info`` object and a stray unknown key, which must be ignored.
"""

from __future__ import annotations

PROD_BALANCE = """{
  "agent_id": "ag_0123456789ab", "balance_usd": 1234.567891,
  "lifetime": {"total_deposited": 1000, "total_withdrawn": 0, "total_wagered": 250.5,
               "total_won": 240.25, "net_profit": -10.25},
  "recent_activity": [
    {"type": "bet", "amount": -1.5, "balance_after": 1234.567891, "reason": "coin-flip",
     "service": "casino", "at": "2026-01-01T00:00:00Z"},
    {"type": "faucet", "amount": 1, "balance_after": 1236.067891, "reason": "faucet",
     "service": "faucet", "at": 1767225600}
  ],
  "_info": {"docs": "https://purpleflea.com"}, "unexpected": [1, 2]
}"""
DOCS_BALANCE = """{"usd": "1234.567891", "chain": "base", "_info": {}, "extra": true}"""

PROD_LEDGER = """{"entries": [
  {"id": 17, "agentId": "ag_0123456789ab", "type": "escrow_lock", "amount": -10,
   "balanceAfter": 90.5, "reason": "escrow create", "reference": "esc_0123456789abcdef:create",
   "service": "escrow", "createdAt": 1767225600000, "at": "2026-01-01T00:00:00.000Z"}
], "_info": {}}"""

PROD_CASINO_STATS = """{
  "lifetime": {"total_bets": 120, "total_wagered": 240, "total_won": 238.8, "net_profit": -1.2,
               "win_rate": 49.5},
  "by_game": [{"game": "coin-flip", "bets": 100, "wagered": 200, "won": 199, "net": -1,
               "win_rate": 50}],
  "_info": {}
}"""
DOCS_CASINO_STATS = """{"win_rate": "0.495", "bets_today": 7, "total_bets": 120, "_info": {}}"""

PROD_BETS = """{
  "bets": [{"id": "bet_1", "game": "dice", "amount": 2, "amount_won": 3.98, "multiplier": 1.99,
            "won": true, "net": 1.98, "at": "2026-01-01T00:00:05Z"},
           {"id": "bet_2", "game": "coin-flip", "amount": 1, "amount_won": 0, "multiplier": 1.99,
            "won": false, "net": -1, "at": "2026-01-01T00:00:01Z"}],
  "pagination": {"total": 2, "limit": 50, "offset": 0, "has_more": false},
  "summary": {"total_bets": 2, "net_pnl": 0.98, "win_rate_pct": 50}, "_info": {}
}"""
DOCS_RECENT = """{"bets": [
  {"id": "bet_1", "game": "dice", "amount": "2.00", "amount_won": "3.98", "multiplier": "1.99",
   "won": true, "net": "1.98", "at": 1767225605},
  {"id": "bet_2", "game": "coin-flip", "amount": "1.00", "amount_won": "0.00", "multiplier": "1.99",
   "won": false, "net": "-1.00", "at": 1767225601000}
]}"""

PROD_CASINO_REFERRALS = """{"total_referrals": 3, "total_earned_usd": 0.45,
  "last_30_days_usd": 0.15,
  "referrals": [{"referred_agent": "ag_aaaaaaaaaaaa", "level": 1, "since": "2026-01-01"}],
  "_info": {}}"""
PROD_TRADING_REFERRALS = (
    """{"total_referrals": 2, "total_fees_generated_usd": 10, "total_earned_usd": 2}"""
)
PROD_WALLET_REFERRALS = """{"total_referrals": 1, "total_earned_usd": 0.5, "available_usd": 0.5}"""
DOCS_REFERRALS = """{"total": 6, "today": 1, "_info": {}}"""

PROD_POSITIONS_HL = """{"positions": [
  {"position_id": "pos_6f1c", "coin": "BTC", "ticker": "BTC-PERP", "side": "long", "size": 0.001,
   "size_usd": 100, "entry_price": 100000, "current_price": 101000.5, "leverage": 5,
   "liquidation_price": 80000, "unrealized_pnl": 1.0}
], "count": 1, "source": "hyperliquid", "_info": {}}"""
PROD_POSITIONS_DB = """{"positions": [
  {"id": "pos_6f1c", "coin": "BTC", "side": "long", "sizeUsd": 100, "entryPrice": 100000,
   "leverage": 5, "liquidationPrice": 80000, "unrealizedPnl": 1.0, "status": "open",
   "openedAt": 1767225600000, "ticker": "BTC-PERP", "current_price": 101000.5,
   "unrealized_pnl": 1.0}
], "count": 1, "source": "database"}"""
DOCS_POSITIONS = """{"count": 1, "items": [
  {"pair": "BTC-PERP", "side": "long", "size": "100.00", "entry_price": "100000.00",
   "current_price": "101000.50", "pnl_usd": "1.00"}
]}"""

PROD_PNL = """{"summary": {"total_pnl": 12.5, "total_fees": 0.5, "net_pnl": 12, "total_trades": 4,
  "win_rate_pct": 75},
  "chart": [{"date": "2026-01-01", "daily_pnl": 12, "cumulative_pnl": 12}], "_info": {}}"""
DOCS_PNL = """{"total_usd": "12.00", "max_drawdown_pct": "3.5"}"""

PROD_DRAWDOWN = """{"summary": {"max_drawdown_usd": 4.2, "max_drawdown_pct": 3.5, "peak": 20}}"""
PROD_DRAWDOWN_EMPTY = """{"message": "No closed trades in this period"}"""

PROD_WALLET = """{"total_usd": 15.5, "balances": [
  {"chain": "base", "wallet_address": "0xabc", "usdc_balance": 10},
  {"chain": "solana", "wallet_address": "So1", "usdc_balance": 5.5}]}"""

PROD_ESCROW = """{
  "escrow_id": "esc_0123456789abcdef", "status": "funded", "amount_usd": 10,
  "commission_usd": 0.1, "net_to_counterparty": 9.9, "description": "data feed pf:1a2b3c4d",
  "creator_id": "ag_0123456789ab", "counterparty_id": "ag_ba9876543210", "timeout_hours": 24,
  "created_at": "2026-01-01T00:00:00Z", "auto_release_at": "2026-01-02T00:00:00Z",
  "completed_at": null, "released_at": null, "disputed_at": null,
  "events": [{"event": "created", "actor_id": "ag_0123456789ab", "note": null,
              "created_at": 1767225600}],
  "_info": {}
}"""
DOCS_STREAM = """{
  "escrow_id": "esc_0123456789abcdef", "status": "locked", "amount": "10.00", "released": "0.00",
  "remaining": "10.00", "to_agent_id": "ag_ba9876543210", "from_agent_id": "ag_0123456789ab",
  "memo": "data feed pf:1a2b3c4d", "created_at": "2026-01-01T00:00:00+00:00",
  "auto_release_at": 1767312000000
}"""

PROD_ESCROW_STATS = """{"total_created": 5, "total_released": 3, "total_disputed": 1,
  "total_volume_usd": 50.5, "total_commission_usd": 0.505}"""
DOCS_ERROR_STATS = """{"error_rate_pct": 2.5, "requests": 200, "errors": 5}"""
