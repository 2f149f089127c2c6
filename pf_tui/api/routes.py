"""Every route the client calls, as constants: service, method, template, and which key it needs.

Errors and latency samples are labelled with these templates (``GET /escrow/{id}``), never with a
concrete URL, so ids and query strings stay out of labels and a fleet shares a few dozen series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Endpoint"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route of one service."""

    service: str
    """Which base (and pool): casino, escrow, escrow_docs, faucet, trading, wallet or docs."""
    method: str
    route: str
    """Template relative to the base, e.g. ``/escrow/{id}``."""
    key: str | None
    """Which of the agent's keys authorises it: casino, trading, wallet, any (docs), or None."""
    name: str = field(init=False)
    """``GET /auth/balance``: what errors carry as their endpoint."""
    label: str = field(init=False)
    """``casino GET /auth/balance``: the latency recorder's key."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"{self.method} {self.route}")
        object.__setattr__(self, "label", f"{self.service} {self.method} {self.route}")


def _ep(service: str, method: str, route: str, key: str | None) -> Endpoint:
    return Endpoint(service, method, route, key)


# casino
BALANCE = _ep("casino", "GET", "/auth/balance", "casino")
LEDGER = _ep("casino", "GET", "/auth/ledger", "casino")
CASINO_STATS = _ep("casino", "GET", "/stats/me", "casino")
BETS = _ep("casino", "GET", "/bets/history", "casino")
CASINO_REFERRALS = _ep("casino", "GET", "/auth/referral/stats", "casino")
REGISTER = _ep("casino", "POST", "/auth/register", None)
COIN_FLIP = _ep("casino", "POST", "/games/coin-flip", "casino")
DICE = _ep("casino", "POST", "/games/dice", "casino")
# trading
POSITIONS = _ep("trading", "GET", "/trade/positions", "trading")
PNL_HISTORY = _ep("trading", "GET", "/trade/pnl-history", "trading")
DRAWDOWN = _ep("trading", "GET", "/trade/drawdown", "trading")
TRADING_REFERRALS = _ep("trading", "GET", "/referral/stats", "trading")
OPEN_POSITION = _ep("trading", "POST", "/trade/open", "trading")
CLOSE_POSITION = _ep("trading", "POST", "/trade/close", "trading")
# wallet
WALLET_BALANCE = _ep("wallet", "GET", "/wallet/usdc-balance", "wallet")
WALLET_REFERRALS = _ep("wallet", "GET", "/referral/stats", "wallet")
# escrow, classic (production) dialect: the casino key
ESCROW = _ep("escrow", "GET", "/escrow/{id}", "casino")
ESCROW_STATS = _ep("escrow", "GET", "/escrow/stats", None)
ESCROW_CREATE = _ep("escrow", "POST", "/escrow/create", "casino")
ESCROW_COMPLETE = _ep("escrow", "POST", "/escrow/complete/{id}", "casino")
ESCROW_RELEASE = _ep("escrow", "POST", "/escrow/release/{id}", "casino")
ESCROW_DISPUTE = _ep("escrow", "POST", "/escrow/dispute/{id}", "casino")
# escrow, docs (streaming) dialect
STREAM = _ep("escrow_docs", "GET", "/escrow/{id}", "casino")
STREAMS = _ep("escrow_docs", "GET", "/escrows", "casino")
STREAM_CREATE = _ep("escrow_docs", "POST", "/escrow", "casino")
STREAM_RELEASE_PARTIAL = _ep("escrow_docs", "POST", "/escrow/{id}/release-partial", "casino")
STREAM_CLOSE = _ep("escrow_docs", "POST", "/escrow/{id}/close", "casino")
STREAM_DISPUTE = _ep("escrow_docs", "POST", "/escrow/{id}/dispute", "casino")
# faucet
FAUCET_CLAIM = _ep("faucet", "POST", "/faucet/claim", None)
# docs aggregate
DOCS_BALANCE = _ep("docs", "GET", "/wallet/balance", "any")
DOCS_PNL = _ep("docs", "GET", "/portfolio/pnl", "any")
DOCS_POSITIONS = _ep("docs", "GET", "/trading/positions", "any")
DOCS_REFERRALS = _ep("docs", "GET", "/referrals/stats", "any")
DOCS_CASINO_STATS = _ep("docs", "GET", "/casino/stats", "any")
DOCS_RECENT = _ep("docs", "GET", "/casino/recent", "any")
DOCS_ERROR_STATS = _ep("docs", "GET", "/agent/error-stats", "any")


def health(service: str) -> Endpoint:
    """``GET /health`` at a service's root."""
    return _HEALTH[service]


_HEALTH = {
    s: _ep(s, "GET", "/health", None)
    for s in ("casino", "escrow", "faucet", "trading", "wallet", "docs")
}
