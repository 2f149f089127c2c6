"""The MCP tools: four reads and five writes, each one call into the scripted-money facade.

Reads (``fleet_status``, ``agent_status``, ``escrow_list``, ``escrow_status``) read the API the
way the console polls it. Writes (``escrow_create``, ``escrow_release``, ``escrow_close``,
``escrow_dispute``, ``faucet_claim``) go through :class:`~pf_tui.ops.session.OpsSession.run`, the
console's own money door: the journal before the request, idempotency keys, ``[ui]`` limits,
read-only, reconciliation. On top, :class:`~pf_tui.mcp.policy.WritePolicy` applies ``[mcp]``:
the acting agent must be named, the previewed amount must fit the per-call and per-hour limits.
The hour is checked once more inside the transaction that journals the intent (``BEGIN
IMMEDIATE``, :meth:`McpTools.hour_guard`), so two calls cannot both fit the hour's last dollar,
whether they come to one ``pf-tui mcp`` or to two on the same store.

A refused or failed call raises :class:`ToolError`: the client gets ``isError`` and one line
saying why. Every call is journaled with ``mcp:<client name>`` as the operator. A caller's
``idempotency_key`` becomes the intent's key, so a retry finds its intent and sends nothing new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from pf_tui.api.errors import PurpleFleaError
from pf_tui.api.models import Dialect
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config
from pf_tui.config.model import AgentConfig
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import (
    ActionError,
    ActionPreview,
    ClaimFaucet,
    CloseEscrow,
    CloseStream,
    CreateEscrow,
    DisputeEscrow,
    Intent,
    ReleaseEscrow,
    ReleasePartial,
)
from pf_tui.mcp.convert import agent_summary, escrow_info, money_result, stream_info
from pf_tui.mcp.models import (
    AgentStatus,
    EscrowInfo,
    EscrowList,
    FleetStatus,
    MoneyResult,
    WriteLimits,
)
from pf_tui.mcp.policy import HOUR_S, McpRefusal, WritePolicy, moved_since, operator_for
from pf_tui.ops.outcome import OpsError, Outcome, Status
from pf_tui.ops.session import EscrowRow, OpsSession
from pf_tui.text import escape_text, one_line
from pf_tui.wiring import config_redactor

T = TypeVar("T")

SHOWN = (Status.DONE, Status.UNKNOWN, Status.NOT_CLAIMABLE)
"""Outcomes a write tool returns as its result; every other one is an error (nothing moved)."""
READER = "mcp:read"
"""The operator name of the read tools' sessions (they are read-only: nothing is journaled)."""
_FLAG_WORDS = (("--idempotency-key", "idempotency_key"), ("--agent", "agent"))
"""The facade words its messages for the command line; a tool's arguments are named so."""


def client_name(ctx: Context) -> str | None:
    """The MCP client's own name (its ``clientInfo.name``), when it sent one."""
    try:
        params = ctx.session.client_params
    except (AttributeError, ValueError):
        return None
    if params is None:
        return None
    name = params.client_info.name
    return name if isinstance(name, str) else None


class McpTools:
    """What the tools share: the config, one facade session per client, the write policy."""

    def __init__(self, config: Config, *, read_only: bool = False, clock: Clock = SYSTEM_CLOCK):
        self.config = config
        self.read_only = read_only or config.ui.read_only
        self.clock = clock
        self.policy = WritePolicy(config.mcp)
        self.redactor = config_redactor(config)
        self._sessions: dict[str, OpsSession] = {}
        self._writing = asyncio.Lock()

    def session(self, ctx: Context) -> tuple[OpsSession, str]:
        """The facade session journaling as this client, and that operator name."""
        operator = operator_for(client_name(ctx))
        session = self._sessions.get(operator)
        if session is None:
            session = OpsSession(
                self.config, read_only=self.read_only, operator=operator, clock=self.clock
            )
            self._sessions[operator] = session
        return session, operator

    async def aclose(self) -> None:
        """Close every session (journal, store, clients)."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.aclose()

    # ---- errors --------------------------------------------------------------------------------

    def refusal(self, message: str) -> ToolError:
        """A tool error of one safe line: redacted, escaped, in the tools' own words."""
        for flag, word in _FLAG_WORDS:
            message = message.replace(flag, word)
        return ToolError(one_line(self.redactor.scrub(message), limit=600))

    async def guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``; every refusal, usage error and API failure becomes a :class:`ToolError`."""
        try:
            return await call()
        except ToolError:
            raise
        except (McpRefusal, OpsError, ActionError, PurpleFleaError) as exc:
            raise self.refusal(str(exc) or type(exc).__name__) from None

    # ---- reads ---------------------------------------------------------------------------------

    def used_hour(self, session: OpsSession) -> Decimal:
        """What MCP calls moved in the last 60 minutes (0 before the store exists)."""
        if not session.desk.journal_exists():
            return Decimal(0)
        conn = session.desk.engine.journal.conn
        return moved_since(conn, self.clock.now() - HOUR_S)

    def limits(self, session: OpsSession) -> WriteLimits:
        """``[mcp]`` and the hour's use, for the read tools."""
        mcp = self.config.mcp
        return WriteLimits(
            read_only=self.read_only,
            write_agents=list(mcp.write_agents),
            max_call_usd=format(mcp.max_call_usd, "f"),
            max_hour_usd=format(mcp.max_hour_usd, "f"),
            used_hour_usd=format(self.used_hour(session), "f"),
            max_action_usd=format(self.config.ui.max_action_usd, "f"),
        )

    async def read(self, call: Callable[[OpsSession], Awaitable[T]]) -> T:
        """Run one read tool on a session of its own: every read is fresh (the classic escrows
        come from the casino ledger, which a long-lived session would walk only every 30 s)."""
        async with OpsSession(
            self.config, read_only=True, operator=READER, clock=self.clock
        ) as session:
            return await call(session)

    async def fleet_status(self, session: OpsSession) -> FleetStatus:
        """Every agent's balance (one read each), the total, and the write limits."""
        balances = {b.agent.id: b for b in await session.balances()}
        agents = [
            agent_summary(a, balances.get(a.id), self.redactor, writable=self._writable(a.id))
            for a in session.agents
        ]
        total = sum((b.balance for b in balances.values() if b.balance is not None), Decimal(0))
        return FleetStatus(
            agents=agents,
            total_balance_usd=format(total, "f"),
            unread=sum(1 for a in agents if a.balance_usd is None),
            limits=self.limits(session),
        )

    async def agent_status(self, session: OpsSession, agent: str) -> AgentStatus:
        """One agent: balance, escrows, pf-tui streams, limits."""
        config = session.agent(agent)
        balances = await session.balances([config])
        fleet = await session.escrows([config])
        error = fleet.errors.get(config.id)
        return AgentStatus(
            agent=agent_summary(
                config,
                balances[0] if balances else None,
                self.redactor,
                writable=self._writable(config.id),
            ),
            escrows=[escrow_info(row, self.clock.now()) for row in fleet.rows],
            escrow_error=None if error is None else escape_text(error),
            streams=[stream_info(s) for s in session.streams(config.id)],
            limits=self.limits(session),
        )

    async def escrow_list(
        self, session: OpsSession, agent: str | None = None, status: str | None = None
    ) -> EscrowList:
        """The escrows of the fleet (or one agent), optionally of one status."""
        fleet = await session.escrows(session.select(agent))
        rows = [r for r in fleet.rows if status is None or r.escrow.status.value == status]
        return EscrowList(
            escrows=[escrow_info(r, self.clock.now()) for r in rows],
            errors={escape_text(k): escape_text(v) for k, v in fleet.errors.items()},
        )

    async def escrow_status(
        self, session: OpsSession, escrow_id: str, agent: str | None = None
    ) -> EscrowInfo:
        """One escrow with its event history."""
        row = await session.find_escrow(escrow_id, agent)
        return escrow_info(row, self.clock.now(), events=True)

    def writes_on(self) -> None:
        """Refuse a write tool at once, before any read, when no write can be allowed."""
        if self.read_only:
            raise McpRefusal(
                "refused: pf-tui is read-only (--read-only or [ui] read_only); nothing was sent"
            )
        if not self.policy.enabled:
            self.policy.check_agent("")

    def _writable(self, agent_id: str) -> bool:
        return not self.read_only and self.policy.allows(agent_id)

    # ---- writes --------------------------------------------------------------------------------

    async def write(
        self,
        ctx: Context,
        command: str,
        agent: AgentConfig,
        intent: Callable[[OpsSession], Awaitable[Intent]],
        idempotency_key: str | None,
    ) -> MoneyResult:
        """Check ``[mcp]``, build the intent, and run it once through the facade."""
        session, operator = self.session(ctx)
        self.policy.check_agent(agent.id)

        async def confirm(preview: ActionPreview) -> bool:
            self.policy.check_agent(preview.agent_id)
            self.policy.check_amount(preview.amount, self.used_hour(session))
            return True

        async with self._writing:
            session.desk.engine.journal_guard = self.hour_guard(session)
            built = await intent(session)
            outcome = await session.run(
                command, built, idempotency_key=idempotency_key, confirm=confirm
            )
        return self._result(outcome, operator)

    def hour_guard(self, session: OpsSession) -> Callable[[ActionPreview], None]:
        """The hour's limit as the money engine checks it inside the transaction that journals
        the intent: what every MCP client journaled in the last 60 minutes, read under the
        store's write lock, so no other ``pf-tui mcp`` can journal between the sum and this
        intent (the early check in ``confirm`` only spares a preview's work)."""

        def guard(preview: ActionPreview) -> None:
            conn = session.desk.engine.journal.conn
            used = moved_since(conn, self.clock.now() - HOUR_S)
            self.policy.check_amount(preview.amount, used)

        return guard

    def _result(self, outcome: Outcome, operator: str) -> MoneyResult:
        if outcome.status not in SHOWN:
            detail = outcome.message or outcome.status.value
            if outcome.result is not None:
                errors = [r.error for r in outcome.result.requests if r.error]
                if errors:
                    detail = f"{detail}: {errors[0]}"
            raise self.refusal(f"{outcome.status.value}: {detail}")
        return money_result(outcome, operator, self.redactor)

    async def escrow_create(
        self,
        ctx: Context,
        agent: str,
        payee: str,
        amount: str,
        description: str = "",
        timeout_hours: int = 24,
        dialect: str | None = None,
        idempotency_key: str | None = None,
    ) -> MoneyResult:
        """Fund a new escrow from ``agent`` to ``payee`` (no pf-tui stream keeps it)."""
        self.writes_on()
        session, _ = self.session(ctx)
        payer = session.agent(agent)
        configured = self.config.api.escrow_dialect
        chosen = dialect or ("streaming" if configured == "streaming" else "classic")
        if chosen not in (Dialect.CLASSIC.value, Dialect.STREAMING.value):
            raise OpsError(f"dialect {chosen!r}: use classic or streaming")

        async def build(session: OpsSession) -> Intent:
            return CreateEscrow(
                agent_id=payer.id,
                payee=session.party(payee),
                amount=amount,
                dialect=Dialect(chosen),
                memo=description,
                timeout_hours=timeout_hours,
            )

        return await self.write(ctx, "escrow_create", payer, build, idempotency_key)

    async def _escrow(
        self, session: OpsSession, escrow_id: str, agent: str | None
    ) -> tuple[EscrowRow, AgentConfig, Stream | None]:
        """The escrow as a fleet agent sees it, the agent that acts on it, and the live pf-tui
        stream it backs (its money actions then go through the stream's record)."""
        row = await self.read(lambda reader: reader.find_escrow(escrow_id, agent))
        actor = session.agent(agent if agent is not None else row.agent_id)
        stream = session.stream(row.stream_id) if row.stream_id else None
        return row, actor, None if stream is None or stream.state.final else stream

    async def _escrow_write(
        self,
        ctx: Context,
        command: str,
        escrow_id: str,
        agent: str | None,
        idempotency_key: str | None,
        intent: Callable[[EscrowRow, AgentConfig, Stream | None], Intent],
    ) -> MoneyResult:
        """A write on one existing escrow: read it, find who acts (:meth:`_escrow`), and run
        ``intent(row, actor, stream)`` through :meth:`write`."""
        self.writes_on()
        session, _ = self.session(ctx)
        row, actor, stream = await self._escrow(session, escrow_id, agent)

        async def build(_session: OpsSession) -> Intent:
            return intent(row, actor, stream)

        return await self.write(ctx, command, actor, build, idempotency_key)

    async def escrow_release(
        self,
        ctx: Context,
        escrow_id: str,
        amount: str | None = None,
        agent: str | None = None,
        idempotency_key: str | None = None,
    ) -> MoneyResult:
        """Release an escrow, in full or ``amount`` of it (streaming), to its payee."""

        def intent(row: EscrowRow, actor: AgentConfig, stream: Stream | None) -> Intent:
            if stream is not None:
                return ReleasePartial(stream.id, amount=stream.funded if amount is None else amount)
            return ReleaseEscrow(actor.id, row.escrow.escrow_id, row.dialect, amount)

        return await self._escrow_write(
            ctx, "escrow_release", escrow_id, agent, idempotency_key, intent
        )

    async def escrow_close(
        self,
        ctx: Context,
        escrow_id: str,
        agent: str | None = None,
        idempotency_key: str | None = None,
    ) -> MoneyResult:
        """Close a streaming escrow: what a pf-tui stream owes is paid, the rest refunded."""

        def intent(row: EscrowRow, actor: AgentConfig, stream: Stream | None) -> Intent:
            if stream is not None:
                if stream.dialect is not Dialect.STREAMING:
                    raise OpsError(
                        f"escrow {escrow_id} is a classic escrow, which has no close: release "
                        "it or dispute it"
                    )
                return CloseStream(stream.id)
            return CloseEscrow(actor.id, row.escrow.escrow_id, dialect=row.dialect)

        return await self._escrow_write(
            ctx, "escrow_close", escrow_id, agent, idempotency_key, intent
        )

    async def escrow_dispute(
        self,
        ctx: Context,
        escrow_id: str,
        reason: str,
        agent: str | None = None,
        idempotency_key: str | None = None,
    ) -> MoneyResult:
        """Dispute an escrow as one of its fleet parties: its funds freeze until resolved."""

        def intent(row: EscrowRow, actor: AgentConfig, stream: Stream | None) -> Intent:
            return DisputeEscrow(
                actor.id,
                row.escrow.escrow_id,
                reason,
                dialect=row.dialect,
                stream_id=None if stream is None else stream.id,
            )

        return await self._escrow_write(
            ctx, "escrow_dispute", escrow_id, agent, idempotency_key, intent
        )

    async def faucet_claim(
        self,
        ctx: Context,
        agent: str,
        referral_code: str | None = None,
        idempotency_key: str | None = None,
    ) -> MoneyResult:
        """Claim the faucet's $1 for a new agent (``not_claimable`` when it cannot)."""
        self.writes_on()
        session, _ = self.session(ctx)
        claimant = session.agent(agent)

        async def build(session: OpsSession) -> Intent:
            return ClaimFaucet(claimant.id, referral_code or None)

        return await self.write(ctx, "faucet_claim", claimant, build, idempotency_key)
