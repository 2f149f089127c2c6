"""``AgentClient``: one agent's view of the shared client (its keys; the pools are shared).

Reads return normalised models and are retried per the client's :class:`RetryPolicy`. Writes are
sent exactly once; the money ones take a required ``idempotency_key`` (docs/api.md §5: one per
operator intent, journaled before sending by the actions layer) and send it as ``Idempotency-Key``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote

from pf_tui.api import normalize as norm
from pf_tui.api import routes as r
from pf_tui.api.errors import (
    ConflictError,
    MissingKeyError,
    PermissionDeniedError,
    PurpleFleaError,
    RateLimitError,
)
from pf_tui.api.models import (
    Balance,
    Bet,
    BetResult,
    CasinoStats,
    ClosedPosition,
    Dialect,
    Drawdown,
    ErrorStats,
    Escrow,
    EscrowStats,
    FaucetClaim,
    LedgerEntry,
    PnlHistory,
    Position,
    Positions,
    ReferralStats,
    Registration,
    WalletBalance,
)
from pf_tui.api.routes import Endpoint
from pf_tui.secret import Secret
from pf_tui.usd import JSON, to_wire

if TYPE_CHECKING:
    from pf_tui.api.client import PurpleFleaClient, Query, QueryValue

__all__ = ["NOT_CLAIMABLE", "AgentClient"]

T = TypeVar("T")

NOT_CLAIMABLE = frozenset({"already_claimed", "ip_rate_limited", "has_deposits"})
"""Faucet refusals that mean "not claimable", not failure (docs/api.md §4)."""


def _secret(value: Secret | str | None, name: str) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value, f"argument:{name}")
    raise TypeError(f"{name} must be a Secret, a str or None")


def _id(value: str) -> str:
    """An id made safe as one path segment (ids from ledger rows are untrusted)."""
    if not isinstance(value, str) or not value:
        raise ValueError("an id must be a non-empty string")
    return quote(value, safe="")


def _since(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class AgentClient:
    """Reads and writes of one agent (``agent_id`` may be None before registration)."""

    __slots__ = ("_auth", "_client", "_keys", "_secrets", "agent_id")

    def __init__(
        self,
        client: PurpleFleaClient,
        agent_id: str | None,
        *,
        casino_key: Secret | str | None,
        trading_key: Secret | str | None = None,
        wallet_key: Secret | str | None = None,
    ) -> None:
        self._client = client
        self.agent_id = agent_id
        keys = {
            "casino": _secret(casino_key, "casino_key"),
            "trading": _secret(trading_key, "trading_key"),
            "wallet": _secret(wallet_key, "wallet_key"),
        }
        # The docs aggregate takes any key of the agent (docs/api.md §1).
        keys["any"] = keys["casino"] or keys["trading"] or keys["wallet"]
        self._keys = keys
        self._secrets = tuple(k for k in (keys["casino"], keys["trading"], keys["wallet"]) if k)
        # Every agent's keys are masked in every reply the shared client reads, not only this
        # agent's: a reply may carry another agent's key (a memo an agent pasted it into).
        client.redactor.add(*self._secrets)
        self._auth: dict[str, dict[str, str]] = {}
        """Authorization headers by key kind, built once: a read sends the same one every poll."""

    def __repr__(self) -> str:
        return f"AgentClient({self.agent_id!r})"

    # --- plumbing -------------------------------------------------------------------------

    def _headers(self, ep: Endpoint, idempotency_key: str | None = None) -> dict[str, str] | None:
        if idempotency_key is None and ep.key is not None:
            cached = self._auth.get(ep.key)
            if cached is not None:
                return cached  # never mutated downstream: the client copies before adding to it
        headers: dict[str, str] = {}
        if ep.key is not None:
            secret = self._keys[ep.key]
            if secret is None:
                kind = "any" if ep.key == "any" else ep.key
                raise MissingKeyError(
                    f"agent {self.agent_id or '?'} has no {kind} key configured",
                    service=ep.service,
                    endpoint=ep.name,
                )
            headers["Authorization"] = "Bearer " + secret.reveal()
            if idempotency_key is None:
                self._auth[ep.key] = headers
        if idempotency_key is not None:
            if not isinstance(idempotency_key, str) or not idempotency_key.strip():
                raise ValueError("idempotency_key must be a non-empty string")
            headers["Idempotency-Key"] = idempotency_key
        return headers or None

    async def _get(
        self,
        ep: Endpoint,
        parse: Callable[[JSON], T],
        *,
        path: str | None = None,
        params: Query | None = None,
    ) -> T:
        return await self._client.read(
            ep,
            parse,
            path=path,
            agent_id=self.agent_id,
            headers=self._headers(ep),
            params=params,
            # No secrets=: this agent's keys joined the client's redactor when it was made, and
            # passing them again cost every read a pass over them (1% of the engine's CPU at
            # 5,000 agents).
        )

    async def _post(
        self,
        ep: Endpoint,
        parse: Callable[[JSON], T],
        body: dict[str, JSON],
        *,
        idempotency_key: str | None,
        path: str | None = None,
    ) -> T:
        # Sent once. A lost reply is the actions layer's to reconcile (docs/api.md §5).
        return await self._client.send(
            ep,
            parse,
            path=path,
            agent_id=self.agent_id,
            headers=self._headers(ep, idempotency_key),
            body=body,
            secrets=self._secrets,
        )

    # --- casino reads ---------------------------------------------------------------------

    async def balance(self) -> Balance:
        """Custodial balance, lifetime totals and recent moves (casino ``/auth/balance``)."""
        return await self._get(r.BALANCE, norm.balance)

    async def ledger(self) -> tuple[LedgerEntry, ...]:
        """The escrow moves among the 50 newest casino ledger rows (what the poller finds
        escrows by; the money runner reads whole ledgers through its own wire)."""
        return await self._get(r.LEDGER, norm.escrow_moves)

    async def casino_stats(self) -> CasinoStats:
        """Casino lifetime and per-game figures (``/stats/me``, not rate limited)."""
        return await self._get(r.CASINO_STATS, norm.casino_stats)

    async def bets(self, limit: int = 50, since: datetime | str | None = None) -> tuple[Bet, ...]:
        """Recent bets (``/bets/history``: 60 a minute per host for the whole fleet)."""
        params: dict[str, QueryValue] = {"limit": int(limit)}
        if since is not None:
            params["since"] = _since(since)
        return await self._get(r.BETS, norm.bets, params=params)

    async def casino_referrals(self) -> ReferralStats:
        """Casino referral figures."""
        return await self._get(r.CASINO_REFERRALS, lambda d: norm.referral_stats(d, "casino"))

    # --- trading reads --------------------------------------------------------------------

    async def positions(self) -> Positions:
        """Open positions (hyperliquid or database shape)."""
        return await self._get(r.POSITIONS, norm.positions)

    async def pnl_history(self, days: int = 30) -> PnlHistory:
        """Trading P&L summary and daily chart."""
        return await self._get(r.PNL_HISTORY, norm.pnl_history, params={"days": int(days)})

    async def drawdown(self, days: int = 30) -> Drawdown:
        """Trading drawdown (all None with no trades)."""
        return await self._get(r.DRAWDOWN, norm.drawdown, params={"days": int(days)})

    async def trading_referrals(self) -> ReferralStats:
        """Trading referral figures."""
        return await self._get(r.TRADING_REFERRALS, lambda d: norm.referral_stats(d, "trading"))

    # --- wallet reads ---------------------------------------------------------------------

    async def wallet_balance(self, base: str | None, solana: str | None) -> WalletBalance:
        """On-chain USDC on Base and/or Solana (400 ``no_addresses`` when neither is given)."""
        params = {k: v for k, v in (("base", base), ("solana", solana)) if v}
        return await self._get(r.WALLET_BALANCE, norm.wallet_balance, params=params)

    async def wallet_referrals(self) -> ReferralStats:
        """Wallet referral figures."""
        return await self._get(r.WALLET_REFERRALS, lambda d: norm.referral_stats(d, "wallet"))

    # --- escrow reads ---------------------------------------------------------------------

    async def escrow(self, escrow_id: str, dialect: Dialect = Dialect.CLASSIC) -> Escrow:
        """One escrow through either dialect's ``GET``."""
        if dialect is Dialect.STREAMING:
            return await self._get(
                r.STREAM,
                lambda d: norm.escrow(d, Dialect.STREAMING),
                path=f"/escrow/{_id(escrow_id)}",
            )
        return await self._get(
            r.ESCROW, lambda d: norm.escrow(d, Dialect.CLASSIC), path=f"/escrow/{_id(escrow_id)}"
        )

    async def streams(self, status: str | None = None) -> tuple[Escrow, ...]:
        """The agent's docs-dialect escrows (as creator or payee), optionally by status."""
        params = {"status": status} if status else None
        return await self._get(r.STREAMS, norm.escrows, params=params)

    async def escrow_stats(self) -> EscrowStats:
        """Service-wide escrow totals."""
        return await self._get(r.ESCROW_STATS, norm.escrow_stats)

    async def probe_escrow_dialect(self) -> Dialect:
        """STREAMING when ``GET /api/v1/escrows`` answers with a list, else CLASSIC.

        Used when ``[api] escrow_dialect = "auto"``: any failure (404 from production, a
        connection error after retries, a body that is not the list) falls back to classic.
        """
        try:
            await self.streams()
        except PurpleFleaError:
            return Dialect.CLASSIC
        return Dialect.STREAMING

    # --- docs aggregate -------------------------------------------------------------------

    async def docs_balance(self) -> Balance:
        """Docs ``/wallet/balance`` (the custodial balance)."""
        return await self._get(r.DOCS_BALANCE, norm.balance)

    async def docs_pnl(self) -> PnlHistory:
        """Docs ``/portfolio/pnl`` (net P&L and max drawdown percent)."""
        return await self._get(r.DOCS_PNL, norm.pnl_history)

    async def docs_positions(self) -> Positions:
        """Docs ``/trading/positions``."""
        return await self._get(r.DOCS_POSITIONS, norm.positions)

    async def docs_referrals(self) -> ReferralStats:
        """Docs ``/referrals/stats`` (total over services, and today)."""
        return await self._get(r.DOCS_REFERRALS, lambda d: norm.referral_stats(d, "docs"))

    async def docs_casino_stats(self) -> CasinoStats:
        """Docs ``/casino/stats`` (fraction win rate, bets today)."""
        return await self._get(r.DOCS_CASINO_STATS, norm.casino_stats)

    async def docs_recent(self) -> tuple[Bet, ...]:
        """Docs ``/casino/recent``."""
        return await self._get(r.DOCS_RECENT, norm.bets)

    async def docs_error_stats(self) -> ErrorStats:
        """Docs ``/agent/error-stats``."""
        return await self._get(r.DOCS_ERROR_STATS, norm.error_stats)

    async def health(self, service: str) -> bool:
        """Whether ``GET /health`` at the service's root answers 2xx (no retry, never raises)."""
        ep = r.health(service)
        url = self._client.bases.root(service) + "/health"
        try:
            await self._client.send(ep, lambda d: d, url=url, agent_id=self.agent_id)
        except PurpleFleaError:
            return False
        return True

    # --- classic escrow writes ------------------------------------------------------------

    async def create_escrow(
        self,
        counterparty_agent_id: str,
        amount_usd: Decimal,
        description: str,
        timeout_hours: int = 24,
        referral_code: str | None = None,
        *,
        idempotency_key: str,
    ) -> Escrow:
        """Fund a classic escrow (201); the casino balance is debited the full amount."""
        body: dict[str, JSON] = {
            "amount_usd": _decimal(amount_usd, "amount_usd"),
            "description": description,
            "counterparty_agent_id": counterparty_agent_id,
            "timeout_hours": int(timeout_hours),
        }
        if referral_code:
            body["referral_code"] = referral_code
        return await self._post(r.ESCROW_CREATE, norm.escrow, body, idempotency_key=idempotency_key)

    async def _transition(
        self, ep: Endpoint, escrow_id: str, body: dict[str, JSON], idempotency_key: str
    ) -> Escrow:
        # Classic transition replies carry only a few fields (no amount), so the escrow is read
        # back. If that read fails the error propagates: the write is then reconciled as docs/api.md
        # §5 says (a resend answers 409, read as "already done" after a GET).
        path = ep.route.replace("{id}", _id(escrow_id))
        await self._post(ep, norm.obj_reply, body, idempotency_key=idempotency_key, path=path)
        return await self.escrow(escrow_id, Dialect.CLASSIC)

    async def complete_escrow(self, escrow_id: str, *, idempotency_key: str) -> Escrow:
        """Payee marks the work done (classic only)."""
        return await self._transition(r.ESCROW_COMPLETE, escrow_id, {}, idempotency_key)

    async def release_escrow(self, escrow_id: str, *, idempotency_key: str) -> Escrow:
        """Creator releases the whole escrow to the payee (less the 1% fee)."""
        return await self._transition(r.ESCROW_RELEASE, escrow_id, {}, idempotency_key)

    async def dispute_escrow(self, escrow_id: str, reason: str, *, idempotency_key: str) -> Escrow:
        """Either party freezes the escrow."""
        return await self._transition(
            r.ESCROW_DISPUTE, escrow_id, {"reason": reason}, idempotency_key
        )

    # --- docs (streaming) escrow writes ---------------------------------------------------

    async def create_stream(
        self,
        to_agent_id: str,
        amount: Decimal,
        memo: str,
        auto_release_hours: int = 24,
        *,
        idempotency_key: str,
    ) -> Escrow:
        """Open a docs-dialect escrow of ``amount`` (sent as a string)."""
        body = {
            "to_agent_id": to_agent_id,
            "amount": to_wire(_decimal(amount, "amount")),
            "memo": memo,
            "auto_release_hours": int(auto_release_hours),
        }
        return await self._post(r.STREAM_CREATE, _stream, body, idempotency_key=idempotency_key)

    async def release_partial(
        self, escrow_id: str, amount: Decimal, memo: str = "", *, idempotency_key: str
    ) -> Escrow:
        """Release part of a stream (409 when more than ``remaining`` or final)."""
        body = {"amount": to_wire(_decimal(amount, "amount")), "memo": memo}
        path = f"/escrow/{_id(escrow_id)}/release-partial"
        return await self._post(
            r.STREAM_RELEASE_PARTIAL, _stream, body, idempotency_key=idempotency_key, path=path
        )

    async def close_stream(self, escrow_id: str, *, idempotency_key: str) -> Escrow:
        """Close a stream: the remainder goes back to the creator."""
        path = f"/escrow/{_id(escrow_id)}/close"
        return await self._post(
            r.STREAM_CLOSE, _stream, {}, idempotency_key=idempotency_key, path=path
        )

    async def dispute_stream(self, escrow_id: str, reason: str, *, idempotency_key: str) -> Escrow:
        """Dispute a stream."""
        path = f"/escrow/{_id(escrow_id)}/dispute"
        return await self._post(
            r.STREAM_DISPUTE,
            _stream,
            {"reason": reason},
            idempotency_key=idempotency_key,
            path=path,
        )

    # --- faucet, casino and trading writes ------------------------------------------------

    async def claim_faucet(
        self, agent_casino_id: str, referral_code: str | None = None, *, idempotency_key: str
    ) -> FaucetClaim:
        """Claim the $1 faucet; "not claimable" refusals come back as a value, not an error."""
        body: dict[str, JSON] = {"agent_casino_id": agent_casino_id}
        if referral_code:
            body["referral_code"] = referral_code
        try:
            return await self._post(
                r.FAUCET_CLAIM, norm.faucet_claim, body, idempotency_key=idempotency_key
            )
        except (ConflictError, RateLimitError, PermissionDeniedError) as exc:
            if exc.code in NOT_CLAIMABLE:
                return FaucetClaim(
                    credited=Decimal(0), agent_id=agent_casino_id, not_claimable=exc.code
                )
            raise

    async def register(self, referral_code: str | None = None) -> Registration:
        """Register a new casino agent (no auth). The reply's ``api_key`` is a secret."""
        body = {"referral_code": referral_code} if referral_code else {}
        return await self._post(r.REGISTER, norm.registration, body, idempotency_key=None)

    async def coin_flip(self, side: str, amount: Decimal, *, idempotency_key: str) -> BetResult:
        """Bet ``amount`` on ``heads`` or ``tails``."""
        body = {"side": side, "amount": _decimal(amount, "amount")}
        return await self._post(r.COIN_FLIP, norm.bet_result, body, idempotency_key=idempotency_key)

    async def dice(
        self, direction: str, threshold: int, amount: Decimal, *, idempotency_key: str
    ) -> BetResult:
        """Bet ``amount`` that the roll lands ``over``/``under`` ``threshold`` (1..99)."""
        body = {
            "direction": direction,
            "threshold": threshold,
            "amount": _decimal(amount, "amount"),
        }
        return await self._post(r.DICE, norm.bet_result, body, idempotency_key=idempotency_key)

    async def open_position(
        self,
        coin: str,
        side: str,
        size_usd: Decimal,
        leverage: int | None = None,
        *,
        idempotency_key: str,
    ) -> Position:
        """Open a ``long``/``short`` position of ``size_usd`` notional."""
        body: dict[str, JSON] = {
            "coin": coin,
            "side": side,
            "size_usd": _decimal(size_usd, "size_usd"),
        }
        if leverage is not None:
            body["leverage"] = int(leverage)
        return await self._post(
            r.OPEN_POSITION, norm.opened_position, body, idempotency_key=idempotency_key
        )

    async def close_position(self, position_id: str, *, idempotency_key: str) -> ClosedPosition:
        """Close a position; the reply says what it realised."""
        body = {"position_id": position_id}
        return await self._post(
            r.CLOSE_POSITION, norm.closed_position, body, idempotency_key=idempotency_key
        )


def _decimal(value: object, name: str) -> Decimal:
    # Money leaves as Decimal only: a float here is a caller bug that would lose cents. (Typed
    # object: the check is for callers whose types lie.)
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    return Decimal(value)


def _stream(data: JSON) -> Escrow:
    return norm.escrow(data, Dialect.STREAMING)
