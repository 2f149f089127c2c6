"""Writing pf-tui's own files: 0600 in 0700 folders, replaced atomically.

Everything pf-tui writes (the config, the state file, the store, the alert log, the start-up
code cache) goes through here or makes its file the same way, so no file it makes is readable
by another user whatever the umask (``tests/reliability/test_file_modes.py``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def make_private_dir(folder: Path) -> None:
    """Create ``folder`` and any missing parents with mode 0700 (existing ones are left as is).

    ``mkdir(parents=True)`` would give every new parent the umask's default; an existing folder
    (e.g. ``~/.config``) is not pf-tui's to change.
    """
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a 0600 temp file beside ``path``, fsync, then rename over ``path``."""
    make_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
