"""The money journal: every request of every intent, on disk before it leaves (docs/api.md §5).

One row per request in the store's ``actions`` table, keyed by its idempotency key (the intent's
UUID, or ``<uuid>/<n>`` for the n-th request of a multi-request intent). The ``request`` column
holds the whole planned request (op, route, body, the escrow it targets, the stream bookkeeping it
implies), so an intent can be finished or reconciled from the journal alone after a crash. State
changes update the row's ``state`` and append to ``action_events``; nothing is ever deleted.

Commits go through the store's journal connection (``synchronous=FULL``): when :meth:`begin` or
:meth:`mark` returns, the row is on disk.
"""

from __future__ import annotations

import enum
import getpass
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from pf_tui import usd
from pf_tui.core.money.routes import route
from pf_tui.core.money.types import (
    ActionError,
    ActionKind,
    ActionPreview,
    EscrowRef,
    EscrowTarget,
    JsonObject,
    Op,
    PlannedRequest,
    RequestState,
)
from pf_tui.core.store.db import transaction
from pf_tui.core.store.schema import migrate

UNSETTLED = (RequestState.JOURNALED.value, RequestState.SENT.value, RequestState.UNKNOWN.value)
_UNSETTLED_MARKS = ",".join("?" * len(UNSETTLED))
"""The SQL placeholders of ``state IN (...)`` over :data:`UNSETTLED`."""


class StreamEffect(str, enum.Enum):
    """What a done request does to its stream's record (the journal's ``meta.effect``)."""

    FUNDED = "funded"
    """An escrow was created for the stream: it holds ``amount``."""
    RELEASED = "released"
    """``amount`` was paid out of the stream's escrow."""
    CLOSED = "closed"
    """The native escrow was closed: the rest went back to the payer."""
    DISPUTED = "disputed"


class RequestMeta(TypedDict, total=False):
    """The stream bookkeeping one request implies once done, and what the runner noted before
    sending it: the ``meta`` of the journaled request, as JSON (amounts and states as text)."""

    effect: str
    """A :class:`StreamEffect` value."""
    amount: str
    """What the request funds or releases (``Decimal`` text)."""
    owed_left: str
    """A release: what stays owed after it (``Decimal`` text)."""
    checkpoint: str
    """A release: ``repr`` of the instant the owed figure was computed for."""
    final_state: str
    """The :class:`StreamState` value the stream ends in once the intent's last request is done."""
    prior_state: str
    """The :class:`StreamState` value a refused request puts the stream back to."""
    ledger_ids: list[str]
    """A classic create: the casino ledger's row ids just before it was sent."""
    ledger_full: bool
    """A classic create: whether that ledger page was full (older rows may be out of view)."""


_ActionRow = tuple[
    str, str, str, str | None, str | None, str, str, str | None, str | None, str | None, float
]
"""``idempotency_key, kind, agent_id, stream_id, amount, request, state, response, error,
server_ref, created_at`` of the ``actions`` table."""


def operator_identity() -> str:
    """Who is acting: ``$USER`` (or the login name), plus the SSH client address when remote."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
    ssh = os.environ.get("SSH_CLIENT", "").split()
    return f"{user} via ssh {ssh[0]}" if ssh else user


def intent_of(key: str) -> str:
    """The intent UUID of a request key (``<uuid>/<n>`` or ``<uuid>``)."""
    return key.split("/", 1)[0]


def request_key(intent: str, seq: int, total: int) -> str:
    """The idempotency key of request ``seq`` (1-based) of an intent sending ``total`` requests."""
    return intent if total == 1 else f"{intent}/{seq}"


def tag_for(intent: str, seq: int, total: int) -> str:
    """The ``pf:<8 hex>`` tag of the escrow request ``seq`` creates, numbered like its key."""
    short = "pf:" + intent.replace("-", "")[:8]
    return short if total == 1 else f"{short}/{seq}"


class JournalUnavailableError(ActionError):
    """The journal could not commit (disk full, read-only, locked by another writer): the action
    is refused, since nothing is ever sent before its journal row is on disk."""


def _journal_problem(exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "full" in text:
        return "the disk is full"
    if "readonly" in text or "read-only" in text:
        return "the database is read-only"
    if "locked" in text or "busy" in text:
        return "the database is locked by another writer"
    return f"the database failed ({type(exc).__name__})"


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One request as journaled."""

    key: str
    intent: str
    kind: ActionKind
    seq: int
    total: int
    op: Op
    agent_id: str
    stream_id: str | None
    escrow: EscrowTarget | None
    amount: Decimal | None
    body: JsonObject | None
    tag: str | None
    meta: RequestMeta
    state: RequestState
    response: JsonObject | None
    error: str | None
    server_ref: str | None
    created_at: float

    def planned(self) -> PlannedRequest:
        """The request as it was planned (the route is rebuilt from op and escrow)."""
        service, method, path = route(self.op, self.escrow)
        return PlannedRequest(
            seq=self.seq,
            key=self.key,
            op=self.op,
            service=service,
            method=method,
            path=path,
            body=self.body,
            escrow=self.escrow,
            amount=self.amount,
            tag=self.tag,
        )


def _escrow_to_json(target: EscrowTarget | None) -> dict[str, int] | str | None:
    if isinstance(target, EscrowRef):
        return {"ref": target.seq}
    return target


def _escrow_from_json(value: object) -> EscrowTarget | None:
    if isinstance(value, dict):
        return EscrowRef(int(value["ref"]))
    return None if value is None else str(value)


class Journal:
    """The action journal on one ``synchronous=FULL`` connection."""

    def __init__(self, conn: sqlite3.Connection, *, operator: str | None = None) -> None:
        self.conn = conn
        self.operator = operator if operator is not None else operator_identity()
        migrate(conn)  # the journal's tables (action_events: migration 2) exist before use

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One durable transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``).

        A store that cannot commit raises :class:`JournalUnavailableError`: the caller (the
        runner, before a request leaves) refuses rather than sends anything unjournaled.
        """
        try:
            with transaction(self.conn) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise JournalUnavailableError(
                f"money journal not written: {_journal_problem(exc)}. Nothing was sent;"
                " free the disk or the lock and try again"
            ) from exc

    def begin(
        self,
        preview: ActionPreview,
        meta: dict[int, RequestMeta],
        now: float,
        also: Callable[[], None] | None = None,
        check: Callable[[], None] | None = None,
    ) -> None:
        """Journal every request of ``preview`` as ``journaled``, in one transaction.

        ``meta[seq]`` is the bookkeeping each request implies (stream effects); ``also`` runs
        inside the same transaction (the stream record changes that go with the intent).
        ``check`` runs first inside it and may refuse (raise): the brake, another process's
        lease, an unsettled action. Checked and journaled in one ``BEGIN IMMEDIATE``, no other
        process can journal in between.
        """
        total = len(preview.requests)
        with self.transaction():
            if check is not None:
                check()
            for req in preview.requests:
                payload = {
                    "intent": preview.key,
                    "intent_kind": preview.kind.value,
                    "seq": req.seq,
                    "total": total,
                    "op": req.op.value,
                    "service": req.service,
                    "method": req.method,
                    "path": req.path,
                    "escrow": _escrow_to_json(req.escrow),
                    "body": req.body,
                    "tag": req.tag,
                    "meta": meta.get(req.seq, {}),
                }
                escrow_id = req.escrow if isinstance(req.escrow, str) else None
                self.conn.execute(
                    "INSERT INTO actions (idempotency_key, kind, agent_id, escrow_id, stream_id,"
                    " amount, request, state, operator, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        req.key,
                        req.op.value,
                        preview.agent_id,
                        escrow_id,
                        preview.stream_id,
                        None if req.amount is None else str(req.amount),
                        usd.dumps(payload),
                        RequestState.JOURNALED.value,
                        self.operator,
                        now,
                        now,
                    ),
                )
                self._event(req.key, RequestState.JOURNALED, now, None)
            if also is not None:
                also()

    def mark(
        self,
        key: str,
        state: RequestState,
        now: float,
        *,
        response: JsonObject | None = None,
        error: str | None = None,
        server_ref: str | None = None,
        escrow_id: str | None = None,
        meta: RequestMeta | None = None,
        also: Callable[[], None] | None = None,
    ) -> None:
        """Move request ``key`` to ``state`` (one durable transaction, with ``also`` inside).

        ``meta`` is merged into the request's journaled meta; the other fields are set when given.
        """
        with self.transaction():
            sets = ["state = ?", "updated_at = ?"]
            params: list[str | float] = [state.value, now]
            if response is not None:
                sets.append("response = ?")
                params.append(usd.dumps(response))
            if error is not None:
                sets.append("error = ?")
                params.append(error)
            if server_ref is not None:
                sets.append("server_ref = ?")
                params.append(server_ref)
            if escrow_id is not None:
                sets.append("escrow_id = ?")
                params.append(escrow_id)
            if meta is not None:
                row = self.conn.execute(
                    "SELECT request FROM actions WHERE idempotency_key = ?", (key,)
                ).fetchone()
                payload = usd.loads(row[0])
                payload["meta"] = {**payload.get("meta", {}), **meta}
                sets.append("request = ?")
                params.append(usd.dumps(payload))
            params.append(key)
            self.conn.execute(
                f"UPDATE actions SET {', '.join(sets)} WHERE idempotency_key = ?", params
            )
            self._event(key, state, now, error)
            if also is not None:
                also()

    def _event(self, key: str, state: RequestState, now: float, detail: str | None) -> None:
        self.conn.execute(
            "INSERT INTO action_events (idempotency_key, state, at, detail) VALUES (?, ?, ?, ?)",
            (key, state.value, now, detail),
        )

    # ---- reads ------------------------------------------------------------------------------

    def rows(self, intent: str) -> list[JournalRow]:
        """Every request of one intent, in send order."""
        found = self.conn.execute(
            "SELECT idempotency_key, kind, agent_id, stream_id, amount, request, state, response,"
            " error, server_ref, created_at FROM actions"
            " WHERE idempotency_key = ? OR idempotency_key LIKE ? ESCAPE '!'",
            (intent, intent.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "/%"),
        ).fetchall()
        rows = [self._row(r) for r in found]
        return sorted(rows, key=lambda r: r.seq)

    def has_intent(self, intent: str) -> bool:
        """Whether anything of ``intent`` is journaled (a second execute of one preview)."""
        return bool(self.rows(intent))

    def unsettled_intents(self) -> list[str]:
        """Intents with a request still journaled, sent or unknown, oldest first."""
        found = self.conn.execute(
            f"SELECT idempotency_key, MIN(id) FROM actions WHERE state IN ({_UNSETTLED_MARKS})"
            " GROUP BY idempotency_key ORDER BY MIN(id)",
            UNSETTLED,
        ).fetchall()
        out: list[str] = []
        for key, _ in found:
            intent = intent_of(key)
            if intent not in out:
                out.append(intent)
        return out

    def unsettled_streams(self) -> set[str]:
        """Streams with an unsettled request (no new action on them until reconciled)."""
        found = self.conn.execute(
            "SELECT DISTINCT stream_id FROM actions WHERE stream_id IS NOT NULL"
            f" AND state IN ({_UNSETTLED_MARKS})",
            UNSETTLED,
        ).fetchall()
        return {r[0] for r in found}

    def unsettled_escrows(self) -> set[str]:
        """Escrows with an unsettled request (no new action on them until reconciled)."""
        found = self.conn.execute(
            "SELECT DISTINCT escrow_id FROM actions WHERE escrow_id IS NOT NULL"
            f" AND kind NOT IN (?, ?) AND state IN ({_UNSETTLED_MARKS})",
            (Op.CLASSIC_CREATE.value, Op.STREAM_CREATE.value, *UNSETTLED),
        ).fetchall()
        return {r[0] for r in found}

    def known_escrows(self, agent_id: str) -> set[str]:
        """Escrow ids the journal already attributes to a request of ``agent_id``."""
        found = self.conn.execute(
            "SELECT server_ref FROM actions WHERE agent_id = ? AND server_ref IS NOT NULL",
            (agent_id,),
        ).fetchall()
        return {r[0] for r in found}

    def created_escrows(self) -> dict[str, str]:
        """Escrow id -> the request that created it (``create``: classic, ``stream_create``: docs).

        A tranche is a classic escrow even where the docs list shows it as a stream object: what
        its timeout does (refund the creator) follows the dialect it was created in.
        """
        found = self.conn.execute(
            "SELECT server_ref, kind FROM actions WHERE server_ref IS NOT NULL AND kind IN (?, ?)",
            (Op.CLASSIC_CREATE.value, Op.STREAM_CREATE.value),
        ).fetchall()
        return {r[0]: r[1] for r in found}

    def created_since(self, since: float) -> list[tuple[str, str, Op, float]]:
        """Escrows pf-tui created since ``since``: ``(escrow id, creating agent, op, when)``,
        oldest first (``Op.CLASSIC_CREATE`` or ``Op.STREAM_CREATE`` says the dialect)."""
        found = self.conn.execute(
            "SELECT server_ref, agent_id, kind, created_at FROM actions"
            " WHERE server_ref IS NOT NULL AND kind IN (?, ?) AND created_at >= ? ORDER BY id",
            (Op.CLASSIC_CREATE.value, Op.STREAM_CREATE.value, since),
        ).fetchall()
        return [(str(e), str(a), Op(k), float(t)) for e, a, k, t in found]

    def events(self, key: str) -> list[tuple[str, float, str | None]]:
        """The state history of one request: ``(state, at, detail)`` oldest first."""
        return [
            (r[0], r[1], r[2])
            for r in self.conn.execute(
                "SELECT state, at, detail FROM action_events WHERE idempotency_key = ? ORDER BY id",
                (key,),
            ).fetchall()
        ]

    @staticmethod
    def _row(r: _ActionRow) -> JournalRow:
        (
            key,
            kind,
            agent_id,
            stream_id,
            amount,
            request,
            state,
            response,
            error,
            server_ref,
            created,
        ) = r
        payload = usd.loads(request)
        meta: RequestMeta = payload.get("meta") or RequestMeta()
        return JournalRow(
            key=key,
            intent=payload["intent"],
            kind=ActionKind(payload["intent_kind"]),
            seq=int(payload["seq"]),
            total=int(payload["total"]),
            op=Op(kind),
            agent_id=agent_id,
            stream_id=stream_id,
            escrow=_escrow_from_json(payload.get("escrow")),
            amount=None if amount is None else Decimal(amount),
            body=payload.get("body"),
            tag=payload.get("tag"),
            meta=meta,
            state=RequestState(state),
            response=None if response is None else usd.loads(response),
            error=error,
            server_ref=server_ref,
            created_at=float(created),
        )
