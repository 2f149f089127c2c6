"""One scripted session: config -> client -> one read of what is needed -> the money desk.

:class:`OpsSession` is what every caller without a screen uses (the ``pf-tui`` commands, the MCP
server). Money goes through the console's own door, :class:`~pf_tui.views.money_desk.MoneyDesk`
over the :class:`~pf_tui.core.money.engine.ActionEngine`: the journal before the request, the
idempotency keys, the limits, read-only, the same reconciliation of unknown outcomes. This module
adds only what a caller without a screen needs around it:

- finding an agent by label or id (:meth:`OpsSession.agent`), an escrow by id across the fleet
  (:meth:`~OpsSession.find_escrow`), the fleet's escrows and balances in one read
  (:meth:`~OpsSession.escrows`, :meth:`~OpsSession.balances`);
- a caller's idempotency key turned into the intent's key (:func:`intent_key`), so a rerun with
  the same key finds its intent in the journal and sends nothing new (:meth:`~OpsSession.run`);
- every end mapped onto an :class:`~pf_tui.ops.outcome.Outcome` (refusals, unknown outcomes, a
  faucet that is not claimable).

No Textual and no Rich here (an import-linter contract).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType

from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.errors import PurpleFleaError
from pf_tui.api.models import Dialect, Escrow
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config
from pf_tui.config.model import AgentConfig
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import ActionError, ActionPreview, Intent, Op
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.fetch import Fetcher
from pf_tui.core.polling.results import BalanceSnapshot, DataType, EscrowSnapshot
from pf_tui.ops.outcome import (
    OpsError,
    Outcome,
    Status,
    outcome_of_result,
    status_of_error,
)
from pf_tui.secret import Redactor
from pf_tui.shard import Shard
from pf_tui.views.money_desk import MoneyDesk
from pf_tui.wiring import build_client, config_redactor, hosts_from_api, target_for

KEY_NAMESPACE = uuid.UUID("6b0b8f8e-3c39-4d53-9a43-0f4e1c6a7d21")
"""The UUID namespace of intent keys derived from callers' idempotency keys (never change it:
a rerun after an upgrade must find the intent an older release journaled)."""
MAX_KEY_CHARS = 200

Confirm = Callable[[ActionPreview], Awaitable[bool]]
"""Asked with the preview before anything is sent; ``False`` cancels (nothing is sent)."""


def intent_key(idempotency_key: str) -> str:
    """The intent key for a caller's idempotency key: the same key gives the same intent."""
    text = idempotency_key.strip()
    if not text or len(text) > MAX_KEY_CHARS or not text.isprintable():
        raise OpsError(
            f"--idempotency-key: 1 to {MAX_KEY_CHARS} printable characters", Status.USAGE
        )
    return str(uuid.uuid5(KEY_NAMESPACE, text))


def payroll_key(escrow_id: str, now: float) -> str:
    """Payroll's idempotency key for an escrow in the UTC hour of ``now``: a rerun in the same
    hour reuses its intent, so an escrow is released at most once per hour."""
    hour = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H")
    return f"payroll/{escrow_id}/{hour}"


@dataclass(frozen=True, slots=True)
class EscrowRow:
    """One escrow the fleet is a party of, as one read found it."""

    agent_id: str
    """The fleet agent it was found through (the creator when both parties are in the fleet)."""
    role: str
    """``creator``, ``payee`` or ``party`` (the read did not name the parties)."""
    escrow: Escrow
    dialect: Dialect
    """The dialect that created it (the journal's record for pf-tui's own escrows)."""
    stream_id: str | None = None
    """The pf-tui stream it backs, if any (its money actions go through the stream)."""


@dataclass
class FleetEscrows:
    """The escrows of the agents read (one row per escrow) and the agents whose read failed."""

    rows: list[EscrowRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """Agent id -> why its read failed (redacted)."""


@dataclass(frozen=True, slots=True)
class AgentBalance:
    """One agent's custodial balance as read now (``None`` with ``error`` when the read failed)."""

    agent: AgentConfig
    balance: Decimal | None
    error: str | None = None


class OpsSession:
    """A scripted caller's session over one config (``async with``; closes what it opened)."""

    def __init__(
        self,
        config: Config,
        *,
        read_only: bool = False,
        operator: str = "cli",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self.clock = clock
        self.desk = MoneyDesk(config, clock=clock, read_only=read_only, operator=operator)
        self.redactor: Redactor = config_redactor(config)
        self._client: PurpleFleaClient | None = None
        self._fetcher: Fetcher | None = None

    async def __aenter__(self) -> OpsSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the read client and the desk (journal, store, its client). Idempotent."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        await self.desk.aclose()

    # ---- agents ----------------------------------------------------------------------------

    @property
    def agents(self) -> tuple[AgentConfig, ...]:
        """The configured agents."""
        return self.config.agents

    def agent(self, ref: str) -> AgentConfig:
        """The configured agent whose id or label is ``ref`` (an id wins over a label)."""
        for agent in self.agents:
            if agent.id == ref:
                return agent
        found = [a for a in self.agents if a.label and a.label == ref]
        if len(found) == 1:
            return found[0]
        if found:
            raise OpsError(f"--agent {ref!r}: more than one agent has that label; give its id")
        raise OpsError(f"--agent {ref!r}: no configured agent has that id or label")

    def party(self, ref: str) -> str:
        """An agent id for a counterparty: a configured agent by id or label, or any ``ag_`` id."""
        try:
            return self.agent(ref).id
        except OpsError:
            if ref.startswith("ag_"):
                return ref
            raise

    def select(self, agent: str | None = None, shard: Shard | None = None) -> list[AgentConfig]:
        """One agent (by id or label), or the fleet narrowed to ``shard``."""
        chosen = [self.agent(agent)] if agent is not None else list(self.agents)
        if shard is not None:
            chosen = list(shard.select(chosen, lambda a: a.id))
        return chosen

    # ---- reads -------------------------------------------------------------------------------

    def _reader(self) -> tuple[PurpleFleaClient, Fetcher]:
        if self._client is None or self._fetcher is None:
            self._client = build_client(self.config, self.clock)
            self._fetcher = Fetcher(
                self.clock,
                CallStats(self.clock),
                max_concurrency=int(self.config.polling.max_concurrency),
                hosts=hosts_from_api(self.config.api),
                keep_settled=None,  # one read for a script: every escrow the servers list
            )
        return self._client, self._fetcher

    def _error(self, exc: BaseException) -> str:
        return self.redactor.scrub(str(exc) or type(exc).__name__)

    async def escrows(self, agents: Sequence[AgentConfig] | None = None) -> FleetEscrows:
        """One read of the escrows of ``agents`` (default: every configured agent), the way the
        console polls them, plus the escrows pf-tui's journal knows each agent created."""
        client, fetcher = self._reader()
        chosen = list(self.agents if agents is None else agents)
        journal = self.desk.engine.journal if self.desk.journal_exists() else None
        created = journal.created_escrows() if journal is not None else {}
        own = self.streams()
        streams = {s.escrow_id: s.id for s in own if s.escrow_id}
        targets = []
        for agent in chosen:
            target = target_for(client, agent, self.config.api.escrow_dialect)
            if DataType.ESCROWS not in target.data_types():
                continue
            if journal is not None:
                # pf-tui's own escrows, read through the dialect that created each.
                for escrow_id in journal.known_escrows(agent.id):
                    if escrow_id in created:
                        target.known_escrows[escrow_id] = _dialect_of(created[escrow_id])
                for stream in own:
                    if stream.agent_id == agent.id and stream.escrow_id:
                        target.known_escrows[stream.escrow_id] = stream.dialect
            targets.append(target)
        reads = await asyncio.gather(
            *(fetcher.fetch(t, DataType.ESCROWS) for t in targets), return_exceptions=True
        )
        out = FleetEscrows()
        seen: dict[str, int] = {}
        for target, read in zip(targets, reads, strict=True):
            if isinstance(read, BaseException):
                if not isinstance(read, PurpleFleaError):
                    raise read
                out.errors[target.agent_id] = self._error(read)
                continue
            assert isinstance(read, EscrowSnapshot)
            for escrow in read.escrows:
                role = (
                    "creator"
                    if escrow.creator_id == target.agent_id
                    else "payee"
                    if escrow.counterparty_id == target.agent_id
                    else "party"
                )
                kind = created.get(escrow.escrow_id)
                dialect = escrow.dialect if kind is None else _dialect_of(kind)
                row = EscrowRow(
                    target.agent_id, role, escrow, dialect, streams.get(escrow.escrow_id)
                )
                index = seen.get(escrow.escrow_id)
                if index is None:
                    seen[escrow.escrow_id] = len(out.rows)
                    out.rows.append(row)
                elif role == "creator" and out.rows[index].role != "creator":
                    out.rows[index] = row
        return out

    async def find_escrow(self, escrow_id: str, agent: str | None = None) -> EscrowRow:
        """The escrow ``escrow_id`` as one of the fleet's agents (or ``agent``) sees it."""
        fleet = await self.escrows(self.select(agent))
        for row in fleet.rows:
            if row.escrow.escrow_id == escrow_id:
                return row
        if fleet.errors:
            first = next(iter(fleet.errors.items()))
            raise OpsError(
                f"escrow {escrow_id} not found; the read of {first[0]} failed: {first[1]}",
                Status.FAILED,
            )
        where = f"agent {agent}" if agent else "any configured agent"
        raise OpsError(f"escrow {escrow_id}: not found among the escrows of {where}")

    async def balances(self, agents: Sequence[AgentConfig] | None = None) -> list[AgentBalance]:
        """One read of the custodial balance of ``agents`` (default: every configured agent)."""
        client, fetcher = self._reader()
        chosen = [
            a for a in (self.agents if agents is None else agents) if a.casino_key is not None
        ]
        targets = [target_for(client, a, self.config.api.escrow_dialect) for a in chosen]
        reads = await asyncio.gather(
            *(fetcher.fetch(t, DataType.BALANCE) for t in targets), return_exceptions=True
        )
        out: list[AgentBalance] = []
        for agent, read in zip(chosen, reads, strict=True):
            if isinstance(read, BaseException):
                if not isinstance(read, PurpleFleaError):
                    raise read
                out.append(AgentBalance(agent, None, self._error(read)))
            else:
                assert isinstance(read, BalanceSnapshot)
                out.append(AgentBalance(agent, read.balance.balance_usd))
        return out

    def streams(self, agent_id: str | None = None) -> list[Stream]:
        """pf-tui's stream records (none before the store exists)."""
        if not self.desk.journal_exists():
            return []
        return self.desk.engine.streams(agent_id)

    def stream(self, stream_id: str) -> Stream:
        """One stream record, or a usage error naming the id."""
        for stream in self.streams():
            if stream.id == stream_id:
                return stream
        raise OpsError(f"stream {stream_id}: no such stream in this store")

    # ---- money -------------------------------------------------------------------------------

    async def run(
        self,
        command: str,
        intent: Intent,
        *,
        idempotency_key: str | None = None,
        confirm: Confirm | None = None,
        dry_run: bool = False,
    ) -> Outcome:
        """Preview ``intent``, ask ``confirm`` (when given), execute it once, and say how it ended.

        With ``idempotency_key`` the intent's key is derived from it: when the journal already
        holds that intent, nothing is previewed or sent again; what is still unsettled is
        reconciled with its own keys, and the outcome says ``replayed``. The key is bound to the
        action: reused for a different kind of action or agent, it is refused.
        """
        key = intent_key(idempotency_key) if idempotency_key is not None else None
        if key is not None and not dry_run:
            replay = await self._replay(command, intent, key, idempotency_key)
            if replay is not None:
                return replay
        try:
            preview = await self.desk.preview(intent, key=key)
        except ActionError as exc:
            return self._refused(command, exc, idempotency_key)
        if dry_run:
            return Outcome(
                command,
                Status.PREVIEW,
                "dry run: nothing sent",
                key=preview.key,
                idempotency_key=idempotency_key,
                preview=preview,
            )
        if confirm is not None and not await confirm(preview):
            return Outcome(
                command,
                Status.CANCELLED,
                "cancelled: nothing sent",
                key=preview.key,
                idempotency_key=idempotency_key,
                preview=preview,
            )
        try:
            result = await self.desk.execute(preview)
        except ActionError as exc:
            return self._refused(command, exc, idempotency_key, preview)
        return outcome_of_result(command, result, preview=preview, idempotency_key=idempotency_key)

    async def _replay(
        self, command: str, intent: Intent, key: str, idempotency_key: str | None
    ) -> Outcome | None:
        if not self.desk.journal_exists():
            return None
        engine = self.desk.engine
        rows = engine.journal.rows(key)
        if not rows:
            return None
        first = rows[0]
        if first.kind is not intent.kind or first.agent_id != _agent_of(intent, first.agent_id):
            raise OpsError(
                f"--idempotency-key {idempotency_key!r} was used for a different action "
                f"({first.kind.value} by {first.agent_id}); choose a new key"
            )
        if not engine.runner.result(key).state.settled:
            await self.desk.reconcile()
        outcome = outcome_of_result(
            command, engine.result(key), idempotency_key=idempotency_key, replayed=True
        )
        escrow = first.escrow if isinstance(first.escrow, str) else None
        outcome.extra.update(
            agent_id=first.agent_id,
            escrow_id=escrow or next((r.server_ref for r in rows if r.server_ref), None),
            stream_id=first.stream_id,
            amount=None if first.amount is None else format(first.amount, "f"),
        )
        return outcome

    def _refused(
        self,
        command: str,
        exc: ActionError,
        idempotency_key: str | None,
        preview: ActionPreview | None = None,
    ) -> Outcome:
        return Outcome(
            command,
            status_of_error(exc),
            self.redactor.scrub(str(exc)),
            key=None if preview is None else preview.key,
            idempotency_key=idempotency_key,
            preview=preview,
            reason=type(exc).__name__,
        )

    def local(self, command: str, change: Callable[[], Stream]) -> Outcome:
        """A stream change that sends nothing (pause, resume), as an outcome."""
        try:
            stream = change()
        except ActionError as exc:
            return self._refused(command, exc, None)
        return Outcome(
            command,
            Status.DONE,
            f"stream {stream.id} is {stream.state.value}",
            extra={"stream_id": stream.id, "stream_state": stream.state.value},
        )


def _dialect_of(create_op: str) -> Dialect:
    """The dialect of an escrow from the journal's kind of the request that created it."""
    return Dialect.CLASSIC if create_op == Op.CLASSIC_CREATE.value else Dialect.STREAMING


def _agent_of(intent: Intent, journaled: str) -> str:
    """The agent an intent acts as (a stream intent names its stream, not an agent)."""
    agent = getattr(intent, "agent_id", None)
    return journaled if agent is None else str(agent)
