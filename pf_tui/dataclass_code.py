"""A cache of the code ``dataclasses`` compiles, kept between runs like ``__pycache__``.

Python writes every method a dataclass gets (``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, a frozen class's ``__setattr__`` and ``__delattr__``) as source text and compiles
it with ``exec`` when the class is defined. The console defines about 140 dataclasses before its
first frame, and those 800 compiles were half of pf_tui's own import time and a sixth of
``pf-tui --demo``'s start (docs/performance.md, "Start-up").

The text depends only on the class's fields and options, and the code compiled from a text is
always the same, so :func:`install` gives the ``dataclasses`` module an ``exec`` that keeps the
code of each text it compiles and, in the next run, finds it instead of compiling. Classes are
built exactly as before: the same text, compiled with the same flags, run with the same globals.

The cache is one file per Python bytecode version, ``user_cache_dir("pf-tui")`` on the
platform (``~/.cache/pf-tui`` on Linux), 0600 in a 0700 folder, replaced atomically. It is
loaded only if it and its folder are this user's and no one else can write them (what it holds
is run as code, as a ``.pyc`` is), and only if it is a plain file; one that is unreadable,
damaged or from another Python is ignored and written again. It is saved when the process ends
(and by the console once it has started), only if something new was compiled, never into a
folder others can write and never under ``PYTHONDONTWRITEBYTECODE``. Nothing here can stop
pf-tui from starting: whatever fails, the classes are compiled as Python always did.
``PF_TUI_DATACLASS_CACHE=off`` turns it off; any other value names the folder to keep it in.
"""

from __future__ import annotations

import builtins
import marshal
import os
import stat
import sys
import threading
from pathlib import Path
from types import CodeType
from typing import Any

from pf_tui.files import atomic_write, make_private_dir

ENV = "PF_TUI_DATACLASS_CACHE"
"""``off`` disables the cache; any other non-empty value is the folder to keep it in."""
FORMAT = b"pf-tui dataclass code 2\n"
MAX_ENTRIES = 4_000
"""Past this many texts the file keeps only what the last run used (the console uses about
800, and every pf-tui command, the daemon and the tests together about 1,800)."""

_exec = builtins.exec


class CodeCache:
    """The texts compiled for dataclasses and their code, loaded from and saved to ``path``.

    The file maps each text to its code, marshalled on its own: reading it costs about 1 ms
    however many texts it holds, and only the code a process asks for is unmarshalled."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stored: dict[str, bytes] = {}
        """What the file held at :meth:`load`: each text's marshalled code."""
        self.codes: dict[str, CodeType] = {}
        """The code this process asked for, from the file or compiled."""
        self.unsaved: set[str] = set()
        """Texts compiled in this process (not found in the file) and not saved yet."""
        self._lock = threading.Lock()

    @property
    def compiled(self) -> int:
        """How many texts this process compiled that are not saved yet."""
        return len(self.unsaved)

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        """``exec`` for ``dataclasses``: a text's code comes from the cache when it is there."""
        if type(source) is not str:
            _exec(source, globals, locals)
            return
        code = self.codes.get(source)
        if code is None:
            code = _unmarshal(self.stored.get(source))
            compiled = code is None
            if code is None:
                # What exec(str) does in dataclasses' frame: its file name, no __future__ flags.
                code = compile(source, "<string>", "exec", dont_inherit=True)
            if len(self.codes) < MAX_ENTRIES:  # a process making classes on the fly keeps none
                # In this order: a save copies the unsaved texts first, then the code.
                self.codes[source] = code
                if compiled:
                    self.unsaved.add(source)
        _exec(code, globals, locals)

    def load(self) -> None:
        """Read the file, if it is safe to and was written by this Python."""
        self.stored = read_stored(self.path)

    def known(self) -> int:
        """How many texts this cache can give code for without compiling."""
        return len(self.stored.keys() | self.codes.keys())

    def save(self) -> bool:
        """Write the file if this process compiled anything new; whether it wrote.

        Never raises: a full disk, a read-only home or a folder others can write (where nothing
        is saved) only means the next start compiles again. Not with ``PYTHONDONTWRITEBYTECODE``
        (``sys.dont_write_bytecode``), which asks Python not to write its own code caches."""
        with self._lock:
            if not self.unsaved or sys.dont_write_bytecode:
                return False
            # Other threads define classes meanwhile (the demo's simulator and daemon, the
            # console's warm-up): copies, each made in one step, are what is saved; every text
            # in the first is in the second (exec stores the code before it marks it unsaved).
            unsaved = self.unsaved.copy()
            codes = self.codes.copy()
            try:
                if not _private_folder(self.path.parent, create=True):
                    return False
                merged = read_stored(self.path)  # another process may have saved since the load
                mine = {text: marshal.dumps(code) for text, code in codes.items()}
                merged.update(mine)
                if len(merged) > MAX_ENTRIES:
                    merged = mine
                write_stored(self.path, merged)
            except Exception:  # a cache: whatever failed, the run goes on without saving
                return False
            self.unsaved -= unsaved  # what other threads compiled since is still to save
            return True


def _unmarshal(blob: bytes | None) -> CodeType | None:
    if blob is None:
        return None
    try:
        code = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):
        return None  # damaged: compiled again, and the good code saved over it
    return code if type(code) is CodeType else None


_installed: CodeCache | None = None


def install() -> CodeCache | None:
    """Give ``dataclasses`` the caching ``exec`` (once per process); the cache, or ``None``
    when :data:`ENV` is ``off``."""
    global _installed
    if _installed is not None:
        return _installed
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in {"off", "0", "no", "false"}:
        return None
    try:
        cache = CodeCache(cache_path(setting or None))
        cache.load()
    except Exception:  # no home to find, say: every command must still start
        return None
    import dataclasses

    dataclasses.exec = cache.exec  # type: ignore[attr-defined]
    _installed = cache
    import atexit

    atexit.register(cache.save)
    return cache


def save() -> bool:
    """Save the installed cache now (the console calls this once it has started)."""
    return _installed.save() if _installed is not None else False


def cache_path(folder: str | None = None) -> Path:
    """The cache file for this Python's bytecode and optimisation level."""
    if folder is None:
        from platformdirs import user_cache_dir

        folder = user_cache_dir("pf-tui")
    tag = sys.implementation.cache_tag or "python"
    return Path(folder).expanduser() / f"dataclass-code.{tag}.opt{sys.flags.optimize}.bin"


def _header() -> bytes:
    import importlib.util

    return FORMAT + importlib.util.MAGIC_NUMBER


def _mine(info: os.stat_result) -> bool:
    """Owned by this user and writable by no one else."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return False  # no owners to check (Windows): never trusted
    return info.st_uid == getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _private_folder(folder: Path, *, create: bool = False) -> bool:
    """Whether ``folder`` is this user's alone (0700, no symlink); made so when missing and
    ``create``."""
    if create:
        make_private_dir(folder)
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and _mine(info) and not info.st_mode & 0o077


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)


def read_stored(path: Path) -> dict[str, bytes]:
    """The texts in ``path`` and their marshalled code; empty if it or its folder is not this
    user's alone, if it is not a plain file (a FIFO would block every start), if it is damaged,
    or if another Python wrote it."""
    if os.open not in os.supports_dir_fd or not _NOFOLLOW:
        return {}
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
    except OSError:
        return {}
    fd = -1
    try:
        if not _mine(os.fstat(folder)):
            return {}
        fd = os.open(path.name, _OPEN_FLAGS, dir_fd=folder)
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) and _mine(info)):
            return {}
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            data = handle.read()
    except OSError:
        return {}
    finally:
        if fd >= 0:
            os.close(fd)
        os.close(folder)
    header = _header()
    if not data.startswith(header):
        return {}
    try:
        stored = marshal.loads(memoryview(data)[len(header) :])
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(stored, dict):
        return {}
    return {
        text: blob for text, blob in stored.items() if type(text) is str and type(blob) is bytes
    }


def read_codes(path: Path) -> dict[str, CodeType]:
    """Every text in ``path`` with its code (what :func:`read_stored` reads, unmarshalled)."""
    codes = {text: _unmarshal(blob) for text, blob in read_stored(path).items()}
    return {text: code for text, code in codes.items() if code is not None}


def write_stored(path: Path, stored: dict[str, bytes]) -> None:
    """Write ``stored`` to ``path``: 0600 in a 0700 folder, atomically."""
    atomic_write(path, _header() + marshal.dumps(stored))


def write_codes(path: Path, codes: dict[str, CodeType]) -> None:
    """Write ``codes`` to ``path`` (see :func:`write_stored`)."""
    write_stored(path, {text: marshal.dumps(code) for text, code in codes.items()})
