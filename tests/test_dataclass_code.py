"""The dataclass code cache: classes built from it behave as compiled ones, a second start
compiles nothing, and a file that is not safe or not sound is ignored, never trusted."""

from __future__ import annotations

import dataclasses
import json
import marshal
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pf_tui import dataclass_code
from pf_tui.dataclass_code import (
    ENV,
    CodeCache,
    cache_path,
    read_codes,
    read_stored,
    write_stored,
)


@pytest.fixture(autouse=True)
def may_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """As Python writes its bytecode: not under ``PYTHONDONTWRITEBYTECODE`` (tested below)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "pf-tui"


def define(cache: CodeCache, monkeypatch: pytest.MonkeyPatch) -> type:
    """A frozen, slotted dataclass with defaults, built through ``cache``."""
    monkeypatch.setattr(dataclasses, "exec", cache.exec, raising=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Order:
        pair: str
        size: int = 1
        tags: list[str] = dataclasses.field(default_factory=list, hash=False)

    return Order


def test_a_class_from_cached_code_behaves_as_a_compiled_one(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = CodeCache(cache_path(str(cache_dir)))
    compiled_class = define(first, monkeypatch)
    assert first.compiled >= 5  # __init__, __repr__, __eq__, __hash__, __setattr__, ...
    assert first.save()

    second = CodeCache(cache_path(str(cache_dir)))
    second.load()
    cached_class = define(second, monkeypatch)
    assert second.compiled == 0, "the second definition compiled again"
    for cls in (compiled_class, cached_class):
        a, b = cls("BTC-USD", 2), cls("BTC-USD", 2)
        assert a == b and hash(a) == hash(b) and a != cls("ETH-USD", 2)
        assert repr(a).endswith(".Order(pair='BTC-USD', size=2, tags=[])")
        assert a.tags is not b.tags  # default_factory runs per instance
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.size = 3
        with pytest.raises(TypeError):
            cls()
    assert second.save() is False, "nothing new, yet it wrote"


def probe(cache_folder: str, *, umask: int | None = None) -> dict[str, object]:
    """A fresh interpreter imports the console; what its cache compiled and holds."""
    code = (
        "import os, json, sys\n"
        + (f"os.umask({umask})\n" if umask is not None else "")
        + "import pf_tui.tui.app, dataclasses\n"
        "from pf_tui import dataclass_code as d\n"
        "c = d._installed\n"
        "print(json.dumps({'compiled': c.compiled if c else None, 'held': c.known() if c else 0,"
        " 'patched': getattr(dataclasses, 'exec', None) is not None}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env[ENV] = cache_folder
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_second_start_compiles_nothing(cache_dir: Path) -> None:
    """Broken: every start compiled all of its dataclasses' methods (800 for the console)."""
    first = probe(str(cache_dir), umask=0)
    assert isinstance(first["compiled"], int) and first["compiled"] > 500
    path = cache_path(str(cache_dir))
    assert path.exists(), "the first start did not save its cache on exit"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    second = probe(str(cache_dir))
    assert second["compiled"] == 0
    assert second["held"] == first["held"]


def test_a_cache_folder_that_cannot_be_found_starts_without_it() -> None:
    """Broken: an unexpandable folder (or no home at all) raised at ``import pf_tui``, and no
    pf-tui command could start."""
    assert probe("~no-such-user-here/cache") == {"compiled": None, "held": 0, "patched": False}


def test_off_leaves_dataclasses_alone() -> None:
    assert probe("off") == {"compiled": None, "held": 0, "patched": False}


def saved(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = CodeCache(cache_path(str(cache_dir)))
    define(cache, monkeypatch)
    assert cache.save()
    assert read_codes(cache.path)
    return cache.path


def test_a_file_others_can_write_is_not_run(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the file holds is run as code: writable by anyone else, it is not read at all."""
    path = saved(cache_dir, monkeypatch)
    path.chmod(0o620)
    assert read_codes(path) == {}
    path.chmod(0o600)
    cache_dir.chmod(0o777)
    assert read_codes(path) == {}
    cache_dir.chmod(0o700)
    link = path.with_name("link.bin")
    link.symlink_to(path)
    assert read_codes(link) == {}
    assert read_codes(path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: b"pf-tui dataclass code 0\n" + data[24:],  # an older format
        lambda data: data[:24] + b"\x00\x00\x0d\x0a" + data[28:],  # another Python's bytecode
        lambda data: b"",
    ],
)
def test_a_damaged_file_is_ignored_and_written_again(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, damage: object
) -> None:
    path = saved(cache_dir, monkeypatch)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert read_codes(path) == {}
    cache = CodeCache(path)
    cache.load()
    define(cache, monkeypatch)
    assert cache.compiled > 0 and cache.save()
    assert read_codes(path)


def test_an_entry_that_is_not_code_is_compiled_again(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved(cache_dir, monkeypatch)
    stored = read_stored(path)
    damaged = dict.fromkeys(stored, b"\x00not marshal")
    damaged.update({"print('x')": marshal.dumps("a string, not code"), 5: b""})  # type: ignore[dict-item]
    write_stored(path, damaged)
    assert read_codes(path) == {}
    assert set(read_stored(path)) == set(stored) | {"print('x')"}  # the int key is dropped
    cache = CodeCache(path)
    cache.load()
    cls = define(cache, monkeypatch)
    assert cache.compiled == len(stored)
    assert cls("BTC-USD").size == 1
    assert cache.save() and set(read_codes(path)) == set(stored)


def test_saving_merges_what_another_process_saved_meanwhile(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = cache_path(str(cache_dir))
    late = CodeCache(path)
    late.load()  # nothing there yet
    early = CodeCache(path)
    define(early, monkeypatch)
    assert early.save()
    monkeypatch.setattr(dataclasses, "exec", late.exec, raising=False)

    @dataclasses.dataclass
    class Other:
        memo: str

    assert late.save()
    assert set(read_codes(path)) == set(early.codes) | set(late.codes)


def test_nothing_is_written_where_python_writes_no_bytecode(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = CodeCache(cache_path(str(cache_dir)))
    define(cache, monkeypatch)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert cache.save() is False and not cache_dir.exists()


def test_nothing_is_written_into_a_folder_others_can_write(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file pf-tui writes is 0600 in a 0700 folder; a shared folder gets no cache."""
    cache_dir.mkdir(parents=True, mode=0o700)
    cache_dir.chmod(0o755)
    cache = CodeCache(cache_path(str(cache_dir)))
    define(cache, monkeypatch)
    assert cache.save() is False and list(cache_dir.iterdir()) == []


def test_a_fifo_in_place_of_the_file_is_not_waited_on(cache_dir: Path) -> None:
    """Opened blocking, a FIFO would hang every pf-tui command at import."""
    cache_dir.mkdir(parents=True, mode=0o700)
    path = cache_path(str(cache_dir))
    os.mkfifo(path, 0o600)
    read: list[dict[str, bytes]] = []
    reader = threading.Thread(target=lambda: read.append(read_stored(path)), daemon=True)
    reader.start()
    reader.join(10)
    assert read == [{}], "reading the cache blocked on a FIFO"


def test_saving_while_other_threads_define_classes(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's simulator and daemon threads define classes while the console's warm-up
    thread saves: the save copies what it writes (iterating the live dict raised
    "dictionary changed size during iteration" in 30 runs of 30)."""
    cache = CodeCache(cache_path(str(cache_dir)))
    monkeypatch.setattr(dataclasses, "exec", cache.exec, raising=False)
    stop = threading.Event()

    def define_more() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            dataclasses.make_dataclass(f"C{n}", [(f"f{n}", int)], frozen=True)

    for n in range(400):
        dataclasses.make_dataclass(f"Base{n}", [(f"g{n}", int)], frozen=True)
    worker = threading.Thread(target=define_more)
    worker.start()
    try:
        saves = [cache.save() for _ in range(5)]
    finally:
        stop.set()
        worker.join()
    assert saves[0] and len(read_stored(cache.path)) >= 400 * 5


def test_a_failed_save_raises_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk or a read-only home only means the next start compiles again."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = CodeCache(cache_path(str(blocker / "pf-tui")))  # a folder under a file
    define(cache, monkeypatch)
    assert cache.save() is False


def test_the_process_cache_is_installed() -> None:
    """Every pf-tui process builds its classes through the cache (pf_tui/__init__.py)."""
    installed = dataclass_code._installed
    if os.environ.get(ENV, "").lower() == "off":
        pytest.skip("turned off in this environment")
    assert installed is not None
    assert dataclasses.exec == installed.exec  # type: ignore[attr-defined]
    # tests/conftest.py keeps the run's cache apart from the developer's own
    assert installed.path.parent == Path(os.environ[ENV]).expanduser()
