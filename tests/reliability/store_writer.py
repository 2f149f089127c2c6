"""A process that writes to the store as the daemon and the console do, and says what committed.

``python -m tests.reliability.store_writer STORE START`` loops forever from ``START``: each round
commits an alert-book transaction (an ``alerts`` row, the engine state in ``kv``, an outbox row),
a money-journal row on the ``synchronous=FULL`` connection, and a batch of history samples
through the writer thread (flushed). Only after all three returned does it print the round's
number: a printed number is an *acknowledged* write, which must survive a kill -9.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from pf_tui.core.store.db import Sample, Store, transaction, write_kv


def main(path: str, start: int) -> None:
    store = Store(path)
    alerts = store.connect()
    journal = store.journal_connection()
    n = start
    while True:
        now = time.time()
        with transaction(alerts):
            alerts.execute(
                "INSERT INTO alerts (fingerprint, rule, agent, severity, state, message,"
                " started_at) VALUES (?, 'kill9', 'ag_x', 'warning', 'firing', 'round', ?)",
                (f"fp-{n}", now),
            )
            write_kv(alerts, "daemon.alert_state", f'[{{"round": {n}}}]')
            alerts.execute(
                "INSERT INTO outbox (receiver, event_id, payload, attempts, next_attempt_at,"
                " created_at) VALUES ('log', ?, '{}', 0, ?, ?)",
                (f"log:ev-{n}", now, now),
            )
        with transaction(journal):
            journal.execute(
                "INSERT INTO actions (idempotency_key, kind, agent_id, amount, state,"
                " created_at, updated_at) VALUES (?, 'release_partial', 'ag_x', ?, 'journaled',"
                " ?, ?)",
                (f"key-{n}", str(Decimal(n) / 100), now, now),
            )
        store.put_samples(Sample("ag_x", "balance", now, Decimal(n)) for _ in range(20))
        store.flush()
        print(n, flush=True)
        n += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
