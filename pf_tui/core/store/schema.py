"""The SQLite schema of pf-tui's store, as numbered migrations (``PRAGMA user_version``).

Append a migration to add a table or a column; never edit one that has shipped. Money columns are
TEXT holding a ``Decimal``'s exact text; times are REAL unix seconds (UTC); JSON columns are TEXT
written with :func:`pf_tui.usd.dumps`. No column ever holds a secret (keys, tokens, webhook URLs).
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: samples, alert log, notification outbox, streams, money-action journal, small key/values.
    """
    CREATE TABLE samples (
        agent  TEXT NOT NULL,
        metric TEXT NOT NULL,
        t      REAL NOT NULL,
        value  TEXT NOT NULL
    );
    CREATE INDEX samples_agent_metric_t ON samples (agent, metric, t);
    CREATE INDEX samples_t ON samples (t);

    CREATE TABLE alerts (
        id               INTEGER PRIMARY KEY,
        fingerprint      TEXT NOT NULL,
        rule             TEXT NOT NULL,
        agent            TEXT,
        severity         TEXT NOT NULL,
        state            TEXT NOT NULL,          -- pending, firing, resolved
        value            TEXT,                   -- the figure that tripped it (Decimal text)
        threshold        TEXT,
        message          TEXT,
        labels           TEXT,                   -- JSON object
        started_at       REAL NOT NULL,
        updated_at       REAL,
        ended_at         REAL,
        last_notified_at REAL,
        acked            INTEGER NOT NULL DEFAULT 0,
        acked_by         TEXT,
        silenced_until   REAL
    );
    CREATE INDEX alerts_fingerprint ON alerts (fingerprint, started_at);
    CREATE INDEX alerts_state ON alerts (state);

    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        receiver        TEXT NOT NULL,            -- telegram, webhook, log
        event_id        TEXT NOT NULL UNIQUE,
        payload         TEXT NOT NULL,            -- JSON
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        created_at      REAL NOT NULL,
        delivered_at    REAL,
        last_error      TEXT
    );
    CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);

    CREATE TABLE streams (
        id            TEXT PRIMARY KEY,
        agent_id      TEXT NOT NULL,              -- the paying agent
        payee         TEXT NOT NULL,
        mode          TEXT NOT NULL,              -- native (docs dialect) or tranche (classic)
        dialect       TEXT NOT NULL,
        rate          TEXT NOT NULL,              -- USD per unit
        unit          TEXT NOT NULL,              -- call, hour, data_point
        budget        TEXT NOT NULL,
        batch         TEXT,                       -- tranche size (classic)
        released      TEXT NOT NULL DEFAULT '0',
        escrow_id     TEXT,                       -- the native escrow or the funded tranche
        state         TEXT NOT NULL,              -- open, paused, closing, closed, disputed
        memo          TEXT,
        last_release_at REAL,
        active_since  REAL,
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL
    );
    CREATE INDEX streams_agent ON streams (agent_id);

    CREATE TABLE actions (
        id              INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        kind            TEXT NOT NULL,            -- create, release, release_partial, close, dispute
        agent_id        TEXT NOT NULL,
        escrow_id       TEXT,
        stream_id       TEXT,
        amount          TEXT,
        request         TEXT,                     -- JSON (never a key)
        response        TEXT,                     -- JSON
        state           TEXT NOT NULL,            -- journaled, sent, done, failed, unknown
        operator        TEXT,
        error           TEXT,
        server_ref      TEXT,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE INDEX actions_state ON actions (state);

    CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,  # noqa: E501  (a shipped migration is never edited, its comments included)
    # 2: the money journal's append-only transition log, and what a stream owes and holds.
    """
    CREATE TABLE IF NOT EXISTS action_events (
        id              INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL,
        state           TEXT NOT NULL,            -- journaled, sent, done, failed, unknown, skipped
        at              REAL NOT NULL,
        detail          TEXT
    );
    CREATE INDEX IF NOT EXISTS action_events_key ON action_events (idempotency_key, id);

    CREATE TABLE IF NOT EXISTS stream_accounts (
        stream_id     TEXT PRIMARY KEY,
        carry         TEXT NOT NULL DEFAULT '0',  -- owed, not yet released, as of streams.active_since
        funded        TEXT NOT NULL DEFAULT '0',  -- held in the current escrow (native: its remaining)
        timeout_hours INTEGER NOT NULL DEFAULT 24 -- each escrow's timeout (every tranche's too)
    );
    """,  # noqa: E501  (a shipped migration is never edited, its comments included)
    # 3: the stop-all brake, cross-process leases on what a money action acts on, the stream
    # changes that send nothing (pause, resume, adopt, brake, sync), and each stream's escrow
    # timeout and origin.
    """
    CREATE TABLE IF NOT EXISTS brake_events (
        id        INTEGER PRIMARY KEY,
        engaged   INTEGER NOT NULL,               -- 1: engaged, 0: lifted; the newest row is the state
        at        REAL NOT NULL,
        operator  TEXT NOT NULL,
        reason    TEXT NOT NULL,
        streams   TEXT NOT NULL DEFAULT '[]'      -- JSON: the streams this engagement paused
    );

    CREATE TABLE IF NOT EXISTS leases (
        resource    TEXT PRIMARY KEY,             -- stream:st_.., escrow:esc_.., faucet:ag_.., open:ag_..>ag_..
        holder      TEXT NOT NULL,                -- host:pid:token of the process acting
        intent      TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        acquired_at REAL NOT NULL,
        expires_at  REAL NOT NULL
    );

    CREATE TABLE IF NOT EXISTS stream_events (
        id        INTEGER PRIMARY KEY,
        stream_id TEXT NOT NULL,
        at        REAL NOT NULL,
        operator  TEXT NOT NULL,
        event     TEXT NOT NULL,                  -- paused, resumed, adopted, synced
        detail    TEXT
    );
    CREATE INDEX IF NOT EXISTS stream_events_stream ON stream_events (stream_id, id);

    ALTER TABLE stream_accounts ADD COLUMN timeout_at REAL;   -- the current escrow's timeout (unix)
    ALTER TABLE stream_accounts ADD COLUMN origin TEXT NOT NULL DEFAULT 'opened';  -- or adopted
    """,  # noqa: E501  (a shipped migration is never edited, its comments included)
)
"""Migration ``i`` brings a database from ``user_version == i`` to ``i + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _statements(script: str) -> list[str]:
    """The statements of a migration, one per ``execute`` (``executescript`` would commit)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"an incomplete statement ends a migration: {pending.strip()[:80]!r}")
    return out


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration the database lacks, each in its own transaction; return the version.

    ``conn`` is in autocommit mode. Each step takes the write lock first (``BEGIN IMMEDIATE``) and
    reads the version again under it: two processes (or a console and its money desk) opening a
    new store at once would otherwise both see version 0 and the second would fail on
    ``table samples already exists``. A database from a newer pf-tui (higher ``user_version``) is
    refused rather than guessed at.
    """
    version = _version(conn)
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _version(conn)  # another connection may have migrated while we waited
            if version < SCHEMA_VERSION:
                for statement in _statements(MIGRATIONS[version]):
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the store has schema version {version}, newer than this pf-tui ({SCHEMA_VERSION}); "
            "upgrade pf-tui or point it at another store file"
        )
    return SCHEMA_VERSION
