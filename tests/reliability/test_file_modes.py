"""Every file pf-tui creates is 0600 in a 0700 folder, whatever the umask (here 000).

Under umask 000 a file made with default permissions is 0666 and a folder 0777: anyone on the
machine could read the money journal or the alert log, or swap the store for another. The store,
its ``-wal`` and ``-shm`` files, the state file, the JSON alert log, the starter config and the
dataclass code cache are all made here in fresh folders, and every file and folder pf-tui made
is checked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pf_tui.config import save_state, write_starter_config
from pf_tui.core.notify.receivers import LogReceiver
from pf_tui.core.store.db import Store, write_kv
from pf_tui.dataclass_code import cache_path, write_codes
from tests.daemon.helpers import make_event


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def modes_under(root: Path) -> dict[str, int]:
    """Mode of every file and folder below ``root`` (``root`` itself is the test's)."""
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in sorted(root.rglob("*"))
    }


async def test_every_file_is_private_under_umask_000(tmp_path: Path, umask_000: None) -> None:
    """Broken: the store and its -wal/-shm were 0644 in 0755 folders (0666 and 0777 under umask
    000), and so was any file whose folder pf-tui made with default permissions."""
    store = Store(tmp_path / "data" / "pf-tui" / "pf-tui.db")
    conn = store.connect()
    write_kv(conn, "k", "v")  # a write: the -wal and -shm files exist now
    journal = store.journal_connection()
    journal.execute("SELECT COUNT(*) FROM actions").fetchone()
    save_state(tmp_path / "config" / "pf-tui" / "state.toml", {"theme": "nord"})
    write_starter_config(tmp_path / "config" / "pf-tui" / "config.toml")
    log = LogReceiver(tmp_path / "logs" / "alerts" / "alerts.jsonl")
    assert (await log.send(make_event(1))).ok
    write_codes(cache_path(str(tmp_path / "cache" / "pf-tui")), {})
    modes = modes_under(tmp_path)
    names = set(modes)
    assert {"data/pf-tui/pf-tui.db-wal", "data/pf-tui/pf-tui.db-shm"} <= names
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)
    }
    conn.close()
    journal.close()
    store.close()
    assert loose == {}, f"not private: {loose}"
